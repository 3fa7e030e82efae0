// Servers under benchmark run as the product ships them: JavaScript compiled by the project's own
// tsc and tsconfig, not under tsx, whose esbuild keepNames gives every closure a property store —
// that inflated the broker's memory per connection and cost time per message and per request.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const root = path.join(import.meta.dirname, '..');

/**
 * Compiles `bench/<name>.ts` and what it imports into node_modules/.cache/iotmq-bench-<name>;
 * resolves to the emitted entry point.
 */
export async function compileForBench(name: string): Promise<string> {
  const outDir = path.join(root, `node_modules/.cache/iotmq-bench-${name}`);
  const project = path.join(outDir, 'tsconfig.json');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(
    project,
    JSON.stringify({
      extends: path.join(root, 'tsconfig.json'),
      compilerOptions: { outDir, rootDir: root, sourceMap: false, noEmit: false },
      files: [path.join(root, `bench/${name}.ts`)],
      include: [],
    }),
  );
  const entry = path.join(outDir, `bench/${name}.js`);
  rmSync(entry, { force: true }); // a tsc that fails must not leave the last run's code to be measured
  const tsc = spawn(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', project], {
    stdio: 'ignore',
  });
  // Type errors of a work tree in progress do not stop the emit; only a missing output does.
  await once(tsc, 'exit');
  if (!existsSync(entry)) throw new Error(`tsc did not emit ${entry}`);
  return entry;
}

// How to start `iotmq` itself as a child: the built CLI when running from dist/, otherwise the
// TypeScript entry through tsx (tests and `tsx src/cli/main.ts dev`).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../../src/common/paths.js';

export function iotmqCommand(): string[] {
  const built = path.join(packageRoot, 'dist', 'src', 'cli', 'main.js');
  const fromDist = import.meta.url.includes('/dist/');
  if (fromDist && existsSync(built)) return [process.execPath, built];
  // Resolved here, not by the child: its working directory is the data dir, where tsx is not found.
  return [process.execPath, '--import', import.meta.resolve('tsx'), path.join(packageRoot, 'src', 'cli', 'main.ts')];
}

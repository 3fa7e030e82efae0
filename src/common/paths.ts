import { existsSync } from 'node:fs';
import path from 'node:path';

/** The package root, found from this file whether it runs from src/ (tsx, vitest) or dist/src/. */
export const packageRoot: string = findPackageRoot(import.meta.dirname);

function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'specs'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`iotmq package root not found above ${start}`);
  }
}

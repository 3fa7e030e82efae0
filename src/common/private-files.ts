// Files that hold a store, keys or secrets are for their owner only (0600), whatever the umask of the
// process that creates them. SQLite creates its -wal, -shm and -journal files with the mode of the
// database file, so a database created 0600 keeps all of them private.
import { chmodSync, closeSync, existsSync, openSync } from 'node:fs';
import { chmod, readdir } from 'node:fs/promises';
import path from 'node:path';

/** Makes `file` 0600, creating it empty if it is missing. */
export function ensurePrivateFile(file: string): void {
  closeSync(openSync(file, 'a', 0o600));
  chmodSync(file, 0o600);
}

/** A SQLite database file (made if missing) and the companion files SQLite may have left: all 0600. */
export function ensurePrivateDatabase(file: string): void {
  ensurePrivateFile(file);
  for (const companion of ['-wal', '-shm', '-journal'])
    if (existsSync(file + companion)) chmodSync(file + companion, 0o600);
}

/**
 * Every file under `dir` 0600 and every directory 0700 (symbolic links left alone): for a data dir
 * written by an earlier version that created them readable by all. Nothing happens if `dir` is missing.
 */
export async function restrictToOwner(dir: string): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  await chmod(dir, 0o700);
  for (const entry of entries) {
    const file = path.join(entry.parentPath, entry.name);
    if (entry.isDirectory()) await chmod(file, 0o700);
    else if (entry.isFile()) await chmod(file, 0o600);
  }
}

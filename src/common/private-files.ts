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
 * Makes the named entries of `dir` the owner's only: files 0600, directories 0700 with everything in
 * them; an entry matches its name and its companions (`rp.db` also `rp.db-wal`, `rp.db.lock`). For a
 * data dir written by an earlier version that created them readable by all. Only the named ones:
 * the directory may be shared with the user's own files (`--data-dir .`), whose modes are theirs.
 */
export async function restrictToOwner(dir: string, names: readonly string[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  const ours = (name: string) => names.some((n) => name === n || name.startsWith(`${n}-`) || name.startsWith(`${n}.`));
  for (const entry of entries.filter((e) => ours(e.name))) {
    const file = path.join(dir, entry.name);
    if (entry.isFile()) await chmod(file, 0o600);
    if (!entry.isDirectory()) continue;
    await chmod(file, 0o700);
    for (const inner of await readdir(file, { withFileTypes: true, recursive: true })) {
      const innerPath = path.join(inner.parentPath, inner.name);
      if (inner.isDirectory()) await chmod(innerPath, 0o700);
      else if (inner.isFile()) await chmod(innerPath, 0o600);
    }
  }
}

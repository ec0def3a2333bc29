// The gallery's SQLite files hold biometric data: readable by their owner only, whatever the
// umask (other files go through src/util/private-file.ts writePrivateFile).
import { chmodSync, closeSync, existsSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { makeDirs } from '../util/make-dirs.js';

export const PRIVATE_MODE = 0o600;

/** Before SQLite opens `path`: the file (and its -wal/-shm, which SQLite creates with the file's mode) is 0600. */
export function preparePrivateDatabase(path: string): void {
  if (path === ':memory:') return;
  makeDirs(dirname(path));
  closeSync(openSync(path, 'a', PRIVATE_MODE));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(file)) chmodSync(file, PRIVATE_MODE);
}

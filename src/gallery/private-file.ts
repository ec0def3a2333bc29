// The gallery's SQLite files hold biometric data: readable by their owner only, whatever the
// umask (other files go through src/util/private-file.ts writePrivateFile).
import Database from 'better-sqlite3';
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

/** Opens a private SQLite file in WAL mode; `what` names it in the error ("gallery", "event log"). */
export function openPrivateDatabase(path: string, what: string): Database.Database {
  try {
    preparePrivateDatabase(path);
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    return db;
  } catch (err) {
    throw new Error(`cannot open ${what} ${path}: ${(err as Error).message}`);
  }
}

// Files holding biometric data (gallery, device state, exports, keys) are readable by their owner
// only, whatever the umask: created 0600, and an existing file is narrowed to 0600 too.
import { chmodSync, closeSync, existsSync, fchmodSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export const PRIVATE_MODE = 0o600;

/** Writes the whole file with mode 0600; `atomic` goes through a temporary file and a rename. */
export function writePrivateFile(path: string, data: string | Buffer, atomic = false): void {
  const target = atomic ? `${path}.tmp-${process.pid}` : path;
  const fd = openSync(target, 'w', PRIVATE_MODE);
  try {
    fchmodSync(fd, PRIVATE_MODE);
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off);
  } finally {
    closeSync(fd);
  }
  if (atomic) renameSync(target, path);
}

/** Before SQLite opens `path`: the file (and its -wal/-shm, which SQLite creates with the file's mode) is 0600. */
export function preparePrivateDatabase(path: string): void {
  if (path === ':memory:') return;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  closeSync(openSync(path, 'a', PRIVATE_MODE));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(file)) chmodSync(file, PRIVATE_MODE);
}

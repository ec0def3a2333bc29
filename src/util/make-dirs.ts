// mkdir -p that always ends. Node's mkdirSync(p, { recursive: true }) loops forever at 100% CPU
// under /proc (procfs answers ENOENT for the new name and libuv retries the parent, which exists;
// seen with Node 20): one mkdir per missing level, from the top, fails there at once instead.
import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { FileProblem } from './fs-errors.js';

/** Virtual file systems of the kernel: nothing facegate writes belongs there. */
const VIRTUAL_FS = /^\/(proc|sys)(\/|$)/;

/** Creates `path` and any missing parents; an error names the level that could not be made. */
export function makeDirs(path: string): void {
  const target = resolve(path);
  if (VIRTUAL_FS.test(target)) throw new FileProblem(`${path} is under /${target.split('/')[1]}, a virtual file system of the kernel: choose a folder on a disk`, path, 'EVIRTUAL');
  const missing: string[] = [];
  let dir = target;
  for (;;) {
    let st;
    try {
      st = statSync(dir, { throwIfNoEntry: false });
    } catch (err) {
      // ENOTDIR: some level above is a file; the walk up finds and names it.
      if ((err as NodeJS.ErrnoException).code !== 'ENOTDIR') throw err;
    }
    if (st) {
      if (!st.isDirectory()) throw new FileProblem(`${dir} is a file, so the folder ${path} cannot be made`, dir, 'ENOTDIR');
      break;
    }
    missing.push(dir);
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && statSync(d).isDirectory()) continue;
      const why = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EROFS' ? 'the file system is read-only' : code === 'ENOENT' ? 'the parent folder cannot hold new folders' : (err as Error).message;
      throw new FileProblem(`cannot create the folder ${d}: ${why}`, d, code ?? 'EMKDIR');
    }
  }
}

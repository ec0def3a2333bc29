// Raw errno and SQLite errors ("EISDIR: illegal operation on a directory, read", "file is not a
// database") tell a user neither which file nor what to do. These turn them into one sentence
// that names the path; an error that is already clear passes through unchanged.

export class FileProblem extends Error {
  override name = 'FileProblem';
  constructor(
    message: string,
    readonly path: string,
    readonly code: string,
  ) {
    super(message);
  }
}

const REASONS: Record<string, (path: string) => string> = {
  ENOENT: (p) => `${p}: no such file or folder`,
  EISDIR: (p) => `${p} is a folder, expected a file`,
  ENOTDIR: (p) => `${p}: a part of this path is a file, not a folder`,
  EACCES: (p) => `${p}: permission denied (files of the installed service belong to the facegate user: run the installed \`facegate\` command, or use sudo -u facegate)`,
  EPERM: (p) => `${p}: operation not permitted`,
  EROFS: (p) => `${p}: the file system is read-only`,
  ENOSPC: (p) => `${p}: no space left on the device`,
  EEXIST: (p) => `${p} already exists`,
  ENAMETOOLONG: (p) => `${p}: the name is too long`,
  ELOOP: (p) => `${p}: too many symbolic links`,
};

function isNotADatabase(err: Error & { code?: unknown }): boolean {
  return err.code === 'SQLITE_NOTADB' || /file is not a database/i.test(err.message);
}

/**
 * A clear error for a failure on `path` (or on the path the errno error carries). SQLite's "not a
 * database" means a file that is not a gallery (or a corrupted one).
 */
export function explainFsError(err: unknown, path?: string): Error {
  if (!(err instanceof Error)) return new Error(String(err));
  if (err instanceof FileProblem) return err;
  const e = err as NodeJS.ErrnoException;
  const where = path ?? e.path;
  if (isNotADatabase(e) && where) return new FileProblem(`${where} is not a facegate gallery (SQLite) file, or it is damaged: check gallery.path; restore it from a backup or a \`facegate gallery export\``, where, 'SQLITE_NOTADB');
  if (typeof e.code === 'string' && where && REASONS[e.code]) {
    // An error about a file inside the folder (e.g. the gallery's -wal file) keeps its own path.
    const p = e.path ?? where;
    return new FileProblem(REASONS[e.code]!(p), p, e.code);
  }
  // Some calls (readFileSync on a folder) report no path: say at least what it means.
  if (e.code === 'EISDIR') return new FileProblem(`a folder was given where a file was expected (${e.message})`, '', e.code);
  return err;
}

// Plain text for people, JSON for scripts: every command prints through one of these.
export interface OutputMode {
  json: boolean;
}

import { explainFsError } from '../util/fs-errors.js';

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Progress and diagnostics go to stderr so stdout stays clean for --json consumers. */
export function info(line: string): void {
  process.stderr.write(`${line}\n`);
}

export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/**
 * The one place a failed command reports: plain "facegate: <message>" on stderr, or with --json a
 * JSON object {"error": {"message", "code"}} on stdout, where a script reads its results (stderr
 * stays free for progress). Errno and SQLite errors are first turned into sentences with the path.
 * Returns the exit code.
 */
export function reportError(err: unknown, opts: { json: boolean; alreadyShown?: boolean }): number {
  const e = explainFsError(err);
  const exitCode = err instanceof CliError ? err.exitCode : 1;
  const own = (e as Error & { code?: unknown }).code;
  const code = typeof own === 'string' ? own : e.name;
  if (opts.json) printJson({ error: { message: e.message, code } });
  else if (!opts.alreadyShown) process.stderr.write(`facegate: ${e.message}\n`);
  return exitCode || 1;
}

/** Runs a read of `path`; a raw errno error from it comes back as a sentence naming the path. */
export function onFile<T>(path: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    throw explainFsError(err, path);
  }
}

export function fmt(n: number, digits = 2): string {
  return n.toFixed(digits);
}

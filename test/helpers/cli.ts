// `facegate ...` in this process: the same program the launcher runs, with what it writes to
// stdout and stderr captured. A spawned `node bin/facegate.js` costs about 2 s of CPU before the
// command starts; tests that run many commands use this, and a few tests keep spawning the real
// launcher. Only writes made by the command (its async context) are captured: the test runner
// reports over this process's stdout too, and must keep doing so.
import { AsyncLocalStorage } from 'node:async_hooks';
import { runCli } from '../../src/cli/main.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const context = new AsyncLocalStorage<{ out: string[]; err: string[] }>();
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  for (const [stream, key] of [
    [process.stdout, 'out'],
    [process.stderr, 'err'],
  ] as const) {
    const original = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const capture = context.getStore();
      if (!capture) return original(chunk, ...rest);
      capture[key].push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      done?.();
      return true;
    }) as typeof stream.write;
  }
}

let queue: Promise<unknown> = Promise.resolve();

/** Runs one command line; calls are serialised (they share process.exitCode). */
export function cliInProcess(args: string[]): Promise<CliResult> {
  const run = queue.then(async () => {
    const { result: code, stdout, stderr } = await captureOutput(() => runCli(args));
    return { code, stdout, stderr };
  });
  queue = run.catch(() => undefined);
  return run;
}

/** What `fn` (and everything it starts) writes to stdout and stderr, kept from the test report. A throw passes through. */
export async function captureOutput<T>(fn: () => Promise<T>): Promise<{ result: T; stdout: string; stderr: string }> {
  install();
  const capture = { out: [] as string[], err: [] as string[] };
  const result = await context.run(capture, fn);
  return { result, stdout: capture.out.join(''), stderr: capture.err.join('') };
}

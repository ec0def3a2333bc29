// `facegate ...` in this process: the same program the launcher runs, with stdout and stderr
// captured. A spawned `node bin/facegate.js` costs about 2 s of CPU before the command starts;
// tests that run many commands use this, and a few tests keep spawning the real launcher.
import { runCli } from '../../src/cli/main.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

let queue: Promise<unknown> = Promise.resolve();

/** Runs one command line; calls are serialised, since they share process.stdout. */
export function cliInProcess(args: string[]): Promise<CliResult> {
  const run = queue.then(() => capture(args));
  queue = run.catch(() => undefined);
  return run;
}

async function capture(args: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const writeOut = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  const grab = (into: string[]) => ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    into.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    done?.();
    return true;
  }) as typeof process.stdout.write;
  process.stdout.write = grab(out);
  process.stderr.write = grab(err);
  try {
    const code = await runCli(args);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = writeOut;
    process.stderr.write = writeErr;
  }
}

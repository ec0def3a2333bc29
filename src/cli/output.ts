// Plain text for people, JSON for scripts: every command prints through one of these.
export interface OutputMode {
  json: boolean;
}

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

export function fmt(n: number, digits = 2): string {
  return n.toFixed(digits);
}

// One unit convention for the command line: every duration flag is in seconds (--timeout,
// --wait, --ttl), fractions allowed; config keys name their unit instead (pulseMs, timeoutMs).
import { CliError } from './output.js';

/** A duration flag in seconds: a finite number > 0 (fractions allowed), else a clear error. */
export function secondsOption(flag: string, value: string, limits: { max?: number } = {}): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new CliError(`${flag} takes a duration in seconds (a number > 0), got "${value}"`);
  if (limits.max !== undefined && n > limits.max) throw new CliError(`${flag} is at most ${limits.max} seconds, got ${value}`);
  return n;
}

// The code Home Assistant's lock sends with Unlock/Open: kept in the config only as a salted
// scrypt hash (`facegate mqtt ha-code` makes one), checked in constant time, and guarded by a
// lockout that doubles after every run of wrong codes, so guessing even a short code takes years.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { Clock } from '../util/clock.js';

/** scrypt cost: ~50 ms on a Raspberry Pi 4 per check (an estimate, not measured here); 16 MiB of memory. */
const SCRYPT = { N: 16_384, r: 8, p: 1 } as const;
const KEY_BYTES = 32;
export const HA_CODE_HASH_PATTERN = /^scrypt\$N=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9_-]{16,})\$([A-Za-z0-9_-]{43})$/;
/** Home Assistant's keypad check by default: 6 to 12 digits. */
export const DEFAULT_CODE_FORMAT = '^\\d{6,12}$';
/** Codes the CLI accepts: at least this long, since a hash of a short code is quick to guess offline. */
export const MIN_CODE_LENGTH = 6;
/** Longest lockout after repeated runs of wrong codes. */
const MAX_LOCKOUT_MS = 24 * 60 * 60 * 1000;

function scryptAsync(code: string, salt: Buffer, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(code.normalize('NFC'), salt, KEY_BYTES, { ...opts, maxmem: 64 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key))));
}

/** `scrypt$N=16384,r=8,p=1$<salt>$<hash>` (base64url): what goes into mqtt.homeAssistant.lock.codeHash. */
export async function hashHaCode(code: string): Promise<string> {
  if (code.length < MIN_CODE_LENGTH) throw new Error(`the code has ${code.length} characters: use at least ${MIN_CODE_LENGTH} (a short code's hash is guessed offline in minutes)`);
  const salt = randomBytes(16);
  const key = await scryptAsync(code, salt, SCRYPT);
  return `scrypt$N=${SCRYPT.N},r=${SCRYPT.r},p=${SCRYPT.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function haCodeMatches(stored: string, code: string): Promise<boolean> {
  const m = HA_CODE_HASH_PATTERN.exec(stored);
  if (!m) throw new Error('mqtt.homeAssistant.lock.codeHash is not a facegate code hash: make one with facegate mqtt ha-code');
  const key = await scryptAsync(code, Buffer.from(m[4]!, 'base64url'), { N: Number(m[1]), r: Number(m[2]), p: Number(m[3]) });
  const expected = Buffer.from(m[5]!, 'base64url');
  return key.length === expected.length && timingSafeEqual(key, expected);
}

export interface CodeGuardOptions {
  /** Whether a code is the right one (haCodeMatches against the configured hash). */
  matches: (code: string) => Promise<boolean>;
  /** Wrong codes in a row before a lockout. */
  maxFailures: number;
  /** The first lockout; each further run of wrong codes doubles it (up to a day). */
  lockoutMs: number;
  clock: Clock;
}

export type CodeVerdict = { ok: true } | { ok: false; reason: 'missing' | 'wrong' | 'locked-out'; retryAtMs?: number; failuresLeft?: number };

/** Checks one code at a time (callers serialise): counts wrong ones, locks out, resets on a right one. */
export class CodeGuard {
  private failures = 0;
  private lockouts = 0;
  private lockedUntilMs = 0;

  constructor(private readonly opts: CodeGuardOptions) {}

  async check(code: string | null): Promise<CodeVerdict> {
    const now = this.opts.clock.now();
    // While locked out even the right code is not checked: guessing gets no signal at all.
    if (now < this.lockedUntilMs) return { ok: false, reason: 'locked-out', retryAtMs: this.lockedUntilMs };
    if (code !== null && code.length > 0 && code.length <= 128 && (await this.opts.matches(code))) {
      this.failures = 0;
      this.lockouts = 0;
      return { ok: true };
    }
    this.failures++;
    if (this.failures >= this.opts.maxFailures) {
      this.failures = 0;
      this.lockedUntilMs = this.opts.clock.now() + Math.min(this.opts.lockoutMs * 2 ** this.lockouts, MAX_LOCKOUT_MS);
      this.lockouts++;
      return { ok: false, reason: code ? 'wrong' : 'missing', retryAtMs: this.lockedUntilMs, failuresLeft: 0 };
    }
    return { ok: false, reason: code ? 'wrong' : 'missing', failuresLeft: this.opts.maxFailures - this.failures };
  }
}

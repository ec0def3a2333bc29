// Password hashing with scrypt from node:crypto: a per-password random salt, the cost parameters
// stored with the hash (so they can be raised later without breaking old hashes), and a
// constant-time comparison. Async, so a login never blocks the recognition loop's thread.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const KEY_BYTES = 32;
const SALT_BYTES = 16;
/** N=2^15, r=8: 32 MiB and about 0.1 s per hash on a Raspberry Pi 4 core, well below login rate limits. */
export const DEFAULT_COST = { N: 32768, r: 8, p: 1 };
export const MIN_PASSWORD_LENGTH = 10;

function derive(password: string, salt: Buffer, cost: { N: number; r: number; p: number }): Promise<Buffer> {
  const options: ScryptOptions = { ...cost, maxmem: 256 * cost.N * cost.r };
  return new Promise((resolve, reject) => scrypt(password.normalize('NFC'), salt, KEY_BYTES, options, (err, key) => (err ? reject(err) : resolve(key))));
}

export function checkPasswordStrength(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) throw new Error(`the password is shorter than ${MIN_PASSWORD_LENGTH} characters`);
}

/** `scrypt$N$r$p$salt$key` (base64url). */
export async function hashPassword(password: string, cost = DEFAULT_COST): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, cost);
  return ['scrypt', cost.N, cost.r, cost.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** The scrypt cost of a stored hash, or undefined when it is not one of ours. */
export function costOf(stored: string): { N: number; r: number; p: number } | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  return [N, r, p].every((v) => Number.isInteger(v) && v > 0) ? { N, r, p } : undefined;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const cost = costOf(stored);
  if (!cost) return false;
  const parts = stored.split('$');
  const expected = Buffer.from(parts[5]!, 'base64url');
  const key = await derive(password, Buffer.from(parts[4]!, 'base64url'), cost);
  return key.length === expected.length && timingSafeEqual(key, expected);
}

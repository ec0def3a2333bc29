// HMAC-SHA256 request signatures. The signed text names the device and the command, so a request
// signed for one door controller (or one command) is worthless for another that shares the key.
// Canonical JSON is JSON.stringify with keys sorted at every level; Python's
// json.dumps(obj, sort_keys=True, separators=(',', ':'), ensure_ascii=False) gives the same text
// for the integers and strings requests contain.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_SCHEME = 'facegate/1';

/** Deeper values are refused: requests are flat objects, and recursion must not reach the stack's end. */
export const MAX_CANONICAL_DEPTH = 64;

export function canonicalJson(value: unknown, depth = 1): string {
  if (value !== null && typeof value === 'object' && depth > MAX_CANONICAL_DEPTH) throw new RangeError(`canonical JSON: nested deeper than ${MAX_CANONICAL_DEPTH} levels`);
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v, depth + 1)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v, depth + 1)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function signedText(device: string, command: string, request: Record<string, unknown>): string {
  const { sig: _sig, ...rest } = request;
  return `${SIGNATURE_SCHEME}\n${device}\n${command}\n${canonicalJson(rest)}`;
}

export function signature(key: Buffer, device: string, command: string, request: Record<string, unknown>): string {
  return createHmac('sha256', key).update(signedText(device, command, request)).digest('hex');
}

export function signatureValid(key: Buffer, device: string, command: string, request: Record<string, unknown>, sig: string): boolean {
  const expected = Buffer.from(signature(key, device, command, request), 'hex');
  const given = Buffer.from(sig, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** A request ready to publish: the parameters plus ts, nonce and sig. */
export function signRequest(key: Buffer, device: string, command: string, params: Record<string, unknown>, nowMs = Date.now()): Record<string, unknown> {
  const request = { ...params, ts: nowMs, nonce: randomBytes(12).toString('base64url') };
  return { ...request, sig: signature(key, device, command, request) };
}

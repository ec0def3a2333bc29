// Login rate limiting: wrong passwords are counted per user name and per client address in a
// sliding window; past either limit, logins are refused (429) until the oldest failure in the
// window ages out, even with the right password, so guessing gets nowhere.
import type { Clock } from '../util/clock.js';

export interface LoginLimits {
  maxFailuresPerUser: number;
  maxFailuresPerIp: number;
  windowMs: number;
}

/** Bounds memory when someone sprays many names or addresses. */
const MAX_KEYS = 10_000;

export type LimitVerdict = { allowed: true } | { allowed: false; retryAfterMs: number; by: 'user' | 'address' };

export class LoginLimiter {
  private readonly byUser = new Map<string, number[]>();
  private readonly byIp = new Map<string, number[]>();

  constructor(
    private readonly clock: Clock,
    private readonly limits: LoginLimits,
  ) {}

  check(ip: string, user: string): LimitVerdict {
    const now = this.clock.now();
    const u = this.recent(this.byUser, user.toLowerCase(), now);
    if (u.length >= this.limits.maxFailuresPerUser) return { allowed: false, retryAfterMs: u[0]! + this.limits.windowMs - now, by: 'user' };
    const a = this.recent(this.byIp, ip, now);
    if (a.length >= this.limits.maxFailuresPerIp) return { allowed: false, retryAfterMs: a[0]! + this.limits.windowMs - now, by: 'address' };
    return { allowed: true };
  }

  recordFailure(ip: string, user: string): void {
    const now = this.clock.now();
    for (const [map, key] of [[this.byUser, user.toLowerCase()], [this.byIp, ip]] as const) {
      const list = this.recent(map, key, now);
      list.push(now);
      map.delete(key);
      map.set(key, list);
      if (map.size > MAX_KEYS) map.delete(map.keys().next().value!);
    }
  }

  /** A right password clears that user's count (the address keeps its count: it may be guessing other names). */
  recordSuccess(user: string): void {
    this.byUser.delete(user.toLowerCase());
  }

  private recent(map: Map<string, number[]>, key: string, now: number): number[] {
    const list = (map.get(key) ?? []).filter((t) => t > now - this.limits.windowMs);
    if (list.length === 0) map.delete(key);
    else map.set(key, list);
    return list;
  }
}

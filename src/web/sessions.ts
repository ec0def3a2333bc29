// Server-side login sessions: the browser holds only a random id (in an HttpOnly cookie); role,
// expiry and the CSRF secret stay here. Kept in memory: a daemon restart logs everyone out.
import { randomBytes } from 'node:crypto';
import type { Clock } from '../util/clock.js';
import type { Role } from './user-store.js';

export interface WebSession {
  user: string;
  role: Role;
  createdAtMs: number;
  expiresAtMs: number;
  /** The user's passwordChangedAt when the session began: a later password change ends it. */
  passwordChangedAt: string;
  /** Read by @fastify/csrf-protection (sessionKey 'csrfSecret'). */
  csrfSecret?: string;
  /** Set on logout, expiry or eviction: open streams of this session close. */
  ended: boolean;
}

/** Enough for every person of a household or office; beyond it the oldest session ends. */
const MAX_SESSIONS = 1000;

export class SessionStore {
  private readonly sessions = new Map<string, WebSession>();

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs: number,
  ) {}

  create(user: { name: string; role: Role; passwordChangedAt: string }): { id: string; session: WebSession } {
    this.sweep();
    if (this.sessions.size >= MAX_SESSIONS) this.end(this.sessions.keys().next().value!);
    const id = randomBytes(32).toString('base64url');
    const now = this.clock.now();
    const session: WebSession = { user: user.name, role: user.role, createdAtMs: now, expiresAtMs: now + this.ttlMs, passwordChangedAt: user.passwordChangedAt, ended: false };
    this.sessions.set(id, session);
    return { id, session };
  }

  get(id: string | undefined): WebSession | undefined {
    if (!id) return undefined;
    const session = this.sessions.get(id);
    if (!session) return undefined;
    if (session.expiresAtMs <= this.clock.now()) {
      this.end(id);
      return undefined;
    }
    return session;
  }

  destroy(id: string | undefined): void {
    if (id) this.end(id);
  }

  /** Whether the session still holds (long-lived streams check it before each write). */
  isLive(session: WebSession): boolean {
    return !session.ended && session.expiresAtMs > this.clock.now();
  }

  get size(): number {
    return this.sessions.size;
  }

  sweep(): void {
    const now = this.clock.now();
    for (const [id, s] of this.sessions) if (s.expiresAtMs <= now) this.end(id);
  }

  private end(id: string): void {
    const session = this.sessions.get(id);
    if (session) session.ended = true;
    this.sessions.delete(id);
  }
}

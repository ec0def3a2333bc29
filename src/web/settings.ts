// The web console's settings, resolved from the config file's `web:` section.
import { dirname, join } from 'node:path';
import type { WebConfigValues } from '../config/schema.js';
import type { LoginLimits } from './login-limiter.js';
import type { LiveViewOptions } from './live-view.js';

export interface WebSettings {
  host: string;
  port: number;
  /** PEM files, read at start(). */
  tls?: { certPath: string; keyPath: string };
  usersPath: string;
  sessionTtlMs: number;
  login: LoginLimits;
  liveView: LiveViewOptions;
  uploads: { maxBytes: number; maxFiles: number };
}

export const USERS_FILE = 'web-users.json';

/** `galleryPath` already resolved; the users file defaults to its folder. */
export function resolveWebSettings(web: WebConfigValues, resolvePath: (p: string) => string, galleryPath: string): WebSettings {
  return {
    host: web.host,
    port: web.port,
    ...(web.tls ? { tls: { certPath: resolvePath(web.tls.cert), keyPath: resolvePath(web.tls.key) } } : {}),
    usersPath: web.usersPath ? resolvePath(web.usersPath) : join(dirname(galleryPath), USERS_FILE),
    sessionTtlMs: Math.round(web.sessionHours * 3_600_000),
    login: { maxFailuresPerUser: web.login.maxFailuresPerUser, maxFailuresPerIp: web.login.maxFailuresPerIp, windowMs: Math.round(web.login.windowMinutes * 60_000) },
    liveView: { fps: web.liveView.fps, maxWidth: web.liveView.maxWidth, jpegQuality: web.liveView.jpegQuality },
    uploads: { ...web.uploads },
  };
}

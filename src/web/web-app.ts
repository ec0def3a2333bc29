// The web console's HTTP app: pages, the REST API under /api/ and its OpenAPI document. Every
// page and API needs a login; state-changing requests need the session's CSRF token and, for
// doors and people, the admin role. Built without listening, so tests drive it with inject().
import fastifyCookie from '@fastify/cookie';
import fastifyCsrf from '@fastify/csrf-protection';
import fastifyMultipart from '@fastify/multipart';
import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, jsonSchemaTransform, jsonSchemaTransformObject, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { AdminApi } from '../app/admin-api.js';
import type { EventBus } from '../core/event-bus.js';
import type { Clock } from '../util/clock.js';
import { EventFeed } from './event-feed.js';
import { LiveView } from './live-view.js';
import { LoginLimiter } from './login-limiter.js';
import { registerApiRoutes } from './routes-api.js';
import { registerAuthRoutes, SESSION_COOKIE } from './routes-auth.js';
import { registerLiveRoutes } from './routes-live.js';
import { registerPages } from './pages.js';
import { SessionStore, type WebSession } from './sessions.js';
import type { WebSettings } from './settings.js';
import type { Role, UserStore } from './user-store.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The logged-in session, set by the auth hook (null: not logged in). */
    session: WebSession | null;
  }
  interface FastifyContextConfig {
    /** Reachable without a login (the login page and its assets, the login call). */
    public?: boolean;
    /** Role needed beyond a login. */
    role?: Role;
  }
}

export interface WebLog {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export interface WebDeps {
  settings: WebSettings;
  admin: AdminApi;
  bus: EventBus;
  users: UserStore;
  log: WebLog;
  clock: Clock;
  /** PEM contents when serving HTTPS. */
  tls?: { cert: Buffer; key: Buffer };
}

export type WebApp = FastifyInstance<import('node:http').Server, import('node:http').IncomingMessage, import('node:http').ServerResponse, import('fastify').FastifyBaseLogger, ZodTypeProvider>;

export interface RouteContext extends WebDeps {
  sessions: SessionStore;
  limiter: LoginLimiter;
  liveView: LiveView;
  feed: EventFeed;
  /** Open streams (MJPEG, SSE): closed on stop so close() does not wait for them. */
  streams: Set<{ close(): void }>;
  secureCookies: boolean;
}

/** An error with the HTTP status it should answer. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export interface BuiltWebApp {
  app: WebApp;
  ctx: RouteContext;
}

export async function buildWebApp(deps: WebDeps): Promise<BuiltWebApp> {
  const app = Fastify({
    // No request logging: headers carry session ids; the console logs logins and failures itself.
    logger: false,
    bodyLimit: 64 * 1024,
    forceCloseConnections: true,
    ...(deps.tls ? { https: { cert: deps.tls.cert, key: deps.tls.key } } : {}),
  }) as unknown as WebApp;
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  const ctx: RouteContext = {
    ...deps,
    sessions: new SessionStore(deps.clock, deps.settings.sessionTtlMs),
    limiter: new LoginLimiter(deps.clock, deps.settings.login),
    liveView: new LiveView(deps.bus, deps.clock, deps.settings.liveView, (err) => deps.log.warn(`web: live view frame dropped: ${err.message}`)),
    feed: new EventFeed(deps.bus),
    streams: new Set(),
    secureCookies: deps.tls !== undefined,
  };

  await app.register(fastifyCookie);
  // The CSRF secret lives in the server-side session (the synchronizer-token pattern); the token
  // travels in a header, which a cross-site form cannot set.
  await app.register(fastifyCsrf, { sessionPlugin: '@fastify/session', sessionKey: 'csrfSecret', getToken: (req) => header(req, 'x-csrf-token') });
  await app.register(fastifyMultipart, {
    limits: { fileSize: deps.settings.uploads.maxBytes, files: deps.settings.uploads.maxFiles, fields: 4, fieldSize: 1024, parts: deps.settings.uploads.maxFiles + 4 },
  });
  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'facegate web console API', version: '1', description: 'Log in with POST /api/auth/login (a session cookie); send the csrfToken it returns in x-csrf-token with every POST, PATCH and DELETE.' },
      components: { securitySchemes: { session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE } } },
      security: [{ session: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });

  app.decorateRequest('session', null);
  app.addHook('onRequest', (req, reply, done) => authenticate(ctx, app, req, reply, done));
  app.addHook('onSend', async (_req, reply) => {
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('X-Frame-Options', 'DENY');
    reply.header('Referrer-Policy', 'no-referrer');
    reply.header('Content-Security-Policy', "default-src 'self'; img-src 'self' data: blob:; script-src 'self'; style-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
    if (ctx.secureCookies) reply.header('Strict-Transport-Security', 'max-age=31536000');
    if (!reply.hasHeader('Cache-Control')) reply.header('Cache-Control', 'no-store');
  });
  app.setErrorHandler((err: FastifyError, _req, reply) => {
    const { status, message } = describeError(err);
    if (status >= 500) deps.log.error(`web: ${message}`);
    void reply.code(status).send({ error: message });
  });
  app.setNotFoundHandler((req, reply) => void reply.code(404).send({ error: `no such page or API: ${req.method} ${req.url.split('?')[0]}` }));

  registerPages(app, ctx);
  registerAuthRoutes(app, ctx);
  registerApiRoutes(app, ctx);
  registerLiveRoutes(app, ctx);
  app.get('/api/openapi.json', { schema: { hide: true } }, () => app.swagger());
  await app.ready();
  return { app, ctx };
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function authenticate(ctx: RouteContext, app: WebApp, req: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void {
  const path = req.url.split('?')[0]!;
  const id = req.cookies[SESSION_COOKIE];
  const session = ctx.sessions.get(id);
  if (session) {
    // A removed user or a changed password ends the session at once (the CLI edits the file).
    const user = ctx.users.get(session.user);
    if (!user || user.passwordChangedAt !== session.passwordChangedAt) ctx.sessions.destroy(id);
    else {
      session.role = user.role;
      req.session = session;
    }
  }
  if (STATE_CHANGING.has(req.method)) {
    // Belt and braces next to the token: a browser names the page that sent a request.
    const origin = header(req, 'origin');
    if (origin && originHost(origin) !== req.host) {
      void reply.code(403).send({ error: `cross-site request from ${origin} refused` });
      return;
    }
  }
  const config = req.routeOptions.config;
  if (config.public) return done();
  if (!req.session) {
    // Pages send the browser to the login; the API and the scripts behind the pages answer 401.
    if (path.startsWith('/api/') || path.startsWith('/assets/')) void reply.code(401).send({ error: 'log in first (POST /api/auth/login)' });
    else void reply.redirect(`/login?next=${encodeURIComponent(path)}`);
    return;
  }
  if (config.role === 'admin' && req.session.role !== 'admin') {
    void reply.code(403).send({ error: `${req.session.user} is a viewer: only an admin may do this` });
    return;
  }
  if (STATE_CHANGING.has(req.method)) return app.csrfProtection(req, reply, done);
  done();
}

/** The host[:port] of an Origin header; null (refused) for 'null' (sandboxed frames, file:) and malformed ones. */
function originHost(origin: string): string | null {
  try {
    return origin === 'null' ? null : new URL(origin).host;
  } catch {
    return null;
  }
}

const NOT_FOUND = /\bnot found\b|^no (person|such|event|recognition event|pending|capture|door|template|snapshot|kept photo)\b|^unknown door/i;
const CONFLICT = /\balready\b|\bbusy\b|in progress|is running/i;
// Programming faults, storage faults and a broken users file are the server's, not the caller's.
const SERVER_FAULTS = new Set(['TypeError', 'RangeError', 'ReferenceError', 'SyntaxError', 'SqliteError', 'UserStoreError']);

function describeError(err: FastifyError): { status: number; message: string } {
  if (hasZodFastifySchemaValidationErrors(err)) {
    const issues = err.validation.map((v) => `${err.validationContext ?? 'request'}${v.instancePath ? ` ${v.instancePath.slice(1).replace(/\//g, '.')}` : ''}: ${v.message ?? 'invalid'}`);
    return { status: 400, message: issues.join('; ') };
  }
  switch (err.code) {
    case 'FST_CSRF_MISSING_SECRET':
    case 'FST_CSRF_INVALID_TOKEN':
      return { status: 403, message: 'missing or wrong CSRF token: send the csrfToken of GET /api/auth/me in the x-csrf-token header' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, message: `unsupported content type: send JSON (or multipart/form-data for photos)` };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, message: 'request body too large' };
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return { status: 415, message: 'send the photos as multipart/form-data (form field "photos")' };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, message: `bad JSON body: ${err.message}` };
  }
  if (err instanceof HttpError) return { status: err.statusCode, message: err.message };
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) return { status: err.statusCode, message: err.message };
  // What the admin service refuses (a missing person, a bad name, a busy capture) is the
  // caller's to fix, with its message.
  if (SERVER_FAULTS.has(err.name) || !err.message) return { status: 500, message: `internal error: ${err.message}` };
  if (NOT_FOUND.test(err.message)) return { status: 404, message: err.message };
  if (CONFLICT.test(err.message)) return { status: 409, message: err.message };
  return { status: 400, message: err.message };
}

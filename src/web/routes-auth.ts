// Login, logout and "who am I" (which also hands the page its CSRF token).
import { z } from 'zod';
import { ErrorBody, LoginBody, Me } from './api-schemas.js';
import type { RouteContext, WebApp } from './web-app.js';
import type { WebSession } from './sessions.js';
import type { FastifyReply, FastifyRequest } from 'fastify';

export const SESSION_COOKIE = 'facegate_session';

function me(req: FastifyRequest, reply: FastifyReply, session: WebSession): z.infer<typeof Me> {
  req.session = session;
  return { user: session.user, role: session.role, csrfToken: reply.generateCsrf(), expiresAt: new Date(session.expiresAtMs).toISOString() };
}

export function registerAuthRoutes(app: WebApp, ctx: RouteContext): void {
  app.post(
    '/api/auth/login',
    {
      config: { public: true },
      schema: {
        tags: ['auth'],
        summary: 'log in: sets the session cookie and returns the CSRF token',
        security: [],
        body: LoginBody,
        response: { 200: Me, 401: ErrorBody, 429: ErrorBody },
      },
    },
    async (req, reply) => {
      const { user: name, password } = req.body;
      const ip = req.ip;
      const limit = ctx.limiter.check(ip, name);
      if (!limit.allowed) {
        const seconds = Math.max(1, Math.ceil(limit.retryAfterMs / 1000));
        ctx.log.warn(`web: login for ${JSON.stringify(name)} from ${ip} refused: too many wrong passwords (${limit.by})`);
        return reply
          .code(429)
          .header('Retry-After', String(seconds))
          .send({ error: `too many wrong passwords ${limit.by === 'user' ? `for ${name}` : 'from this address'}: try again in ${seconds} s` });
      }
      const user = await ctx.users.verify(name, password);
      if (!user) {
        ctx.limiter.recordFailure(ip, name);
        ctx.log.warn(`web: wrong password for ${JSON.stringify(name)} from ${ip}`);
        return reply.code(401).send({ error: 'wrong user name or password' });
      }
      ctx.limiter.recordSuccess(name);
      // A fresh id at every login: an id planted before the login is worthless after it.
      ctx.sessions.destroy(req.cookies[SESSION_COOKIE]);
      const { id, session } = ctx.sessions.create(user);
      reply.setCookie(SESSION_COOKIE, id, {
        path: '/',
        httpOnly: true,
        sameSite: 'strict',
        secure: ctx.secureCookies,
        maxAge: Math.floor(ctx.settings.sessionTtlMs / 1000),
      });
      ctx.log.info(`web: ${user.name} (${user.role}) logged in from ${ip}`);
      return me(req, reply, session);
    },
  );

  app.post('/api/auth/logout', { schema: { tags: ['auth'], summary: 'log out (ends the session)', response: { 204: z.undefined() } } }, async (req, reply) => {
    ctx.sessions.destroy(req.cookies[SESSION_COOKIE]);
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return reply.code(204).send();
  });

  app.get('/api/auth/me', { schema: { tags: ['auth'], summary: 'the logged-in user, role and CSRF token', response: { 200: Me } } }, async (req, reply) => me(req, reply, req.session!));
}

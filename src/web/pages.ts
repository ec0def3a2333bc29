// The console's pages: plain HTML, CSS and ES modules from ./assets (no client framework, no
// build step), read once at start. Only the login page and what it needs are public.
import { readFileSync } from 'node:fs';
import type { RouteContext, WebApp } from './web-app.js';

const ASSETS = new URL('./assets/', import.meta.url);

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
};

const PUBLIC_ASSETS = new Set(['login.js', 'style.css', 'icon.svg']);
const PRIVATE_ASSETS = ['app.js', 'api.js', 'live.js', 'people.js', 'decisions.js', 'doors.js'];

function load(file: string): { body: Buffer; type: string } {
  return { body: readFileSync(new URL(file, ASSETS)), type: TYPES[file.split('.').pop()!]! };
}

export function registerPages(app: WebApp, _ctx: RouteContext): void {
  const hidden = { hide: true };
  const index = load('index.html');
  const login = load('login.html');
  app.get('/', { schema: hidden }, (_req, reply) => reply.type(index.type).send(index.body));
  app.get('/login', { config: { public: true }, schema: hidden }, (req, reply) => (req.session ? reply.redirect('/') : reply.type(login.type).send(login.body)));
  for (const file of [...PUBLIC_ASSETS, ...PRIVATE_ASSETS]) {
    const asset = load(file);
    app.get(`/assets/${file}`, { config: { public: PUBLIC_ASSETS.has(file) }, schema: hidden }, (_req, reply) => reply.type(asset.type).header('Cache-Control', 'no-cache').send(asset.body));
  }
  app.get('/favicon.ico', { config: { public: true }, schema: hidden }, (_req, reply) => reply.redirect('/assets/icon.svg'));
}

// The web console's HTTP API through fastify.inject(): a real WebApp, a real EventBus, real
// users with scrypt hashes, a ManualClock for sessions and rate limits, a fake AdminApi.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBus } from '../../src/core/event-bus.js';
import { resolveWebSettings, type WebSettings } from '../../src/web/settings.js';
import { UserStore } from '../../src/web/user-store.js';
import { buildWebApp, type BuiltWebApp } from '../../src/web/web-app.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { ManualClock } from '../../src/util/manual-clock.js';
import { FakeAdmin, writeWebUsers } from '../helpers/web-backend.js';

const PASSWORDS = { ada: 'ada-admin-password', vic: 'vic-viewer-password' };

interface Fixture extends BuiltWebApp {
  dir: string;
  bus: EventBus;
  clock: ManualClock;
  admin: FakeAdmin;
  users: UserStore;
  logs: string[];
}

async function fixture(overrides: Partial<WebSettings> = {}): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'facegate-web-'));
  const settings = { ...resolveWebSettings(ConfigSchema.parse({}).web, (p) => join(dir, p), join(dir, 'gallery.db')), ...overrides };
  await writeWebUsers(settings.usersPath, [
    { name: 'ada', password: PASSWORDS.ada, role: 'admin' },
    { name: 'vic', password: PASSWORDS.vic, role: 'viewer' },
  ]);
  const clock = new ManualClock();
  const bus = new EventBus();
  const admin = new FakeAdmin(bus, clock);
  const users = new UserStore(settings.usersPath);
  const logs: string[] = [];
  const log = { info: (m: string) => logs.push(m), warn: (m: string) => logs.push(m), error: (m: string) => logs.push(m) };
  const built = await buildWebApp({ settings, admin, bus, users, log, clock });
  return { ...built, dir, bus, clock, admin, users, logs };
}

async function close(f: Fixture): Promise<void> {
  await f.app.close();
  rmSync(f.dir, { recursive: true, force: true });
}

interface Login {
  cookie: string;
  csrf: string;
  setCookie: string;
}

async function login(f: Fixture, user: keyof typeof PASSWORDS, remoteAddress = '127.0.0.1'): Promise<Login> {
  const res = await f.app.inject({ method: 'POST', url: '/api/auth/login', payload: { user, password: PASSWORDS[user] }, remoteAddress });
  assert.equal(res.statusCode, 200, res.body);
  const setCookie = String(res.headers['set-cookie']);
  return { cookie: setCookie.split(';')[0]!, csrf: res.json().csrfToken, setCookie };
}

function as(l: Login, csrf = true) {
  return { cookie: l.cookie, ...(csrf ? { 'x-csrf-token': l.csrf } : {}) };
}

/** A multipart body with the given files in the field "photos". */
function multipart(files: { name: string; type: string; data: Buffer }[]): { payload: Buffer; headers: Record<string, string> } {
  const boundary = '----facegate-test';
  const parts = files.map((f) => Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="photos"; filename="${f.name}"\r\nContent-Type: ${f.type}\r\n\r\n`), f.data, Buffer.from('\r\n')]));
  return { payload: Buffer.concat([...parts, Buffer.from(`--${boundary}--\r\n`)]), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(100, 1), Buffer.from([0xff, 0xd9])]);
const GIF = Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1');

describe('web console API', () => {
  let f: Fixture;
  before(async () => {
    f = await fixture({ uploads: { maxBytes: 4096, maxFiles: 3 } });
  });
  after(() => close(f));

  it('refuses every documented API operation and every page without a login', async () => {
    const doc = f.app.swagger() as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => ({ method: method.toUpperCase(), url: path.replace(/\{[^}]+\}/g, '1') })));
    assert.ok(operations.length >= 20, `only ${operations.length} operations documented`);
    const open = operations.filter((o) => o.url === '/api/auth/login');
    assert.equal(open.length, 1);
    for (const op of operations.filter((o) => o.url !== '/api/auth/login')) {
      const res = await f.app.inject({ method: op.method as 'GET', url: op.url, payload: op.method === 'GET' ? undefined : {} });
      assert.equal(res.statusCode, 401, `${op.method} ${op.url}: ${res.statusCode} ${res.body}`);
    }
    for (const url of ['/api/openapi.json', '/api/live.mjpeg', '/api/events/stream', '/assets/app.js', '/assets/people.js']) {
      assert.equal((await f.app.inject({ url })).statusCode, 401, url);
    }
    const page = await f.app.inject({ url: '/' });
    assert.equal(page.statusCode, 302);
    assert.equal(page.headers.location, '/login?next=%2F');
    assert.equal((await f.app.inject({ url: '/login' })).statusCode, 200);
    assert.equal((await f.app.inject({ url: '/assets/login.js' })).statusCode, 200);
    assert.equal(f.admin.calls.length, 0, 'no admin call was made');
  });

  it('logs in with an HttpOnly SameSite=Strict session cookie, never logging the password', async () => {
    const l = await login(f, 'ada');
    assert.match(l.setCookie, /HttpOnly/);
    assert.match(l.setCookie, /SameSite=Strict/);
    assert.doesNotMatch(l.setCookie, /Secure/, 'plain HTTP on loopback: a Secure cookie would never be sent back');
    const me = await f.app.inject({ url: '/api/auth/me', headers: as(l, false) });
    assert.equal(me.statusCode, 200);
    assert.equal(me.json().user, 'ada');
    assert.equal(me.json().role, 'admin');
    const wrong = await f.app.inject({ method: 'POST', url: '/api/auth/login', payload: { user: 'ada', password: 'not-her-password' } });
    assert.equal(wrong.statusCode, 401);
    assert.equal(wrong.json().error, 'wrong user name or password');
    const unknown = await f.app.inject({ method: 'POST', url: '/api/auth/login', payload: { user: 'nobody', password: 'whatever-it-is' } });
    assert.equal(unknown.json().error, 'wrong user name or password', 'unknown names answer like wrong passwords');
    const all = f.logs.join('\n');
    assert.ok(!all.includes(PASSWORDS.ada) && !all.includes('not-her-password') && !all.includes(l.cookie.split('=')[1]!), 'no password or session id in the log');
    assert.ok((await f.app.inject({ url: '/', headers: as(l, false) })).body.includes('<title>facegate</title>'));
  });

  it('lets an admin unlock (audited with the user name) and refuses a viewer with 403', async () => {
    const vic = await login(f, 'vic');
    const refused = await f.app.inject({ method: 'POST', url: '/api/doors/front/unlock', headers: as(vic), payload: {} });
    assert.equal(refused.statusCode, 403);
    assert.match(refused.json().error, /vic is a viewer/);
    assert.equal(f.admin.calls.filter((c) => c.op === 'unlock').length, 0);
    // A viewer still sees doors, status and events.
    assert.equal((await f.app.inject({ url: '/api/doors', headers: as(vic, false) })).statusCode, 200);
    assert.equal((await f.app.inject({ url: '/api/status', headers: as(vic, false) })).json().liveView.fpsCap, 5);

    const states: string[] = [];
    const off = f.bus.on('door.state', (s) => void states.push(s.state));
    const ada = await login(f, 'ada');
    const res = await f.app.inject({ method: 'POST', url: '/api/doors/front/unlock', headers: as(ada), payload: { transaction: 'tx-1' } });
    off();
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().pulsed, true);
    assert.deepEqual(f.admin.calls.find((c) => c.op === 'unlock'), { op: 'unlock', args: ['front', 'tx-1'], actor: { via: 'web', name: 'ada' } });
    assert.deepEqual(states, ['unlocked']);
    const missing = await f.app.inject({ method: 'POST', url: '/api/doors/back/unlock', headers: as(ada), payload: {} });
    assert.equal(missing.statusCode, 404);
    assert.match(missing.json().error, /no door named "back"/);
  });

  it('requires the session CSRF token on every state-changing request', async () => {
    const ada = await login(f, 'ada');
    const other = await login(f, 'ada');
    const before = f.admin.calls.length;
    for (const headers of [as(ada, false), { ...as(ada, false), 'x-csrf-token': 'forged' }, { ...as(ada, false), 'x-csrf-token': other.csrf }]) {
      for (const [method, url] of [
        ['POST', '/api/doors/front/unlock'],
        ['DELETE', '/api/people/anyone'],
        ['PATCH', '/api/people/anyone'],
        ['POST', '/api/auth/logout'],
      ] as const) {
        const res = await f.app.inject({ method, url, headers, payload: { name: 'x' } });
        assert.equal(res.statusCode, 403, `${method} ${url} ${JSON.stringify(headers)}`);
        assert.match(res.json().error, /CSRF token/);
      }
    }
    assert.equal(f.admin.calls.length, before);
    for (const origin of ['https://evil.example', 'null', 'not a url']) {
      const crossSite = await f.app.inject({ method: 'POST', url: '/api/doors/front/unlock', headers: { ...as(ada), origin }, payload: {} });
      assert.equal(crossSite.statusCode, 403, origin);
      assert.match(crossSite.json().error, /cross-site/);
    }
    const sameSite = await f.app.inject({ method: 'POST', url: '/api/doors/front/unlock', headers: { ...as(ada), host: 'door1.local:8443', origin: 'https://door1.local:8443' }, payload: {} });
    assert.equal(sameSite.statusCode, 200, sameSite.body);
    // A form post (not JSON) to the login is refused, so a foreign page cannot log a browser in.
    const form = await f.app.inject({ method: 'POST', url: '/api/auth/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'user=ada&password=x' });
    assert.equal(form.statusCode, 415);
  });

  it('checks uploads: type by content, size, count, and reports rejected photos', async () => {
    const ada = await login(f, 'ada');
    const upload = (files: { name: string; type: string; data: Buffer }[]) => {
      const m = multipart(files);
      return f.app.inject({ method: 'POST', url: '/api/people/Grace%20Hopper/photos', headers: { ...as(ada), ...m.headers }, payload: m.payload });
    };
    const gif = await upload([{ name: 'cat.jpg', type: 'image/jpeg', data: GIF }]);
    assert.equal(gif.statusCode, 415);
    assert.equal(gif.json().error, 'cat.jpg: not a JPEG or PNG photo');
    const empty = await upload([{ name: 'empty.jpg', type: 'image/jpeg', data: Buffer.alloc(0) }]);
    assert.equal(empty.statusCode, 400);
    assert.equal(empty.json().error, 'empty.jpg: empty file');
    const big = await upload([{ name: 'huge.jpg', type: 'image/jpeg', data: Buffer.concat([JPEG, Buffer.alloc(5000)]) }]);
    assert.equal(big.statusCode, 413);
    assert.equal(big.json().error, 'huge.jpg: over the 4 KiB limit per photo (web.uploads.maxBytes)');
    const many = await upload([1, 2, 3, 4].map((i) => ({ name: `p${i}.jpg`, type: 'image/jpeg', data: JPEG })));
    assert.equal(many.statusCode, 413);
    assert.match(many.json().error, /at most 3 photos/);
    const json = await f.app.inject({ method: 'POST', url: '/api/people/Grace/photos', headers: as(ada), payload: { photos: [] } });
    assert.equal(json.statusCode, 415);
    assert.match(json.json().error, /multipart\/form-data/);
    assert.equal(f.admin.calls.filter((c) => c.op === 'enrollFromImages').length, 0, 'nothing bad reached the admin service');

    const noFace = await upload([{ name: 'noface.jpg', type: 'image/jpeg', data: JPEG }]);
    assert.equal(noFace.statusCode, 422);
    assert.match(noFace.json().error, /no template added for Grace Hopper \(noface.jpg: no face found\)/);
    const ok = await upload([
      { name: 'grace.jpg', type: 'application/octet-stream', data: JPEG },
      { name: 'grace2.jpg', type: 'image/jpeg', data: JPEG },
    ]);
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual(ok.json(), { person: 'Grace Hopper', added: 2, rejected: [] });
    assert.deepEqual(f.admin.calls.at(-1)!.args, ['Grace Hopper', [{ source: 'grace.jpg', bytes: JPEG.length }, { source: 'grace2.jpg', bytes: JPEG.length }]]);
    assert.deepEqual(f.admin.calls.at(-1)!.actor, { via: 'web', name: 'ada' });

    const vic = await login(f, 'vic');
    const m = multipart([{ name: 'v.jpg', type: 'image/jpeg', data: JPEG }]);
    assert.equal((await f.app.inject({ method: 'POST', url: '/api/people/Vic/photos', headers: { ...as(vic), ...m.headers }, payload: m.payload })).statusCode, 403);
  });

  it('manages people with the admin role: rename, groups, delete with verified, pending, mark wrong', async () => {
    const ada = await login(f, 'ada');
    const vic = await login(f, 'vic');
    await f.admin.enrollFromImages('Alan', [{ source: 'a.jpg', data: JPEG }], { via: 'cli', name: 'test' });
    const list = await f.app.inject({ url: '/api/people', headers: as(vic, false) });
    assert.ok(list.json().people.some((p: { name: string }) => p.name === 'Alan'));
    for (const [method, url, payload] of [
      ['PATCH', '/api/people/Alan', { name: 'Turing' }],
      ['DELETE', '/api/people/Alan', undefined],
      ['POST', '/api/pending/7/name', { name: 'X' }],
      ['POST', '/api/events/e1/wrong', {}],
      ['POST', '/api/enrollment/arm', { name: 'X' }],
    ] as const) {
      assert.equal((await f.app.inject({ method, url, headers: as(vic), ...(payload ? { payload } : {}) })).statusCode, 403, `viewer ${method} ${url}`);
    }
    const renamed = await f.app.inject({ method: 'PATCH', url: '/api/people/Alan', headers: as(ada), payload: { name: 'Alan Turing', groups: ['staff'] } });
    assert.equal(renamed.statusCode, 200, renamed.body);
    assert.deepEqual(renamed.json(), { name: 'Alan Turing', groups: ['staff'] });
    assert.deepEqual(f.admin.people.get('Alan Turing')!.groups, ['staff']);
    const badPatch = await f.app.inject({ method: 'PATCH', url: '/api/people/Alan%20Turing', headers: as(ada), payload: {} });
    assert.equal(badPatch.statusCode, 400);
    assert.match(badPatch.json().error, /give name or groups/);
    const named = await f.app.inject({ method: 'POST', url: '/api/pending/7/name', headers: as(ada), payload: { name: 'Ken' } });
    assert.deepEqual(named.json(), { person: 'Ken', templates: 3 });
    const noPending = await f.app.inject({ method: 'POST', url: '/api/pending/8/name', headers: as(ada), payload: { name: 'Ken' } });
    assert.equal(noPending.statusCode, 404);
    const armed = await f.app.inject({ method: 'POST', url: '/api/enrollment/arm', headers: as(ada), payload: { name: 'Ken', capture: 'now' } });
    assert.equal(armed.json().capture, 'now');
    assert.deepEqual(f.admin.calls.at(-1)!.args, ['Ken', 120_000, 'now']);

    const decision = f.admin.decide('front', 'Alan Turing');
    const wrong = await f.app.inject({ method: 'POST', url: `/api/events/${decision.eventId}/wrong`, headers: as(ada), payload: { note: 'his brother' } });
    assert.deepEqual(wrong.json(), { person: 'Alan Turing', negativeId: 1 });
    assert.deepEqual(f.admin.calls.at(-1), { op: 'markWrong', args: [decision.eventId, 'his brother'], actor: { via: 'web', name: 'ada' } });

    const deleted = await f.app.inject({ method: 'DELETE', url: '/api/people/Alan%20Turing', headers: as(ada) });
    assert.equal(deleted.statusCode, 200, deleted.body);
    assert.equal(deleted.json().verified, true);
    const again = await f.app.inject({ method: 'DELETE', url: '/api/people/Alan%20Turing', headers: as(ada) });
    assert.equal(again.statusCode, 404);
    assert.match(again.json().error, /no person named "Alan Turing"/);
  });

  it('searches the history with validated queries and serves snapshots', async () => {
    const vic = await login(f, 'vic');
    const d = f.admin.decide('front', null);
    const res = await f.app.inject({ url: '/api/events?kind=recognition&reason=denied-unknown&limit=5', headers: as(vic, false) });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json()[0].id, d.eventId);
    assert.deepEqual(f.admin.calls.at(-1)!.args, [{ kind: 'recognition', reason: 'denied-unknown', limit: 5 }]);
    const bad = await f.app.inject({ url: '/api/events?limit=lots&since=yesterday', headers: as(vic, false) });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json().error, /querystring since: .*querystring limit|querystring limit: .*querystring since/s);
    const snap = await f.app.inject({ url: `/api/events/${d.eventId}/snapshot`, headers: as(vic, false) });
    assert.equal(snap.statusCode, 200);
    assert.equal(snap.headers['content-type'], 'image/jpeg');
    assert.equal((await f.app.inject({ url: '/api/events/nope/snapshot', headers: as(vic, false) })).statusCode, 404);
  });

  it('documents the API as OpenAPI from the same schemas', async () => {
    const ada = await login(f, 'ada');
    const res = await f.app.inject({ url: '/api/openapi.json', headers: as(ada, false) });
    assert.equal(res.statusCode, 200);
    const doc = res.json();
    assert.match(doc.openapi, /^3\./);
    const unlock = doc.paths['/api/doors/{door}/unlock'].post;
    assert.ok(unlock.responses['200'] && unlock.responses['403']);
    assert.ok(doc.components.schemas.Status && doc.components.schemas.Person && doc.components.schemas.Event);
    assert.ok(doc.paths['/api/events'].get.parameters.some((p: { name: string }) => p.name === 'since'));
  });
});

describe('web console sessions and login limits', () => {
  it('rate limits wrong passwords per user and per address on the injected clock', async () => {
    const f = await fixture();
    try {
      const attempt = (user: string, password: string, remoteAddress = '10.0.0.1') => f.app.inject({ method: 'POST', url: '/api/auth/login', payload: { user, password }, remoteAddress });
      for (let i = 0; i < 5; i++) assert.equal((await attempt('ada', `guess-number-${i}`)).statusCode, 401);
      const limited = await attempt('ada', PASSWORDS.ada, '10.0.0.2');
      assert.equal(limited.statusCode, 429, 'the right password from elsewhere is refused too while the user is locked');
      assert.equal(limited.headers['retry-after'], String(15 * 60));
      assert.match(limited.json().error, /too many wrong passwords for ada: try again in 900 s/);
      assert.equal((await attempt('vic', PASSWORDS.vic)).statusCode, 200, 'other users are not affected');
      f.clock.advance(15 * 60 * 1000);
      assert.equal((await attempt('ada', PASSWORDS.ada)).statusCode, 200, 'the window passed');

      // Per address: many names guessed from one address.
      for (let i = 0; i < 20; i++) assert.equal((await attempt(`user${i}`, 'wrong-password', '10.0.0.9')).statusCode, 401);
      const byAddress = await attempt('vic', PASSWORDS.vic, '10.0.0.9');
      assert.equal(byAddress.statusCode, 429);
      assert.match(byAddress.json().error, /from this address/);
      assert.equal((await attempt('vic', PASSWORDS.vic, '10.0.0.10')).statusCode, 200);
    } finally {
      await close(f);
    }
  });

  it('ends sessions on expiry, logout, password change and user removal', async () => {
    const f = await fixture();
    try {
      const me = (l: Login) => f.app.inject({ url: '/api/auth/me', headers: as(l, false) });
      const a = await login(f, 'ada');
      f.clock.advance(12 * 3_600_000 - 1000);
      assert.equal((await me(a)).statusCode, 200);
      f.clock.advance(1000);
      assert.equal((await me(a)).statusCode, 401, 'expired after web.sessionHours');

      const b = await login(f, 'ada');
      assert.equal((await f.app.inject({ method: 'POST', url: '/api/auth/logout', headers: as(b) })).statusCode, 204);
      assert.equal((await me(b)).statusCode, 401);

      const c = await login(f, 'vic');
      f.clock.advance(1000);
      await new UserStore(f.users.path, () => new Date(f.clock.now())).setPassword('vic', 'a-new-password-for-vic');
      assert.equal((await me(c)).statusCode, 401, 'a password change (by the CLI, another UserStore) ends the session');

      // A users file others can read is refused loudly, not used.
      const e = await login(f, 'ada');
      chmodSync(f.users.path, 0o644);
      const refused = await me(e);
      assert.equal(refused.statusCode, 500);
      assert.match(refused.json().error, /open to other users \(mode 644\): chmod 600/);
      chmodSync(f.users.path, 0o600);

      const d = await login(f, 'ada');
      new UserStore(f.users.path).remove('ada');
      assert.equal((await me(d)).statusCode, 401);
      assert.equal((statSync(f.users.path).mode & 0o777).toString(8), '600');
    } finally {
      await close(f);
    }
  });
});

// The live view and the decision feed: subscribed only while someone watches, capped in rate,
// faces drawn where they are; the streams over a real socket (MJPEG parts, SSE events).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBus, type FaceInView, type FrameAnalysed } from '../../src/core/event-bus.js';
import { cv } from '../../src/vision/opencv.js';
import { LiveView, type LiveFrame } from '../../src/web/live-view.js';
import { BOX_COLOURS, faceCaption, renderLiveFrame } from '../../src/web/frame-render.js';
import { EventFeed } from '../../src/web/event-feed.js';
import { measureLiveViewOverhead } from '../../src/web/live-view-bench.js';
import { resolveWebSettings } from '../../src/web/settings.js';
import { UserStore } from '../../src/web/user-store.js';
import { WebConsole } from '../../src/web/web-console.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { systemClock } from '../../src/util/clock.js';
import { ManualClock } from '../../src/util/manual-clock.js';
import { FakeAdmin, writeWebUsers } from '../helpers/web-backend.js';

const OPTS = { fps: 5, maxWidth: 640, jpegQuality: 80 };

function grey(width: number, height: number) {
  return new cv.Mat(height, width, cv.CV_8UC3, [128, 128, 128]);
}

const SMALL = grey(320, 240);

function frame(seq: number, atMs: number, faces: FaceInView[], image = SMALL): FrameAnalysed {
  return { seq, capturedAtMs: atMs, width: image.cols, height: image.rows, faces, timings: {}, image };
}

const alice: FaceInView = { trackId: 3, box: [100, 60, 80, 100], label: 'alice', score: 0.81, usable: true, liveness: { state: 'live', score: 0.9 } };

describe('live view', () => {
  it('subscribes only while viewers watch and passes at most fps frames a second', () => {
    const bus = new EventBus();
    const clock = new ManualClock();
    const live = new LiveView(bus, clock, OPTS);
    assert.equal(bus.has('frame.analysed'), false, 'nobody watches: the loop builds no frame payloads');
    const pictures: LiveFrame[] = [];
    const lists: LiveFrame[] = [];
    const removeList = live.addViewer({ wantsImage: false, push: (f) => void lists.push(f) });
    assert.equal(bus.has('frame.analysed'), true);
    // 30 fps camera for 2 s with only a face list watching: nothing is encoded.
    for (let i = 0; i < 60; i++) {
      bus.emit('frame.analysed', frame(i, clock.now(), [alice]));
      clock.advance(33);
    }
    assert.equal(live.encoded, 0);
    assert.ok(lists.length >= 9 && lists.length <= 11, `${lists.length} frames in 2 s at a 5 fps cap`);
    const removeImage = live.addViewer({ wantsImage: true, push: (f) => void pictures.push(f) });
    for (let i = 0; i < 30; i++) {
      bus.emit('frame.analysed', frame(100 + i, clock.now(), [alice]));
      clock.advance(33);
    }
    assert.ok(pictures.length >= 4 && pictures.length <= 6, `${pictures.length} pictures in 1 s`);
    assert.equal(live.encoded, pictures.length, 'one encoding per frame passed on, shared by all viewers');
    assert.ok(pictures.every((p) => p.jpeg && p.jpeg[0] === 0xff && p.jpeg[1] === 0xd8));
    removeImage();
    removeList();
    assert.equal(bus.has('frame.analysed'), false, 'the last viewer leaving unsubscribes');
  });

  it('draws each face box in its colour with track id, name, quality and liveness', () => {
    const unknown: FaceInView = { trackId: 4, box: [400, 300, 120, 140], label: 'unknown', score: 0.2, usable: false };
    const jpeg = renderLiveFrame(grey(1280, 720), [alice, unknown], { maxWidth: 640, jpegQuality: 90 });
    const img = cv.imdecode(jpeg);
    assert.deepEqual([img.cols, img.rows], [640, 360], 'scaled to maxWidth');
    const near = (x: number, y: number, bgr: readonly number[]) => {
      const px = img.at(y, x) as unknown as { x: number; y: number; z: number };
      return Math.abs(px.x - bgr[0]!) < 60 && Math.abs(px.y - bgr[1]!) < 60 && Math.abs(px.z - bgr[2]!) < 60;
    };
    // Left edges of the boxes (scaled by 0.5), halfway down: green for alice, red for unknown.
    assert.ok(near(50, 55, BOX_COLOURS.named), 'green edge of alice\'s box');
    assert.ok(near(200, 185, BOX_COLOURS.unknown), 'red edge of the unknown box');
    assert.ok(near(70, 55, [128, 128, 128]), 'inside the box the frame is untouched');
    assert.equal(faceCaption(alice), '#3 alice 0.81 live');
    assert.equal(faceCaption(unknown), '#4 unknown low quality');
    assert.equal(faceCaption({ ...alice, label: 'Zoë', liveness: { state: 'spoof', score: 0.1 } }), '#3 Zo? 0.81 spoof');
  });

  it('feeds decisions without the face embedding, only while someone listens', () => {
    const bus = new EventBus();
    const clock = new ManualClock();
    const admin = new FakeAdmin(bus, clock);
    const feed = new EventFeed(bus);
    assert.equal(bus.has('decision'), false);
    const got: { event: string; data: Record<string, unknown> }[] = [];
    const off = feed.add((event, data) => void got.push({ event, data: data as Record<string, unknown> }));
    admin.decide('front', null);
    off();
    assert.equal(bus.has('decision'), false);
    const decision = got.find((g) => g.event === 'decision')!;
    assert.equal(decision.data.reason, 'denied-unknown');
    assert.equal('embedding' in decision.data, false);
  });
});

describe('live view bench', () => {
  it('counts frames without and with an encoding viewer and leaves nothing subscribed', async () => {
    const bus = new EventBus();
    const camera = setInterval(() => bus.emit('frame.analysed', frame(0, Date.now(), [alice])), 20);
    try {
      const r = await measureLiveViewOverhead(bus, { rounds: 1, seconds: 0.3 });
      assert.ok(r.fpsWithout > 0 && r.fpsWith > 0, JSON.stringify(r));
      assert.ok(r.encoded >= 1 && r.meanJpegBytes > 1000, JSON.stringify(r));
      assert.equal(r.ratio, r.fpsWith / r.fpsWithout);
    } finally {
      clearInterval(camera);
    }
    assert.equal(bus.has('frame.analysed'), false);
  });
});

describe('web console streams over a socket', () => {
  it('serves MJPEG parts and SSE events to a logged-in client and stops cleanly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'facegate-web-live-'));
    const bus = new EventBus();
    const settings = { ...resolveWebSettings(ConfigSchema.parse({ web: { port: 0 } }).web, (p) => join(dir, p), join(dir, 'gallery.db')) };
    await writeWebUsers(settings.usersPath, [{ name: 'ada', password: 'ada-admin-password', role: 'admin' }]);
    const web = new WebConsole(settings, new FakeAdmin(bus, systemClock), bus, new UserStore(settings.usersPath), { info: () => undefined, warn: () => undefined, error: () => undefined }, systemClock);
    await web.start();
    const camera = setInterval(() => bus.emit('frame.analysed', frame(Date.now(), Date.now(), [alice])), 50);
    try {
      const loginRes = await fetch(`${web.url}api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'ada', password: 'ada-admin-password' }) });
      const cookie = loginRes.headers.get('set-cookie')!.split(';')[0]!;

      const mjpeg = await fetch(`${web.url}api/live.mjpeg`, { headers: { cookie } });
      assert.match(mjpeg.headers.get('content-type')!, /^multipart\/x-mixed-replace; boundary=facegate-frame/);
      const reader = mjpeg.body!.getReader();
      let bytes = Buffer.alloc(0);
      while ((bytes.toString('latin1').match(/--facegate-frame/g) ?? []).length < 3) bytes = Buffer.concat([bytes, Buffer.from((await reader.read()).value!)]);
      const part = bytes.toString('latin1').split('--facegate-frame')[1]!;
      assert.match(part, /Content-Type: image\/jpeg\r\nContent-Length: \d+/);
      assert.ok(part.includes('\r\n\r\n\xff\xd8'), 'a JPEG follows the part headers');
      await reader.cancel();
      const still = await fetch(`${web.url}api/live.jpg`, { headers: { cookie } });
      assert.equal(still.headers.get('content-type'), 'image/jpeg');
      assert.deepEqual([...new Uint8Array(await still.arrayBuffer()).slice(0, 2)], [0xff, 0xd8]);

      const sse = await fetch(`${web.url}api/events/stream`, { headers: { cookie } });
      assert.equal(sse.headers.get('content-type'), 'text/event-stream; charset=utf-8');
      const sseReader = sse.body!.getReader();
      await sseReader.read();
      bus.emit('door.state', { door: 'front', state: 'unlocked', cause: 'remote', atMs: 1 });
      let text = '';
      while (!text.includes('event: door.state')) text += Buffer.from((await sseReader.read()).value!).toString();
      assert.match(text, /event: door.state\ndata: \{"door":"front","state":"unlocked"/);
      // stop() closes open streams instead of waiting for the clients.
      await web.stop();
      for (;;) if ((await sseReader.read()).done) break;
    } finally {
      clearInterval(camera);
      await web.stop();
      rmSync(dir, { recursive: true, force: true });
    }
    assert.equal(bus.has('frame.analysed'), false);
    assert.equal(bus.has('decision'), false);
  });
});

describe('web console over TLS', () => {
  it('serves HTTPS with Secure cookies and HSTS, and refuses a LAN address without TLS', { skip: spawnSync('openssl', ['version']).status === 0 ? undefined : 'openssl is missing' }, async () => {
    assert.throws(() => ConfigSchema.parse({ web: { enabled: true, host: '0.0.0.0' } }), /host 0.0.0.0 is not loopback: set tls/);
    const dir = mkdtempSync(join(tmpdir(), 'facegate-web-tls-'));
    const key = join(dir, 'web.key');
    const cert = join(dir, 'web.crt');
    const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=localhost', '-keyout', key, '-out', cert]);
    assert.equal(made.status, 0, made.stderr.toString());
    const bus = new EventBus();
    const settings = resolveWebSettings(ConfigSchema.parse({ web: { port: 0, tls: { cert: 'web.crt', key: 'web.key' } } }).web, (p) => join(dir, p), join(dir, 'gallery.db'));
    await writeWebUsers(settings.usersPath, [{ name: 'ada', password: 'ada-admin-password', role: 'admin' }]);
    const web = new WebConsole(settings, new FakeAdmin(bus, systemClock), bus, new UserStore(settings.usersPath), { info: () => undefined, warn: () => undefined, error: () => undefined }, systemClock);
    await web.start();
    try {
      assert.match(web.url, /^https:\/\/127\.0\.0\.1:\d+\/$/);
      const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
        const body = JSON.stringify({ user: 'ada', password: 'ada-admin-password' });
        const req = httpsRequest(`${web.url}api/auth/login`, { method: 'POST', ca: readFileSync(cert), checkServerIdentity: () => undefined, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, resolve);
        req.on('error', reject);
        req.end(body);
      });
      res.resume();
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['set-cookie']), /HttpOnly; SameSite=Strict; Secure|Secure.*HttpOnly|HttpOnly.*Secure/);
      assert.match(String(res.headers['strict-transport-security']), /max-age=/);
    } finally {
      await web.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

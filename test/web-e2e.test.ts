// The web console end to end in a real headless Chromium (Debian's chromium via playwright-core).
// The main flow runs the real daemon in-process (models, SQLite gallery, event log, simulated GPIO,
// an image folder as the camera) with a real WebConsole on its AdminService and bus; the role and
// rate-limit checks use the stand-in backend. Screenshots: out/test-artifacts/.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { EventBus, type DoorStateChange } from '../src/core/event-bus.js';
import { ConfigSchema } from '../src/config/schema.js';
import { loadConfig } from '../src/config/load.js';
import { Daemon } from '../src/daemon/daemon.js';
import { createLogger } from '../src/daemon/logger.js';
import { SimulatedGpio } from '../src/hardware/gpio/simulated-gpio.js';
import type { RecognitionEvent } from '../src/recognition/events.js';
import { systemClock } from '../src/util/clock.js';
import { loadImage } from '../src/vision/image.js';
import { cv } from '../src/vision/opencv.js';
import { resolveWebSettings } from '../src/web/settings.js';
import { UserStore } from '../src/web/user-store.js';
import { WebConsole } from '../src/web/web-console.js';
import { BOX_COLOURS } from '../src/web/frame-render.js';
import { browserMissing, launchBrowser, type Browser } from './helpers/browser.js';
import { folderConfig } from './helpers/daemon.js';
import { requireModels, samplePhotos } from './helpers/models.js';
import { FakeAdmin, writeWebUsers } from './helpers/web-backend.js';

const skip = browserMissing();
const ADA = { user: 'ada', password: 'ada-admin-password' };
const VIC = { user: 'vic', password: 'vic-viewer-password' };
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

async function logIn(page: Page, base: string, who: { user: string; password: string }): Promise<void> {
  await page.context().clearCookies();
  await page.goto(`${base}login`);
  await page.fill('#login-user', who.user);
  await page.fill('#login-password', who.password);
  await page.click('#login-submit');
  await page.waitForSelector('body[data-ready="true"]');
}

/** Whether the live <img> shows a box in one of the face colours along the left edge of `box`. */
function boxDrawn(page: Page, box: number[]): Promise<boolean> {
  return page.evaluate(
    ({ box, colours }) => {
      const img = document.getElementById('live-img') as HTMLImageElement;
      if (!img.naturalWidth) return false;
      const canvas = document.createElement('canvas');
      canvas.width = img.naturalWidth;
      canvas.height = img.naturalHeight;
      const g = canvas.getContext('2d')!;
      g.drawImage(img, 0, 0);
      const [x, y, , h] = box as [number, number, number, number];
      return colours.some((rgb) => {
        let hits = 0;
        for (let dy = 0.3; dy <= 0.7; dy += 0.1) {
          const d = g.getImageData(Math.round(x), Math.round(y + h * dy), 1, 1).data;
          if (Math.abs(d[0]! - rgb[0]!) < 70 && Math.abs(d[1]! - rgb[1]!) < 70 && Math.abs(d[2]! - rgb[2]!) < 70) hits++;
        }
        return hits >= 4;
      });
    },
    { box, colours: Object.values(BOX_COLOURS).map(([b, g, r]) => [r, g, b]) },
  );
}

/** A 640x480 frame with the photo fitted in (grey bars), as a camera would deliver. */
function cameraFrame(photo: string | null): Buffer {
  const frame = new cv.Mat(480, 640, cv.CV_8UC3, [110, 110, 110]);
  if (photo) {
    const img = loadImage(photo).mat.cvtColor(cv.COLOR_RGB2BGR);
    const scale = Math.min(640 / img.cols, 480 / img.rows);
    const fitted = img.resize(Math.round(img.rows * scale), Math.round(img.cols * scale));
    fitted.copyTo(frame.getRegion(new cv.Rect(Math.floor((640 - fitted.cols) / 2), Math.floor((480 - fitted.rows) / 2), fitted.cols, fitted.rows)));
  }
  return cv.imencode('.jpg', frame, [cv.IMWRITE_JPEG_QUALITY, 90]);
}

let browser: Browser;
before(async () => {
  if (!skip) browser = await launchBrowser();
});
after(() => browser?.close());

describe('web console in a browser, on the real daemon', { skip }, () => {
  let dir: string;
  let daemon: Daemon;
  let web: WebConsole;
  let base: string;
  let photo: string;
  const decisions: (RecognitionEvent & { atMs: number })[] = [];
  const doorStates: DoorStateChange[] = [];

  before(async () => {
    requireModels();
    dir = mkdtempSync(join(tmpdir(), 'facegate-web-e2e-'));
    photo = join(dir, 'audrey.jpg');
    const face = cameraFrame((await samplePhotos()).audrey!);
    writeFileSync(photo, face);
    // One visit every 2 s: 1.2 s in view, 0.8 s of an empty doorway (the track ends).
    const camera = join(dir, 'camera');
    mkdirSync(camera);
    const empty = cameraFrame(null);
    for (let i = 0; i < 10; i++) writeFileSync(join(camera, `f${i}.jpg`), i < 6 ? face : empty);
    const loaded = loadConfig(
      folderConfig(dir, {
        camera: { type: 'folder', path: 'camera', fps: 5, loop: true },
        doors: [{ name: 'front', relay: { pin: 17, pulseMs: 2500 }, cooldownMs: 0 }],
        recognition: { fusionN: 2, fusionM: 3, trackMaxGapMs: 500 },
        health: { enabled: false },
        logging: { level: 'warn' },
        web: { enabled: true, port: 0 },
      }),
    );
    const c = loaded.config;
    daemon = new Daemon(loaded, { log: createLogger(c.logging), gpio: new SimulatedGpio() });
    daemon.bus.on('decision', (d) => void decisions.push({ ...d, atMs: Date.now() }));
    daemon.bus.on('door.state', (s) => void doorStates.push(s));
    const settings = resolveWebSettings(c.web, loaded.resolvePath, loaded.resolvePath(c.gallery.path));
    await writeWebUsers(settings.usersPath, [{ name: ADA.user, password: ADA.password, role: 'admin' }]);
    const users = new UserStore(settings.usersPath);
    // What the daemon does with web.enabled (the lead wires it into its components).
    web = new WebConsole(settings, daemon.admin, daemon.bus, users, quiet, systemClock);
    await daemon.start();
    await web.start();
    base = web.url;
  });

  after(async () => {
    await web?.stop();
    await daemon?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('logs in, shows the camera with the face boxed, enrolls from a photo, the door opens; deleted, it stays shut', async () => {
    const { page } = browser;
    await logIn(page, base, ADA);
    assert.match((await page.textContent('#whoami')) ?? '', /ada \(admin\)/);

    // Live view: frames keep coming and the face MTCNN found is boxed in the picture.
    await page.waitForSelector('#live-faces li[data-track]', { timeout: 15_000 });
    const firstSeq = Number(await page.getAttribute('#live-img', 'data-seq'));
    await page.waitForFunction((s) => Number(document.getElementById('live-img')!.dataset.seq) > s, firstSeq);
    const box = (await page.getAttribute('#live-faces li[data-track]', 'data-box'))!.split(',').map(Number);
    assert.ok(box[2]! > 60 && box[3]! > 60, `face box ${box}`);
    let drawn = false;
    for (let i = 0; i < 30 && !drawn; i++) {
      drawn = await boxDrawn(page, box);
      if (!drawn) await page.waitForTimeout(100);
    }
    // At once, while that frame is still the one shown.
    await browser.screenshot('web-live');
    assert.ok(drawn, 'a box is drawn around the face in the live image');
    assert.match((await page.textContent('#live-status')) ?? '', /camera streaming/);
    assert.ok(decisions.every((d) => d.decision === 'denied'), 'nobody is enrolled yet');

    // Enroll from an uploaded photo, through the real quality gate and gallery.
    await page.click('nav a[data-page="people"]');
    await page.fill('#enroll-name', 'audrey');
    await page.setInputFiles('#enroll-photos', photo);
    await page.click('#enroll-submit');
    await page.waitForSelector('#enroll-result.ok, #enroll-result.error');
    assert.match((await page.textContent('#enroll-result')) ?? '', /^audrey: 1 template added$/);
    await page.waitForSelector('tr[data-person="audrey"]');
    await browser.screenshot('web-people-enrolled');

    // The next visit opens the door.
    await page.click('nav a[data-page="live"]');
    await page.waitForSelector('#live-doors li[data-state="unlocked"]', { timeout: 15_000 });
    await browser.screenshot('web-live-granted');
    await page.waitForSelector('#live-feed li.granted');
    assert.match((await page.textContent('#live-feed li.granted')) ?? '', /front: granted audrey/);
    assert.ok(doorStates.some((s) => s.state === 'unlocked'));

    // Delete: verified by read-back; later visits are unknown and the door stays shut.
    await page.click('nav a[data-page="people"]');
    page.once('dialog', (d) => void d.accept());
    await page.click('button[data-delete="audrey"]');
    await page.waitForSelector('#people-result.ok, #people-result.error');
    assert.match((await page.textContent('#people-result')) ?? '', /deleted audrey: .*verified: nothing of them is left/);
    const deletedAtMs = Date.now();
    const opensBefore = doorStates.filter((s) => s.state === 'unlocked').length;
    await page.click('nav a[data-page="decisions"]');
    const denied = await page.locator('#decision-feed li.denied').count();
    await page.waitForFunction((n) => document.querySelectorAll('#decision-feed li.denied').length > n, denied, { timeout: 15_000 });
    assert.match((await page.textContent('#decision-feed li.denied')) ?? '', /front: DENIED unknown - denied-unknown/);
    const later = decisions.filter((d) => d.atMs > deletedAtMs);
    assert.ok(later.length >= 1 && later.every((d) => d.decision === 'denied' && d.person === null), JSON.stringify(later.map((d) => d.reason)));
    assert.equal(doorStates.filter((s) => s.state === 'unlocked').length, opensBefore, 'the door stayed shut');
    // The history shows the audited actions with the web user as the actor.
    await page.selectOption('#history-form select[name="kind"]', 'admin');
    await page.click('#history-form button[type="submit"]');
    await page.waitForSelector('#history-table tbody tr');
    await browser.screenshot('web-decisions-after-delete');
    const audited = daemon.admin.events({ kind: 'admin', limit: 10 });
    assert.ok(audited.some((e) => JSON.stringify(e.payload).includes('"name":"ada"')), JSON.stringify(audited.map((e) => e.payload)));
  });
});

describe('web console in a browser: roles and login limits', { skip }, () => {
  let dir: string;
  let web: WebConsole;
  let admin: FakeAdmin;
  let base: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'facegate-web-e2e-roles-'));
    const bus = new EventBus();
    const settings = resolveWebSettings(ConfigSchema.parse({ web: { port: 0, login: { maxFailuresPerUser: 3 } } }).web, (p) => join(dir, p), join(dir, 'gallery.db'));
    await writeWebUsers(settings.usersPath, [
      { name: ADA.user, password: ADA.password, role: 'admin' },
      { name: VIC.user, password: VIC.password, role: 'viewer' },
    ]);
    const users = new UserStore(settings.usersPath);
    admin = new FakeAdmin(bus, systemClock);
    web = new WebConsole(settings, admin, bus, users, quiet, systemClock);
    await web.start();
    base = web.url;
  });

  after(async () => {
    await web?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a viewer sees doors but cannot unlock: the button is disabled and the API refuses', async () => {
    const { page } = browser;
    await logIn(page, base, VIC);
    // The login lands on the live view; leaving it closes the stream, so nothing is encoded.
    await page.waitForFunction(async () => (await (await fetch('/api/status')).json()).liveView.viewers === 2);
    await page.click('nav a[data-page="doors"]');
    await page.waitForFunction(async () => (await (await fetch('/api/status')).json()).liveView.viewers === 0);
    await page.waitForSelector('[data-door="front"] button.unlock');
    assert.equal(await page.isDisabled('[data-door="front"] button.unlock'), true);
    assert.equal(await page.isVisible('#enroll-form'), false);
    const before = admin.calls.filter((c) => c.op === 'unlock').length;
    const status = await page.evaluate(async () => {
      const me = await (await fetch('/api/auth/me')).json();
      const res = await fetch('/api/doors/front/unlock', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': me.csrfToken }, body: '{}' });
      return { status: res.status, body: await res.json() };
    });
    assert.equal(status.status, 403);
    assert.match(status.body.error, /vic is a viewer/);
    assert.equal(admin.calls.filter((c) => c.op === 'unlock').length, before);
    await browser.screenshot('web-doors-viewer');
    await page.click('#logout');
    await page.waitForURL(/\/login$/);
  });

  it('rate limits wrong passwords on the login page', async () => {
    const { page } = browser;
    await page.context().clearCookies();
    await page.goto(`${base}login`);
    for (let i = 0; i < 3; i++) {
      await page.fill('#login-user', 'ada');
      await page.fill('#login-password', `wrong-password-${i}`);
      await page.click('#login-submit');
      await page.waitForFunction((n) => document.getElementById('login-error')!.textContent === 'wrong user name or password' && document.getElementById('login-password')!.getAttribute('data-n') !== String(n), i);
      await page.evaluate((n) => document.getElementById('login-password')!.setAttribute('data-n', String(n)), i);
    }
    await page.fill('#login-user', 'ada');
    await page.fill('#login-password', ADA.password);
    await page.click('#login-submit');
    await page.waitForFunction(() => /too many wrong passwords for ada/.test(document.getElementById('login-error')!.textContent ?? ''));
    assert.match(page.url(), /\/login$/, 'still on the login page with the right password');
    await browser.screenshot('web-login-rate-limited');
  });
});

// The web console end to end in a real headless Chromium (Debian's chromium via playwright-core):
// a real WebConsole on a socket, in front of the stand-in daemon (FakeAdmin + FakeDoorCamera
// showing a real photo with the face box MTCNN finds in it). Screenshots: out/test-artifacts/.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBus, type DoorStateChange } from '../src/core/event-bus.js';
import { ConfigSchema } from '../src/config/schema.js';
import { systemClock } from '../src/util/clock.js';
import { loadImage } from '../src/vision/image.js';
import { cv } from '../src/vision/opencv.js';
import { loadAnalyzer } from '../src/vision/load-analyzer.js';
import { resolveWebSettings } from '../src/web/settings.js';
import { UserStore } from '../src/web/user-store.js';
import { WebConsole } from '../src/web/web-console.js';
import { BOX_COLOURS } from '../src/web/frame-render.js';
import { browserMissing, launchBrowser, type Browser } from './helpers/browser.js';
import { MODELS_DIR, requireModels, samplePhotos } from './helpers/models.js';
import { FakeAdmin, FakeDoorCamera } from './helpers/web-backend.js';
import type { Page } from 'playwright-core';

const skip = browserMissing();
const ADA = { user: 'ada', password: 'ada-admin-password' };
const VIC = { user: 'vic', password: 'vic-viewer-password' };

async function logIn(page: Page, base: string, who: { user: string; password: string }): Promise<void> {
  await page.context().clearCookies();
  await page.goto(`${base}login`);
  await page.fill('#login-user', who.user);
  await page.fill('#login-password', who.password);
  await page.click('#login-submit');
  await page.waitForSelector('body[data-ready="true"]');
}

/** Whether the live <img> shows a box of this colour along the left edge of the face box. */
function boxDrawn(page: Page, box: number[], bgr: readonly number[]): Promise<boolean> {
  return page.evaluate(
    ({ box, rgb }) => {
      const img = document.getElementById('live-img') as HTMLImageElement;
      if (!img.naturalWidth) return false;
      const canvas = document.createElement('canvas');
      canvas.width = img.naturalWidth;
      canvas.height = img.naturalHeight;
      const g = canvas.getContext('2d')!;
      g.drawImage(img, 0, 0);
      const [x, y, , h] = box as [number, number, number, number];
      let hits = 0;
      for (let dy = 0.3; dy <= 0.7; dy += 0.1) {
        const d = g.getImageData(Math.round(x), Math.round(y + h * dy), 1, 1).data;
        if (Math.abs(d[0]! - rgb[0]!) < 70 && Math.abs(d[1]! - rgb[1]!) < 70 && Math.abs(d[2]! - rgb[2]!) < 70) hits++;
      }
      return hits >= 4;
    },
    { box, rgb: [bgr[2], bgr[1], bgr[0]] },
  );
}

describe('web console in a browser', { skip }, () => {
  let dir: string;
  let web: WebConsole;
  let camera: FakeDoorCamera;
  let admin: FakeAdmin;
  let browser: Browser;
  let base: string;
  let photo: string;
  let box: [number, number, number, number];
  const bus = new EventBus();
  const doorStates: DoorStateChange[] = [];

  before(async () => {
    requireModels();
    dir = mkdtempSync(join(tmpdir(), 'facegate-web-e2e-'));
    photo = (await samplePhotos()).audrey!;
    const image = loadImage(photo);
    const { analyzer } = await loadAnalyzer({ modelsDir: MODELS_DIR, precision: 'float32', threads: 1 });
    const faces = (await analyzer.analyze(image.mat, 'none')).faces;
    assert.equal(faces.length, 1, 'the test photo shows one face');
    box = faces[0]!.box.map(Math.round) as [number, number, number, number];
    const settings = resolveWebSettings(ConfigSchema.parse({ web: { port: 0, login: { maxFailuresPerUser: 3 } } }).web, (p) => join(dir, p), join(dir, 'gallery.db'));
    const users = new UserStore(settings.usersPath);
    await users.add(ADA.user, ADA.password, 'admin');
    await users.add(VIC.user, VIC.password, 'viewer');
    admin = new FakeAdmin(bus, systemClock, 1200);
    admin.snapshotJpeg = cv.imencode('.jpg', image.mat.getRegion(new cv.Rect(...box)).cvtColor(cv.COLOR_RGB2BGR));
    camera = new FakeDoorCamera(bus, admin, image.mat, box, 'audrey', { frameMs: 100, visitMs: 1500, decideAfterMs: 300 });
    bus.on('door.state', (s) => void doorStates.push(s));
    web = new WebConsole(settings, admin, bus, users, { info: () => undefined, warn: () => undefined, error: () => undefined }, systemClock);
    await web.start();
    base = web.url;
    camera.start();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    camera?.stop();
    await web?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('logs in, shows the live view with the face boxed, enrolls from a photo, opens the door, deletes and stays shut', async () => {
    const { page } = browser;
    await logIn(page, base, ADA);
    assert.match(await page.textContent('#whoami') ?? '', /ada \(admin\)/);

    // Live view: the stream updates and the face is boxed in red (unknown).
    await page.waitForSelector('#live-faces li[data-track]');
    const firstSeq = Number(await page.getAttribute('#live-img', 'data-seq'));
    await page.waitForFunction((s) => Number(document.getElementById('live-img')!.dataset.seq) > s, firstSeq);
    assert.equal(await page.getAttribute('#live-faces li[data-track]', 'data-box'), box.join(','));
    await page.waitForFunction(() => document.querySelector('#live-faces li')?.classList.contains('unknown'));
    await page.waitForFunction(() => (document.getElementById('live-img') as HTMLImageElement).naturalWidth > 0);
    let drawn = false;
    for (let i = 0; i < 20 && !drawn; i++) {
      drawn = await boxDrawn(page, box, BOX_COLOURS.unknown);
      if (!drawn) await page.waitForTimeout(100);
    }
    assert.ok(drawn, 'a red box is drawn around the unknown face in the live image');
    assert.match(await page.textContent('#live-status') ?? '', /camera streaming/);
    await browser.screenshot('web-live-unknown');

    // Enroll from an uploaded photo.
    await page.click('nav a[data-page="people"]');
    await page.fill('#enroll-name', 'audrey');
    await page.setInputFiles('#enroll-photos', photo);
    await page.click('#enroll-submit');
    await page.waitForSelector('#enroll-result.ok');
    assert.match(await page.textContent('#enroll-result') ?? '', /audrey: 1 template added/);
    await page.waitForSelector('tr[data-person="audrey"]');
    await browser.screenshot('web-people-enrolled');

    // The next visit opens the door: live feed, door state and the green box.
    const opened = doorStates.length;
    await page.click('nav a[data-page="live"]');
    await page.waitForSelector('#live-doors li[data-state="unlocked"]', { timeout: 8000 });
    await page.waitForSelector('#live-feed li.granted');
    assert.match(await page.textContent('#live-feed li.granted') ?? '', /front: granted audrey/);
    assert.ok(doorStates.slice(opened).some((s) => s.state === 'unlocked' && s.cause === 'granted'));
    await browser.screenshot('web-live-granted');

    // Delete: the result says verified, and later visits stay denied with the door shut.
    await page.click('nav a[data-page="people"]');
    page.once('dialog', (d) => void d.accept());
    await page.click('button[data-delete="audrey"]');
    await page.waitForSelector('#people-result.ok');
    assert.match(await page.textContent('#people-result') ?? '', /deleted audrey: .* verified: nothing of them is left/);
    const afterDelete = doorStates.length;
    await page.click('nav a[data-page="decisions"]');
    const granted = await page.locator('#decision-feed li.granted').count();
    const denied = await page.locator('#decision-feed li.denied').count();
    // The next visit is decided unknown, and the door does not open for it.
    await page.waitForFunction((n) => document.querySelectorAll('#decision-feed li.denied').length > n, denied, { timeout: 8000 });
    assert.match(await page.textContent('#decision-feed li.denied') ?? '', /front: DENIED unknown - denied-unknown/);
    assert.equal(doorStates.slice(afterDelete).filter((s) => s.state === 'unlocked').length, 0, 'the door stayed shut');
    assert.equal(await page.locator('#decision-feed li.granted').count(), granted);
    await browser.screenshot('web-decisions-after-delete');
    await page.click('#logout');
    await page.waitForURL(/\/login$/);
  });

  it('a viewer sees doors but cannot unlock: the button is disabled and the API refuses', async () => {
    const { page } = browser;
    await logIn(page, base, VIC);
    await page.click('nav a[data-page="doors"]');
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

// The daemon end to end: real models, real SQLite, a video or image folder as the camera, the
// simulated GPIO backend, a unix datagram socket standing in for systemd.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FRANCK_FRAMES } from '../src/fixtures/sample-photos.js';
import { FakeSystemd } from './helpers/fake-systemd.js';
import { requireModels, samplePhotos } from './helpers/models.js';
import { folderConfig, spawnDaemon } from './helpers/daemon.js';

let work: string;
let photos: Record<string, string>;

before(async () => {
  requireModels();
  photos = await samplePhotos();
  work = mkdtempSync(join(tmpdir(), 'facegate-daemon-'));
});

test('READY after models and camera, WATCHDOG while frames flow and while the camera is gone, recovery after', async () => {
  const dir = mkdtempSync(join(work, 'wd-'));
  const cam = join(dir, 'camera');
  mkdirSync(cam);
  FRANCK_FRAMES.slice(0, 4).forEach((k, i) => copyFileSync(photos[k]!, join(cam, `f${i}.jpg`)));
  const systemd = new FakeSystemd(join(dir, 'notify.sock'));
  await systemd.start();
  const d = spawnDaemon(folderConfig(dir), { NOTIFY_SOCKET: systemd.socketPath, WATCHDOG_USEC: '1000000' });
  try {
    const ready = await d.waitFor(/"msg":"ready: /, 60_000);
    await sleep(3000);
    const readyMsg = systemd.messages('READY=1');
    assert.equal(readyMsg.length, 1, 'READY sent once');
    const modelsLine = d.logs.find((l) => /models: detector/.test(l.line))!;
    const cameraLine = d.logs.find((l) => /camera streaming/.test(l.line))!;
    assert.ok(readyMsg[0]!.atMs >= modelsLine.atMs - 50 && readyMsg[0]!.atMs >= cameraLine.atMs - 50, 'READY before models/camera');
    const beats = systemd.messages('WATCHDOG=1').filter((m) => m.atMs > ready.atMs);
    assert.ok(beats.length >= 4, `${beats.length} watchdog pings in 3 s at a 1 s WatchdogSec`);

    // Unplug the camera: the images go away. The daemon is only waiting for its camera, which a
    // restart cannot bring back: the watchdog keeps being fed (from a timer, not from frames).
    const gone = join(dir, 'unplugged');
    renameSync(cam, gone);
    const lost = await d.waitFor(/camera reconnecting/, 10_000);
    await sleep(2500);
    const duringStall = systemd.messages('WATCHDOG=1').filter((m) => m.atMs > lost.atMs + 500);
    assert.ok(duringStall.length >= 1, 'the watchdog starved while the daemon waited for its camera: systemd would kill it');
    assert.equal(d.child.exitCode, null, 'the daemon exited when the camera went away');

    renameSync(gone, cam);
    const back = await d.waitFor(/camera streaming/, 15_000).then(() => d.logs.filter((l) => /camera streaming/.test(l.line)).at(-1)!);
    await sleep(2500);
    assert.ok(systemd.messages('WATCHDOG=1').some((m) => m.atMs > back.atMs), 'watchdog did not resume after the camera came back');
    assert.ok(systemd.messages('STATUS=').length >= 1, 'no STATUS sent');
  } finally {
    d.child.kill('SIGTERM');
    await d.exited;
    systemd.stop();
  }
  assert.ok(systemd.messages('STOPPING=1').length === 1, 'STOPPING not sent on shutdown');
});

test('bad config: one clear line, non-zero exit, relay never touched', async () => {
  const dir = mkdtempSync(join(work, 'bad-'));
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ doors: [{ name: 'front', relay: { pin: 17, pulse: 3 } }] }, /doors\[0\]\.relay\.pulse: unknown key/],
    [{ models: { dir: join(dir, 'no-models') } }, /models\.dir: models folder .*no-models does not exist/],
  ];
  for (const [extra, expected] of cases) {
    const d = spawnDaemon(folderConfig(dir, extra));
    const code = await d.exited;
    assert.notEqual(code, 0);
    const errors = d.logs.filter((l) => l.line.startsWith('facegate:'));
    assert.equal(errors.length, 1, d.logs.map((l) => l.line).join('\n'));
    assert.match(errors[0]!.line, expected);
    // Nothing got as far as GPIO: no readiness, no decision, no pulse.
    assert.ok(!d.logs.some((l) => /"msg":"ready: |GRANTED|ENERGISED/.test(l.line)));
  }
});

test('button enrollment: armed name enrolled from a burst; without a name it is kept pending; no face times out', async () => {
  const { loadConfig } = await import('../src/config/load.js');
  const { Daemon } = await import('../src/daemon/daemon.js');
  const { SimulatedGpio } = await import('../src/hardware/gpio/simulated-gpio.js');
  const { createLogger } = await import('../src/daemon/logger.js');
  const { GalleryStore } = await import('../src/gallery/gallery-store.js');
  const { cv } = await import('../src/vision/opencv.js');
  const dir = mkdtempSync(join(work, 'button-'));
  const cam = join(dir, 'camera');
  mkdirSync(cam);
  FRANCK_FRAMES.slice(0, 6).forEach((k, i) => copyFileSync(photos[k]!, join(cam, `f${i}.jpg`)));
  const config = folderConfig(dir, {
    gpio: { backend: 'simulated', leds: { enrollment: 25 }, button: { pin: 27, activeLow: true, debounceMs: 20 } },
    enrollment: { burstFrames: 4, timeoutMs: 4000, keep: 3 },
    health: { enabled: false },
    logging: { level: 'warn' },
  });
  GalleryStore.open(join(dir, 'gallery.db')).armEnrollment('franck', 60_000);
  const gpio = new SimulatedGpio();
  const outcomes: { kind: string; name?: string; templates?: number }[] = [];
  const loaded = loadConfig(config);
  const daemon = new Daemon(loaded, { log: createLogger(loaded.config.logging), gpio, onEnrollment: (o) => outcomes.push(o) });
  await daemon.start();
  try {
    const waitOutcome = async (n: number) => {
      for (let i = 0; i < 200 && outcomes.length < n; i++) await sleep(50);
      assert.equal(outcomes.length, n, 'no enrollment outcome');
    };
    await gpio.press(27, 80, { activeLow: true });
    await waitOutcome(1);
    assert.equal(outcomes[0]!.kind, 'enrolled');
    assert.equal(outcomes[0]!.name, 'franck');
    assert.ok(outcomes[0]!.templates! >= 1 && outcomes[0]!.templates! <= 3);
    assert.ok(gpio.edgesFor(25).length >= 4, 'enrollment LED gave no feedback');

    await gpio.press(27, 80, { activeLow: true });
    await waitOutcome(2);
    assert.equal(outcomes[1]!.kind, 'pending', 'the arming was not consumed by the first press');

    // Nobody in front of the camera: grey frames only.
    for (const f of FRANCK_FRAMES.slice(0, 6).map((_, i) => join(cam, `f${i}.jpg`))) cv.imwrite(f, new cv.Mat(480, 640, cv.CV_8UC3, [128, 128, 128]));
    await sleep(1500);
    await gpio.press(27, 80, { activeLow: true });
    await waitOutcome(3);
    assert.equal(outcomes[2]!.kind, 'timeout');
  } finally {
    await daemon.stop();
  }
  const store = GalleryStore.open(join(dir, 'gallery.db'));
  assert.ok(store.listPeople().some((p) => p.name === 'franck' && p.templates >= 1));
  assert.equal(store.listPending().length, 1);
  store.close();
});

// The daemon end to end, in this process: real models, real SQLite, an image folder as the camera,
// the simulated GPIO backend, a unix datagram socket standing in for systemd. The daemon runs on a
// manual clock moved in lockstep with recognition, so no assertion depends on this machine's speed.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FRANCK_FRAMES } from '../../src/fixtures/sample-photos.js';
import { createRequire } from 'node:module';
import { FakeSystemd, type Datagram } from '../helpers/fake-systemd.js';
import { requireModels, samplePhotos } from '../helpers/models.js';
import { folderConfig, startDaemon } from '../helpers/daemon.js';
import { waitUntil } from '../helpers/wait.js';
import { cliInProcess } from '../helpers/cli.js';
import { ManualClock } from '../../src/util/manual-clock.js';

let work: string;
let photos: Record<string, string>;

before(async () => {
  requireModels();
  photos = await samplePhotos();
  work = mkdtempSync(join(tmpdir(), 'facegate-daemon-'));
});

// Datagrams are told apart by what the test sends into the same socket: sd-notify is synchronous
// and the socket keeps order, so a marker sits exactly between what the daemon sent before and after.
const sd = createRequire(import.meta.url)('sd-notify') as { sendStatus(text: string): void };
const sendMark = (what: string) => sd.sendStatus(`MARK ${what}`);
function between(systemd: FakeSystemd, prefix: string, from: string | null, to: string | null): Datagram[] {
  const all = systemd.received;
  const i = from === null ? -1 : all.findIndex((d) => d.text === `STATUS=MARK ${from}`);
  const j = to === null ? all.length : all.findIndex((d) => d.text === `STATUS=MARK ${to}`);
  assert.ok((from === null || i >= 0) && (to === null || j >= 0), `markers ${from}/${to} not received`);
  return all.slice(i + 1, j).filter((d) => d.text.startsWith(prefix));
}

test('READY after models and camera, WATCHDOG while frames flow and while the camera is gone, recovery after', async () => {
  const dir = mkdtempSync(join(work, 'wd-'));
  const cam = join(dir, 'camera');
  mkdirSync(cam);
  FRANCK_FRAMES.slice(0, 2).forEach((k, i) => copyFileSync(photos[k]!, join(cam, `f${i}.jpg`)));
  const systemd = new FakeSystemd(join(dir, 'notify.sock'));
  await systemd.start();
  const env = { NOTIFY_SOCKET: process.env.NOTIFY_SOCKET, WATCHDOG_USEC: process.env.WATCHDOG_USEC };
  process.env.NOTIFY_SOCKET = systemd.socketPath;
  process.env.WATCHDOG_USEC = '1000000';
  /** A marker in the socket, once it has arrived: what the daemon sent before it is in too. */
  const mark = async (what: string) => {
    sendMark(what);
    await systemd.arrival(`STATUS=MARK ${what}`);
  };
  const clock = new ManualClock(Date.now());
  let cameraState = '';
  // The order the daemon logged in, in the socket beside its own datagrams.
  const onLog = (line: string) => {
    if (/models: detector/.test(line)) sendMark('models loaded');
    if (/camera streaming/.test(line)) sendMark('camera streaming');
  };
  const d = await startDaemon(dir, { clock, onLog, extra: { health: { enabled: false } } });
  d.daemon.bus.on('camera.state', (s) => void (cameraState = s.state));
  try {
    await mark('started');
    assert.equal(between(systemd, 'READY=1', null, null).length, 1, 'READY sent once');
    assert.equal(between(systemd, 'READY=1', 'camera streaming', 'started').length, 1, 'READY before the camera streamed');
    assert.equal(between(systemd, 'READY=1', 'models loaded', 'started').length, 1, 'READY before the models were loaded');

    // Frames at 5 fps in video time: each one moves the clock 200 ms once the last was analysed,
    // so every 500 ms watchdog tick (WatchdogSec 1 s) follows a processed frame and pings.
    const before = d.frames();
    await waitUntil('15 frames', () => d.frames() >= before + 15);
    await mark('flowed');
    assert.ok(between(systemd, 'WATCHDOG=1', 'started', 'flowed').length >= 5, 'watchdog pings missing while frames flow');

    // Unplug the camera: the images go away. The daemon is only waiting for its camera, which a
    // restart cannot bring back: the watchdog keeps being fed (from a timer, not from frames).
    const gone = join(dir, 'unplugged');
    renameSync(cam, gone);
    await waitUntil('camera loss', () => cameraState === 'reconnecting');
    await mark('lost');
    await d.advance(3000);
    await mark('stalled');
    assert.ok(between(systemd, 'WATCHDOG=1', 'lost', 'stalled').length >= 2, 'the watchdog starved while the daemon waited for its camera: systemd would kill it');

    renameSync(gone, cam);
    await d.advanceUntil('camera back', () => cameraState === 'streaming');
    const resumed = d.frames();
    await waitUntil('frames after the camera came back', () => d.frames() >= resumed + 5);
    await mark('resumed');
    assert.ok(between(systemd, 'WATCHDOG=1', 'stalled', 'resumed').length >= 1, 'watchdog did not resume after the camera came back');
    assert.ok(systemd.messages('STATUS=').some((m) => !m.text.startsWith('STATUS=MARK')), 'no STATUS sent');
  } finally {
    await d.daemon.stop();
    await mark('stopped');
    systemd.stop();
    for (const [k, v] of Object.entries(env)) v === undefined ? delete process.env[k] : (process.env[k] = v);
  }
  assert.equal(systemd.messages('STOPPING=1').length, 1, 'STOPPING not sent on shutdown');
});

test('bad config: one clear line, non-zero exit, relay never touched', async () => {
  const dir = mkdtempSync(join(work, 'bad-'));
  // A schema error ends `facegate run` before the daemon exists.
  const run = await cliInProcess(['run', '--config', folderConfig(dir, { doors: [{ name: 'front', relay: { pin: 17, pulse: 3 } }] })]);
  assert.notEqual(run.code, 0);
  const errors = run.stderr.split('\n').filter((l) => l.startsWith('facegate:'));
  assert.equal(errors.length, 1, run.stderr);
  assert.match(errors[0]!, /doors\[0\]\.relay\.pulse: unknown key/);
  assert.doesNotMatch(run.stdout + run.stderr, /"msg":"ready: |GRANTED|ENERGISED/);

  // A preflight finding ends the start before GPIO is opened: no readiness, no edge on any pin.
  const { loadConfig } = await import('../../src/config/load.js');
  const { Daemon } = await import('../../src/daemon/daemon.js');
  const { SimulatedGpio } = await import('../../src/hardware/gpio/simulated-gpio.js');
  const { pino } = await import('pino');
  const gpio = new SimulatedGpio();
  const daemon = new Daemon(loadConfig(folderConfig(dir, { models: { dir: join(dir, 'no-models') } })), { log: pino({ level: 'silent' }), gpio });
  await assert.rejects(daemon.start(), /models\.dir: models folder .*no-models does not exist/);
  await daemon.stop();
  assert.deepEqual(gpio.edges, []);
});

test('button enrollment: armed name enrolled from a burst; without a name it is kept pending; no face times out', async () => {
  const { GalleryStore } = await import('../../src/gallery/gallery-store.js');
  const { cv } = await import('../../src/vision/opencv.js');
  const dir = mkdtempSync(join(work, 'button-'));
  const cam = join(dir, 'camera');
  mkdirSync(cam);
  FRANCK_FRAMES.slice(0, 6).forEach((k, i) => copyFileSync(photos[k]!, join(cam, `f${i}.jpg`)));
  const arming = GalleryStore.open(join(dir, 'gallery.db'));
  arming.armEnrollment('franck', 60_000);
  arming.close();
  const clock = new ManualClock(Date.now());
  const d = await startDaemon(dir, {
    clock,
    extra: {
      gpio: { backend: 'simulated', leds: { enrollment: 25 }, button: { pin: 27, activeLow: true, debounceMs: 20 } },
      enrollment: { burstFrames: 4, timeoutMs: 4000, keep: 3 },
    },
  });
  const outcomes: { kind: string; name?: string; templates?: number }[] = [];
  d.daemon.bus.on('enrollment', (e) => void outcomes.push(e.outcome));
  let facesInLastFrame = -1;
  d.daemon.bus.on('frame.analysed', (f) => void (facesInLastFrame = f.faces.length));
  // Frames move the clock (video time), so the press, the debounce and the burst's timeout run on it.
  const press = () => d.gpio.press(27, 80, { activeLow: true });
  const outcome = (n: number) => waitUntil(`enrollment outcome ${n}`, () => outcomes.length >= n);
  try {
    await press();
    await outcome(1);
    assert.equal(outcomes[0]!.kind, 'enrolled');
    assert.equal(outcomes[0]!.name, 'franck');
    assert.ok(outcomes[0]!.templates! >= 1 && outcomes[0]!.templates! <= 3);
    assert.ok(d.gpio.edgesFor(25).length >= 4, 'enrollment LED gave no feedback');

    await press();
    await outcome(2);
    assert.equal(outcomes[1]!.kind, 'pending', 'the arming was not consumed by the first press');

    // Nobody in front of the camera: grey frames only, from the first grey frame on.
    for (const f of FRANCK_FRAMES.slice(0, 6).map((_, i) => join(cam, `f${i}.jpg`))) cv.imwrite(f, new cv.Mat(480, 640, cv.CV_8UC3, [128, 128, 128]));
    await waitUntil('an empty frame', () => facesInLastFrame === 0);
    await press();
    await outcome(3);
    assert.equal(outcomes[2]!.kind, 'timeout');
  } finally {
    await d.daemon.stop();
  }
  const store = GalleryStore.open(join(dir, 'gallery.db'));
  assert.ok(store.listPeople().some((p) => p.name === 'franck' && p.templates >= 1));
  assert.equal(store.listPending().length, 1);
  store.close();
});

import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CameraConfig } from '../../src/camera/camera-config.js';
import { ReaderFrameSource, createFrameSource, type Frame, type FrameReader, type FrameSource, type FrameSourceOptions, type OpenResult, type ReadResult, type SourceState } from '../../src/camera/frame-source.js';
import { buildVideoFromStills } from '../../src/camera/video-builder.js';
import { FRANCK_FRAMES } from '../../src/fixtures/sample-photos.js';
import { loadImage } from '../../src/vision/image.js';
import { cv, type Mat } from '../../src/vision/opencv.js';
import { sleepOn } from '../../src/util/clock.js';
import { samplePhotos } from '../helpers/models.js';
import { ManualClock } from '../../src/util/manual-clock.js';

const dir = mkdtempSync(join(tmpdir(), 'facegate-camera-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const franck: string[] = [];
const video = {
  /** 3 stills of 0.5 s and two 0.3 s gaps at 10 fps: 5 + 3 + 5 + 3 + 5 = 21 frames. */
  door: join(dir, 'door.mp4'),
  /** Left half pure red, right half pure blue; 5 frames. */
  colour: join(dir, 'colour.mp4'),
  /** 10 frames at 20 fps. */
  short: join(dir, 'short.mp4'),
};
const DOOR_FRAMES = 21;

before(async () => {
  const photos = await samplePhotos();
  franck.push(...FRANCK_FRAMES.slice(0, 3).map((k) => photos[k]!));
  await buildVideoFromStills(franck.map((image) => ({ image, seconds: 0.5 })), video.door, { width: 640, height: 480, fps: 10, gapSeconds: 0.3 });
  const colourStill = join(dir, 'red-blue.png');
  const bgr = new cv.Mat(240, 320, cv.CV_8UC3).setTo(new cv.Vec3(255, 0, 0));
  bgr.getRegion(new cv.Rect(0, 0, 160, 240)).setTo(new cv.Vec3(0, 0, 255));
  cv.imwrite(colourStill, bgr);
  await buildVideoFromStills([{ image: colourStill, seconds: 0.5 }], video.colour, { fps: 10 });
  await buildVideoFromStills([{ image: franck[1]!, seconds: 0.5 }], video.short, { fps: 20 });
});

function source(t: TestContext, cfg: Record<string, unknown>, clock: ManualClock, logs: string[] = []): FrameSource {
  const s = createFrameSource(CameraConfig.parse(cfg), (line) => logs.push(line), clock);
  t.after(() => s.stop());
  return s;
}

function recordStates(s: FrameSource): SourceState[] {
  const states: SourceState[] = [];
  s.on('state', (state) => states.push(state));
  return states;
}

/** Resolves when the source enters `state` (at once if it is there). */
function reaches(s: FrameSource, state: SourceState): Promise<void> {
  if (s.stats().state === state) return Promise.resolve();
  return new Promise((resolve) => {
    const onState = (st: SourceState) => {
      if (st !== state) return;
      s.off('state', onState);
      resolve();
    };
    s.on('state', onState);
  });
}

/**
 * Runs a source on a fake clock as fast as its real I/O allows: each time the source sets a
 * timer, it is about to wait on it, so time jumps to the earliest pending timer. Timers set before
 * the driver was made (start()'s open timeout) fire only when time reaches them that way.
 */
class TimeDriver {
  private seen: number;

  constructor(private readonly clock: ManualClock) {
    this.seen = clock.timersSet;
  }

  async until<T>(p: Promise<T>): Promise<T> {
    let settled = false;
    const done = p.then(
      () => void (settled = true),
      () => void (settled = true),
    );
    await this.untilTrue(() => settled, done);
    return p;
  }

  /** Runs the source until `cond()` holds, checked each time it sets a timer and before that timer fires. */
  async untilTrue(cond: () => boolean, settles?: Promise<void>): Promise<void> {
    while (!cond()) {
      await Promise.race([settles ?? new Promise<void>(() => {}), this.clock.whenTimerSet(this.seen)]);
      if (cond()) return;
      this.seen = this.clock.timersSet;
      if (this.clock.pending > 0) this.clock.advanceToNext();
    }
  }
}

/** Starts a source on its fake clock; the driver then keeps running it. */
async function started(s: FrameSource, clock: ManualClock): Promise<TimeDriver> {
  const starting = s.start();
  const driver = new TimeDriver(clock);
  await driver.until(starting);
  return driver;
}

async function takeAll(s: FrameSource, driver: TimeDriver): Promise<Frame[]> {
  const frames: Frame[] = [];
  for (let f = await driver.until(s.next()); f; f = await driver.until(s.next())) frames.push(f);
  return frames;
}

/** start()'s error, and how much time had passed on the source's clock when it came. */
async function startFailure(s: FrameSource, clock: ManualClock): Promise<{ message: string; afterMs: number }> {
  const t0 = clock.now();
  const starting = s.start();
  try {
    await new TimeDriver(clock).until(starting);
  } catch (err) {
    return { message: (err as Error).message, afterMs: clock.now() - t0 };
  }
  return assert.fail('expected start() to reject');
}

const gaps = (times: number[]) => times.slice(1).map((t, i) => t - times[i]!);

test('video builder: the planned frames at the planned size, byte-identical for the same inputs', async () => {
  const again = join(dir, 'door-again.mp4');
  await buildVideoFromStills(franck.map((image) => ({ image, seconds: 0.5 })), again, { width: 640, height: 480, fps: 10, gapSeconds: 0.3 });
  assert.ok(readFileSync(again).equals(readFileSync(video.door)), 'two builds differ');
  const cap = new cv.VideoCapture(video.door, cv.CAP_FFMPEG);
  let n = 0;
  for (let m = cap.read(); !m.empty; m = cap.read()) {
    assert.deepEqual([m.cols, m.rows], [640, 480]);
    n++;
  }
  cap.release();
  assert.equal(n, DOOR_FRAMES);
  await assert.rejects(buildVideoFromStills([{ image: franck[0]!, seconds: 1 }], join(dir, 'x.mov')), /unsupported video container ".mov"; use .mp4 or .avi/);
  await assert.rejects(buildVideoFromStills([{ image: join(dir, 'nope.jpg'), seconds: 1 }], join(dir, 'x.mp4')), /nope\.jpg: file not found/);
});

test('a video file plays every frame in order, paced at its frame rate, then ends', async (t) => {
  const clock = new ManualClock();
  const s = source(t, { type: 'file', path: video.door }, clock);
  const states = recordStates(s);
  const frames = await takeAll(s, await started(s, clock));
  assert.deepEqual(frames.map((f) => f.seq), Array.from({ length: DOOR_FRAMES }, (_, i) => i + 1));
  for (const f of frames) {
    assert.deepEqual([f.mat.cols, f.mat.rows, f.mat.type], [640, 480, cv.CV_8UC3]);
    assert.equal(f.source, `video file ${video.door}`);
  }
  assert.deepEqual(gaps(frames.map((f) => f.capturedAtMs)), Array<number>(DOOR_FRAMES - 1).fill(100), 'one frame per 100 ms at 10 fps');
  assert.deepEqual(states, ['starting', 'streaming', 'ended']);
  assert.equal(await s.next(), null);
  const stats = s.stats();
  assert.deepEqual([stats.state, stats.captured, stats.delivered, stats.dropped, stats.reconnects], ['ended', DOOR_FRAMES, DOOR_FRAMES, 0, 0]);
});

test('frames are RGB', async (t) => {
  const clock = new ManualClock();
  const s = source(t, { type: 'file', path: video.colour }, clock);
  const f = (await (await started(s, clock)).until(s.next()))!;
  const [r1, g1, b1] = f.mat.atRaw(240, 160) as unknown as number[];
  const [r2, g2, b2] = f.mat.atRaw(240, 480) as unknown as number[];
  assert.ok(r1! > 200 && g1! < 60 && b1! < 60, `left half should be red, got ${[r1, g1, b1]}`);
  assert.ok(r2! < 60 && g2! < 60 && b2! > 200, `right half should be blue, got ${[r2, g2, b2]}`);
});

test('loop: true starts the video over instead of ending, keeping the pace', async (t) => {
  const clock = new ManualClock();
  const s = source(t, { type: 'file', path: video.short, loop: true }, clock);
  const states = recordStates(s);
  const driver = await started(s, clock);
  const frames: Frame[] = [];
  for (let i = 0; i < 25; i++) frames.push((await driver.until(s.next()))!);
  assert.deepEqual(frames.map((f) => f.seq), Array.from({ length: 25 }, (_, i) => i + 1));
  assert.deepEqual(gaps(frames.map((f) => f.capturedAtMs)), Array<number>(24).fill(50), '20 fps across both restarts');
  assert.deepEqual(states, ['starting', 'streaming']);
});

test('realtime: false hands over every frame without waiting on the clock', async (t) => {
  const clock = new ManualClock();
  const s = source(t, { type: 'file', path: video.door, realtime: false }, clock);
  const t0 = clock.now();
  const frames = await takeAll(s, await started(s, clock));
  assert.deepEqual(frames.map((f) => f.seq), Array.from({ length: DOOR_FRAMES }, (_, i) => i + 1));
  assert.equal(clock.now(), t0, 'no pacing: no time passed');
  assert.equal(s.stats().dropped, 0);
});

test('a missing or unreadable video file is a clear error at once', async (t) => {
  const clock = new ManualClock();
  const missing = await startFailure(source(t, { type: 'file', path: join(dir, 'missing.mp4') }, clock), clock);
  assert.deepEqual(missing, { message: `video file ${join(dir, 'missing.mp4')} not found`, afterMs: 0 });
  writeFileSync(join(dir, 'notes.mp4'), 'not a video');
  const notVideo = await startFailure(source(t, { type: 'file', path: join(dir, 'notes.mp4') }, clock), clock);
  assert.deepEqual(notVideo, { message: `video file ${join(dir, 'notes.mp4')} could not be opened: not a video FFmpeg can read`, afterMs: 0 });
  const s = source(t, { type: 'file', path: dir }, clock);
  const folder = await startFailure(s, clock);
  assert.match(folder.message, /is a folder: use `type: folder`/);
  assert.equal(folder.afterMs, 0);
  assert.equal(s.stats().state, 'stopped');
  assert.equal(clock.pending, 0, 'no timer left behind');
});

for (const loop of [false, true]) {
  test(`a video file removed mid-run is retried like a camera and resumes when it is back (loop: ${loop})`, async (t) => {
    const path = join(dir, `live-${loop}.mp4`);
    copyFileSync(video.short, path);
    const logs: string[] = [];
    const clock = new ManualClock();
    const s = source(t, { type: 'file', path, loop, reconnect: { initialMs: 100, maxMs: 400 } }, clock, logs);
    const driver = await started(s, clock);
    unlinkSync(path);
    await driver.until(reaches(s, 'reconnecting'));
    // FFmpeg keeps reading the deleted file to its end; there it is noticed, looping or not.
    assert.deepEqual(logs, [`video file ${path} lost (changed or was removed); retrying in 0.1 s`]);
    const capturedWhenLost = s.stats().captured;
    assert.equal(capturedWhenLost, 10, 'every frame of the removed file was still played');
    copyFileSync(video.short, path);
    await driver.until(reaches(s, 'streaming'));
    assert.equal(s.stats().reconnects, 1);
    assert.equal(logs[1], `video file ${path} back after 1 attempt`);
    let f = await driver.until(s.next());
    if (f!.seq <= capturedWhenLost) f = await driver.until(s.next());
    assert.equal(f!.seq, capturedWhenLost + 1, 'frames flow again');
  });
}

test('image folder camera: emptied or removed -> reconnecting, images back -> streaming again', async (t) => {
  const folder = join(dir, 'door-cam');
  const aside = join(dir, 'aside');
  mkdirSync(folder);
  mkdirSync(aside);
  franck.forEach((p, i) => copyFileSync(p, join(folder, `frame${i + 1}.jpg`)));
  const logs: string[] = [];
  const clock = new ManualClock();
  const s = source(t, { type: 'folder', path: folder, fps: 20, loop: true, reconnect: { initialMs: 100, maxMs: 400 } }, clock, logs);
  const states = recordStates(s);
  const driver = await started(s, clock);
  assert.ok(await driver.until(s.next()));

  const unplug = async (remove: () => void, restore: () => void): Promise<void> => {
    remove();
    await driver.until(reaches(s, 'reconnecting'));
    const capturedWhenLost = s.stats().captured;
    // Let it fail once more, so the backoff doubles, before the images come back.
    const linesWhenLost = logs.length;
    await driver.untilTrue(() => logs.length > linesWhenLost);
    restore();
    await driver.until(reaches(s, 'streaming'));
    // The first may be the frame left pending from before the loss; the second is new.
    await driver.until(s.next());
    assert.ok((await driver.until(s.next()))!.seq > capturedWhenLost, 'no new frames after reconnecting');
  };
  const names = ['frame1.jpg', 'frame2.jpg', 'frame3.jpg'];
  await unplug(
    () => names.forEach((n) => renameSync(join(folder, n), join(aside, n))),
    () => names.forEach((n) => renameSync(join(aside, n), join(folder, n))),
  );
  await unplug(
    () => renameSync(folder, join(dir, 'door-cam-unplugged')),
    () => renameSync(join(dir, 'door-cam-unplugged'), folder),
  );
  const name = `image folder ${folder}`;
  // The reason lists the image extensions looked for; shortened here.
  assert.deepEqual(logs.map((l) => l.replace(/has no images \(\.jpg, [^)]*\)/, 'has no images (.jpg, ...)')), [
    `${name} lost (has no images (.jpg, ...)); retrying in 0.1 s`,
    `${name} still unavailable (has no images (.jpg, ...)); retrying in 0.2 s`,
    `${name} back after 2 attempts`,
    `${name} lost (not found); retrying in 0.1 s`,
    `${name} still unavailable (not found); retrying in 0.2 s`,
    `${name} back after 2 attempts`,
  ]);
  assert.equal(s.stats().reconnects, 2);
  assert.deepEqual(states, ['starting', 'streaming', 'reconnecting', 'streaming', 'reconnecting', 'streaming']);
});

test('image folder camera: plays images in natural name order, skipping unreadable ones', async (t) => {
  const folder = join(dir, 'mixed');
  mkdirSync(folder);
  copyFileSync(franck[0]!, join(folder, 'frame10.jpg'));
  copyFileSync(franck[1]!, join(folder, 'frame9.jpg'));
  writeFileSync(join(folder, 'frame2.jpg'), 'not a jpeg');
  writeFileSync(join(folder, 'notes.txt'), 'ignored');
  const logs: string[] = [];
  const clock = new ManualClock();
  const s = source(t, { type: 'folder', path: folder, realtime: false }, clock, logs);
  const frames = await takeAll(s, await started(s, clock));
  assert.equal(frames.length, 2);
  // frame9 before frame10, each exactly the decoded photo.
  assert.ok(frames[0]!.mat.getData().equals(loadImage(franck[1]!).mat.getData()), 'first frame is not frame9.jpg');
  assert.ok(frames[1]!.mat.getData().equals(loadImage(franck[0]!).mat.getData()), 'second frame is not frame10.jpg');
  assert.deepEqual(logs, [`image folder ${folder}: skipped frame2.jpg (not a readable image)`]);
  assert.equal(s.stats().state, 'ended');

  const broken = join(dir, 'broken');
  mkdirSync(broken);
  writeFileSync(join(broken, 'a.jpg'), 'not a jpeg');
  const failed = await startFailure(source(t, { type: 'folder', path: broken, openTimeoutMs: 300 }, clock), clock);
  assert.deepEqual(failed, { message: `image folder ${broken} has no readable images (gave up after 0.3 s)`, afterMs: 300 });
});

test('stop() resolves a pending next() with null, without waiting for the frame it was pacing', async (t) => {
  const folder = join(dir, 'slow-cam');
  mkdirSync(folder);
  copyFileSync(franck[0]!, join(folder, 'a.jpg'));
  copyFileSync(franck[1]!, join(folder, 'b.jpg'));
  const clock = new ManualClock();
  const s = source(t, { type: 'folder', path: folder, fps: 1 }, clock);
  await started(s, clock);
  assert.equal((await s.next())!.seq, 1);
  const timersBefore = clock.timersSet;
  const pending = s.next();
  // b.jpg is read ahead and held for its 1 s slot.
  await clock.whenTimerSet(timersBefore);
  assert.equal(clock.nextDueInMs(), 1000);
  await s.stop();
  assert.equal(await pending, null);
  assert.equal(clock.pending, 0, 'the pacing timer is cancelled');
  assert.equal(await s.next(), null);
  assert.equal(s.stats().state, 'stopped');
});

test('a V4L2 camera that is not there is retried, then a clear error at openTimeoutMs', { skip: existsSync('/dev/video0') && 'this machine has /dev/video0' }, async (t) => {
  for (const device of ['/dev/video0', 0]) {
    const logs: string[] = [];
    const clock = new ManualClock();
    const { message, afterMs } = await startFailure(source(t, { type: 'v4l2', device, openTimeoutMs: 1000 }, clock, logs), clock);
    assert.match(message, /^camera \/dev\/video0 not found: .*`v4l2-ctl --list-devices`.*gave up after 1\.0 s/);
    assert.equal(afterMs, 1000);
    // Default backoff: 0.5 s, then 1 s (cut short by the open timeout).
    assert.deepEqual(logs.map((l) => l.replace(/^.*retrying in /, '')), ['0.5 s', '1.0 s']);
  }
});

test('an RTSP camera that cannot be reached is a clear error, without its password', async (t) => {
  const port = await new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
  const clock = new ManualClock();
  const s = source(t, { type: 'rtsp', url: `rtsp://admin:secret@127.0.0.1:${port}/stream1`, openTimeoutMs: 800 }, clock);
  assert.equal(s.description, `camera rtsp://admin:***@127.0.0.1:${port}/stream1`);
  const { message, afterMs } = await startFailure(s, clock);
  assert.match(message, /could not be opened: check the URL/);
  assert.doesNotMatch(message, /secret/);
  assert.equal(afterMs, 800);
});

// ---------------------------------------------------------------------------------------------
// The policy on its own, with a scripted reader on the fake clock: a live one delivers a frame
// every 1000/fps ms of fake time, as a camera blocks in read until its next frame.

type ScriptStep = { kind: 'frame' } | { kind: 'lost'; reason: string } | { kind: 'end' } | { kind: 'hang' };

class ScriptedReader implements FrameReader {
  readonly description = 'test camera';
  /** What the next open() calls answer; then ok. */
  readonly opens: OpenResult[] = [];
  /** What the next read() calls give; then frames. */
  readonly reads: ScriptStep[] = [];
  readonly mats: Mat[] = [];
  readCalls = 0;

  constructor(
    private readonly clock: ManualClock,
    readonly live: boolean,
    private readonly rate: number,
  ) {}

  async open(): Promise<OpenResult> {
    return this.opens.shift() ?? { ok: true };
  }

  async read(): Promise<ReadResult> {
    this.readCalls++;
    const step = this.reads.shift() ?? { kind: 'frame' };
    if (step.kind === 'hang') return new Promise<ReadResult>(() => {});
    if (this.live) await sleepOn(this.clock, 1000 / this.rate);
    if (step.kind !== 'frame') return step;
    const mat = new cv.Mat(2, 2, cv.CV_8UC3);
    this.mats.push(mat);
    return { kind: 'frame', mat };
  }

  fps(): number {
    return this.rate;
  }

  close(): void {}
}

const POLICY: FrameSourceOptions = { loop: false, realtime: true, reconnect: { initialMs: 100, maxMs: 300 }, openTimeoutMs: 1000 };

function scripted(t: TestContext, opts: { live: boolean; fps: number } & Partial<FrameSourceOptions>, logs: string[] = []) {
  const clock = new ManualClock();
  const reader = new ScriptedReader(clock, opts.live, opts.fps);
  const s = new ReaderFrameSource(reader, { ...POLICY, ...opts }, (l) => logs.push(l), clock);
  t.after(() => s.stop());
  return { clock, reader, s };
}

test('latest frame wins: a slow consumer gets the newest frame, the older ones are dropped and freed', async (t) => {
  const { clock, reader, s } = scripted(t, { live: true, fps: 20 });
  const starting = s.start();
  await clock.advanceAsync(50);
  await starting;
  const taken: Frame[] = [];
  for (let i = 0; i < 5; i++) {
    await clock.advanceAsync(300);
    const f = (await s.next())!;
    assert.equal(f.capturedAtMs, clock.now(), 'the frame handed out is the one just captured');
    taken.push(f);
  }
  // 6 frames arrive per 300 ms at 20 fps; a backlog would hand out consecutive seqs.
  assert.deepEqual(gaps(taken.map((f) => f.seq)), [6, 6, 6, 6]);
  const stats = s.stats();
  assert.deepEqual([stats.captured, stats.delivered, stats.dropped], [31, 5, 26], 'the first frame was pending when the consumer came, so it was dropped too');
  assert.equal(stats.captureFps, 20);
  const takenMats = new Set(taken.map((f) => f.mat));
  const dropped = reader.mats.filter((m) => !takenMats.has(m));
  assert.equal(dropped.length, 26);
  assert.ok(dropped.every((m) => m.empty), 'dropped frames are released at once');
  assert.ok(taken.every((f) => !f.mat.empty));
});

test('a lost camera is reopened with doubling backoff up to maxMs, then streams again', async (t) => {
  const logs: string[] = [];
  const { clock, reader, s } = scripted(t, { live: true, fps: 10 }, logs);
  const states = recordStates(s);
  reader.reads.push({ kind: 'frame' }, { kind: 'frame' }, { kind: 'lost', reason: 'read failed' });
  const gone = { ok: false, reason: 'not found', permanent: false } as const;
  reader.opens.push({ ok: true }, gone, gone, gone);
  const starting = s.start();
  await clock.advanceAsync(100);
  await starting;
  assert.equal((await s.next())!.seq, 1);
  const t0 = clock.now();
  await clock.advanceAsync(200);
  assert.deepEqual(states, ['starting', 'streaming', 'reconnecting'], 'lost on the read after frame 2');
  // Waits of 100, 200, 300, 300 ms between attempts, and a frame 100 ms after the open that works.
  for (const waitMs of [100, 200, 300, 300]) {
    assert.equal(clock.nextDueInMs(), waitMs);
    await clock.advanceAsync(waitMs);
  }
  assert.equal(s.stats().state, 'reconnecting');
  await clock.advanceAsync(100);
  assert.deepEqual(states, ['starting', 'streaming', 'reconnecting', 'streaming']);
  assert.deepEqual(logs, [
    'test camera lost (read failed); retrying in 0.1 s',
    'test camera still unavailable (not found); retrying in 0.2 s',
    'test camera still unavailable (not found); retrying in 0.3 s',
    'test camera still unavailable (not found); retrying in 0.3 s',
    'test camera back after 4 attempts',
  ]);
  const stats = s.stats();
  assert.deepEqual([stats.reconnects, stats.captured, stats.lastError], [1, 3, 'test camera not found']);
  const f = (await s.next())!;
  assert.deepEqual([f.seq, f.capturedAtMs - t0], [3, 200 + 900 + 100], 'lost after 200 ms, 900 ms of waits, a frame 100 ms after the open');
});

test('paced playback keeps its schedule, and restarts it after a stall instead of bursting', async (t) => {
  const { clock, reader, s } = scripted(t, { live: false, fps: 10 });
  reader.reads.push({ kind: 'frame' }, { kind: 'frame' }, { kind: 'frame' }, { kind: 'lost', reason: 'read failed' }, { kind: 'frame' }, { kind: 'frame' }, { kind: 'frame' }, { kind: 'end' });
  reader.opens.push({ ok: true }, { ok: false, reason: 'busy', permanent: false });
  const t0 = clock.now();
  await s.start();
  const frames: Frame[] = [];
  const consuming = (async () => {
    for (let f = await s.next(); f; f = await s.next()) frames.push(f);
  })();
  await clock.advanceAsync(2000);
  await consuming;
  // 0, 100, 200: paced; lost at 200; an attempt at 300 fails, the one at 500 works: the first frame
  // back is captured at once and the next 100 ms after it, not caught up in a burst.
  assert.deepEqual(frames.map((f) => f.capturedAtMs - t0), [0, 100, 200, 500, 600, 700]);
  assert.equal(s.stats().state, 'ended');
});

test('a camera that opens but never sends a frame fails start() at openTimeoutMs', async (t) => {
  const { clock, reader, s } = scripted(t, { live: true, fps: 10, openTimeoutMs: 1000 });
  reader.reads.push({ kind: 'hang' });
  let error: Error | undefined;
  const failure = () => error;
  const starting = s.start().catch((err: Error) => (error = err));
  await clock.advanceAsync(999);
  assert.equal(failure(), undefined, 'still waiting 1 ms before the timeout');
  await clock.advanceAsync(1);
  await starting;
  assert.equal(failure()?.message, 'test camera opened but sent no frame within 1.0 s');
  assert.equal(s.stats().state, 'stopped');
  assert.equal(clock.pending, 0);
});

test('realtime: false reads one frame ahead of the consumer and never drops', async (t) => {
  const { clock, reader, s } = scripted(t, { live: false, fps: 10, realtime: false });
  await s.start();
  for (let i = 1; i <= 5; i++) {
    await clock.advanceAsync(0);
    assert.equal(reader.readCalls, i, 'reads wait for the pending frame to be taken');
    assert.equal((await s.next())!.seq, i);
  }
  assert.equal(s.stats().dropped, 0);
  assert.equal(clock.pending, 0, 'no pacing timers');
});

test('camera config: documented defaults, unknown keys and missing paths are errors', () => {
  const d = CameraConfig.parse(undefined);
  assert.deepEqual(d, { type: 'v4l2', device: '/dev/video0', width: 640, height: 480, loop: false, realtime: true, reconnect: { initialMs: 500, maxMs: 30000 }, openTimeoutMs: 10000 });
  assert.deepEqual(CameraConfig.parse({ reconnect: { maxMs: 5000 } }).reconnect, { initialMs: 500, maxMs: 5000 });
  const issues = (cfg: unknown) => {
    const r = CameraConfig.safeParse(cfg);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };
  assert.deepEqual(issues({ type: 'file' }), ['path: required when type is file']);
  assert.deepEqual(issues({ type: 'rtsp' }), ['url: required when type is rtsp']);
  assert.match(issues({ type: 'folder', path: 'x', fsp: 10 }).join(), /Unrecognized key: "fsp"/);
  assert.deepEqual(issues({ reconnect: { initialMs: 1000, maxMs: 100 } }), ['reconnect.maxMs: maxMs must be at least initialMs']);
});

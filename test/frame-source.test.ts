import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CameraConfig } from '../src/camera/camera-config.js';
import { createFrameSource, type Frame, type FrameSource, type SourceState } from '../src/camera/frame-source.js';
import { buildVideoFromStills } from '../src/camera/video-builder.js';
import { FRANCK_FRAMES } from '../src/fixtures/sample-photos.js';
import { loadImage } from '../src/vision/image.js';
import { cv } from '../src/vision/opencv.js';
import { samplePhotos } from './helpers/models.js';

const dir = mkdtempSync(join(tmpdir(), 'facegate-camera-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const franck: string[] = [];
const video = {
  /** 3 stills of 0.5 s and two 0.3 s gaps at 10 fps: 5 + 3 + 5 + 3 + 5 = 21 frames. */
  door: join(dir, 'door.mp4'),
  /** Left half pure red, right half pure blue; 5 frames. */
  colour: join(dir, 'colour.mp4'),
  /** 60 frames at 20 fps. */
  fast: join(dir, 'fast.mp4'),
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
  await buildVideoFromStills([{ image: franck[0]!, seconds: 3 }], video.fast, { fps: 20 });
  await buildVideoFromStills([{ image: franck[1]!, seconds: 0.5 }], video.short, { fps: 20 });
});

function source(t: TestContext, cfg: Record<string, unknown>, logs: string[] = []): FrameSource {
  const s = createFrameSource(CameraConfig.parse(cfg), (line) => logs.push(line));
  t.after(() => s.stop());
  return s;
}

function recordStates(s: FrameSource): SourceState[] {
  const states: SourceState[] = [];
  s.on('state', (state) => states.push(state));
  return states;
}

function waitForState(s: FrameSource, state: SourceState, timeoutMs: number): Promise<void> {
  if (s.stats().state === state) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      s.off('state', onState);
      reject(new Error(`no '${state}' within ${timeoutMs} ms (still ${s.stats().state})`));
    }, timeoutMs);
    function onState(st: SourceState): void {
      if (st !== state) return;
      clearTimeout(timer);
      s.off('state', onState);
      resolve();
    }
    s.on('state', onState);
  });
}

async function takeAll(s: FrameSource): Promise<Frame[]> {
  const frames: Frame[] = [];
  for (let f = await s.next(); f; f = await s.next()) frames.push(f);
  return frames;
}

async function rejection(p: Promise<unknown>): Promise<{ message: string; ms: number }> {
  const t0 = performance.now();
  try {
    await p;
  } catch (err) {
    return { message: (err as Error).message, ms: performance.now() - t0 };
  }
  return assert.fail('expected start() to reject');
}

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
  const s = source(t, { type: 'file', path: video.door });
  const states = recordStates(s);
  await s.start();
  const frames = await takeAll(s);
  assert.deepEqual(frames.map((f) => f.seq), Array.from({ length: DOOR_FRAMES }, (_, i) => i + 1));
  for (const f of frames) {
    assert.deepEqual([f.mat.cols, f.mat.rows, f.mat.type], [640, 480, cv.CV_8UC3]);
    assert.equal(f.source, `video file ${video.door}`);
  }
  // 20 frame intervals at 10 fps: 2 s of real time.
  const spanMs = frames.at(-1)!.capturedAtMs - frames[0]!.capturedAtMs;
  assert.ok(spanMs > 1500 && spanMs < 3500, `21 frames at 10 fps took ${spanMs} ms`);
  assert.deepEqual(states, ['starting', 'streaming', 'ended']);
  assert.equal(await s.next(), null);
  const stats = s.stats();
  assert.deepEqual([stats.state, stats.captured, stats.delivered, stats.dropped, stats.reconnects], ['ended', DOOR_FRAMES, DOOR_FRAMES, 0, 0]);
});

test('frames are RGB', async (t) => {
  const s = source(t, { type: 'file', path: video.colour });
  await s.start();
  const f = (await s.next())!;
  const [r1, g1, b1] = f.mat.atRaw(240, 160) as unknown as number[];
  const [r2, g2, b2] = f.mat.atRaw(240, 480) as unknown as number[];
  assert.ok(r1! > 200 && g1! < 60 && b1! < 60, `left half should be red, got ${[r1, g1, b1]}`);
  assert.ok(r2! < 60 && g2! < 60 && b2! > 200, `right half should be blue, got ${[r2, g2, b2]}`);
});

test('latest frame wins: a slow consumer gets the newest frame, the rest are dropped', async (t) => {
  const s = source(t, { type: 'file', path: video.fast, loop: true });
  await s.start();
  const taken: Frame[] = [];
  const ages: number[] = [];
  for (let i = 0; i < 5; i++) {
    await sleep(300);
    const f = (await s.next())!;
    ages.push(Date.now() - f.capturedAtMs);
    taken.push(f);
  }
  const gaps = taken.slice(1).map((f, i) => f.seq - taken[i]!.seq);
  // About 6 frames arrive per 300 ms at 20 fps; a backlog would hand out consecutive seqs.
  assert.ok(gaps.every((g) => g >= 3), `seq gaps ${gaps}`);
  // The newest frame is at most one frame interval (50 ms) old; a backlog would age by 250 ms per take.
  assert.ok(ages.every((a) => a < 200), `frame ages ${ages} ms`);
  const stats = s.stats();
  assert.ok(stats.dropped >= 4 * 3, `dropped ${stats.dropped}`);
  const unaccounted = stats.captured - stats.delivered - stats.dropped;
  assert.ok(unaccounted === 0 || unaccounted === 1, `captured ${stats.captured} = delivered ${stats.delivered} + dropped ${stats.dropped} + at most one pending`);
  assert.ok(stats.captureFps > 14 && stats.captureFps < 26, `capture fps ${stats.captureFps}`);
});

test('loop: true starts the video over instead of ending', async (t) => {
  const s = source(t, { type: 'file', path: video.short, loop: true });
  const states = recordStates(s);
  await s.start();
  const seqs: number[] = [];
  for (let i = 0; i < 25; i++) seqs.push((await s.next())!.seq);
  assert.deepEqual(seqs, Array.from({ length: 25 }, (_, i) => i + 1));
  assert.deepEqual(states, ['starting', 'streaming']);
});

test('realtime: false hands over every frame, as fast as a slow consumer takes them', async (t) => {
  const s = source(t, { type: 'file', path: video.door, realtime: false });
  await s.start();
  const t0 = performance.now();
  const seqs: number[] = [];
  for (let f = await s.next(); f; f = await s.next()) {
    seqs.push(f.seq);
    // Slower than the decoder: without back-pressure frames would be dropped here.
    await sleep(20);
  }
  const ms = performance.now() - t0;
  assert.deepEqual(seqs, Array.from({ length: DOOR_FRAMES }, (_, i) => i + 1));
  assert.ok(ms < 1500, `unpaced playback took ${ms} ms (paced: 2 s)`);
  assert.equal(s.stats().dropped, 0);
});

test('a missing or unreadable video file is a clear error at once', async (t) => {
  const missing = await rejection(source(t, { type: 'file', path: join(dir, 'missing.mp4') }).start());
  assert.equal(missing.message, `video file ${join(dir, 'missing.mp4')} not found`);
  assert.ok(missing.ms < 1000, `took ${missing.ms} ms`);
  writeFileSync(join(dir, 'notes.mp4'), 'not a video');
  const notVideo = await rejection(source(t, { type: 'file', path: join(dir, 'notes.mp4') }).start());
  assert.equal(notVideo.message, `video file ${join(dir, 'notes.mp4')} could not be opened: not a video FFmpeg can read`);
  const s = source(t, { type: 'file', path: dir });
  assert.match((await rejection(s.start())).message, /is a folder: use `type: folder`/);
  assert.equal(s.stats().state, 'stopped');
});

for (const loop of [false, true]) {
  test(`a video file removed mid-run is retried like a camera and resumes when it is back (loop: ${loop})`, async (t) => {
    const path = join(dir, `live-${loop}.mp4`);
    copyFileSync(video.short, path);
    const logs: string[] = [];
    const s = source(t, { type: 'file', path, loop, reconnect: { initialMs: 100, maxMs: 400 } }, logs);
    await s.start();
    unlinkSync(path);
    await waitForState(s, 'reconnecting', 3000);
    // FFmpeg keeps reading the deleted file to its end; there it is noticed, looping or not.
    const lost = `video file ${path} lost (changed or was removed); retrying in 0.1 s`;
    assert.ok(logs.includes(lost), logs.join('\n'));
    copyFileSync(video.short, path);
    await waitForState(s, 'streaming', 3000);
    assert.ok(s.stats().reconnects >= 1);
    assert.ok(logs.some((l) => l.startsWith(`video file ${path} back after `)), logs.join('\n'));
  });
}

test('image folder camera: emptied or removed -> reconnecting, images back -> streaming again', async (t) => {
  const folder = join(dir, 'door-cam');
  const aside = join(dir, 'aside');
  mkdirSync(folder);
  mkdirSync(aside);
  franck.forEach((p, i) => copyFileSync(p, join(folder, `frame${i + 1}.jpg`)));
  const logs: string[] = [];
  const s = source(t, { type: 'folder', path: folder, fps: 20, loop: true, reconnect: { initialMs: 100, maxMs: 400 } }, logs);
  const states = recordStates(s);
  await s.start();
  assert.ok(await s.next());

  const unplug = async (remove: () => void, restore: () => void): Promise<void> => {
    remove();
    await waitForState(s, 'reconnecting', 3000);
    const capturedWhenLost = s.stats().captured;
    restore();
    await waitForState(s, 'streaming', 3000);
    // The first may be the frame left pending from before the loss; the second is new.
    await s.next();
    assert.ok((await s.next())!.seq > capturedWhenLost, 'no new frames after reconnecting');
  };
  const names = ['frame1.jpg', 'frame2.jpg', 'frame3.jpg'];
  await unplug(
    () => names.forEach((n) => renameSync(join(folder, n), join(aside, n))),
    () => names.forEach((n) => renameSync(join(aside, n), join(folder, n))),
  );
  assert.ok(logs.some((l) => /^image folder .*door-cam lost \(has no images.*\); retrying in 0\.1 s$/.test(l)), logs.join('\n'));
  assert.equal(s.stats().reconnects, 1);

  await unplug(
    () => renameSync(folder, join(dir, 'door-cam-unplugged')),
    () => renameSync(join(dir, 'door-cam-unplugged'), folder),
  );
  assert.ok(logs.some((l) => /^image folder .*door-cam lost \(not found\); retrying in 0\.1 s$/.test(l)), logs.join('\n'));
  assert.equal(s.stats().reconnects, 2);
  assert.ok(logs.some((l) => /^image folder .*door-cam back after \d+ attempts?$/.test(l)), logs.join('\n'));
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
  const s = source(t, { type: 'folder', path: folder, realtime: false }, logs);
  await s.start();
  const frames = await takeAll(s);
  assert.equal(frames.length, 2);
  // frame9 before frame10, each exactly the decoded photo.
  assert.ok(frames[0]!.mat.getData().equals(loadImage(franck[1]!).mat.getData()), 'first frame is not frame9.jpg');
  assert.ok(frames[1]!.mat.getData().equals(loadImage(franck[0]!).mat.getData()), 'second frame is not frame10.jpg');
  assert.deepEqual(logs, [`image folder ${folder}: skipped frame2.jpg (not a readable image)`]);
  assert.equal(s.stats().state, 'ended');

  const broken = join(dir, 'broken');
  mkdirSync(broken);
  writeFileSync(join(broken, 'a.jpg'), 'not a jpeg');
  const { message } = await rejection(source(t, { type: 'folder', path: broken, openTimeoutMs: 300 }).start());
  assert.equal(message, `image folder ${broken} has no readable images (gave up after 0.3 s)`);
});

test('stop() resolves a pending next() with null', async (t) => {
  const folder = join(dir, 'slow-cam');
  mkdirSync(folder);
  copyFileSync(franck[0]!, join(folder, 'a.jpg'));
  copyFileSync(franck[1]!, join(folder, 'b.jpg'));
  const s = source(t, { type: 'folder', path: folder, fps: 1 });
  await s.start();
  assert.equal((await s.next())!.seq, 1);
  const pending = s.next();
  await sleep(50);
  const t0 = performance.now();
  await s.stop();
  assert.equal(await pending, null);
  assert.ok(performance.now() - t0 < 200, `stop took ${performance.now() - t0} ms`);
  assert.equal(await s.next(), null);
  assert.equal(s.stats().state, 'stopped');
});

test('a V4L2 camera that is not there is a clear error within openTimeoutMs', { skip: existsSync('/dev/video0') && 'this machine has /dev/video0' }, async (t) => {
  for (const device of ['/dev/video0', 0]) {
    const { message, ms } = await rejection(source(t, { type: 'v4l2', device, openTimeoutMs: 1000 }).start());
    assert.match(message, /^camera \/dev\/video0 not found: .*`v4l2-ctl --list-devices`.*gave up after 1\.0 s/);
    assert.ok(ms < 2500, `took ${ms} ms`);
  }
});

test('an RTSP camera that cannot be reached is a clear error, without its password', async (t) => {
  const port = await new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
  const s = source(t, { type: 'rtsp', url: `rtsp://admin:secret@127.0.0.1:${port}/stream1`, openTimeoutMs: 800 });
  assert.equal(s.description, `camera rtsp://admin:***@127.0.0.1:${port}/stream1`);
  const { message, ms } = await rejection(s.start());
  assert.match(message, /could not be opened: check the URL/);
  assert.doesNotMatch(message, /secret/);
  assert.ok(ms < 2500, `took ${ms} ms`);
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

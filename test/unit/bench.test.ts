import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summarize } from '../../src/bench/stage-bench.js';
import { buildBenchFrames, FRAME_HEIGHT, FRAME_WIDTH } from '../../src/bench/frames.js';
import { loadDetector } from '../../src/vision/face-pipeline.js';
import { decodeImage } from '../../src/vision/image.js';
import { MODELS_DIR, requireModels, samplePhotos } from '../helpers/models.js';

test('summarize: median and p90 of an odd-length list, in any order', () => {
  const s = summarize([5, 1, 4, 2, 3]);
  assert.equal(s.median, 3);
  // p90 interpolates between ranks: 0.9 * 4 = 3.6, so 4 + 0.6 * (5 - 4).
  assert.ok(Math.abs(s.p90 - 4.6) < 1e-9, `p90 ${s.p90}`);
  assert.equal(s.mean, 3);
  assert.equal(s.n, 5);
});

test('summarize: even-length median is the mean of the middle two', () => {
  const s = summarize([10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
  assert.equal(s.median, 5.5);
  assert.ok(Math.abs(s.p90 - 9.1) < 1e-9, `p90 ${s.p90}`);
  assert.equal(s.mean, 5.5);
  assert.equal(s.n, 10);
});

test('summarize: a single sample is its own median and p90', () => {
  assert.deepEqual(summarize([7.25]), { median: 7.25, p90: 7.25, mean: 7.25, n: 1 });
});

test('summarize: does not reorder the caller\'s samples', () => {
  const samples = [3, 1, 2];
  summarize(samples);
  assert.deepEqual(samples, [3, 1, 2]);
});

test('summarize rejects an empty list', () => {
  assert.throws(() => summarize([]), /no samples/);
});

test('bench frames are 640x480 JPEGs with 1 and 5 faces', async () => {
  requireModels();
  const { detector } = await loadDetector({ modelsDir: MODELS_DIR, precision: 'float32' });
  const frames = await buildBenchFrames(await samplePhotos(), detector);
  assert.deepEqual(
    frames.map((f) => [f.name, f.faces]),
    [
      ['1-face', 1],
      ['5-face', 5],
    ],
  );
  for (const frame of frames) {
    const img = decodeImage(frame.jpeg, frame.name);
    assert.equal(img.width, FRAME_WIDTH);
    assert.equal(img.height, FRAME_HEIGHT);
    const { faces } = await detector.detect(img.mat);
    assert.equal(faces.length, frame.faces, `${frame.name}: ${faces.length} faces`);
  }
});

test('node profile: kernel times are summed per operator type and per run, other events ignored', async () => {
  const { summariseProfile } = await import('../../src/bench/node-profile.js');
  const events = [
    { cat: 'Node', name: 'conv1_kernel_time', dur: 3000, args: { op_name: 'Conv' } },
    { cat: 'Node', name: 'conv2_kernel_time', dur: 1000, args: { op_name: 'Conv' } },
    { cat: 'Node', name: 'conv1_kernel_time', dur: 2000, args: { op_name: 'Conv' } },
    { cat: 'Node', name: 'prelu1_kernel_time', dur: 4000, args: { op_name: 'PRelu' } },
    { cat: 'Node', name: 'prelu1_fence_before', dur: 9000, args: { op_name: 'PRelu' } },
    { cat: 'Session', name: 'model_run', dur: 50_000 },
  ];
  const p = summariseProfile('m', [1, 3, 12, 12], events, 2);
  assert.equal(p.totalMs, 5);
  assert.deepEqual(p.byOpType, [
    { opType: 'Conv', ms: 3, nodes: 2 },
    { opType: 'PRelu', ms: 2, nodes: 1 },
  ]);
});

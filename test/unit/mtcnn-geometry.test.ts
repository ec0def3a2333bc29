import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyRegression, boxesFromPnetMap, cropRect, landmarksToImage, nms, toSquare, type CandidateBox } from '../../src/vision/mtcnn/boxes.js';
import { pyramidScales, scaledSize } from '../../src/vision/mtcnn/pyramid.js';

const box = (x1: number, y1: number, x2: number, y2: number, score: number): CandidateBox => ({ x1, y1, x2, y2, score, reg: [0, 0, 0, 0] });

test('pyramid: first scale maps minsize onto the 12 px cell, then shrinks by factor until below 12 px', () => {
  const scales = pyramidScales(640, 480, 20, 0.709);
  assert.equal(scales[0], 12 / 20);
  for (let i = 1; i < scales.length; i++) assert.ok(Math.abs(scales[i]! / scales[i - 1]! - 0.709) < 1e-12);
  const last = scales.at(-1)!;
  assert.ok(480 * last >= 12 && 480 * last * 0.709 < 12);
  // 480 * 0.6 = 288 px down to >= 12 px in steps of 0.709: 10 levels.
  assert.equal(scales.length, 10);
  assert.deepEqual(scaledSize(640, 480, 0.6), { width: 384, height: 288 });
});

test('pyramid: an image smaller than minsize has no levels; bad parameters are refused', () => {
  assert.deepEqual(pyramidScales(1, 1, 20, 0.709), []);
  assert.throws(() => pyramidScales(100, 100, 20, 1.2), /factor/);
  assert.throws(() => pyramidScales(100, 100, 0, 0.7), /minsize/);
});

test('nms union keeps the best of overlapping boxes and leaves separate ones', () => {
  const kept = nms([box(0, 0, 9, 9, 0.8), box(1, 1, 10, 10, 0.9), box(50, 50, 59, 59, 0.7)], 0.5, 'union');
  assert.deepEqual(kept.map((b) => b.score), [0.9, 0.7]);
});

test('nms min suppresses a small box inside a large one that union keeps', () => {
  const big = box(0, 0, 99, 99, 0.9);
  const inner = box(10, 10, 29, 29, 0.8);
  assert.equal(nms([big, inner], 0.7, 'union').length, 2);
  assert.equal(nms([big, inner], 0.7, 'min').length, 1);
});

test('P-Net map cells become windows of 12/scale px at stride 2/scale, with score and offsets', () => {
  // 2x3 map; face probability is the second plane. Only cell (row 1, col 2) passes 0.6.
  const prob = new Float32Array([0.9, 0.9, 0.9, 0.9, 0.9, 0.2, /* face */ 0.1, 0.1, 0.1, 0.1, 0.1, 0.8]);
  const reg = new Float32Array(4 * 6);
  reg.set([0.1], 5); reg.set([0.2], 11); reg.set([-0.1], 17); reg.set([0.05], 23);
  const boxes = boxesFromPnetMap(prob, reg, 3, 2, 0.5, 0.6);
  assert.equal(boxes.length, 1);
  const b = boxes[0]!;
  assert.equal(b.score, prob[11]);
  assert.deepEqual([b.x1, b.y1, b.x2, b.y2], [Math.trunc(5 / 0.5), Math.trunc(3 / 0.5), Math.trunc(16 / 0.5), Math.trunc(14 / 0.5)]);
  assert.deepEqual(b.reg.map((v) => Math.round(v * 100) / 100), [0.1, 0.2, -0.1, 0.05]);
});

test('regression moves corners by fractions of the box size (exclusive in stage 1, inclusive later)', () => {
  const b: CandidateBox = { x1: 10, y1: 20, x2: 30, y2: 60, score: 1, reg: [0.1, -0.1, 0.2, 0.5] };
  const s1 = applyRegression(b, false);
  assert.deepEqual([s1.x1, s1.y1, s1.x2, s1.y2], [12, 16, 34, 80]);
  const s2 = applyRegression(b, true);
  assert.ok(Math.abs(s2.x1 - 12.1) < 1e-9 && Math.abs(s2.y2 - 80.5) < 1e-9);
});

test('toSquare keeps the centre and takes the longer side', () => {
  const s = toSquare(box(10, 0, 30, 40, 1));
  assert.equal(s.x2 - s.x1, 40);
  assert.equal(s.y2 - s.y1, 40);
  assert.equal((s.x1 + s.x2) / 2, 20);
  assert.equal((s.y1 + s.y2) / 2, 20);
  assert.deepEqual(cropRect(box(1.7, 2.2, 10.9, 12.1, 1)), { x: 1, y: 2, width: 10, height: 11 });
});

test('landmarks are scaled by the inclusive crop size and offset by x1 - 1', () => {
  const pts = landmarksToImage(box(100, 200, 147, 247, 1), [0, 0.5, 1, 0.25, 0.75, 0, 0.5, 1, 0.25, 0.75]);
  assert.deepEqual(pts.slice(0, 5), [99, 123, 147, 111, 135]);
  assert.deepEqual(pts.slice(5), [199, 223, 247, 211, 235]);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ARCFACE_112_TEMPLATE, applyAffine, marginCropRect, scaledTemplate, similarityTransform, type Point } from '../../src/vision/align/similarity.js';

test('similarity transform recovers a known rotation, scale and shift', () => {
  const angle = 0.3, scale = 1.7, tx = 12, ty = -5;
  const src: Point[] = [[10, 10], [50, 12], [30, 35], [15, 55], [45, 56]];
  const dst = src.map(([x, y]): Point => [scale * (Math.cos(angle) * x - Math.sin(angle) * y) + tx, scale * (Math.sin(angle) * x + Math.cos(angle) * y) + ty]);
  const m = similarityTransform(src, dst);
  src.forEach((p, i) => {
    const q = applyAffine(m, p);
    assert.ok(Math.hypot(q[0] - dst[i]![0], q[1] - dst[i]![1]) < 1e-9);
  });
  assert.ok(Math.abs(Math.hypot(m[0], m[3]) - scale) < 1e-12);
});

test('similarity transform never mirrors: a mirrored face maps with residual error, not a flip', () => {
  const mirrored = ARCFACE_112_TEMPLATE.map(([x, y]): Point => [112 - x, y]);
  const m = similarityTransform(mirrored, ARCFACE_112_TEMPLATE);
  // Determinant of the linear part stays positive (rotation + scale only).
  assert.ok(m[0] * m[4] - m[1] * m[3] > 0);
});

test('landmarks already on the template give the identity; a scaled template scales', () => {
  const m = similarityTransform(ARCFACE_112_TEMPLATE, ARCFACE_112_TEMPLATE);
  [1, 0, 0, 0, 1, 0].forEach((v, i) => assert.ok(Math.abs(m[i]! - v) < 1e-9));
  const t160 = scaledTemplate(160);
  assert.ok(Math.abs(t160[0]![0] - (38.2946 * 160) / 112) < 1e-9);
  assert.throws(() => similarityTransform([[1, 1], [1, 1]], [[0, 0], [1, 1]]), /coincide/);
});

test('FaceNet margin crop grows the box by margin/2 per side and clips to the image', () => {
  assert.deepEqual(marginCropRect([100, 100, 50, 60], 32, 640, 480), { x: 84, y: 84, width: 82, height: 92 });
  assert.deepEqual(marginCropRect([5, 5, 50, 50], 32, 60, 60), { x: 0, y: 0, width: 60, height: 60 });
});

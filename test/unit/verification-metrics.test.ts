import { test } from 'node:test';
import assert from 'node:assert/strict';
import { equalErrorRate, rocAuc, rocCurve, tarAtFar, verificationMetrics } from '../../src/eval/verification.js';

test('AUC is 1 for separated scores, 0.5 for identical ones, and counts ties as half', () => {
  assert.equal(rocAuc([0.9, 0.8], [0.1, 0.2, 0.3]), 1);
  assert.equal(rocAuc([0.5, 0.5], [0.5, 0.5]), 0.5);
  // One genuine (0.4) below one of three impostors (0.5): 5 of 6 pairs ordered right.
  assert.ok(Math.abs(rocAuc([0.9, 0.4], [0.1, 0.2, 0.5]) - 5 / 6) < 1e-12);
  assert.ok(Number.isNaN(rocAuc([], [0.1])));
});

test('ROC runs from (0,0) to (1,1) and its thresholds accept exactly the counted scores', () => {
  const g = [0.9, 0.7, 0.4];
  const im = [0.8, 0.3, 0.2, 0.1];
  const pts = rocCurve(g, im);
  assert.deepEqual(pts[0], { far: 0, tar: 0, threshold: Infinity });
  assert.deepEqual([pts.at(-1)!.far, pts.at(-1)!.tar], [1, 1]);
  for (const p of pts.slice(1)) {
    assert.equal(g.filter((s) => s > p.threshold).length / g.length, p.tar);
    assert.equal(im.filter((s) => s > p.threshold).length / im.length, p.far);
  }
});

test('EER sits where false accepts equal false rejects', () => {
  // 10 genuine 0.55..1.0, 10 impostor 0..0.45, plus one overlap each way: EER 10%.
  const g = [0.3, ...Array.from({ length: 9 }, (_, i) => 0.6 + i * 0.04)];
  const im = [0.7, ...Array.from({ length: 9 }, (_, i) => i * 0.04)];
  const { eer, threshold } = equalErrorRate(rocCurve(g, im));
  assert.ok(Math.abs(eer - 0.1) < 1e-9, `eer ${eer}`);
  assert.ok(threshold > 0.3 && threshold < 0.7);
});

test('TAR at FAR picks the most lenient threshold whose FAR stays within the target', () => {
  const im = Array.from({ length: 1000 }, (_, i) => i / 1000); // 0 .. 0.999
  const g = [0.9995, 0.9985, 0.995, 0.5];
  const r = tarAtFar(g, im, 1e-3);
  // One impostor (0.999) may pass: the threshold is the second highest, 0.998.
  assert.equal(r.threshold, 0.998);
  assert.equal(r.far, 1 / 1000);
  assert.equal(r.tar, 0.5);
  assert.equal(r.resolvable, true);
  assert.equal(tarAtFar(g, im.slice(0, 100), 1e-3).resolvable, false);
});

test('metrics bundle reports counts and both operating points', () => {
  const m = verificationMetrics([0.9, 0.8, 0.7], [0.1, 0.2, 0.75]);
  assert.equal(m.genuine, 3);
  assert.equal(m.impostor, 3);
  assert.deepEqual(m.atFar.map((a) => a.target), [1e-2, 1e-3]);
  assert.ok(m.auc > 0.85 && m.auc < 1);
});

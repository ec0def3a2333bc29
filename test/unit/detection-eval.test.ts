import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chooseRoot,
  detectionTotals,
  iou,
  isMatch,
  matchImage,
  parseGroundTruth,
  type Box,
  type MatchRule,
  type ScoredBox,
} from '../../src/eval/detection-eval.js';

const CENTRE: MatchRule = { kind: 'centre' };
const IOU_03: MatchRule = { kind: 'iou', threshold: 0.3 };

const box = (x: number, y: number, w: number, h: number): Box => ({ x, y, w, h });
const det = (b: Box, score: number): ScoredBox => ({ box: b, score });

/** A tight eyes-to-mouth box and the taller forehead-to-chin box MTCNN draws around the same face. */
const TIGHT = box(100, 100, 40, 40);
const MTCNN_LIKE = box(92, 88, 56, 72);

test('iou', () => {
  assert.equal(iou(TIGHT, TIGHT), 1);
  assert.equal(iou(TIGHT, box(140, 100, 40, 40)), 0, 'touching edges do not overlap');
  assert.equal(iou(box(0, 0, 10, 10), box(5, 0, 10, 10)), 50 / 150);
});

test('an exact detection matches under both rules with IoU 1', () => {
  for (const rule of [CENTRE, IOU_03]) {
    const m = matchImage([TIGHT], [det(TIGHT, 0.9)], rule);
    assert.deepEqual(m, { matches: [{ gt: 0, det: 0, iou: 1 }], missed: [], falsePositives: [] });
  }
});

test('centre rule: a larger box around a tight one matches where a strict IoU would not', () => {
  const overlap = iou(MTCNN_LIKE, TIGHT);
  assert.ok(overlap < 0.5, `IoU ${overlap}`);
  assert.ok(isMatch(CENTRE, MTCNN_LIKE, TIGHT));
  assert.equal(isMatch({ kind: 'iou', threshold: 0.5 }, MTCNN_LIKE, TIGHT), false);
  assert.equal(isMatch(IOU_03, MTCNN_LIKE, TIGHT), overlap >= 0.3);
});

test('centre rule: both centres must agree', () => {
  // Contains the face's centre, but its own centre is far outside the face grown by 50%.
  assert.equal(isMatch(CENTRE, box(60, 60, 200, 200), TIGHT), false);
  // Its centre is within the grown face, but the face's centre (120, 120) is outside it.
  assert.equal(isMatch(CENTRE, box(121, 100, 20, 40), TIGHT), false);
  // Detection centre just inside the face grown 1.5x (which spans x 90..150).
  assert.ok(isMatch(CENTRE, box(110, 100, 38, 40), TIGHT));
  assert.equal(isMatch(CENTRE, box(120, 100, 62, 40), TIGHT), false, 'centre x 151 is outside 90..150');
});

test('iou rule: threshold is inclusive', () => {
  const a = box(0, 0, 10, 10);
  const b = box(5, 0, 10, 10); // IoU 1/3
  assert.ok(isMatch({ kind: 'iou', threshold: 1 / 3 }, a, b));
  assert.equal(isMatch({ kind: 'iou', threshold: 0.34 }, a, b), false);
});

test('one-to-one: one detection over two faces matches only the one it overlaps most', () => {
  const left = box(0, 0, 40, 40);
  const right = box(30, 0, 40, 40);
  const wide = box(10, 0, 60, 40); // IoU 0.43 with left, 0.67 with right
  const m = matchImage([left, right], [det(wide, 0.99)], IOU_03);
  assert.equal(m.matches.length, 1);
  assert.equal(m.matches[0]!.gt, 1);
  assert.deepEqual(m.missed, [0]);
  assert.deepEqual(m.falsePositives, []);
});

test('duplicates: the higher-scored detection takes the face, the other is a false positive', () => {
  // The weaker duplicate fits the face better, but the greedy order is by score.
  const loose = det(box(96, 96, 48, 48), 0.99);
  const exact = det(TIGHT, 0.8);
  const m = matchImage([TIGHT], [exact, loose], CENTRE);
  assert.deepEqual(m.matches.map((x) => x.det), [1]);
  assert.deepEqual(m.falsePositives, [0]);
  assert.deepEqual(m.missed, []);
});

test('greedy order lets a second detection take the face the first one passed over', () => {
  const a = box(0, 0, 40, 40);
  const b = box(45, 0, 40, 40);
  // The strong detection sits on a; the weak one could match a or b and so gets b.
  const m = matchImage([a, b], [det(box(20, 0, 45, 40), 0.6), det(a, 0.95)], IOU_03);
  assert.deepEqual(
    m.matches.map((x) => [x.det, x.gt]),
    [[1, 0], [0, 1]],
  );
  assert.deepEqual(m.missed, []);
  assert.deepEqual(m.falsePositives, []);
});

test('empty cases', () => {
  assert.deepEqual(matchImage([], [], CENTRE), { matches: [], missed: [], falsePositives: [] });
  assert.deepEqual(matchImage([TIGHT, box(0, 0, 5, 5)], [], CENTRE), { matches: [], missed: [0, 1], falsePositives: [] });
  assert.deepEqual(matchImage([], [det(TIGHT, 0.9), det(TIGHT, 0.7)], CENTRE), { matches: [], missed: [], falsePositives: [0, 1] });

  const none = detectionTotals([]);
  assert.equal(none.recall, null);
  assert.equal(none.precision, null);
  assert.equal(none.meanIou, null);
  const onlyMissed = detectionTotals([matchImage([TIGHT], [], CENTRE)]);
  assert.equal(onlyMissed.recall, 0);
  assert.equal(onlyMissed.precision, null);
  const onlyFalse = detectionTotals([matchImage([], [det(TIGHT, 0.9)], CENTRE)]);
  assert.equal(onlyFalse.recall, null);
  assert.equal(onlyFalse.precision, 0);
});

test('totals over several images', () => {
  const images = [
    matchImage([TIGHT, box(300, 300, 40, 40)], [det(MTCNN_LIKE, 0.99), det(box(500, 0, 30, 30), 0.7)], CENTRE),
    matchImage([TIGHT], [det(TIGHT, 0.9)], CENTRE),
  ];
  const t = detectionTotals(images);
  assert.deepEqual(
    { images: t.images, gt: t.gt, detections: t.detections, matched: t.matched, missed: t.missed, falsePositives: t.falsePositives },
    { images: 2, gt: 3, detections: 3, matched: 2, missed: 1, falsePositives: 1 },
  );
  assert.equal(t.recall, 2 / 3);
  assert.equal(t.precision, 2 / 3);
  assert.ok(Math.abs(t.meanIou! - (iou(MTCNN_LIKE, TIGHT) + 1) / 2) < 1e-12);
});

test('ground-truth file: parsed, and refused with the path of the bad field', () => {
  const good = { source: 's', images: [{ file: 'detection/images/a.jpg', width: 500, height: 375, split: 'train', boxes_xywh: [{ x: 1, y: 2, w: 3, h: 4 }] }] };
  assert.deepEqual(parseGroundTruth(JSON.stringify(good), 'gt.json').images[0]!.boxes_xywh, [{ x: 1, y: 2, w: 3, h: 4 }]);
  assert.throws(() => parseGroundTruth('{', 'gt.json'), /gt\.json is not valid JSON/);
  const bad = { images: [{ file: 'a.jpg', boxes_xywh: [{ x: 1, y: 2, w: -3, h: 4 }] }] };
  assert.throws(() => parseGroundTruth(JSON.stringify(bad), 'gt.json'), /gt\.json: images\.0\.boxes_xywh\.0\.w:/);
  assert.throws(() => parseGroundTruth('{}', 'gt.json'), /gt\.json: images:/);
});

test('root: the candidate folder that resolves most image paths, the first on a tie', () => {
  const present = new Set(['/data/faces/detection/images/a.jpg', '/data/faces/detection/images/b.jpg']);
  const exists = (root: string, file: string) => present.has(`${root}/${file}`);
  const files = ['detection/images/a.jpg', 'detection/images/b.jpg'];
  assert.equal(chooseRoot(['/data/faces/detection', '/data/faces'], files, exists), '/data/faces');
  assert.equal(chooseRoot(['/x', '/y'], files, exists), '/x');
});

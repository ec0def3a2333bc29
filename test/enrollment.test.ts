import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collapseNearDuplicates, qualityProblems, scanFaceDataSet, type Candidate } from '../src/gallery/enrollment.js';
import { validatePersonName } from '../src/gallery/names.js';
import type { FaceQuality } from '../src/vision/quality.js';

const q = (over: Partial<FaceQuality> = {}): FaceQuality => ({ rollDeg: 0, yaw: 0, pitch: 0.5, frontalness: 0.9, faceSize: 150, eyeDistance: 60, sharpness: 300, score: 0.999, ...over });
const gate = { minFaceSize: 60, minSharpness: 40, minFrontalness: 0.5, minScore: 0.95 };

test('quality gate gives every reason a face fails', () => {
  assert.deepEqual(qualityProblems(q(), gate), []);
  const p = qualityProblems(q({ faceSize: 30, sharpness: 5, frontalness: 0.1, score: 0.8 }), gate);
  assert.equal(p.length, 4);
  assert.match(p.join('|'), /too small.*blurred.*facing.*unsure/);
});

test('near-duplicates collapse onto the better photo', () => {
  const v = (x: number, y: number) => Float32Array.from([x, y].map((c) => c / Math.hypot(x, y)));
  const c = (source: string, e: Float32Array, quality: FaceQuality): Candidate => ({ source, embedding: e, quality });
  const { kept, dropped } = collapseNearDuplicates([c('blurry.jpg', v(1, 0.01), q({ sharpness: 50 })), c('sharp.jpg', v(1, 0), q()), c('other.jpg', v(0.6, 0.8), q())], 0.95);
  assert.deepEqual(kept.map((k) => k.source).sort(), ['other.jpg', 'sharp.jpg']);
  assert.equal(dropped[0]!.source, 'blurry.jpg');
  assert.match(dropped[0]!.reason, /near-duplicate of sharp\.jpg/);
});

test('person names: printable, no slashes or control characters', () => {
  assert.equal(validatePersonName('  Zoë O\'Brien-Smith '), "Zoë O'Brien-Smith");
  assert.throws(() => validatePersonName('a/b'), /slash/);
  assert.throws(() => validatePersonName('..\\x'), /slash/);
  assert.throws(() => validatePersonName('bell\u0007'), /control/);
  assert.throws(() => validatePersonName(''), /empty/);
  assert.throws(() => validatePersonName('x'.repeat(65)), /longer/);
  assert.throws(() => validatePersonName('-rf'), /characters/);
});

test('FaceDataSet scan: person folders with images; empty, non-image and badly named folders reported', () => {
  const dir = mkdtempSync(join(tmpdir(), 'facegate-fds-'));
  for (const d of ['alice', 'empty', 'notes', 'bad\u0001name']) mkdirSync(join(dir, d));
  writeFileSync(join(dir, 'alice', 'alice_0.jpg'), 'x');
  writeFileSync(join(dir, 'alice', 'alice_1.PNG'), 'x');
  writeFileSync(join(dir, 'notes', 'readme.txt'), 'x');
  writeFileSync(join(dir, 'stray.jpg'), 'x');
  const { people, problems } = scanFaceDataSet(dir);
  assert.deepEqual(people.map((p) => [p.name, p.files.length]), [['alice', 2]]);
  assert.equal(problems.length, 3);
  assert.match(problems.map((p) => p.reason).join('|'), /control.*\|.*no image files|no image files.*control/s);
  const emptyRoot = mkdtempSync(join(tmpdir(), 'facegate-fds-'));
  assert.match(scanFaceDataSet(emptyRoot).problems[0]!.reason, /no person folders/);
  assert.throws(() => scanFaceDataSet(join(emptyRoot, 'nope')), /no such folder/);
});

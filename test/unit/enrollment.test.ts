import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collapseNearDuplicates, commitCandidates, qualityProblems, scanFaceDataSet, type Candidate } from '../../src/gallery/enrollment.js';
import { GalleryStore } from '../../src/gallery/gallery-store.js';
import { DeviceState } from '../../src/gallery/device-state.js';
import { exportGallery, importGallery } from '../../src/gallery/exchange.js';
import { ManualClock } from '../../src/util/manual-clock.js';
import { validatePersonName } from '../../src/gallery/names.js';
import type { FaceQuality } from '../../src/vision/quality.js';

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

// --- device-local state, dedupe on import, groups (store level: fast) ---

const tag = { id: 'test-model', sha256: 'b'.repeat(64) };
const unit = (...xs: number[]) => Float32Array.from(xs.map((x) => x / Math.hypot(...xs)));

test('device state: arming expires on the injected clock, is consumed once, and stays out of the gallery', () => {
  const clock = new ManualClock();
  const store = GalleryStore.open(join(mkdtempSync(join(tmpdir(), 'facegate-dev-')), 'gallery.db'), { clock });
  const device = DeviceState.open(store);
  device.armEnrollment('ivy', 60_000);
  assert.equal(device.takeArmedEnrollment(), 'ivy');
  assert.equal(device.takeArmedEnrollment(), null, 'one arming enrolled twice');
  device.armEnrollment('ivy', 60_000);
  clock.advance(60_001);
  assert.equal(device.takeArmedEnrollment(), null, 'an expired arming was used');
  assert.equal((store.db.prepare('SELECT count(*) AS n FROM settings').get() as { n: number }).n, 0);
  const id = device.addPending(tag, [{ embedding: unit(1, 0, 0), quality: { faceSize: 100 }, source: 'camera' }, { embedding: unit(0, 1, 0), quality: {}, source: 'camera' }], 'button');
  assert.deepEqual(device.listPending().map((p) => [p.id, p.templates, p.source]), [[id, 2, 'button']]);
  assert.equal((store.db.prepare('SELECT count(*) AS n FROM pending').get() as { n: number }).n, 0, 'pending capture written to gallery.db');
  assert.deepEqual(device.namePending(id, 'ivy'), { person: 'ivy', templates: 2 });
  assert.equal(store.templatesOf(store.requirePerson('ivy')).length, 2);
  assert.deepEqual(device.listPending(), []);
  assert.throws(() => device.namePending(id, 'ivy'), /no pending capture/);
  const other = device.addPending(tag, [{ embedding: unit(0, 0, 1), quality: {}, source: 'camera' }], 'button');
  device.discardPending(other);
  assert.deepEqual(device.listPending(), []);
  assert.throws(() => device.discardPending(other), /no pending capture/);
  device.close();
  store.close();
});

test('enrolling the same faces again adds nothing: identical and near-identical embeddings are collapsed', () => {
  const store = GalleryStore.open(':memory:');
  const c = (source: string, e: Float32Array): Candidate => ({ source, embedding: e, quality: q() });
  const first = [c('a.jpg', unit(1, 0, 0)), c('b.jpg', unit(0, 1, 0))];
  assert.deepEqual(commitCandidates(store, 'jo', tag, first, 'folder', 0.95), { added: 2, duplicates: 0 });
  // The re-run after a killed import: the same photos, plus one near-identical (re-encoded) and one new.
  const again = [...first, c('a2.jpg', unit(1, 0.01, 0)), c('c.jpg', unit(0, 0, 1))];
  assert.deepEqual(commitCandidates(store, 'jo', tag, again, 'folder', 0.95), { added: 1, duplicates: 3 });
  assert.equal(store.templatesOf(store.requirePerson('jo')).length, 3);
  // Another model's identical vector is not a duplicate: templates of two models never compare.
  assert.deepEqual(commitCandidates(store, 'jo', { id: 'other', sha256: 'c'.repeat(64) }, first, 'folder', 0.95), { added: 2, duplicates: 0 });
  store.close();
});

test('re-importing an export sets its groups and duplicates no template; UUIDs travel with it', () => {
  const a = GalleryStore.open(':memory:');
  const kim = a.ensurePerson('kim', ['staff', 'night']);
  a.addTemplates(kim, tag, [{ embedding: unit(1, 2, 3), quality: {}, source: 'cli' }]);
  a.addNegative(kim, tag, unit(3, 2, 1));
  const exported = exportGallery(a);
  const b = GalleryStore.open(':memory:');
  b.ensurePerson('kim', ['lobby']);
  assert.deepEqual(importGallery(b, exported, tag, 3), { people: 1, templates: 1, negatives: 1, duplicates: 0 });
  assert.deepEqual(b.requirePerson('kim').groups.sort(), ['lobby', 'night', 'staff']);
  assert.deepEqual(importGallery(b, exported, tag, 3), { people: 1, templates: 0, negatives: 0, duplicates: 2 });
  assert.equal(b.templatesOf(b.requirePerson('kim')).length, 1);
  // Into an empty gallery the person keeps their UUID, and so do the templates.
  const c = GalleryStore.open(':memory:');
  importGallery(c, exported, tag, 3);
  assert.equal(c.requirePerson('kim').uuid, kim.uuid);
  assert.equal(c.templatesOf(c.requirePerson('kim'))[0]!.uuid, a.templatesOf(kim)[0]!.uuid);
  assert.throws(() => importGallery(c, { ...exported, people: [{ ...exported.people[0]!, groups: ['a,b'] }] }, tag, 3), /group name "a,b"/);
  for (const s of [a, b, c]) s.close();
});

test('groups: add and remove keep the others; every change is a new version of the person', () => {
  const clock = new ManualClock();
  const store = GalleryStore.open(':memory:', { clock });
  const p = store.ensurePerson('lee');
  clock.advance(5);
  assert.deepEqual(store.updateGroups('lee', ['staff', 'night'], []), ['staff', 'night']);
  assert.deepEqual(store.updateGroups('lee', ['lobby'], ['night']), ['staff', 'lobby']);
  const after = store.requirePerson('lee');
  assert.ok(after.version > p.version, 'groups changed but the version did not');
  assert.equal(store.updateGroups('lee', ['staff'], []).length, 2);
  assert.equal(store.requirePerson('lee').version, after.version, 'a no-op changed the version');
  assert.throws(() => store.setGroups('lee', ['']), /group name/);
  store.close();
});

test('a follower gallery refuses local changes but takes replicated ones', () => {
  const store = GalleryStore.open(':memory:', { readOnly: 'read-only: fleet follower' });
  assert.throws(() => store.ensurePerson('max'), /fleet follower/);
  store.applyRecord({ uuid: '00000000-0000-4000-8000-000000000001', version: `${'1'.padStart(15, '0')}-00000-${'0'.repeat(16)}`, baseVersion: null, deleted: false, name: 'max', groups: [], createdAt: '2026-01-01T00:00:00.000Z', templates: [], negatives: [] });
  assert.equal(store.requirePerson('max').uuid, '00000000-0000-4000-8000-000000000001');
  assert.throws(() => store.renamePerson('max', 'maxine'), /fleet follower/);
  store.close();
});

test('two controllers enrolling one name at once: both people are kept (by UUID) and a name lookup asks which', () => {
  const store = GalleryStore.open(':memory:');
  const local = store.ensurePerson('nina');
  const remote = { uuid: '00000000-0000-4000-8000-0000000000aa', version: `${'2'.padStart(15, '0')}-00000-${'1'.repeat(16)}`, baseVersion: null, deleted: false as const, name: 'nina', groups: [], createdAt: '2026-01-01T00:00:00.000Z', templates: [], negatives: [] };
  store.applyRecord(remote);
  assert.equal(store.listPeople().length, 2);
  assert.throws(() => store.requirePerson('nina'), /2 people are named "nina".*rename one by its UUID/);
  store.renamePerson(remote.uuid, 'nina b');
  assert.equal(store.requirePerson('nina').uuid, local.uuid);
  assert.throws(() => store.renamePerson('nina b', 'nina'), /already exists/);
  store.close();
});

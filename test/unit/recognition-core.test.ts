import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IouTracker, iou, type Box } from '../../src/recognition/tracker.js';
import { fuse, type Observation } from '../../src/recognition/fusion.js';
import { DoorPolicy, type DoorRule } from '../../src/recognition/door-policy.js';

test('iou of identical, disjoint and half-overlapping boxes', () => {
  assert.equal(iou([0, 0, 10, 10], [0, 0, 10, 10]), 1);
  assert.equal(iou([0, 0, 10, 10], [20, 20, 5, 5]), 0);
  assert.ok(Math.abs(iou([0, 0, 10, 10], [5, 0, 10, 10]) - 50 / 150) < 1e-12);
});

test('tracker: a face drifting across frames keeps its track; a new face gets a new one; gaps end tracks', () => {
  const t = new IouTracker({ minIou: 0.3, maxGapMs: 500 });
  const a: Box = [100, 100, 80, 80];
  const first = t.update([a], 0).trackIds;
  const second = t.update([[108, 104, 82, 82], [400, 100, 80, 80]], 100).trackIds;
  assert.equal(second[0], first[0]);
  assert.notEqual(second[1], first[0]);
  // Two boxes competing for one track: the better overlap wins it.
  const third = t.update([[300, 300, 50, 50], [110, 106, 82, 82]], 200).trackIds;
  assert.equal(third[1], first[0]);
  // Unseen for longer than maxGapMs: the face at 400 (missed at 200 too) ends; the two seen at 200
  // were missed in one processed frame only and go on (an overloaded loop's frames can be that far apart)...
  assert.deepEqual(t.update([], 1000).ended.map((x) => x.box[0]), [400]);
  // ...until the second missed frame.
  const later = t.update([], 1100);
  assert.equal(later.ended.length, 2);
  // A face seen in every processed frame keeps its track however far apart the frames are.
  const slow = new IouTracker({ minIou: 0.3, maxGapMs: 500 });
  const [id] = slow.update([a], 0).trackIds;
  assert.deepEqual(slow.update([a], 5000), { trackIds: [id], ended: [] });
  assert.equal(t.active.length, 0);
});

const obs = (vote: string | null, weight = 1): Observation => ({ atMs: 0, vote, score: 0.8, margin: 0.3, weight });

test('fusion decides only when N of the last M agree', () => {
  const o = { n: 3, m: 5 };
  assert.deepEqual(fuse([obs('alice'), obs('alice')], o), { kind: 'undecided' });
  assert.equal(fuse([obs('alice'), obs('bob'), obs('alice'), obs('alice')], o).kind, 'person');
  const u = fuse([obs('unknown'), obs('unknown'), obs('alice'), obs('unknown')], o);
  assert.equal(u.kind, 'unknown');
  // Only the last M count.
  assert.deepEqual(fuse([obs('alice'), obs('alice'), obs('alice'), obs('bob'), obs('bob'), obs('x'), obs('y'), obs('z')], o), { kind: 'undecided' });
});

test('fusion weighs big sharp faces over small ones', () => {
  const o = { n: 2, m: 5 };
  // Three small 'bob' votes against two large 'alice' votes: alice has the weight majority.
  const d = fuse([obs('bob', 1), obs('alice', 5), obs('bob', 1), obs('alice', 5), obs('bob', 1)], o);
  assert.deepEqual(d.kind === 'person' && d.name, 'alice');
});

test('a track that never shows a usable face is decided poor-quality', () => {
  assert.equal(fuse([obs(null), obs(null), obs(null), obs(null), obs(null)], { n: 3, m: 5 }).kind, 'poor-quality');
  assert.equal(fuse([obs(null), obs(null)], { n: 3, m: 5 }).kind, 'undecided');
});

const door = (over: Partial<DoorRule> = {}): DoorRule => ({ name: 'front', allow: { everyone: true, people: [], groups: [] }, cooldownMs: 10_000, unknown: 'deny', multipleFaces: 'deny-if-stranger', ...over });
const alice = { kind: 'person' as const, name: 'alice', votes: 3, share: 1 };

test('door policy: grant, cooldown, not allowed, groups, unknown, quality, stranger present', () => {
  const p = new DoorPolicy([door(), door({ name: 'garage', allow: { everyone: false, people: ['bob'], groups: ['family'] } })]);
  const first = p.decide({ fused: alice, groups: [], nowMs: 0, strangerInView: false });
  assert.deepEqual(first, [
    { door: 'front', granted: true, reason: 'granted', relay: 'pulse' },
    { door: 'garage', granted: false, reason: 'denied-not-allowed', relay: 'none' },
  ]);
  assert.equal(p.decide({ fused: alice, groups: [], nowMs: 5_000, strangerInView: false })[0]!.relay, 'cooldown');
  assert.equal(p.decide({ fused: alice, groups: [], nowMs: 20_000, strangerInView: false })[0]!.relay, 'pulse');
  assert.equal(p.decide({ fused: alice, groups: ['family'], nowMs: 40_000, strangerInView: false })[1]!.reason, 'granted');
  assert.equal(p.decide({ fused: { kind: 'unknown', votes: 3, share: 1 }, groups: [], nowMs: 0, strangerInView: false })[0]!.reason, 'denied-unknown');
  assert.equal(p.decide({ fused: { kind: 'poor-quality', votes: 5 }, groups: [], nowMs: 0, strangerInView: false })[0]!.reason, 'denied-quality');
  assert.equal(p.decide({ fused: alice, groups: [], nowMs: 90_000, strangerInView: true })[0]!.reason, 'denied-stranger-present');
  const lenient = new DoorPolicy([door({ multipleFaces: 'grant-allowed', unknown: 'ignore' })]);
  assert.equal(lenient.decide({ fused: alice, groups: [], nowMs: 0, strangerInView: true })[0]!.relay, 'pulse');
  assert.deepEqual(lenient.decide({ fused: { kind: 'unknown', votes: 3, share: 1 }, groups: [], nowMs: 0, strangerInView: false }), []);
});

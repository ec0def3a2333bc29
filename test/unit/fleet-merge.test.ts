// The pure cores of fleet sync: hybrid logical clock, last-writer-wins merge, signed and
// encrypted records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareHlc, formatHlc, parseHlc, receiveHlc, tickHlc } from '../../src/gallery/hlc.js';
import { mergeRecord } from '../../src/fleet/merge.js';
import { decodeRecord, encodeRecord } from '../../src/fleet/record-codec.js';
import { generateSiteKeys } from '../../src/fleet/site-keys.js';
import { fleetView } from '../../src/fleet/fleet-status.js';
import type { PersonRecord } from '../../src/gallery/gallery-store.js';

const A = 'a'.repeat(16);
const B = 'b'.repeat(16);
const v = (wallMs: number, counter = 0, node = A) => formatHlc({ wallMs, counter, node });

test('hlc: follows wall time, orders events in one millisecond, never goes back with the clock', () => {
  const t1 = tickHlc(undefined, 1000, A);
  assert.deepEqual(t1, { wallMs: 1000, counter: 0, node: A });
  const t2 = tickHlc(t1, 1000, A);
  assert.equal(t2.counter, 1);
  // The wall clock steps back (NTP): versions still increase.
  const t3 = tickHlc(t2, 500, A);
  assert.ok(compareHlc(formatHlc(t3), formatHlc(t2)) > 0);
  assert.equal(tickHlc(t3, 2000, A).counter, 0);
  // Text round-trips and sorts as versions do.
  assert.deepEqual(parseHlc(formatHlc(t3)), t3);
  assert.throws(() => parseHlc('12-3-x'), /not a version/);
  assert.ok(v(999, 5) < v(1000, 0));
});

test('hlc: receiving a version from a controller whose clock is ahead moves this clock past it', () => {
  const remote = { wallMs: 5000, counter: 3, node: B };
  const r = receiveHlc({ wallMs: 1000, counter: 0, node: A }, remote, 1200, A);
  assert.deepEqual(r, { wallMs: 5000, counter: 4, node: A });
  const next = tickHlc(r, 1300, A);
  assert.ok(compareHlc(formatHlc(next), formatHlc(remote)) > 0, 'a change made after seeing a record must win over it');
  assert.deepEqual(receiveHlc({ wallMs: 7000, counter: 2, node: A }, remote, 6000, A), { wallMs: 7000, counter: 3, node: A });
  assert.deepEqual(tickHlc({ wallMs: 7, counter: 99_999, node: A }, 7, A), { wallMs: 8, counter: 0, node: A });
});

test('merge: last writer wins; older and replayed copies change nothing; tombstones beat stale copies', () => {
  const ctx = { nowMs: 10_000, tombstoneTtlMs: 5_000, maxClockSkewMs: 1_000 };
  const live = (version: string, baseVersion: string | null = null) => ({ version, baseVersion, deleted: false });
  assert.deepEqual(mergeRecord(undefined, live(v(1)), ctx), { action: 'apply', reason: 'new' });
  assert.deepEqual(mergeRecord(live(v(1)), live(v(2), v(1)), ctx), { action: 'apply', reason: 'newer' });
  // Changed here (v2 on v1) and elsewhere (v3 on v1) at once: the later wins, counted as a conflict.
  assert.deepEqual(mergeRecord(live(v(2), v(1)), live(v(3, 0, B), v(1)), ctx), { action: 'apply', reason: 'concurrent-newer' });
  assert.deepEqual(mergeRecord(live(v(3)), live(v(2)), ctx), { action: 'keep', reason: 'older' });
  assert.deepEqual(mergeRecord(live(v(3)), live(v(3)), ctx), { action: 'keep', reason: 'same' });
  const tomb = { version: v(5), baseVersion: v(3), deleted: true };
  assert.deepEqual(mergeRecord(live(v(3)), { ...tomb, deletedAtMs: 5 }, ctx), { action: 'apply', reason: 'newer' });
  // The stale copy of an offline controller does not bring the person back...
  assert.deepEqual(mergeRecord(tomb, live(v(3)), ctx), { action: 'keep', reason: 'older' });
  // ...but a change made after the deletion does (last writer wins).
  assert.deepEqual(mergeRecord(tomb, live(v(6), v(5)), ctx), { action: 'apply', reason: 'newer' });
  // An expired tombstone is not taken where the person is unknown; a version from the far future is refused.
  assert.deepEqual(mergeRecord(undefined, { ...tomb, deletedAtMs: 4_000 }, ctx), { action: 'keep', reason: 'expired-tombstone' });
  assert.deepEqual(mergeRecord(undefined, { ...tomb, deletedAtMs: 9_000 }, ctx), { action: 'apply', reason: 'new' });
  assert.deepEqual(mergeRecord(live(v(3)), live(v(11_001)), ctx), { action: 'reject', reason: 'from-the-future' });
  // Order does not matter: every permutation of three versions ends with the newest.
  const versions = [live(v(1)), live(v(2), v(1)), live(v(3, 0, B), v(1))];
  for (const order of [[0, 1, 2], [2, 1, 0], [1, 2, 0], [2, 0, 1]]) {
    let local: ReturnType<typeof live> | undefined;
    for (const i of order) if (mergeRecord(local, versions[i]!, ctx).action === 'apply') local = versions[i];
    assert.equal(local!.version, v(3, 0, B));
  }
});

const person: PersonRecord = {
  uuid: '11111111-2222-4333-8444-555555555555',
  version: v(1000),
  baseVersion: null,
  deleted: false,
  name: 'alice',
  groups: ['staff'],
  createdAt: '2026-01-01T00:00:00.000Z',
  templates: [{ uuid: '11111111-2222-4333-8444-000000000001', modelId: 'm', modelSha: 'c'.repeat(64), embedding: Float32Array.from([0.25, -0.5, 0.125]), quality: { faceSize: 100 }, source: 'cli', sourceRef: 'a.jpg', crop: null, createdAt: '2026-01-01T00:00:00.000Z' }],
  negatives: [],
};

test('records: signed and encrypted; the broker sees no name and no embedding; forgeries and moved records are refused', () => {
  const keys = generateSiteKeys();
  const ctx = { site: 'hq', keys };
  const wire = encodeRecord(person, { site: 'hq', origin: 'door-1', keys });
  const text = wire.toString();
  assert.ok(!text.includes('alice') && !text.includes('staff'), 'name or group in the clear');
  const raw = Buffer.from(person.templates[0]!.embedding.buffer);
  assert.ok(!text.includes(raw.toString('base64')) && !wire.includes(raw), 'embedding in the clear');
  const ok = decodeRecord(wire, person.uuid, ctx);
  assert.ok(ok.ok, 'a genuine record was refused');
  assert.deepEqual(ok.record, person);
  assert.equal(ok.origin, 'door-1');

  const forged = JSON.parse(text) as Record<string, unknown>;
  forged.version = v(9999);
  assert.match((decodeRecord(Buffer.from(JSON.stringify(forged)), person.uuid, ctx) as { reason: string }).reason, /bad signature/);
  const otherSite = generateSiteKeys();
  assert.match((decodeRecord(encodeRecord(person, { site: 'hq', origin: 'x', keys: otherSite }), person.uuid, ctx) as { reason: string }).reason, /bad signature/);
  assert.match((decodeRecord(wire, '99999999-2222-4333-8444-555555555555', ctx) as { reason: string }).reason, /published on the topic of/);
  assert.match((decodeRecord(wire, person.uuid, { site: 'branch', keys }) as { reason: string }).reason, /signed for site hq/);
  // Signed with the site key but encrypted with another data key: refused, not thrown.
  const wrongData = encodeRecord(person, { site: 'hq', origin: 'x', keys: { ...keys, data: generateSiteKeys().data } });
  assert.match((decodeRecord(wrongData, person.uuid, ctx) as { reason: string }).reason, /does not decrypt/);
  assert.match((decodeRecord(Buffer.from('{"v":1'), person.uuid, ctx) as { reason: string }).reason, /not JSON/);
  assert.throws(() => encodeRecord(person, { site: 'hq', origin: 'x', keys: { verify: keys.verify, data: keys.data } }), /follower/);
  const tomb = decodeRecord(encodeRecord({ uuid: person.uuid, version: v(2000), baseVersion: v(1000), deleted: true, deletedAt: '2026-01-02T00:00:00.000Z' }, { site: 'hq', origin: 'x', keys }), person.uuid, ctx);
  assert.ok(tomb.ok && tomb.record.deleted, 'tombstone did not round-trip');
});

test('fleet view: lag behind the newest version, convergence by hash, controllers down', () => {
  const view = fleetView([
    { controller: 'b', up: true, galleryVersion: v(4000), galleryHash: 'h1' },
    { controller: 'a', up: true, galleryVersion: v(5000), galleryHash: 'h2' },
    { controller: 'c', up: false },
  ]);
  assert.deepEqual(view.controllers.map((c) => [c.controller, c.lagMs]), [['a', 0], ['b', 1000], ['c', null]]);
  assert.equal(view.up, 2);
  assert.equal(view.converged, false);
  assert.equal(fleetView([{ controller: 'a', up: true, galleryHash: 'h' }, { controller: 'b', up: true, galleryHash: 'h' }]).converged, true);
});

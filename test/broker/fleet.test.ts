// Fleet sync on loopback with real brokers: three controllers on two mosquittos bridged to each
// other (A on broker 1; B and C on broker 2), the bridge running through a TCP link the test can
// cut to partition the site.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { EventBus, type GalleryChanged } from '../../src/core/event-bus.js';
import { GalleryStore, type ModelTag, type PersonRecord } from '../../src/gallery/gallery-store.js';
import { FleetSync, type FleetLog, type FleetSettings } from '../../src/fleet/fleet-sync.js';
import { encodeRecord } from '../../src/fleet/record-codec.js';
import { generateSiteKeys, loadSiteKeys, writeSiteKeys, type SiteKeys } from '../../src/fleet/site-keys.js';
import { siteTopics } from '../../src/fleet/topics.js';
import { SearchIndex } from '../../src/matching/search-index.js';
import { readStatuses } from '../../src/cli/commands/fleet.js';
import { fleetView } from '../../src/fleet/fleet-status.js';
import { createRng } from '../../src/util/rng.js';
import { ManualClock } from '../../src/util/manual-clock.js';
import { Mosquitto, freePort } from '../helpers/mosquitto.js';

const SITE = 'hq';
const model: ModelTag = { id: 'mobilefacenet-fp32', sha256: 'd'.repeat(64) };
const otherModel: ModelTag = { id: 'arcface-r50', sha256: 'e'.repeat(64) };
const policy = { threshold: 0.5, margin: 0.05, aggregation: 'centroid' as const, negativeMargin: 0 };

/** The bridge's TCP path from broker 2 to broker 1: down() is a partition. */
class Link {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  constructor(
    readonly port: number,
    private readonly target: () => number,
  ) {}
  up(): Promise<void> {
    this.server = createServer((inbound) => {
      const outbound = connect(this.target(), '127.0.0.1');
      for (const s of [inbound, outbound]) {
        this.sockets.add(s);
        s.on('error', () => s.destroy());
        s.on('close', () => this.sockets.delete(s));
      }
      inbound.pipe(outbound);
      outbound.pipe(inbound);
    });
    return new Promise((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
  }
  down(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

interface Controller {
  id: string;
  store: GalleryStore;
  bus: EventBus;
  fleet: FleetSync;
  log: string[];
  changes: GalleryChanged[];
  url: string;
  settings: FleetSettings;
}

function captureLog(lines: string[]): FleetLog {
  const at = (level: string) => (msg: unknown) => void lines.push(`${level}: ${String(msg)}`);
  return { info: at('info'), warn: at('warn'), debug: at('debug'), error: at('error') } as unknown as FleetLog;
}

let work: string;
let broker1: Mosquitto;
let broker2: Mosquitto;
let link: Link;
let keys: SiteKeys;
let keyFiles: { signingKeyFile: string; verifyKeyFile: string; dataKeyFile: string };
const controllers: Controller[] = [];
/**
 * The clock the galleries date their changes by (the physical part of each version): a test that
 * needs one edit to come later than another moves it, instead of waiting for the wall clock to.
 */
const galleryClock = new ManualClock(Date.now());

function settingsFor(id: string, url: string, over: Partial<FleetSettings> = {}): FleetSettings {
  return { url, site: SITE, controllerId: id, role: 'member', keys, tombstoneTtlMs: 90 * 86_400_000, shareCrops: false, maxClockSkewMs: 300_000, models: [model.sha256], reconnectMs: 200, batchMs: 20, ...over };
}

async function startController(id: string, url: string, over: Partial<FleetSettings> = {}, store?: GalleryStore): Promise<Controller> {
  const log: string[] = [];
  const bus = new EventBus();
  const changes: GalleryChanged[] = [];
  bus.on('gallery.changed', (e) => void changes.push(e));
  const s = store ?? GalleryStore.open(join(mkdtempSync(join(work, `${id}-`)), 'gallery.db'), { clock: galleryClock, ...(over.role === 'follower' ? { readOnly: 'fleet follower' } : {}) });
  const settings = settingsFor(id, url, over);
  const fleet = new FleetSync(settings, s, bus, captureLog(log));
  fleet.start();
  await fleet.whenSynced();
  const c = { id, store: s, bus, fleet, log, changes, url, settings };
  controllers.push(c);
  return c;
}

async function stopController(c: Controller): Promise<void> {
  await c.fleet.stop();
  controllers.splice(controllers.indexOf(c), 1);
}

/** Polls until `cond` holds; fails after `ms` (a bound, not a wait: it returns as soon as it holds). */
async function waitFor(what: string, cond: () => boolean, ms = 2000): Promise<number> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - start;
}

function face(seed: number): Float32Array {
  const rng = createRng(seed);
  const v = Float32Array.from({ length: 192 }, () => rng.normal());
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

/** A local change, as the daemon's admin service makes it: write, then say who changed. */
function enroll(c: Controller, name: string, seed: number, m: ModelTag = model): string {
  const p = c.store.ensurePerson(name);
  c.store.addTemplates(p, m, [{ embedding: face(seed), quality: { faceSize: 120 }, source: 'cli' }]);
  c.bus.emit('gallery.changed', { ...c.store.counts(), reason: 'enrolled', personUuids: [p.uuid] });
  return p.uuid;
}

function changed(c: Controller, uuid: string, reason: string): void {
  c.bus.emit('gallery.changed', { ...c.store.counts(), reason, personUuids: [uuid] });
}

const names = (c: Controller) => c.store.listPeople().map((p) => p.name);

let A: Controller, B: Controller, C: Controller;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'facegate-fleet-'));
  keyFiles = writeSiteKeys(mkdtempSync(join(work, 'keys-')));
  keys = loadSiteKeys(keyFiles);
  broker1 = new Mosquitto(mkdtempSync(join(work, 'b1-')));
  await broker1.start();
  link = new Link(await freePort(), () => broker1.port);
  await link.up();
  broker2 = new Mosquitto(mkdtempSync(join(work, 'b2-')), {
    // The bridge: one connection, the whole site both ways; a fast retry so a healed partition reconnects in about a second.
    extra: ['connection site-bridge', `address 127.0.0.1:${link.port}`, 'topic facegate/site/# both 1', 'restart_timeout 1 1', 'cleansession true'],
  });
  await broker2.start();
  A = await startController('door-a', broker1.url);
  B = await startController('door-b', broker2.url);
  // C runs another embedder: templates of the model it does not run are kept, not searched.
  C = await startController('door-c', broker2.url, { models: [otherModel.sha256] });
});

after(async () => {
  for (const c of [...controllers]) await stopController(c);
  await link?.down();
  await broker2?.stop();
  await broker1?.stop();
});

test('an enrollment on A reaches B and C within 2 s, is identified there; groups and negatives follow', async () => {
  const uuid = enroll(A, 'alice', 1);
  const ms = await waitFor('alice on B and C', () => [B, C].every((c) => c.store.findPerson('alice')?.uuid === uuid && c.store.templatesOf(c.store.findPerson('alice')!).length === 1));
  assert.ok(ms < 2000, `took ${ms} ms`);
  // B's daemon is told, and its search finds her from the replicated template.
  await waitFor('B told the gallery changed (one event per batch)', () => B.changes.some((e) => e.reason === 'replicated' && e.personUuids?.includes(uuid)), 500);
  const index = new SearchIndex(B.store.matrixFor(model), B.store.negativesMatrixFor(model));
  const found = await index.identify(face(1), model.sha256, policy);
  assert.equal(found.name, 'alice');
  assert.ok(found.score > 0.99, `score ${found.score}`);
  assert.match(C.log.join('\n'), /alice has templates of mobilefacenet-fp32, which this controller does not run: kept, not searched/);
  assert.equal(C.store.matrixFor(otherModel).personIds.length, 0);

  B.store.setGroups('alice', ['staff']);
  changed(B, uuid, 'groups');
  // One after the other: edits of one person on two controllers at once are a conflict (the later wins whole).
  await waitFor('groups on C', () => C.store.findPerson('alice')?.groups[0] === 'staff');
  C.store.addNegative(C.store.requirePerson('alice'), model, face(99), 'look-alike');
  changed(C, uuid, 'negative');
  await waitFor('groups and negative everywhere', () => [A, B, C].every((c) => c.store.findPerson('alice')?.groups[0] === 'staff' && c.store.negativesOf(c.store.requirePerson('alice')).length === 1));
  await waitFor('one gallery', () => new Set([A, B, C].map((c) => c.store.galleryHash())).size === 1);
});

test('a deletion on C removes the person everywhere; the stale copy of a controller that was offline does not bring them back', async () => {
  const uuid = enroll(A, 'bob', 2);
  await waitFor('bob everywhere', () => [B, C].every((c) => c.store.findPerson('bob') !== undefined));
  // A signed copy of bob as he was: what a controller offline since then still holds.
  const stale = encodeRecord(A.store.record(uuid)!, { site: SITE, origin: 'door-b', keys });

  const bStore = B.store;
  await stopController(B);
  C.store.removePerson('bob');
  changed(C, uuid, 'deleted');
  await waitFor('bob gone from A', () => A.store.findPerson('bob') === undefined);
  assert.ok(bStore.findPerson('bob'), 'B was offline and should still have bob');

  // B comes back: the retained tombstone removes him there too.
  B = await startController('door-b', broker2.url, {}, bStore);
  await waitFor('bob gone from B', () => B.store.findPerson('bob') === undefined);
  assert.equal((B.store.db.prepare('SELECT count(*) AS n FROM templates t JOIN people p ON p.id = t.person_id WHERE p.uuid = ?').get(uuid) as { n: number }).n, 0);

  // The stale copy is published again (as that controller would, or a replay): nobody takes it,
  // and the broker's retained copy is put back to the tombstone for late joiners.
  const client = await mqtt.connectAsync(broker1.url);
  await client.publishAsync(siteTopics(SITE).person(uuid), stale, { qos: 1, retain: true });
  await waitFor('stale copy ignored', () => [A, B, C].every((c) => c.log.some((l) => l.includes(`ignored an older copy of ${uuid}`))));
  assert.ok([A, B, C].every((c) => c.store.findPerson('bob') === undefined), 'a stale copy brought bob back');
  const retained = await new Promise<{ deleted: boolean }>((resolve) => {
    const probe = mqtt.connect(broker2.url);
    probe.on('message', (_t, p) => {
      const r = JSON.parse(p.toString()) as { deleted: boolean };
      if (r.deleted) {
        probe.end();
        resolve(r);
      }
    });
    probe.subscribe(siteTopics(SITE).person(uuid), { qos: 1 });
  });
  assert.equal(retained.deleted, true);
  await client.endAsync();
});

test('a partition with edits on both sides heals to the same gallery hash everywhere', async () => {
  await link.down();
  // Side 1 (A) and side 2 (B, C) change the site separately, alice on both at once.
  const carol = enroll(A, 'carol', 3);
  const alice = A.store.requirePerson('alice').uuid;
  A.store.setGroups('alice', ['staff', 'night']);
  changed(A, alice, 'groups');
  galleryClock.advance(1000);
  const dave = enroll(B, 'dave', 4);
  C.store.renamePerson('alice', 'alicia');
  changed(C, alice, 'renamed');
  await waitFor('dave reaches C on its side', () => C.store.findPerson('dave') !== undefined);
  assert.equal(A.store.findPerson('dave'), undefined, 'the partition leaked');
  assert.notEqual(A.store.galleryHash(), B.store.galleryHash());

  await link.up();
  await waitFor('one gallery after the heal', () => new Set([A, B, C].map((c) => c.store.galleryHash())).size === 1, 8000);
  for (const c of [A, B, C]) {
    assert.ok(c.store.findPerson(carol) && c.store.findPerson(dave), `${c.id} misses carol or dave`);
    // Last writer wins for alice as a whole: C's rename came later than A's groups.
    assert.equal(c.store.findPerson(alice)!.name, 'alicia');
  }
  const conflicts = [A, B, C].reduce((n, c) => n + c.fleet.metrics().conflicts, 0);
  assert.ok(conflicts >= 1, 'the concurrent edits of alice were not counted as a conflict');
  await waitFor('every status says converged', () => A.fleet.metrics().converged && A.fleet.metrics().controllersUp === 3);

  // The same figures as `facegate fleet status` reads them (its own client, the retained statuses).
  const config = join(work, 'fleet.yaml');
  writeFileSync(config, `fleet:\n  url: ${broker2.url}\n  site: ${SITE}\n  keys:\n    signingKeyFile: ${keyFiles.signingKeyFile}\n    dataKeyFile: ${keyFiles.dataKeyFile}\n`);
  const status = fleetView((await readStatuses(config, 2000)).statuses);
  assert.equal(status.up, 3);
  assert.equal(status.converged, true);
  assert.deepEqual(status.controllers.map((c) => [c.controller, c.galleryHash, c.lagMs]), [A, B, C].map((c) => [c.id, A.store.galleryHash(), 0]));
});

test('forged records change nothing and are logged; a follower that joins late converges and publishes nothing', async () => {
  const hash = A.store.galleryHash();
  const alice = A.store.requirePerson('alicia');
  const rec = A.store.record(alice.uuid) as PersonRecord;
  const attacker = generateSiteKeys();
  const client = await mqtt.connectAsync(broker1.url);
  // Newer version, attacker's face, signed with another key.
  const forged = encodeRecord({ ...rec, version: rec.version.replace(/^\d{15}/, (ms) => String(Number(ms) + 1000).padStart(15, '0')), templates: [{ ...rec.templates[0]!, uuid: '00000000-0000-4000-8000-00000000000f', embedding: face(666) }] }, { site: SITE, origin: 'mallory', keys: attacker });
  await client.publishAsync(siteTopics(SITE).person(alice.uuid), forged, { qos: 1, retain: true });
  // A genuine record with one byte of its signature changed.
  const genuine = JSON.parse(encodeRecord(rec, { site: SITE, origin: 'door-a', keys }).toString()) as { sig: string; version: string };
  genuine.version = genuine.version.replace(/^\d{15}/, (ms) => String(Number(ms) + 5).padStart(15, '0'));
  await client.publishAsync(siteTopics(SITE).person('00000000-0000-4000-8000-0000000000ee'), Buffer.from(JSON.stringify(genuine)), { qos: 1 });
  await client.publishAsync(siteTopics(SITE).person('00000000-0000-4000-8000-0000000000ef'), 'not json', { qos: 1 });
  await waitFor('refusals logged', () => [A, B, C].every((c) => c.log.filter((l) => l.startsWith('warn: fleet: refused a record')).length >= 3));
  for (const c of [A, B, C]) {
    assert.equal(c.store.galleryHash(), hash, `${c.id} changed by a forged record`);
    assert.match(c.log.join('\n'), /bad signature/);
  }
  const index = new SearchIndex(B.store.matrixFor(model));
  assert.notEqual((await index.identify(face(666), model.sha256, policy)).name, 'alicia', 'the forged face opens the door');
  await client.endAsync();

  // The forged copy was retained on the broker: the members put the genuine record back, so a
  // follower that joins now gets the whole site.
  const follower = await startController('lobby', broker2.url, { role: 'follower', keys: { verify: keys.verify, data: keys.data } });
  await waitFor('the follower holds the site gallery', () => follower.store.galleryHash() === hash);
  assert.equal(follower.store.findPerson(alice.uuid)!.name, 'alicia');
  assert.throws(() => follower.store.ensurePerson('eve'), /fleet follower/);
  assert.equal(follower.fleet.metrics().published, 0);
});

// Fleet sync between two real daemons in this process (each its own gallery, event log and
// scripted camera) on one real mosquitto: a person enrolled on A by upload opens B's door; deleted
// on B, they are gone from A's gallery too. The component-level cases (partitions, forged and
// stale records, three controllers on two bridged brokers) are in test/broker/fleet.test.ts.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FRANCK_FRAMES } from '../../src/fixtures/sample-photos.js';
import { writeSiteKeys } from '../../src/fleet/site-keys.js';
import { requireModels, samplePhotos } from '../helpers/models.js';
import { startDaemon } from '../helpers/daemon.js';
import { visit } from '../helpers/scripted-camera.js';
import { Mosquitto } from '../helpers/mosquitto.js';

let photos: Record<string, string>;
const web = { via: 'web' as const, name: 'ann' };

before(async () => {
  requireModels();
  photos = await samplePhotos();
});

test('two daemons, one gallery: enrolled on A, B opens for them; deleted on B, A forgets them', { timeout: 120_000 }, async () => {
  const work = mkdtempSync(join(tmpdir(), 'facegate-fleet-daemons-'));
  const broker = new Mosquitto(work, { extra: ['max_queued_messages 0'] });
  await broker.start();
  const keys = writeSiteKeys(mkdtempSync(join(work, 'keys-')));
  const fleet = (id: string) => ({ fleet: { url: broker.url, site: 'hq', controllerId: id, keys } });
  const franck = FRANCK_FRAMES.map((k) => photos[k]!);
  const a = await startDaemon(mkdtempSync(join(work, 'a-')), { script: [], hold: true, extra: fleet('door-a') });
  const b = await startDaemon(mkdtempSync(join(work, 'b-')), { script: visit(franck.slice(6, 11), 0), hold: true, extra: fleet('door-b') });
  try {
    const enrolled = await a.daemon.admin.enrollFromImages('franck', franck.slice(0, 4).map((f) => ({ source: f, data: readFileSync(f) })), web);
    assert.ok(enrolled.added >= 1, JSON.stringify(enrolled));
    await b.waitFor('the record on B', () => b.daemon.admin.listPeople().people.some((p) => p.name === 'franck') && b.daemon.status().gallery.people === 1, 10_000);
    const uuid = a.daemon.admin.listPeople().people[0]!.uuid;
    assert.equal(b.daemon.admin.listPeople().people[0]!.uuid, uuid, 'the same person, not a copy');

    b.camera!.play();
    await b.daemon.finished();
    assert.deepEqual(b.events.filter((e) => e.decision === 'granted').map((e) => [e.person?.name, e.person?.uuid, e.relay]), [['franck', uuid, 'pulse']]);

    const deleted = await b.daemon.admin.deletePerson('franck', web);
    assert.equal(deleted.verified, true);
    await a.waitFor('the deletion on A', () => a.daemon.admin.listPeople().people.length === 0 && a.daemon.status().gallery.people === 0, 10_000);
  } finally {
    await a.daemon.stop();
    await b.daemon.stop();
    await broker.stop();
  }
});

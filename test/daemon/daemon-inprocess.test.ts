// The daemon in-process on a scripted camera, without MQTT: the admin service does what a front
// end asks (enroll from uploads, from an unknown visitor's event, mark wrong, delete with read-back),
// the event log records every decision with its snapshot, and a gallery damaged while the daemon
// runs is noticed (readiness, log with the path, no "verified" deletion, no silent restart).
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FRANCK_FRAMES } from '../../src/fixtures/sample-photos.js';
import { EventLog } from '../../src/events/event-log.js';
import { requireModels, samplePhotos } from '../helpers/models.js';
import { startDaemon } from '../helpers/daemon.js';
import { visit } from '../helpers/scripted-camera.js';
import { ManualClock } from '../../src/util/manual-clock.js';

let work: string;
let photos: Record<string, string>;
const web = { via: 'web' as const, name: 'ann' };

before(async () => {
  requireModels();
  photos = await samplePhotos();
  work = mkdtempSync(join(tmpdir(), 'facegate-inprocess-'));
});

test('without MQTT: enroll by upload, every decision recorded with a snapshot, enroll a visitor, mark wrong, delete everywhere', async () => {
  const dir = mkdtempSync(join(work, 'admin-'));
  const franck = FRANCK_FRAMES.map((k) => photos[k]!);
  // Franck walks up, leaves; 3 s later a stranger (not enrolled yet) walks up.
  const script = [...visit(franck.slice(5, 11), 0), ...visit(Array(5).fill(photos.audrey!), 3000)];
  // On the script's time: the 200 ms pulse ends during franck's visit on any machine.
  const clock = new ManualClock(Date.now());
  const d = await startDaemon(dir, { script, hold: true, clock, extra: { events: { snapshots: { enabled: true }, unknownFaces: true }, doors: [{ name: 'front', relay: { pin: 17, pulseMs: 200 } }] } });
  try {
    const uploads = [...franck.slice(0, 4).map((f) => ({ source: f.split('/').at(-1)!, data: readFileSync(f) })), { source: 'notes.txt', data: Buffer.from('not a photo') }];
    const enrolled = await d.daemon.admin.enrollFromImages('franck', uploads, web);
    assert.equal(enrolled.person, 'franck');
    assert.ok(enrolled.added >= 1, JSON.stringify(enrolled));
    assert.deepEqual(enrolled.rejected.filter((r) => r.source === 'notes.txt').map((r) => /not a readable image/.test(r.reason)), [true]);
    await assert.rejects(d.daemon.admin.enrollFromImages('../etc', uploads, web), /name/i);

    d.camera!.play();
    await d.daemon.finished();
    const granted = d.events.filter((e) => e.decision === 'granted');
    const strangers = d.events.filter((e) => e.reason === 'denied-unknown');
    assert.deepEqual(granted.map((e) => [e.person?.name, e.relay]), [['franck', 'pulse']]);
    assert.equal(strangers.length, 1);
    assert.ok(d.gpio.edgesFor(17).length >= 3, 'the relay did not pulse');

    // Every decision is in the event log, searchable, with the face it was made on.
    const history = d.daemon.admin.events({ kind: 'recognition' });
    assert.deepEqual(history.map((e) => e.id).sort(), d.events.map((e) => e.eventId).sort());
    assert.ok(history.every((e) => e.hasSnapshot));
    const jpeg = d.daemon.admin.eventSnapshot(granted[0]!.eventId)!;
    assert.deepEqual([...jpeg.subarray(0, 2)], [0xff, 0xd8]);
    assert.deepEqual(d.daemon.admin.events({ person: 'franck', reason: 'granted' }).map((e) => e.id), [granted[0]!.eventId]);
    const audit = d.daemon.admin.events({ kind: 'admin' });
    assert.ok(audit.some((e) => e.reason === 'person.enroll' && (e.payload.actor as { name: string }).name === 'ann'), 'the upload was not audited');

    // The stranger becomes a person from their event; "that was not franck" adds a negative.
    assert.deepEqual(await d.daemon.admin.enrollFromEvent(strangers[0]!.eventId, 'audrey', web), { person: 'audrey', templates: 1 });
    await assert.rejects(d.daemon.admin.enrollFromEvent(granted[0]!.eventId, 'bob', web), /only unknown visitors/);
    const wrong = await d.daemon.admin.markWrong(granted[0]!.eventId, undefined, web);
    assert.equal(wrong.person, 'franck');
    await assert.rejects(d.daemon.admin.markWrong(granted[0]!.eventId, undefined, web), /already marked wrong/);
    assert.deepEqual(d.daemon.admin.listPeople().people.map((p) => [p.name, p.negatives]), [['audrey', 0], ['franck', 1]]);

    const deleted = await d.daemon.admin.deletePerson('franck', web);
    assert.deepEqual([deleted.verified, deleted.eventEmbeddings, deleted.snapshots, deleted.negatives], [true, 1, 1, 1]);
    assert.equal(d.daemon.admin.eventSnapshot(granted[0]!.eventId), undefined);
    assert.deepEqual(d.daemon.admin.listPeople().people.map((p) => p.name), ['audrey']);
    assert.equal(d.daemon.status().gallery.people, 1, 'the search snapshot still holds the deleted person');
  } finally {
    await d.daemon.stop();
  }
  assert.ok(d.messages().some((m) => /^front: relay released \(timeout\) after \d+ ms$/.test(m)), 'no log line for the end of the pulse');
  // The record survives the daemon, and it was written without any transport configured.
  const log = EventLog.open(join(dir, 'events.db'), { keepDays: 7, snapshotKeepDays: 7 });
  assert.ok(log.recorded >= 3);
  log.close();
  assert.equal(statSync(join(dir, 'events.db')).mode & 0o777, 0o600);
});

test('a gallery damaged while the daemon runs: readiness fails naming the file, deletion is not "verified", a restart refuses it', async () => {
  const dir = mkdtempSync(join(work, 'corrupt-'));
  const d = await startDaemon(dir, { script: [], hold: true });
  const path = join(dir, 'gallery.db');
  try {
    await d.daemon.admin.enrollFromImages('franck', FRANCK_FRAMES.slice(0, 3).map((k) => ({ source: k, data: readFileSync(photos[k]!) })), web);
    d.daemon.admin.listPeople();
    // Checkpoint the WAL into the file, then scribble over its pages as a failing SD card would.
    await d.daemon.admin.setGroups('franck', ['staff'], web);
    const store = (d.daemon as unknown as { gallery: { store: { db: { pragma(s: string): unknown } } } }).gallery.store;
    store.db.pragma('wal_checkpoint(TRUNCATE)');
    const fd = openSync(path, 'r+');
    const size = statSync(path).size;
    for (let at = 4096; at < size; at += 4096) writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, at);
    closeSync(fd);

    const gallery = (d.daemon as unknown as { gallery: { checkIntegrity(): string | null } }).gallery;
    assert.ok(gallery.checkIntegrity(), 'the damage went unnoticed');
    const status = d.daemon.status();
    assert.equal(status.ready, false);
    assert.match(status.checks.gallery!.detail, new RegExp(path.replace(/[.]/g, '\\.')));
    assert.ok(d.messages().some((m) => m.includes(`gallery ${path} is damaged`)));
    const deleted = await d.daemon.admin.deletePerson('franck', web).catch((err: Error) => ({ verified: false, error: err.message }));
    assert.equal(deleted.verified, false);
  } finally {
    await d.daemon.stop();
  }
  await assert.rejects(startDaemon(dir, { script: [], hold: true }), (err: Error) => err.message.includes(path) && /damaged|malformed|not a database/.test(err.message));
});

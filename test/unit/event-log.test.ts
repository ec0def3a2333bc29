// The event log: transport-neutral records, one delivery queue per consumer, retention, person
// deletion, and the upgrade of a facegate 0.1 outbox file in place. Real SQLite files, a fake clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { EventLog, type NewLogEvent } from '../../src/events/event-log.js';
import { EVENT_LOG_MIGRATIONS } from '../../src/events/migrations.js';
import { ManualClock } from '../../src/util/manual-clock.js';

const DAY = 86_400_000;
const model = { id: 'mobilefacenet-fp32', sha256: 'abc' };
const dir = () => mkdtempSync(join(tmpdir(), 'facegate-events-'));

function recognition(id: string, person: { id: number; name: string } | null, extra: Partial<NewLogEvent> = {}): NewLogEvent {
  return { id, kind: 'recognition', payload: { version: 1, type: 'recognition', id, door: 'front' }, door: 'front', reason: person ? 'granted' : 'denied-unknown', person, score: 0.8, ...extra };
}

test('events are recorded without any consumer, and queued for each consumer of their kind', () => {
  const clock = new ManualClock();
  const path = join(dir(), 'events.db');
  const log = EventLog.open(path, { keepDays: 7, snapshotKeepDays: 7 }, clock);
  assert.equal(statSync(path).mode & 0o777, 0o600, 'the event log holds embeddings: owner only');
  log.record(recognition('before-any-consumer', null));
  const mqtt = log.consumer('mqtt', { kinds: ['recognition', 'unlock'], maxEvents: 100, whenFull: 'drop-oldest' });
  const hooks = log.consumer('webhooks', { kinds: ['admin'], maxEvents: 100, whenFull: 'drop-oldest' });
  log.record(recognition('r1', { id: 1, name: 'alice' }));
  log.record({ id: 'a1', kind: 'admin', payload: { action: 'person.delete' }, reason: 'person.delete' });
  log.record({ id: 'u1', kind: 'unlock', payload: { door: 'front' }, door: 'front' });
  assert.equal(log.recorded, 4);
  assert.deepEqual(mqtt.next(0, 10).map((r) => [r.id, r.topic]), [['r1', 'event/recognition'], ['u1', 'event/unlock']]);
  assert.deepEqual(hooks.next(0, 10).map((r) => r.id), ['a1']);
  // Delivery to one consumer leaves the other's queue alone.
  mqtt.ack(mqtt.next(0, 10).map((r) => r.seq));
  assert.equal(mqtt.pending, 0);
  assert.equal(hooks.pending, 1);
  // Queues survive a restart.
  log.close();
  const again = EventLog.open(path, { keepDays: 7, snapshotKeepDays: 7 }, clock);
  assert.equal(again.consumer('webhooks', { kinds: ['admin'], maxEvents: 100, whenFull: 'drop-oldest' }).pending, 1);
  // A consumer no longer configured loses its queue, not the events.
  assert.deepEqual(again.retainConsumers(['mqtt']), [{ consumer: 'webhooks', pending: 1 }]);
  assert.equal(again.recorded, 4);
  again.close();
});

test('a full queue drops per its policy and counts it; the log keeps the event', () => {
  const log = EventLog.open(':memory:', { keepDays: 7, snapshotKeepDays: 7 }, new ManualClock());
  const oldest = log.consumer('a', { kinds: ['recognition'], maxEvents: 2, whenFull: 'drop-oldest' });
  const newest = log.consumer('b', { kinds: ['recognition'], maxEvents: 2, whenFull: 'drop-newest' });
  for (const id of ['e1', 'e2', 'e3']) log.record(recognition(id, null));
  assert.deepEqual(oldest.next(0, 10).map((r) => r.id), ['e2', 'e3']);
  assert.deepEqual(newest.next(0, 10).map((r) => r.id), ['e1', 'e2']);
  assert.equal(oldest.droppedTotal, 1);
  assert.equal(newest.droppedTotal, 1);
  assert.equal(log.recorded, 3);
});

test('query, faces kept with decisions, mark wrong once, person deletion and retention', () => {
  const clock = new ManualClock();
  const log = EventLog.open(':memory:', { keepDays: 7, snapshotKeepDays: 2 }, clock);
  const q = log.consumer('mqtt', { kinds: ['recognition'], maxEvents: 100, whenFull: 'drop-oldest' });
  const embedding = new Float32Array([0.6, 0.8]);
  log.record(recognition('alice-1', { id: 1, name: 'alice' }, { decidedOn: { model, embedding } }));
  log.attachSnapshot('alice-1', Buffer.from('jpeg'));
  clock.advance(DAY);
  log.record(recognition('stranger-1', null, { decidedOn: { model, embedding } }));
  assert.deepEqual(log.query({ person: 'alice' }).map((e) => [e.id, e.hasSnapshot, e.hasEmbedding]), [['alice-1', true, true]]);
  assert.deepEqual(log.query({ reason: 'denied-unknown' }).map((e) => e.id), ['stranger-1']);
  assert.deepEqual(log.query({ sinceMs: clock.now() - 1000 }).map((e) => e.id), ['stranger-1']);
  assert.deepEqual(log.query({ limit: 1 }).map((e) => e.id), ['stranger-1'], 'newest first');
  assert.deepEqual([...log.faceOf('alice-1')!.embedding!], [...embedding]);
  assert.ok(log.markWrong('alice-1', 'now'));
  assert.ok(!log.markWrong('alice-1', 'again'));
  assert.ok(log.claimNonce('n1', clock.now() + 1000) && !log.claimNonce('n1', clock.now() + 1000), 'a nonce is accepted once');

  assert.deepEqual(log.forgetPerson(1), { embeddings: 1, snapshots: 1 });
  assert.equal(log.faceDataOf(1), 0);
  assert.equal(log.snapshot('alice-1'), undefined);

  // Retention: snapshots after snapshotKeepDays, delivered events after keepDays, undelivered never.
  log.attachSnapshot('stranger-1', Buffer.from('jpeg'));
  clock.advance(3 * DAY);
  assert.deepEqual(log.prune(), { events: 0, snapshots: 1, nonces: 1 });
  clock.advance(7 * DAY);
  assert.equal(log.prune().events, 0, 'undelivered events were deleted');
  q.ack(q.next(0, 10).map((r) => r.seq));
  assert.equal(log.prune().events, 2);
  assert.equal(log.recorded, 0);
});

test('a facegate 0.1 outbox file is upgraded in place: its undelivered events stay queued for MQTT', () => {
  const path = join(dir(), 'events.db');
  const old = new Database(path);
  old.exec(EVENT_LOG_MIGRATIONS[0]!);
  old.pragma('user_version = 1');
  const payload = (id: string) => JSON.stringify({ version: 1, type: 'recognition', id, door: 'front', reason: 'granted', score: 0.9 });
  old.prepare("INSERT INTO events (id, topic, payload, created_at_ms, person_id, person_name) VALUES ('old-1', 'event/recognition', ?, 1, 3, 'bob')").run(payload('old-1'));
  old.prepare("INSERT INTO events (id, topic, payload, created_at_ms) VALUES ('old-2', 'event/unlock', ?, 2)").run(payload('old-2'));
  old.exec("INSERT INTO outbox (seq) VALUES (2); INSERT INTO counters (name, value) VALUES ('dropped', 5);");
  old.close();

  const log = EventLog.open(path, { keepDays: 7, snapshotKeepDays: 7 }, new ManualClock());
  const mqtt = log.consumer('mqtt', { kinds: ['recognition', 'unlock', 'enrollment'], maxEvents: 100, whenFull: 'drop-oldest' });
  assert.deepEqual(mqtt.next(0, 10).map((r) => [r.id, r.topic]), [['old-2', 'event/unlock']]);
  assert.equal(mqtt.droppedTotal, 5);
  const [bob] = log.query({ person: 'bob' });
  assert.deepEqual([bob!.kind, bob!.door, bob!.reason, bob!.score], ['recognition', 'front', 'granted', 0.9]);
  log.close();
  const tables = (new Database(path, { readonly: true }).prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((t) => t.name);
  assert.ok(!tables.includes('outbox') && tables.includes('deliveries'), tables.join(', '));
});

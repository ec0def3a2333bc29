// The event log: every decision, remote unlock, enrollment and admin action, recorded before the
// relay moves, in one SQLite file, whether or not any transport is configured. Transport-neutral:
// each row holds the event's contract payload (snake_case, as published) plus the columns the
// console and "that was not them" need. Each consumer (MQTT now; webhooks, fleet next) has its own
// queue of rows it has not yet delivered, so one slow consumer neither loses nor delays another's
// events. A power cut loses no recorded event (synchronous = FULL).
import Database from 'better-sqlite3';
import { openPrivateDatabase } from '../gallery/private-file.js';
import type { ModelTag } from '../gallery/gallery-store.js';
import { systemClock, type Clock } from '../util/clock.js';
import { EVENT_LOG_MIGRATIONS } from './migrations.js';
import { blobToFloat32, float32ToBlob } from '../util/float-blob.js';

export type EventKind = 'recognition' | 'unlock' | 'enrollment' | 'admin';
export const EVENT_KINDS: readonly EventKind[] = ['recognition', 'unlock', 'enrollment', 'admin'];

export interface NewLogEvent {
  id: string;
  kind: EventKind;
  /** The event's contract payload (what consumers deliver). */
  payload: object;
  door?: string | null;
  reason?: string | null;
  person?: { id: number; uuid?: string; name: string } | null;
  score?: number | null;
  /**
   * The face embedding the decision was made on: a named person's (what "that was not them" turns
   * into a negative template) or an unknown visitor's (what "enroll this visitor" uses).
   */
  decidedOn?: { model: ModelTag; embedding: Float32Array };
}

export interface RetentionLimits {
  /** Delivered events (with their embeddings) are deleted after this many days. */
  keepDays: number;
  /** Face snapshots are deleted after this many days (never longer than the event). */
  snapshotKeepDays: number;
}

export type WhenFull = 'drop-oldest' | 'drop-newest';

export interface QueueLimits {
  kinds: readonly EventKind[];
  maxEvents: number;
  whenFull: WhenFull;
}

export interface QueuedRow {
  seq: number;
  id: string;
  /** `event/<kind>`: where a topic-based transport publishes it, relative to its prefix. */
  topic: string;
  payload: string;
}

export interface LoggedEvent {
  seq: number;
  id: string;
  kind: EventKind;
  time: string;
  door: string | null;
  reason: string | null;
  personId: number | null;
  personUuid: string | null;
  personName: string | null;
  score: number | null;
  hasSnapshot: boolean;
  hasEmbedding: boolean;
  markedWrongAt: string | null;
  payload: Record<string, unknown>;
}

export interface RecordedFace {
  kind: EventKind;
  reason: string | null;
  personId: number | null;
  personUuid: string | null;
  personName: string | null;
  model: ModelTag | null;
  embedding: Float32Array | null;
  markedWrongAt: string | null;
}

export interface LogQuery {
  door?: string;
  reason?: string;
  person?: string;
  kind?: string;
  sinceMs?: number;
  untilMs?: number;
  beforeSeq?: number;
  limit?: number;
}

/** One consumer's view: the rows it has not delivered yet, oldest first. */
export interface ConsumerQueue {
  readonly name: string;
  next(afterSeq: number, limit: number): QueuedRow[];
  /** Delivered: out of this consumer's queue (the events stay in the log). One commit for all. */
  ack(seqs: readonly number[]): void;
  readonly pending: number;
  /** Events this consumer never got because its queue was full, ever. */
  readonly droppedTotal: number;
}

export class EventLogError extends Error {
  override name = 'EventLogError';
}

export class EventLog {
  private readonly queues = new Map<string, { limits: QueueLimits; pending: number }>();

  private constructor(
    private readonly db: Database.Database,
    readonly path: string,
    private readonly limits: RetentionLimits,
    private readonly clock: Clock,
  ) {}

  static open(path: string, limits: RetentionLimits, clock: Clock = systemClock): EventLog {
    let db: Database.Database;
    try {
      // Embeddings and face snapshots are biometric data: owner only, -wal and -shm included.
      db = openPrivateDatabase(path, 'the event log');
    } catch (err) {
      throw new EventLogError((err as Error).message);
    }
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    db.pragma('secure_delete = ON');
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > EVENT_LOG_MIGRATIONS.length) throw new EventLogError(`event log ${path} has schema version ${current}, newer than this facegate (${EVENT_LOG_MIGRATIONS.length}): upgrade facegate`);
    EVENT_LOG_MIGRATIONS.slice(current).forEach((sql, i) =>
      db.transaction(() => {
        db.exec(sql);
        db.pragma(`user_version = ${current + i + 1}`);
      })(),
    );
    return new EventLog(db, path, limits, clock);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  get open(): boolean {
    return this.db.open;
  }

  /**
   * The queue of one consumer. Declared at start-up, before anything is recorded: events recorded
   * while the consumer is not running (broker away, daemon stopped) wait in it.
   */
  consumer(name: string, limits: QueueLimits): ConsumerQueue {
    this.db.prepare('INSERT INTO consumers (name, kinds) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET kinds = excluded.kinds').run(name, JSON.stringify(limits.kinds));
    const pending = (this.db.prepare('SELECT count(*) AS n FROM deliveries WHERE consumer = ?').get(name) as { n: number }).n;
    this.queues.set(name, { limits, pending });
    const log = this;
    return {
      name,
      next: (afterSeq, limit) =>
        (this.db.prepare('SELECT e.seq, e.id, e.kind, e.payload FROM deliveries d JOIN events e ON e.seq = d.seq WHERE d.consumer = ? AND d.seq > ? ORDER BY d.seq LIMIT ?').all(name, afterSeq, limit) as { seq: number; id: string; kind: string; payload: string }[]).map(
          (r) => ({ seq: r.seq, id: r.id, topic: `event/${r.kind}`, payload: r.payload }),
        ),
      ack: (seqs) => {
        if (!this.db.open) return;
        this.db.transaction(() => {
          const del = this.db.prepare('DELETE FROM deliveries WHERE consumer = ? AND seq = ?');
          const q = this.queues.get(name)!;
          for (const seq of seqs) q.pending -= del.run(name, seq).changes;
        })();
      },
      get pending() {
        return log.queues.get(name)?.pending ?? 0;
      },
      get droppedTotal() {
        return log.counter(`dropped:${name}`);
      },
    };
  }

  /** Forgets the queues of consumers no longer configured (MQTT removed from the config); returns what was dropped. */
  retainConsumers(names: readonly string[]): { consumer: string; pending: number }[] {
    const gone = (this.db.prepare('SELECT name FROM consumers').all() as { name: string }[]).map((r) => r.name).filter((n) => !names.includes(n));
    return gone.map((consumer) =>
      this.db.transaction(() => {
        const pending = this.db.prepare('DELETE FROM deliveries WHERE consumer = ?').run(consumer).changes;
        this.db.prepare('DELETE FROM consumers WHERE name = ?').run(consumer);
        this.queues.delete(consumer);
        return { consumer, pending };
      })(),
    );
  }

  /** Records one event and queues it for every consumer of its kind; returns the events each queue dropped to keep its bound. */
  record(event: NewLogEvent): Record<string, number> {
    const nowMs = this.clock.now();
    return this.db.transaction(() => {
      const d = event.decidedOn;
      const p = event.person ?? null;
      const seq = Number(
        this.db
          .prepare(
            `INSERT INTO events (id, topic, kind, payload, created_at_ms, door, reason, person_id, person_uuid, person_name, score, model_id, model_sha, embedding)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(event.id, `event/${event.kind}`, event.kind, JSON.stringify(event.payload), nowMs, event.door ?? null, event.reason ?? null, p?.id ?? null, p?.uuid ?? null, p?.name ?? null, event.score ?? null, d?.model.id ?? null, d?.model.sha256 ?? null, d ? float32ToBlob(d.embedding) : null)
          .lastInsertRowid,
      );
      const dropped: Record<string, number> = {};
      for (const [name, q] of this.queues) {
        if (!q.limits.kinds.includes(event.kind)) continue;
        if (q.pending >= q.limits.maxEvents) {
          if (q.limits.whenFull === 'drop-newest') {
            this.count(`dropped:${name}`, 1);
            dropped[name] = 1;
            continue;
          }
          const n = this.db.prepare('DELETE FROM deliveries WHERE consumer = ? AND seq IN (SELECT seq FROM deliveries WHERE consumer = ? ORDER BY seq LIMIT ?)').run(name, name, q.pending - q.limits.maxEvents + 1).changes;
          this.count(`dropped:${name}`, n);
          q.pending -= n;
          dropped[name] = n;
        }
        this.db.prepare('INSERT INTO deliveries (consumer, seq) VALUES (?, ?)').run(name, seq);
        q.pending++;
      }
      return dropped;
    })();
  }

  /** The face crop (JPEG) an event was decided on; only kept when events.snapshots is on. */
  attachSnapshot(eventId: string, jpeg: Buffer): boolean {
    return this.db.prepare('UPDATE events SET snapshot = ? WHERE id = ?').run(jpeg, eventId).changes === 1;
  }

  snapshot(eventId: string): Buffer | undefined {
    const r = this.db.prepare('SELECT snapshot FROM events WHERE id = ?').get(eventId) as { snapshot: Buffer | null } | undefined;
    return r?.snapshot ?? undefined;
  }

  get recorded(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
  }

  query(q: LogQuery): LoggedEvent[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    const add = (sql: string, v: string | number | undefined) => {
      if (v === undefined) return;
      where.push(sql);
      args.push(v);
    };
    add('door = ?', q.door);
    add('reason = ?', q.reason);
    add('person_name = ?', q.person);
    add('kind = ?', q.kind);
    add('created_at_ms >= ?', q.sinceMs);
    add('created_at_ms < ?', q.untilMs);
    add('seq < ?', q.beforeSeq);
    const limit = Math.min(Math.max(1, q.limit ?? 50), 500);
    const rows = this.db
      .prepare(
        `SELECT seq, id, kind, payload, created_at_ms, door, reason, person_id, person_uuid, person_name, score, snapshot IS NOT NULL AS has_snapshot, embedding IS NOT NULL AS has_embedding, marked_wrong_at
         FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`,
      )
      .all(...args, limit) as Record<string, unknown>[];
    return rows.map((r) => {
      const payload = JSON.parse(r.payload as string) as Record<string, unknown>;
      return {
        seq: r.seq as number,
        id: r.id as string,
        kind: r.kind as EventKind,
        time: typeof payload.time === 'string' ? payload.time : new Date(r.created_at_ms as number).toISOString(),
        door: (r.door as string | null) ?? null,
        reason: (r.reason as string | null) ?? null,
        personId: (r.person_id as number | null) ?? null,
        personUuid: (r.person_uuid as string | null) ?? null,
        personName: (r.person_name as string | null) ?? null,
        score: (r.score as number | null) ?? null,
        hasSnapshot: r.has_snapshot === 1,
        hasEmbedding: r.has_embedding === 1,
        markedWrongAt: (r.marked_wrong_at as string | null) ?? null,
        payload,
      };
    });
  }

  faceOf(eventId: string): RecordedFace | undefined {
    const r = this.db.prepare('SELECT kind, reason, person_id, person_uuid, person_name, model_id, model_sha, embedding, marked_wrong_at FROM events WHERE id = ?').get(eventId) as Record<string, unknown> | undefined;
    if (!r) return undefined;
    return {
      kind: r.kind as EventKind,
      reason: (r.reason as string | null) ?? null,
      personId: (r.person_id as number | null) ?? null,
      personUuid: (r.person_uuid as string | null) ?? null,
      personName: (r.person_name as string | null) ?? null,
      model: r.model_id && r.model_sha ? { id: r.model_id as string, sha256: r.model_sha as string } : null,
      embedding: r.embedding ? blobToFloat32(r.embedding as Buffer) : null,
      markedWrongAt: (r.marked_wrong_at as string | null) ?? null,
    };
  }

  /** Once per event: a second "wrong" for the same event would add the same negative twice. */
  markWrong(eventId: string, atIso: string): boolean {
    return this.db.prepare('UPDATE events SET marked_wrong_at = ? WHERE id = ? AND marked_wrong_at IS NULL').run(atIso, eventId).changes === 1;
  }

  /** The face of an unknown visitor was enrolled: it is a person's now, and no longer a stranger's to keep. */
  forgetFace(eventId: string): void {
    this.db.prepare('UPDATE events SET embedding = NULL, snapshot = NULL WHERE id = ?').run(eventId);
  }

  /** Deletes the embeddings and snapshots kept with a person's events (the person was deleted). */
  forgetPerson(personId: number): { embeddings: number; snapshots: number } {
    return this.db.transaction(() => ({
      embeddings: this.db.prepare('UPDATE events SET embedding = NULL WHERE person_id = ? AND embedding IS NOT NULL').run(personId).changes,
      snapshots: this.db.prepare('UPDATE events SET snapshot = NULL WHERE person_id = ? AND snapshot IS NOT NULL').run(personId).changes,
    }))();
  }

  /** What is left of a person's face data in the log (deletion reads this back). */
  faceDataOf(personId: number): number {
    return (this.db.prepare('SELECT count(*) AS n FROM events WHERE person_id = ? AND (embedding IS NOT NULL OR snapshot IS NOT NULL)').get(personId) as { n: number }).n;
  }

  claimNonce(nonce: string, expiresAtMs: number): boolean {
    return this.db.prepare('INSERT OR IGNORE INTO nonces (nonce, expires_at_ms) VALUES (?, ?)').run(nonce, expiresAtMs).changes === 1;
  }

  /** Drops delivered events older than keepDays, snapshots older than snapshotKeepDays, and nonces that can no longer pass. */
  prune(): { events: number; snapshots: number; nonces: number } {
    const nowMs = this.clock.now();
    return this.db.transaction(() => ({
      events: this.db.prepare('DELETE FROM events WHERE created_at_ms < ? AND seq NOT IN (SELECT seq FROM deliveries)').run(nowMs - this.limits.keepDays * 86_400_000).changes,
      snapshots: this.db.prepare('UPDATE events SET snapshot = NULL WHERE snapshot IS NOT NULL AND created_at_ms < ?').run(nowMs - Math.min(this.limits.snapshotKeepDays, this.limits.keepDays) * 86_400_000).changes,
      nonces: this.db.prepare('DELETE FROM nonces WHERE expires_at_ms < ?').run(nowMs).changes,
    }))();
  }

  /** 'ok', or what SQLite found wrong with the file. */
  quickCheck(): string {
    try {
      return this.db.pragma('quick_check', { simple: true }) as string;
    } catch (err) {
      return (err as Error).message;
    }
  }

  private counter(name: string): number {
    return (this.db.prepare('SELECT value FROM counters WHERE name = ?').get(name) as { value: number } | undefined)?.value ?? 0;
  }

  private count(name: string, by: number): void {
    this.db.prepare('INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value').run(name, by);
  }
}


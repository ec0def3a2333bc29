// The event log and its outbox, in one SQLite file: every event is recorded and queued for
// publishing in one transaction, published in order, and leaves the outbox only when the broker
// acknowledged it. A broker outage, SIGKILL or power cut leaves every unacknowledged event queued;
// the next run publishes them again with the same ids (at least once, in order).
// Full outbox (maxEvents unacknowledged): 'drop-oldest' makes room by dropping the oldest
// unpublished event, 'drop-newest' does not queue the new one; either way it is counted and the
// event stays in the log. The log keeps delivered events (and the embedding a recognition was
// decided on, for `mark_wrong`) for keepDays.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ModelTag } from '../gallery/gallery-store.js';

export type WhenFull = 'drop-oldest' | 'drop-newest';

export interface OutboxLimits {
  maxEvents: number;
  whenFull: WhenFull;
  keepDays: number;
}

export interface NewEvent {
  id: string;
  /** Relative to `<base>/<device>/`, so a renamed device publishes its backlog under the new name. */
  topic: string;
  payload: object;
  /** For recognitions that named a person: what `mark_wrong` needs. */
  decidedOn?: { personId: number; personName: string; model: ModelTag; embedding: Float32Array };
}

export interface OutboxRow {
  seq: number;
  id: string;
  topic: string;
  payload: string;
}

export interface RecordedDecision {
  personId: number;
  personName: string;
  model: ModelTag;
  embedding: Float32Array | null;
  markedWrongAt: string | null;
}

const MIGRATIONS = [
  `CREATE TABLE events (
     seq              INTEGER PRIMARY KEY AUTOINCREMENT,
     id               TEXT NOT NULL UNIQUE,
     topic            TEXT NOT NULL,
     payload          TEXT NOT NULL,
     created_at_ms    INTEGER NOT NULL,
     person_id        INTEGER,
     person_name      TEXT,
     model_id         TEXT,
     model_sha        TEXT,
     embedding        BLOB,
     marked_wrong_at  TEXT
   );
   CREATE INDEX events_by_person ON events(person_id);
   CREATE TABLE outbox (seq INTEGER PRIMARY KEY REFERENCES events(seq) ON DELETE CASCADE);
   CREATE TABLE nonces (nonce TEXT PRIMARY KEY, expires_at_ms INTEGER NOT NULL);
   CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);`,
];

export class EventOutbox {
  private pendingCount: number;

  private constructor(
    private readonly db: Database.Database,
    private readonly limits: OutboxLimits,
  ) {
    this.pendingCount = (db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n;
  }

  static open(path: string, limits: OutboxLimits): EventOutbox {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    // FULL: a commit is on disk before record() returns, so a power cut loses no recorded event.
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > MIGRATIONS.length) throw new Error(`event outbox ${path} has schema version ${current}, newer than this facegate (${MIGRATIONS.length}): upgrade facegate`);
    MIGRATIONS.slice(current).forEach((sql, i) =>
      db.transaction(() => {
        db.exec(sql);
        db.pragma(`user_version = ${current + i + 1}`);
      })(),
    );
    return new EventOutbox(db, limits);
  }

  close(): void {
    this.db.close();
  }

  /** Records and queues one event; returns how many queued events were dropped to keep the bound. */
  record(event: NewEvent, nowMs = Date.now()): number {
    return this.db.transaction(() => {
      const d = event.decidedOn;
      const seq = Number(
        this.db
          .prepare('INSERT INTO events (id, topic, payload, created_at_ms, person_id, person_name, model_id, model_sha, embedding) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
          .run(event.id, event.topic, JSON.stringify(event.payload), nowMs, d?.personId ?? null, d?.personName ?? null, d?.model.id ?? null, d?.model.sha256 ?? null, d ? Buffer.from(d.embedding.buffer, d.embedding.byteOffset, d.embedding.byteLength) : null)
          .lastInsertRowid,
      );
      let dropped = 0;
      if (this.pendingCount >= this.limits.maxEvents) {
        if (this.limits.whenFull === 'drop-newest') {
          this.count('dropped', 1);
          return 1;
        }
        dropped = this.db.prepare('DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?)').run(this.pendingCount - this.limits.maxEvents + 1).changes;
        this.count('dropped', dropped);
        this.pendingCount -= dropped;
      }
      this.db.prepare('INSERT INTO outbox (seq) VALUES (?)').run(seq);
      this.pendingCount++;
      return dropped;
    })();
  }

  /** Queued events after `afterSeq`, oldest first. */
  next(afterSeq: number, limit: number): OutboxRow[] {
    return this.db.prepare('SELECT e.seq, e.id, e.topic, e.payload FROM outbox o JOIN events e ON e.seq = o.seq WHERE o.seq > ? ORDER BY o.seq LIMIT ?').all(afterSeq, limit) as OutboxRow[];
  }

  /** The broker acknowledged them: out of the outbox (the events stay in the log). One commit for all. */
  ack(seqs: readonly number[]): void {
    this.db.transaction(() => {
      const del = this.db.prepare('DELETE FROM outbox WHERE seq = ?');
      for (const seq of seqs) this.pendingCount -= del.run(seq).changes;
    })();
  }

  get pending(): number {
    return this.pendingCount;
  }

  get droppedTotal(): number {
    return (this.db.prepare("SELECT value FROM counters WHERE name = 'dropped'").get() as { value: number } | undefined)?.value ?? 0;
  }

  decisionOf(eventId: string): RecordedDecision | undefined {
    const r = this.db.prepare('SELECT person_id, person_name, model_id, model_sha, embedding, marked_wrong_at FROM events WHERE id = ?').get(eventId) as
      | { person_id: number | null; person_name: string | null; model_id: string | null; model_sha: string | null; embedding: Buffer | null; marked_wrong_at: string | null }
      | undefined;
    if (!r || r.person_id === null || r.person_name === null || r.model_id === null || r.model_sha === null) return undefined;
    return { personId: r.person_id, personName: r.person_name, model: { id: r.model_id, sha256: r.model_sha }, embedding: r.embedding ? toFloat32(r.embedding) : null, markedWrongAt: r.marked_wrong_at };
  }

  /** Once per event: a second "wrong" for the same event would add the same negative twice. */
  markWrong(eventId: string, atIso: string): boolean {
    return this.db.prepare('UPDATE events SET marked_wrong_at = ? WHERE id = ? AND marked_wrong_at IS NULL').run(atIso, eventId).changes === 1;
  }

  /** Deletes the embeddings kept with a person's events (the person was deleted); returns how many. */
  forgetPerson(personId: number): number {
    return this.db.prepare('UPDATE events SET embedding = NULL WHERE person_id = ? AND embedding IS NOT NULL').run(personId).changes;
  }

  embeddingsOf(personId: number): number {
    return (this.db.prepare('SELECT count(*) AS n FROM events WHERE person_id = ? AND embedding IS NOT NULL').get(personId) as { n: number }).n;
  }

  claimNonce(nonce: string, expiresAtMs: number): boolean {
    return this.db.prepare('INSERT OR IGNORE INTO nonces (nonce, expires_at_ms) VALUES (?, ?)').run(nonce, expiresAtMs).changes === 1;
  }

  /** Drops delivered events older than keepDays and nonces whose requests can no longer pass. */
  prune(nowMs = Date.now()): { events: number; nonces: number } {
    return this.db.transaction(() => ({
      events: this.db.prepare('DELETE FROM events WHERE created_at_ms < ? AND seq NOT IN (SELECT seq FROM outbox)').run(nowMs - this.limits.keepDays * 86_400_000).changes,
      nonces: this.db.prepare('DELETE FROM nonces WHERE expires_at_ms < ?').run(nowMs).changes,
    }))();
  }

  private count(name: string, by: number): void {
    this.db.prepare('INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value').run(name, by);
  }
}

function toFloat32(b: Buffer): Float32Array {
  // Copy: SQLite's buffer is not guaranteed 4-byte aligned.
  const copy = new Uint8Array(b.byteLength);
  copy.set(b);
  return new Float32Array(copy.buffer);
}

// What belongs to this controller alone and never replicates: the armed enrollment name and the
// pending captures of the enrollment button. Its own SQLite file next to the gallery
// (`gallery.db` -> `gallery.device.db`), so the CLI and the daemon find the same one; encrypted
// with the gallery's key ring, 0600, secure_delete. Rows that older versions kept in gallery.db
// move here on first open.
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { systemClock, type Clock } from '../util/clock.js';
import { GalleryError, type GalleryStore, type ModelTag, type NewTemplate } from './gallery-store.js';
import { seal, unseal, type DataKey } from './key-ring.js';
import { validatePersonName } from './names.js';
import { openPrivateDatabase } from './private-file.js';
import { float32ToBlob, blobToFloat32 } from '../util/float-blob.js';

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS settings (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  TEXT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS pending (
    id          INTEGER PRIMARY KEY,
    created_at  TEXT NOT NULL,
    source      TEXT NOT NULL,
    note        TEXT,
    -- the row's id in gallery.db when it moved from there: a move interrupted by a crash is redone, not doubled
    legacy_id   INTEGER UNIQUE
  );
  CREATE TABLE IF NOT EXISTS pending_templates (
    id          INTEGER PRIMARY KEY,
    uuid        TEXT NOT NULL UNIQUE,
    pending_id  INTEGER NOT NULL REFERENCES pending(id) ON DELETE CASCADE,
    model_id    TEXT NOT NULL,
    model_sha   TEXT NOT NULL,
    dim         INTEGER NOT NULL,
    embedding   BLOB NOT NULL,
    key_id      TEXT NOT NULL,
    quality     TEXT NOT NULL,
    crop        BLOB
  );
  CREATE TABLE IF NOT EXISTS audit (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    action      TEXT NOT NULL,
    person      TEXT,
    details     TEXT NOT NULL DEFAULT '{}'
  );
`;

/** `data/gallery.db` -> `data/gallery.device.db`. */
export function devicePathFor(galleryPath: string): string {
  return galleryPath === ':memory:' ? ':memory:' : `${galleryPath.replace(/\.db$/, '')}.device.db`;
}

export interface PendingCapture {
  id: number;
  createdAt: string;
  source: string;
  note: string | null;
  templates: number;
}



export class DeviceState {
  private constructor(
    readonly db: Database.Database,
    readonly path: string,
    private readonly store: GalleryStore,
    private readonly clock: Clock,
  ) {}

  /** Opens (creating) the device file of this gallery and moves any device rows out of gallery.db. */
  static open(store: GalleryStore, options: { path?: string; clock?: Clock } = {}): DeviceState {
    const path = options.path ?? devicePathFor(store.path);
    let db: Database.Database;
    try {
      db = openPrivateDatabase(path, 'device state');
    } catch (err) {
      throw new GalleryError((err as Error).message);
    }
    db.pragma('foreign_keys = ON');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    db.pragma('secure_delete = ON');
    db.exec(SCHEMA);
    const device = new DeviceState(db, path, store, options.clock ?? store.clock);
    device.adoptLegacyRows();
    return device;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private nowIso(): string {
    return new Date(this.clock.now()).toISOString();
  }

  private transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  private audit(action: string, person: string | null, details: Record<string, unknown>): void {
    this.db.prepare('INSERT INTO audit (at, action, person, details) VALUES (?, ?, ?, ?)').run(this.nowIso(), action, person, JSON.stringify(details));
  }

  auditLog(limit = 100): { at: string; action: string; person: string | null; details: Record<string, unknown> }[] {
    return (this.db.prepare('SELECT at, action, person, details FROM audit ORDER BY id DESC LIMIT ?').all(limit) as { at: string; action: string; person: string | null; details: string }[]).map((r) => ({ ...r, details: JSON.parse(r.details) as Record<string, unknown> }));
  }

  /** Schema 2 kept the armed name and pending captures in gallery.db: copy them here, then delete them there. */
  private adoptLegacyRows(): void {
    const g = this.store.db;
    const hasLegacy = g.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'pending'").get();
    if (!hasLegacy) return;
    const pending = g.prepare('SELECT * FROM pending ORDER BY id').all() as { id: number; created_at: string; source: string; note: string | null }[];
    const armed = g.prepare("SELECT value, updated_at FROM settings WHERE key = 'armed_enrollment'").get() as { value: string; updated_at: string } | undefined;
    if (pending.length === 0 && !armed) return;
    this.transaction(() => {
      const key = this.store.keys.current();
      if (armed) this.db.prepare("INSERT OR IGNORE INTO settings (key, value, updated_at) VALUES ('armed_enrollment', ?, ?)").run(armed.value, armed.updated_at);
      for (const p of pending) {
        const inserted = this.db.prepare('INSERT OR IGNORE INTO pending (created_at, source, note, legacy_id) VALUES (?, ?, ?, ?)').run(p.created_at, p.source, p.note, p.id);
        if (inserted.changes === 0) continue;
        const id = Number(inserted.lastInsertRowid);
        for (const t of g.prepare('SELECT * FROM pending_templates WHERE pending_id = ? ORDER BY id').all(p.id) as { model_id: string; model_sha: string; dim: number; embedding: Buffer; quality: string; crop: Buffer | null }[]) {
          this.insertTemplate(id, key, { model_id: t.model_id, model_sha: t.model_sha, dim: t.dim, embedding: t.embedding, quality: t.quality, crop: t.crop });
        }
      }
      this.audit('device.adopt', null, { pending: pending.length, armed: armed !== undefined });
    });
    this.store.transaction(() => {
      g.prepare('DELETE FROM pending_templates').run();
      g.prepare('DELETE FROM pending').run();
      g.prepare("DELETE FROM settings WHERE key = 'armed_enrollment'").run();
    });
  }

  private insertTemplate(pendingId: number, key: DataKey, t: { model_id: string; model_sha: string; dim: number; embedding: Buffer; quality: string; crop: Buffer | null }): void {
    const uuid = randomUUID();
    this.db
      .prepare('INSERT INTO pending_templates (uuid, pending_id, model_id, model_sha, dim, embedding, key_id, quality, crop) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(uuid, pendingId, t.model_id, t.model_sha, t.dim, seal(key, t.embedding, `pending:${uuid}:embedding`), key.id, t.quality, t.crop && seal(key, t.crop, `pending:${uuid}:crop`));
  }

  /** Arms enrollment: the next button press (or remote trigger) enrolls under this name. */
  armEnrollment(name: string, ttlMs: number): { name: string; expiresAt: string } {
    const valid = validatePersonName(name);
    const armed = { name: valid, expiresAt: new Date(this.clock.now() + ttlMs).toISOString() };
    this.transaction(() => {
      this.db.prepare('INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at').run('armed_enrollment', JSON.stringify(armed), this.nowIso());
      this.audit('enrollment.arm', valid, { expiresAt: armed.expiresAt });
    });
    return armed;
  }

  /** The armed name, consumed (one press enrolls once); null when none or expired. */
  takeArmedEnrollment(): string | null {
    return this.transaction(() => {
      const row = this.db.prepare("SELECT value FROM settings WHERE key = 'armed_enrollment'").get() as { value: string } | undefined;
      if (!row) return null;
      this.db.prepare("DELETE FROM settings WHERE key = 'armed_enrollment'").run();
      const armed = JSON.parse(row.value) as { name: string; expiresAt: string };
      return Date.parse(armed.expiresAt) > this.clock.now() ? armed.name : null;
    });
  }

  addPending(model: ModelTag, templates: NewTemplate[], source: string, note?: string): number {
    return this.transaction(() => {
      const key = this.store.keys.current();
      const id = Number(this.db.prepare('INSERT INTO pending (created_at, source, note) VALUES (?, ?, ?)').run(this.nowIso(), source, note ?? null).lastInsertRowid);
      for (const t of templates) this.insertTemplate(id, key, { model_id: model.id, model_sha: model.sha256, dim: t.embedding.length, embedding: float32ToBlob(t.embedding), quality: JSON.stringify(t.quality), crop: t.crop ?? null });
      this.audit('pending.add', null, { pending: id, templates: templates.length, source });
      return id;
    });
  }

  listPending(): PendingCapture[] {
    return (this.db.prepare('SELECT p.id, p.created_at, p.source, p.note, (SELECT count(*) FROM pending_templates t WHERE t.pending_id = p.id) AS n FROM pending p ORDER BY p.id').all() as { id: number; created_at: string; source: string; note: string | null; n: number }[]).map((r) => ({
      id: r.id,
      createdAt: r.created_at,
      source: r.source,
      note: r.note,
      templates: r.n,
    }));
  }

  /** The captured templates, decrypted. */
  pendingTemplates(id: number): { model: ModelTag; template: NewTemplate }[] {
    return (this.db.prepare('SELECT * FROM pending_templates WHERE pending_id = ? ORDER BY id').all(id) as Record<string, unknown>[]).map((r) => {
      const key = this.store.keys.byId(r.key_id as string);
      const uuid = r.uuid as string;
      const crop = r.crop as Buffer | null;
      return {
        model: { id: r.model_id as string, sha256: r.model_sha as string },
        template: {
          embedding: blobToFloat32(unseal(key, r.embedding as Buffer, `pending:${uuid}:embedding`)),
          quality: JSON.parse(r.quality as string) as Record<string, number>,
          source: 'camera',
          sourceRef: `pending:${id}`,
          ...(crop ? { crop: unseal(key, crop, `pending:${uuid}:crop`) } : {}),
        },
      };
    });
  }

  /**
   * Turns a pending capture into templates of a (new or existing) person. The gallery commits
   * first, then the capture is deleted here: a crash in between leaves the capture pending, and
   * naming it again adds nothing twice (identical templates are skipped).
   */
  namePending(id: number, name: string): { person: string; templates: number } {
    const valid = validatePersonName(name);
    if (!this.db.prepare('SELECT 1 FROM pending WHERE id = ?').get(id)) throw new GalleryError(`no pending capture ${id} (facegate gallery pending list shows them)`);
    const rows = this.pendingTemplates(id);
    this.store.transaction(() => {
      const person = this.store.ensurePerson(valid);
      const byModel = new Map<string, { model: ModelTag; templates: NewTemplate[] }>();
      for (const r of rows) {
        const entry = byModel.get(r.model.sha256) ?? { model: r.model, templates: [] };
        entry.templates.push(r.template);
        byModel.set(r.model.sha256, entry);
      }
      for (const { model, templates } of byModel.values()) this.store.addNewTemplates(person, model, templates, 1);
      this.store.audit('pending.name', valid, { pending: id, templates: rows.length });
    });
    this.transaction(() => {
      this.db.prepare('DELETE FROM pending WHERE id = ?').run(id);
      this.audit('pending.name', valid, { pending: id, templates: rows.length });
    });
    return { person: valid, templates: rows.length };
  }

  discardPending(id: number): void {
    this.transaction(() => {
      if (this.db.prepare('DELETE FROM pending WHERE id = ?').run(id).changes === 0) throw new GalleryError(`no pending capture ${id}`);
      this.audit('pending.discard', null, { pending: id });
    });
  }

  /** Key rotation (GalleryStore.rekey): every pending template under `key`, in one transaction. */
  reencrypt(key: DataKey): number {
    return this.transaction(() => {
      let n = 0;
      const update = this.db.prepare('UPDATE pending_templates SET embedding = ?, crop = ?, key_id = ? WHERE id = ?');
      for (const r of this.db.prepare('SELECT * FROM pending_templates WHERE key_id != ?').all(key.id) as Record<string, unknown>[]) {
        const old = this.store.keys.byId(r.key_id as string);
        const uuid = r.uuid as string;
        const crop = r.crop as Buffer | null;
        update.run(seal(key, unseal(old, r.embedding as Buffer, `pending:${uuid}:embedding`), `pending:${uuid}:embedding`), crop && seal(key, unseal(old, crop, `pending:${uuid}:crop`), `pending:${uuid}:crop`), key.id, r.id);
        n++;
      }
      return n;
    });
  }

  compact(): void {
    if (this.path === ':memory:') return;
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    this.db.exec('VACUUM');
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }
}

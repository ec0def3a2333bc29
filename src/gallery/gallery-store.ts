// The SQLite gallery: people, face templates tagged with the embedder model that made them,
// negative templates, and an audit log. WAL mode, foreign keys, one transaction per change so a
// crash leaves either the whole change or none of it.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { MIGRATIONS } from './migrations.js';
import { validatePersonName } from './names.js';

export type TemplateSource = 'camera' | 'folder' | 'remote' | 'cli' | 'reembed';

export interface ModelTag {
  /** Manifest id, for people to read. */
  id: string;
  /** sha256 of the model file: what actually decides whether two templates are comparable. */
  sha256: string;
}

export interface NewTemplate {
  embedding: Float32Array;
  quality: Record<string, number>;
  source: TemplateSource;
  sourceRef?: string;
  /** Aligned face crop (PNG), only when the config keeps crops. */
  crop?: Buffer;
}

export interface Person {
  id: number;
  name: string;
  groups: string[];
  createdAt: string;
  updatedAt: string;
}

export interface PersonSummary extends Person {
  templates: number;
  negatives: number;
  models: string[];
}

export interface StoredTemplate {
  id: number;
  personId: number;
  modelId: string;
  modelSha: string;
  embedding: Float32Array;
  quality: Record<string, number>;
  source: TemplateSource;
  sourceRef: string | null;
  crop: Buffer | null;
  createdAt: string;
}

/** All templates of one model as one contiguous matrix: what 1:N search runs over. */
export interface TemplateMatrix {
  model: ModelTag;
  modelSha: string;
  dim: number;
  vectors: Float32Array;
  personIds: Int32Array;
  names: Map<number, string>;
}

export class GalleryError extends Error {
  override name = 'GalleryError';
}

const now = () => new Date().toISOString();

function toBlob(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function fromBlob(b: Buffer): Float32Array {
  // Copy: SQLite's buffer is not guaranteed 4-byte aligned.
  const copy = new Uint8Array(b.byteLength);
  copy.set(b);
  return new Float32Array(copy.buffer);
}

export class GalleryStore {
  private constructor(readonly db: Database.Database, readonly path: string) {}

  static open(path: string): GalleryStore {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    let db: Database.Database;
    try {
      db = new Database(path);
    } catch (err) {
      throw new GalleryError(`cannot open gallery ${path}: ${(err as Error).message}`);
    }
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    const store = new GalleryStore(db, path);
    store.migrate();
    return store;
  }

  close(): void {
    this.db.close();
  }

  get schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  private migrate(): void {
    const current = this.schemaVersion;
    const latest = MIGRATIONS.at(-1)!.version;
    if (current > latest) throw new GalleryError(`gallery ${this.path} has schema version ${current}, newer than this facegate (${latest}): upgrade facegate`);
    for (const m of MIGRATIONS.filter((x) => x.version > current)) {
      this.db.transaction(() => {
        this.db.exec(m.sql);
        this.db.pragma(`user_version = ${m.version}`);
      })();
    }
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  audit(action: string, person: string | null, details: Record<string, unknown> = {}): void {
    this.db.prepare('INSERT INTO audit (at, action, person, details) VALUES (?, ?, ?, ?)').run(now(), action, person, JSON.stringify(details));
  }

  auditLog(limit = 100): { at: string; action: string; person: string | null; details: Record<string, unknown> }[] {
    return (this.db.prepare('SELECT at, action, person, details FROM audit ORDER BY id DESC LIMIT ?').all(limit) as { at: string; action: string; person: string | null; details: string }[]).map((r) => ({ ...r, details: JSON.parse(r.details) as Record<string, unknown> }));
  }

  findPerson(name: string): Person | undefined {
    const row = this.db.prepare('SELECT id, name, groups, created_at, updated_at FROM people WHERE name = ?').get(validatePersonName(name)) as
      | { id: number; name: string; groups: string; created_at: string; updated_at: string }
      | undefined;
    return row && { id: row.id, name: row.name, groups: JSON.parse(row.groups) as string[], createdAt: row.created_at, updatedAt: row.updated_at };
  }

  requirePerson(name: string): Person {
    const p = this.findPerson(name);
    if (!p) throw new GalleryError(`no person named "${name}" in the gallery (facegate gallery list shows who is enrolled)`);
    return p;
  }

  /** The person's id, creating them if needed. */
  ensurePerson(name: string, groups: string[] = []): Person {
    const valid = validatePersonName(name);
    const existing = this.findPerson(valid);
    if (existing) return existing;
    const t = now();
    const id = Number(this.db.prepare('INSERT INTO people (name, groups, created_at, updated_at) VALUES (?, ?, ?, ?)').run(valid, JSON.stringify(groups), t, t).lastInsertRowid);
    this.audit('person.add', valid, { groups });
    return { id, name: valid, groups, createdAt: t, updatedAt: t };
  }

  addTemplates(person: Person, model: ModelTag, templates: NewTemplate[]): number[] {
    const insert = this.db.prepare(
      'INSERT INTO templates (person_id, model_id, model_sha, dim, embedding, quality, source, source_ref, crop, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const t = now();
    const ids = templates.map((tpl) =>
      Number(insert.run(person.id, model.id, model.sha256, tpl.embedding.length, toBlob(tpl.embedding), JSON.stringify(tpl.quality), tpl.source, tpl.sourceRef ?? null, tpl.crop ?? null, t).lastInsertRowid),
    );
    this.db.prepare('UPDATE people SET updated_at = ? WHERE id = ?').run(t, person.id);
    this.audit('templates.add', person.name, { count: templates.length, model: model.id, sources: [...new Set(templates.map((x) => x.source))] });
    return ids;
  }

  addNegative(person: Person, model: ModelTag, embedding: Float32Array, note?: string): number {
    const id = Number(
      this.db.prepare('INSERT INTO negatives (person_id, model_id, model_sha, dim, embedding, note, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)').run(person.id, model.id, model.sha256, embedding.length, toBlob(embedding), note ?? null, now()).lastInsertRowid,
    );
    this.audit('negative.add', person.name, { model: model.id, note });
    return id;
  }

  listPeople(): PersonSummary[] {
    const rows = this.db
      .prepare(
        `SELECT p.id, p.name, p.groups, p.created_at, p.updated_at,
                (SELECT count(*) FROM templates t WHERE t.person_id = p.id) AS templates,
                (SELECT count(*) FROM negatives n WHERE n.person_id = p.id) AS negatives,
                (SELECT group_concat(DISTINCT model_id) FROM templates t WHERE t.person_id = p.id) AS models
         FROM people p ORDER BY p.name`,
      )
      .all() as { id: number; name: string; groups: string; created_at: string; updated_at: string; templates: number; negatives: number; models: string | null }[];
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      groups: JSON.parse(r.groups) as string[],
      createdAt: r.created_at,
      updatedAt: r.updated_at,
      templates: r.templates,
      negatives: r.negatives,
      models: r.models ? r.models.split(',') : [],
    }));
  }

  templatesOf(person: Person): StoredTemplate[] {
    return (this.db.prepare('SELECT * FROM templates WHERE person_id = ? ORDER BY id').all(person.id) as Record<string, unknown>[]).map(rowToTemplate);
  }

  negativesOf(person: Person): { id: number; modelId: string; modelSha: string; embedding: Float32Array; note: string | null; createdAt: string }[] {
    return (this.db.prepare('SELECT * FROM negatives WHERE person_id = ? ORDER BY id').all(person.id) as Record<string, unknown>[]).map((r) => ({
      id: r.id as number,
      modelId: r.model_id as string,
      modelSha: r.model_sha as string,
      embedding: fromBlob(r.embedding as Buffer),
      note: r.note as string | null,
      createdAt: r.created_at as string,
    }));
  }

  renamePerson(oldName: string, newName: string): void {
    const valid = validatePersonName(newName);
    this.transaction(() => {
      const p = this.requirePerson(oldName);
      if (this.findPerson(valid)) throw new GalleryError(`a person named "${valid}" already exists`);
      this.db.prepare('UPDATE people SET name = ?, updated_at = ? WHERE id = ?').run(valid, now(), p.id);
      this.audit('person.rename', valid, { from: p.name });
    });
  }

  setGroups(name: string, groups: string[]): void {
    this.transaction(() => {
      const p = this.requirePerson(name);
      this.db.prepare('UPDATE people SET groups = ?, updated_at = ? WHERE id = ?').run(JSON.stringify(groups), now(), p.id);
      this.audit('person.groups', p.name, { groups });
    });
  }

  /** Deletes the person with every template and negative; returns what was removed. */
  removePerson(name: string): { templates: number; negatives: number } {
    return this.transaction(() => {
      const p = this.requirePerson(name);
      const templates = this.db.prepare('DELETE FROM templates WHERE person_id = ?').run(p.id).changes;
      const negatives = this.db.prepare('DELETE FROM negatives WHERE person_id = ?').run(p.id).changes;
      this.db.prepare('DELETE FROM people WHERE id = ?').run(p.id);
      this.audit('person.remove', p.name, { templates, negatives });
      return { templates, negatives };
    });
  }

  /** Template counts per model sha, to tell the user what a model switch leaves behind. */
  modelsInUse(): { modelId: string; modelSha: string; templates: number; withCrops: number }[] {
    return (this.db.prepare('SELECT model_id, model_sha, count(*) AS n, count(crop) AS c FROM templates GROUP BY model_sha, model_id ORDER BY n DESC').all() as { model_id: string; model_sha: string; n: number; c: number }[]).map((r) => ({
      modelId: r.model_id,
      modelSha: r.model_sha,
      templates: r.n,
      withCrops: r.c,
    }));
  }

  /** Templates with a stored crop that were made by another model than `model`. */
  templatesToReembed(model: ModelTag): (StoredTemplate & { personName: string })[] {
    return (this.db.prepare('SELECT t.*, p.name AS person_name FROM templates t JOIN people p ON p.id = t.person_id WHERE t.model_sha != ? AND t.crop IS NOT NULL ORDER BY t.id').all(model.sha256) as Record<string, unknown>[])
      .map((r) => ({ ...rowToTemplate(r), personName: r.person_name as string }))
      .filter((t) => !this.db.prepare('SELECT 1 FROM templates WHERE model_sha = ? AND source = ? AND source_ref = ?').get(model.sha256, 'reembed', `template:${t.id}`));
  }

  /** Every template of one model, packed for search. Templates of other models are never included. */
  matrixFor(model: ModelTag): TemplateMatrix {
    return this.packed('templates', model);
  }

  negativesMatrixFor(model: ModelTag): TemplateMatrix {
    return this.packed('negatives', model);
  }

  private packed(table: 'templates' | 'negatives', model: ModelTag): TemplateMatrix {
    const rows = this.db.prepare(`SELECT t.person_id, t.dim, t.embedding, p.name FROM ${table} t JOIN people p ON p.id = t.person_id WHERE t.model_sha = ? ORDER BY t.id`).all(model.sha256) as {
      person_id: number;
      dim: number;
      embedding: Buffer;
      name: string;
    }[];
    const dim = rows[0]?.dim ?? 0;
    const vectors = new Float32Array(rows.length * dim);
    const personIds = new Int32Array(rows.length);
    const names = new Map<number, string>();
    rows.forEach((r, i) => {
      if (r.dim !== dim) throw new GalleryError(`gallery ${table} of model ${model.id} mix dimensions ${dim} and ${r.dim}`);
      vectors.set(fromBlob(r.embedding), i * dim);
      personIds[i] = r.person_id;
      names.set(r.person_id, r.name);
    });
    return { model, modelSha: model.sha256, dim, vectors, personIds, names };
  }

  /** Changes whenever another connection commits: the daemon polls it to reload the gallery. */
  dataVersion(): number {
    return this.db.pragma('data_version', { simple: true }) as number;
  }

  /** Arms enrollment: the next button press (or remote trigger) enrolls under this name. */
  armEnrollment(name: string, ttlMs: number): { name: string; expiresAt: string } {
    const valid = validatePersonName(name);
    const armed = { name: valid, expiresAt: new Date(Date.now() + ttlMs).toISOString() };
    this.transaction(() => {
      this.db.prepare('INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at').run('armed_enrollment', JSON.stringify(armed), now());
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
      return Date.parse(armed.expiresAt) > Date.now() ? armed.name : null;
    });
  }

  addPending(model: ModelTag, templates: NewTemplate[], source: string, note?: string): number {
    return this.transaction(() => {
      const id = Number(this.db.prepare('INSERT INTO pending (created_at, source, note) VALUES (?, ?, ?)').run(now(), source, note ?? null).lastInsertRowid);
      const insert = this.db.prepare('INSERT INTO pending_templates (pending_id, model_id, model_sha, dim, embedding, quality, crop) VALUES (?, ?, ?, ?, ?, ?, ?)');
      for (const t of templates) insert.run(id, model.id, model.sha256, t.embedding.length, toBlob(t.embedding), JSON.stringify(t.quality), t.crop ?? null);
      this.audit('pending.add', null, { pending: id, templates: templates.length, source });
      return id;
    });
  }

  listPending(): { id: number; createdAt: string; source: string; note: string | null; templates: number }[] {
    return (this.db.prepare('SELECT p.id, p.created_at, p.source, p.note, (SELECT count(*) FROM pending_templates t WHERE t.pending_id = p.id) AS n FROM pending p ORDER BY p.id').all() as { id: number; created_at: string; source: string; note: string | null; n: number }[]).map((r) => ({
      id: r.id,
      createdAt: r.created_at,
      source: r.source,
      note: r.note,
      templates: r.n,
    }));
  }

  /** Turns a pending capture into templates of a (new or existing) person, in one transaction. */
  namePending(id: number, name: string): { person: string; templates: number } {
    const valid = validatePersonName(name);
    return this.transaction(() => {
      const rows = this.db.prepare('SELECT * FROM pending_templates WHERE pending_id = ? ORDER BY id').all(id) as Record<string, unknown>[];
      if (!this.db.prepare('SELECT 1 FROM pending WHERE id = ?').get(id)) throw new GalleryError(`no pending capture ${id} (facegate gallery pending list shows them)`);
      const person = this.ensurePerson(valid);
      const byModel = new Map<string, { model: ModelTag; templates: NewTemplate[] }>();
      for (const r of rows) {
        const key = r.model_sha as string;
        const entry = byModel.get(key) ?? { model: { id: r.model_id as string, sha256: key }, templates: [] };
        entry.templates.push({ embedding: fromBlob(r.embedding as Buffer), quality: JSON.parse(r.quality as string) as Record<string, number>, source: 'camera', sourceRef: `pending:${id}`, ...(r.crop ? { crop: r.crop as Buffer } : {}) });
        byModel.set(key, entry);
      }
      for (const { model, templates } of byModel.values()) this.addTemplates(person, model, templates);
      this.db.prepare('DELETE FROM pending WHERE id = ?').run(id);
      this.audit('pending.name', valid, { pending: id, templates: rows.length });
      return { person: valid, templates: rows.length };
    });
  }

  discardPending(id: number): void {
    this.transaction(() => {
      if (this.db.prepare('DELETE FROM pending WHERE id = ?').run(id).changes === 0) throw new GalleryError(`no pending capture ${id}`);
      this.audit('pending.discard', null, { pending: id });
    });
  }

  integrityCheck(): string {
    return this.db.pragma('integrity_check', { simple: true }) as string;
  }
}

function rowToTemplate(r: Record<string, unknown>): StoredTemplate {
  return {
    id: r.id as number,
    personId: r.person_id as number,
    modelId: r.model_id as string,
    modelSha: r.model_sha as string,
    embedding: fromBlob(r.embedding as Buffer),
    quality: JSON.parse(r.quality as string) as Record<string, number>,
    source: r.source as TemplateSource,
    sourceRef: (r.source_ref as string | null) ?? null,
    crop: (r.crop as Buffer | null) ?? null,
    createdAt: r.created_at as string,
  };
}

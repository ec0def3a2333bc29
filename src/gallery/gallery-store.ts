// The SQLite gallery: people, face templates tagged with the embedder model that made them,
// negative templates, tombstones of deleted people, and an audit log. WAL mode, foreign keys, one
// transaction per change so a crash leaves either the whole change or none of it.
//
// Ready for sync: every person, template and negative has a UUID, every change gives the person a
// new version (hybrid logical clock), a deletion leaves a tombstone (UUID and version only), and
// templates, negatives and crops are encrypted at rest (AES-256-GCM, key-ring.ts). The file is 0600
// and `secure_delete` overwrites deleted data. Device-local state (armed enrollment, pending
// captures) lives in device-state.ts, in its own file.
import Database from 'better-sqlite3';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { cosine } from '../eval/verification.js';
import { systemClock, type Clock } from '../util/clock.js';
import { DeviceState } from './device-state.js';
import { compareHlc, formatHlc, parseHlc, receiveHlc, tickHlc } from './hlc.js';
import { KeyRing, seal, unseal, type DataKey } from './key-ring.js';
import { MIGRATIONS } from './migrations.js';
import { validatePersonName } from './names.js';
import { openPrivateDatabase } from './private-file.js';
import { float32ToBlob, blobToFloat32 } from '../util/float-blob.js';

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
  /** Kept when it comes from an export and is not taken yet. */
  uuid?: string;
}

export interface Person {
  id: number;
  /** Stable across controllers and exports; the local id is not. */
  uuid: string;
  name: string;
  groups: string[];
  createdAt: string;
  updatedAt: string;
  /** Hybrid logical clock of the last change (src/gallery/hlc.ts). */
  version: string;
}

export interface PersonSummary extends Person {
  templates: number;
  negatives: number;
  models: string[];
}

export interface StoredTemplate {
  id: number;
  uuid: string;
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

export interface StoredNegative {
  id: number;
  uuid: string;
  modelId: string;
  modelSha: string;
  embedding: Float32Array;
  note: string | null;
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

/** One person as it replicates: everything, every model, or only the fact of its deletion. */
export interface PersonRecord {
  uuid: string;
  version: string;
  baseVersion: string | null;
  deleted: false;
  name: string;
  groups: string[];
  createdAt: string;
  templates: (Omit<StoredTemplate, 'id' | 'personId'> & { crop: Buffer | null })[];
  negatives: Omit<StoredNegative, 'id'>[];
}

export interface TombstoneRecord {
  uuid: string;
  version: string;
  baseVersion: string | null;
  deleted: true;
  deletedAt: string;
}

export type GalleryRecord = PersonRecord | TombstoneRecord;

export interface RecordVersion {
  uuid: string;
  version: string;
  baseVersion: string | null;
  deleted: boolean;
}

export interface GalleryOptions {
  clock?: Clock;
  /** Key file (see key-ring.ts); default keyFileFor(path). */
  keyFile?: string;
  /** Set on a fleet follower: every local change is refused with this reason. */
  readOnly?: string;
  /** Where notices go (a key file created, plaintext rows encrypted). */
  log?: (message: string) => void;
}

export class GalleryError extends Error {
  override name = 'GalleryError';
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** `data/gallery.db` -> `data/gallery.key`: the key file next to the gallery. */
export function keyFileFor(galleryPath: string): string {
  return `${galleryPath.replace(/\.db$/, '')}.key`;
}



type Row = Record<string, unknown>;

interface PersonRow {
  id: number;
  uuid: string;
  name: string;
  groups: string;
  version: string;
  base_version: string | null;
  created_at: string;
  updated_at: string;
}

function toPerson(r: PersonRow): Person {
  return { id: r.id, uuid: r.uuid, name: r.name, groups: JSON.parse(r.groups) as string[], createdAt: r.created_at, updatedAt: r.updated_at, version: r.version };
}

export class GalleryStore {
  private deviceState: DeviceState | undefined;

  private constructor(
    readonly db: Database.Database,
    readonly path: string,
    readonly keys: KeyRing,
    readonly clock: Clock,
    private readonly readOnly: string | undefined,
    private readonly log: (message: string) => void,
  ) {}

  static open(path: string, options: GalleryOptions = {}): GalleryStore {
    const log = options.log ?? (() => undefined);
    let db: Database.Database;
    try {
      db = openPrivateDatabase(path, 'gallery');
    } catch (err) {
      throw new GalleryError((err as Error).message);
    }
    db.pragma('foreign_keys = ON');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    // Deleted content is overwritten with zeros, not just unlinked: a removed face is gone from the file.
    db.pragma('secure_delete = ON');
    let keys: KeyRing;
    try {
      keys = path === ':memory:' && !options.keyFile ? KeyRing.ephemeral() : KeyRing.forFile(options.keyFile ?? keyFileFor(path), log);
    } catch (err) {
      db.close();
      throw err;
    }
    const store = new GalleryStore(db, path, keys, options.clock ?? systemClock, options.readOnly, log);
    store.migrate();
    store.encryptPlaintextRows();
    return store;
  }

  close(): void {
    this.deviceState?.close();
    this.deviceState = undefined;
    this.db.close();
  }

  get schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  /** This gallery's node id in versions (random, made once). */
  get nodeId(): string {
    return (this.db.prepare("SELECT value FROM meta WHERE key = 'node_id'").get() as { value: string }).value;
  }

  private migrate(): void {
    const current = this.schemaVersion;
    const latest = MIGRATIONS.at(-1)!.version;
    if (current > latest) throw new GalleryError(`gallery ${this.path} has schema version ${current}, newer than this facegate (${latest}): upgrade facegate`);
    const todo = MIGRATIONS.filter((x) => x.version > current);
    if (todo.length === 0) return;
    this.db.pragma('foreign_keys = OFF');
    try {
      for (const m of todo) {
        this.db.transaction(() => {
          this.db.exec(m.sql);
          const broken = this.db.pragma('foreign_key_check') as unknown[];
          if (broken.length > 0) throw new GalleryError(`gallery ${this.path}: migration ${m.version} left ${broken.length} broken references; nothing was changed`);
          this.db.pragma(`user_version = ${m.version}`);
        })();
      }
    } finally {
      this.db.pragma('foreign_keys = ON');
    }
  }

  /** Rows from before encryption (schema 2) are encrypted in one transaction, then the file is compacted. */
  private encryptPlaintextRows(): void {
    const plain = (this.db.prepare('SELECT (SELECT count(*) FROM templates WHERE key_id IS NULL) + (SELECT count(*) FROM negatives WHERE key_id IS NULL) AS n').get() as { n: number }).n;
    if (plain === 0) return;
    this.transaction(() => {
      const key = this.keys.current();
      const t = this.db.prepare('UPDATE templates SET embedding = ?, crop = ?, key_id = ? WHERE id = ?');
      for (const r of this.db.prepare('SELECT id, uuid, embedding, crop FROM templates WHERE key_id IS NULL').all() as { id: number; uuid: string; embedding: Buffer; crop: Buffer | null }[]) {
        t.run(seal(key, r.embedding, `template:${r.uuid}:embedding`), r.crop && seal(key, r.crop, `template:${r.uuid}:crop`), key.id, r.id);
      }
      const n = this.db.prepare('UPDATE negatives SET embedding = ?, key_id = ? WHERE id = ?');
      for (const r of this.db.prepare('SELECT id, uuid, embedding FROM negatives WHERE key_id IS NULL').all() as { id: number; uuid: string; embedding: Buffer }[]) {
        n.run(seal(key, r.embedding, `negative:${r.uuid}`), key.id, r.id);
      }
    });
    this.compact();
    this.log(`gallery ${this.path}: encrypted ${plain} plaintext templates with key ${this.keys.current().id}`);
  }

  /** Rewrites the file so no page of it (or of the WAL) keeps old content. */
  compact(): void {
    if (this.path === ':memory:') return;
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    this.db.exec('VACUUM');
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  /** A write transaction. IMMEDIATE: the write lock is held from the start, so the key read inside is the one a rotation left. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  private writable(): void {
    if (this.readOnly) throw new GalleryError(this.readOnly);
  }

  get isReadOnly(): boolean {
    return this.readOnly !== undefined;
  }

  audit(action: string, person: string | null, details: Record<string, unknown> = {}): void {
    this.db.prepare('INSERT INTO audit (at, action, person, details) VALUES (?, ?, ?, ?)').run(this.nowIso(), action, person, JSON.stringify(details));
  }

  auditLog(limit = 100): { at: string; action: string; person: string | null; details: Record<string, unknown> }[] {
    return (this.db.prepare('SELECT at, action, person, details FROM audit ORDER BY id DESC LIMIT ?').all(limit) as { at: string; action: string; person: string | null; details: string }[]).map((r) => ({ ...r, details: JSON.parse(r.details) as Record<string, unknown> }));
  }

  private nowIso(): string {
    return new Date(this.clock.now()).toISOString();
  }

  /** The next version of a change made here (kept in the gallery, so the CLI and the daemon share one clock). */
  private tick(): string {
    const row = this.db.prepare("SELECT value FROM meta WHERE key = 'hlc'").get() as { value: string } | undefined;
    const next = formatHlc(tickHlc(row ? parseHlc(row.value) : undefined, this.clock.now(), this.nodeId));
    this.db.prepare("INSERT INTO meta (key, value) VALUES ('hlc', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(next);
    return next;
  }

  /** Moves this gallery's clock past a version seen elsewhere. */
  private observe(version: string): void {
    const row = this.db.prepare("SELECT value FROM meta WHERE key = 'hlc'").get() as { value: string } | undefined;
    const next = formatHlc(receiveHlc(row ? parseHlc(row.value) : undefined, parseHlc(version), this.clock.now(), this.nodeId));
    this.db.prepare("INSERT INTO meta (key, value) VALUES ('hlc', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(next);
  }

  /** A new version for the person, based on the one it had. */
  private touch(personId: number): void {
    this.db.prepare('UPDATE people SET base_version = version, version = ?, updated_at = ? WHERE id = ?').run(this.tick(), this.nowIso(), personId);
  }

  /** By name, or by UUID (needed when two controllers enrolled the same name). */
  findPerson(nameOrUuid: string): Person | undefined {
    if (UUID.test(nameOrUuid)) {
      const row = this.db.prepare('SELECT * FROM people WHERE uuid = ?').get(nameOrUuid) as PersonRow | undefined;
      return row && toPerson(row);
    }
    const rows = this.db.prepare('SELECT * FROM people WHERE name = ? ORDER BY created_at, uuid').all(validatePersonName(nameOrUuid)) as PersonRow[];
    if (rows.length > 1) throw new GalleryError(`${rows.length} people are named "${rows[0]!.name}" (enrolled on two controllers at once): rename one by its UUID (${rows.map((r) => r.uuid).join(', ')})`);
    return rows[0] && toPerson(rows[0]);
  }

  requirePerson(nameOrUuid: string): Person {
    const p = this.findPerson(nameOrUuid);
    if (!p) throw new GalleryError(`no person named "${nameOrUuid}" in the gallery (facegate gallery list shows who is enrolled)`);
    return p;
  }

  /** The person, creating them if needed (with `uuid` when it comes from an export). */
  ensurePerson(name: string, groups: string[] = [], uuid?: string): Person {
    const valid = validatePersonName(name);
    const existing = (uuid && this.findPerson(uuid)) || this.findPerson(valid);
    if (existing) return existing;
    this.writable();
    const id = uuid ?? randomUUID();
    if (!UUID.test(id)) throw new GalleryError(`"${id}" is not a UUID`);
    return this.transaction(() => {
      const t = this.nowIso();
      const version = this.tick();
      const rowId = Number(this.db.prepare('INSERT INTO people (uuid, name, groups, version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)').run(id, valid, JSON.stringify(groups), version, t, t).lastInsertRowid);
      // A re-created UUID (an import of someone deleted) is a new life: its tombstone goes.
      this.db.prepare('DELETE FROM tombstones WHERE uuid = ?').run(id);
      this.audit('person.add', valid, { groups });
      return { id: rowId, uuid: id, name: valid, groups, createdAt: t, updatedAt: t, version };
    });
  }

  addTemplates(person: Person, model: ModelTag, templates: NewTemplate[]): number[] {
    this.writable();
    return this.transaction(() => {
      const key = this.keys.current();
      const taken = this.db.prepare('SELECT 1 FROM templates WHERE uuid = ?');
      const ids = templates.map((tpl) => this.insertTemplate(person.id, key, { ...tpl, uuid: tpl.uuid && !taken.get(tpl.uuid) ? tpl.uuid : randomUUID(), modelId: model.id, modelSha: model.sha256, createdAt: this.nowIso() }));
      this.touch(person.id);
      this.audit('templates.add', person.name, { count: templates.length, model: model.id, sources: [...new Set(templates.map((x) => x.source))] });
      return ids;
    });
  }

  /**
   * Adds only the templates that are not already there: an embedding as similar as `maxSimilarity`
   * (or identical) to one of the person's templates of the same model, or to one added before it,
   * is skipped. Re-running an import adds nothing twice.
   */
  addNewTemplates(person: Person, model: ModelTag, templates: NewTemplate[], maxSimilarity: number): { ids: number[]; duplicates: number } {
    const kept: Float32Array[] = this.templatesOf(person)
      .filter((t) => t.modelSha === model.sha256)
      .map((t) => t.embedding);
    const fresh = templates.filter((t) => {
      if (kept.some((k) => k.length === t.embedding.length && (sameVector(k, t.embedding) || cosine(k, t.embedding) > maxSimilarity))) return false;
      kept.push(t.embedding);
      return true;
    });
    return { ids: fresh.length > 0 ? this.addTemplates(person, model, fresh) : [], duplicates: templates.length - fresh.length };
  }

  private insertTemplate(personId: number, key: DataKey, t: NewTemplate & { uuid: string; modelId: string; modelSha: string; createdAt: string }): number {
    return Number(
      this.db
        .prepare('INSERT INTO templates (uuid, person_id, model_id, model_sha, dim, embedding, key_id, quality, source, source_ref, crop, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(t.uuid, personId, t.modelId, t.modelSha, t.embedding.length, seal(key, float32ToBlob(t.embedding), `template:${t.uuid}:embedding`), key.id, JSON.stringify(t.quality), t.source, t.sourceRef ?? null, t.crop ? seal(key, t.crop, `template:${t.uuid}:crop`) : null, t.createdAt).lastInsertRowid,
    );
  }

  private insertNegative(personId: number, key: DataKey, n: { uuid: string; modelId: string; modelSha: string; embedding: Float32Array; note: string | null; createdAt: string }): number {
    return Number(
      this.db
        .prepare('INSERT INTO negatives (uuid, person_id, model_id, model_sha, dim, embedding, key_id, note, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(n.uuid, personId, n.modelId, n.modelSha, n.embedding.length, seal(key, float32ToBlob(n.embedding), `negative:${n.uuid}`), key.id, n.note, n.createdAt).lastInsertRowid,
    );
  }

  addNegative(person: Person, model: ModelTag, embedding: Float32Array, note?: string): number {
    this.writable();
    return this.transaction(() => {
      const id = this.insertNegative(person.id, this.keys.current(), { uuid: randomUUID(), modelId: model.id, modelSha: model.sha256, embedding, note: note ?? null, createdAt: this.nowIso() });
      this.touch(person.id);
      this.audit('negative.add', person.name, { model: model.id, note });
      return id;
    });
  }

  listPeople(): PersonSummary[] {
    const rows = this.db
      .prepare(
        `SELECT p.*,
                (SELECT count(*) FROM templates t WHERE t.person_id = p.id) AS templates,
                (SELECT count(*) FROM negatives n WHERE n.person_id = p.id) AS negatives,
                (SELECT group_concat(DISTINCT model_id) FROM templates t WHERE t.person_id = p.id) AS models
         FROM people p ORDER BY p.name, p.uuid`,
      )
      .all() as (PersonRow & { templates: number; negatives: number; models: string | null })[];
    return rows.map((r) => ({ ...toPerson(r), templates: r.templates, negatives: r.negatives, models: r.models ? r.models.split(',') : [] }));
  }

  templatesOf(person: Pick<Person, 'id'>): StoredTemplate[] {
    return (this.db.prepare('SELECT * FROM templates WHERE person_id = ? ORDER BY id').all(person.id) as Row[]).map((r) => this.rowToTemplate(r));
  }

  negativesOf(person: Pick<Person, 'id'>): StoredNegative[] {
    return (this.db.prepare('SELECT * FROM negatives WHERE person_id = ? ORDER BY id').all(person.id) as Row[]).map((r) => ({
      id: r.id as number,
      uuid: r.uuid as string,
      modelId: r.model_id as string,
      modelSha: r.model_sha as string,
      embedding: this.openVector(r, `negative:${r.uuid as string}`),
      note: r.note as string | null,
      createdAt: r.created_at as string,
    }));
  }

  private openVector(r: Row, aad: string): Float32Array {
    const blob = r.embedding as Buffer;
    return blobToFloat32(r.key_id === null ? blob : unseal(this.keys.byId(r.key_id as string), blob, aad));
  }

  private rowToTemplate(r: Row): StoredTemplate {
    const uuid = r.uuid as string;
    const crop = r.crop as Buffer | null;
    return {
      id: r.id as number,
      uuid,
      personId: r.person_id as number,
      modelId: r.model_id as string,
      modelSha: r.model_sha as string,
      embedding: this.openVector(r, `template:${uuid}:embedding`),
      quality: JSON.parse(r.quality as string) as Record<string, number>,
      source: r.source as TemplateSource,
      sourceRef: (r.source_ref as string | null) ?? null,
      crop: crop && (r.key_id === null ? crop : unseal(this.keys.byId(r.key_id as string), crop, `template:${uuid}:crop`)),
      createdAt: r.created_at as string,
    };
  }

  renamePerson(oldName: string, newName: string): void {
    this.writable();
    const valid = validatePersonName(newName);
    this.transaction(() => {
      const p = this.requirePerson(oldName);
      if (this.db.prepare('SELECT 1 FROM people WHERE name = ? AND id != ?').get(valid, p.id)) throw new GalleryError(`a person named "${valid}" already exists`);
      this.db.prepare('UPDATE people SET name = ? WHERE id = ?').run(valid, p.id);
      this.touch(p.id);
      this.audit('person.rename', valid, { from: p.name });
    });
  }

  setGroups(name: string, groups: string[]): void {
    this.writable();
    const valid = groups.map(validateGroupName);
    this.transaction(() => {
      const p = this.requirePerson(name);
      this.db.prepare('UPDATE people SET groups = ? WHERE id = ?').run(JSON.stringify([...new Set(valid)]), p.id);
      this.touch(p.id);
      this.audit('person.groups', p.name, { groups: valid });
    });
  }

  /** Adds and removes door groups; returns the person's groups afterwards. */
  updateGroups(name: string, add: string[], remove: string[]): string[] {
    return this.transaction(() => {
      const p = this.requirePerson(name);
      const drop = new Set(remove.map(validateGroupName));
      const groups = [...new Set([...p.groups, ...add.map(validateGroupName)])].filter((g) => !drop.has(g));
      if (groups.length !== p.groups.length || groups.some((g, i) => g !== p.groups[i])) this.setGroups(p.uuid, groups);
      return groups;
    });
  }

  /** Deletes the person with every template and negative (overwritten: secure_delete); leaves a tombstone. */
  removePerson(name: string): { templates: number; negatives: number } {
    this.writable();
    return this.transaction(() => {
      const p = this.requirePerson(name);
      const removed = this.deletePersonRows(p.id);
      this.writeTombstone(p.uuid, this.tick(), p.version, this.nowIso());
      this.audit('person.remove', p.name, removed);
      return removed;
    });
  }

  private writeTombstone(uuid: string, version: string, baseVersion: string | null, deletedAt: string): void {
    this.db
      .prepare('INSERT INTO tombstones (uuid, version, base_version, deleted_at) VALUES (?, ?, ?, ?) ON CONFLICT(uuid) DO UPDATE SET version = excluded.version, base_version = excluded.base_version, deleted_at = excluded.deleted_at')
      .run(uuid, version, baseVersion, deletedAt);
  }

  private deletePersonRows(personId: number): { templates: number; negatives: number } {
    const templates = this.db.prepare('DELETE FROM templates WHERE person_id = ?').run(personId).changes;
    const negatives = this.db.prepare('DELETE FROM negatives WHERE person_id = ?').run(personId).changes;
    this.db.prepare('DELETE FROM people WHERE id = ?').run(personId);
    return { templates, negatives };
  }

  tombstones(): { uuid: string; version: string; deletedAt: string }[] {
    return (this.db.prepare('SELECT uuid, version, deleted_at FROM tombstones ORDER BY uuid').all() as { uuid: string; version: string; deleted_at: string }[]).map((r) => ({ uuid: r.uuid, version: r.version, deletedAt: r.deleted_at }));
  }

  /** Forgets tombstones of deletions older than `beforeMs`; returns their UUIDs. */
  purgeTombstones(beforeMs: number): string[] {
    return this.transaction(() => {
      const old = (this.db.prepare('SELECT uuid FROM tombstones WHERE deleted_at < ?').all(new Date(beforeMs).toISOString()) as { uuid: string }[]).map((r) => r.uuid);
      this.db.prepare('DELETE FROM tombstones WHERE deleted_at < ?').run(new Date(beforeMs).toISOString());
      return old;
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
    return (this.db.prepare('SELECT t.*, p.name AS person_name FROM templates t JOIN people p ON p.id = t.person_id WHERE t.model_sha != ? AND t.crop IS NOT NULL ORDER BY t.id').all(model.sha256) as Row[])
      .filter((r) => !this.db.prepare('SELECT 1 FROM templates WHERE model_sha = ? AND source = ? AND source_ref = ?').get(model.sha256, 'reembed', `template:${r.id as number}`))
      .map((r) => ({ ...this.rowToTemplate(r), personName: r.person_name as string }));
  }

  /** Every template of one model, packed for search. Templates of other models are never included. */
  matrixFor(model: ModelTag): TemplateMatrix {
    return this.packed('templates', model);
  }

  negativesMatrixFor(model: ModelTag): TemplateMatrix {
    return this.packed('negatives', model);
  }

  private packed(table: 'templates' | 'negatives', model: ModelTag): TemplateMatrix {
    const rows = this.db.prepare(`SELECT t.uuid, t.person_id, t.dim, t.embedding, t.key_id, p.name FROM ${table} t JOIN people p ON p.id = t.person_id WHERE t.model_sha = ? ORDER BY t.id`).all(model.sha256) as Row[];
    const dim = (rows[0]?.dim as number | undefined) ?? 0;
    const vectors = new Float32Array(rows.length * dim);
    const personIds = new Int32Array(rows.length);
    const names = new Map<number, string>();
    rows.forEach((r, i) => {
      if (r.dim !== dim) throw new GalleryError(`gallery ${table} of model ${model.id} mix dimensions ${dim} and ${r.dim as number}`);
      vectors.set(this.openVector(r, table === 'templates' ? `template:${r.uuid as string}:embedding` : `negative:${r.uuid as string}`), i * dim);
      personIds[i] = r.person_id as number;
      names.set(r.person_id as number, r.name as string);
    });
    return { model, modelSha: model.sha256, dim, vectors, personIds, names };
  }

  /** Changes whenever another connection commits: the daemon polls it to reload the gallery. */
  dataVersion(): number {
    return this.db.pragma('data_version', { simple: true }) as number;
  }

  // --- replication (src/fleet): records, versions, hash ---

  /** The version of every person and tombstone. */
  recordVersions(): RecordVersion[] {
    const people = this.db.prepare('SELECT uuid, version, base_version FROM people').all() as { uuid: string; version: string; base_version: string | null }[];
    const dead = this.db.prepare('SELECT uuid, version, base_version FROM tombstones').all() as { uuid: string; version: string; base_version: string | null }[];
    return [...people.map((p) => ({ uuid: p.uuid, version: p.version, baseVersion: p.base_version, deleted: false })), ...dead.map((d) => ({ uuid: d.uuid, version: d.version, baseVersion: d.base_version, deleted: true }))];
  }

  recordVersion(uuid: string): RecordVersion | undefined {
    const p = this.db.prepare('SELECT uuid, version, base_version FROM people WHERE uuid = ?').get(uuid) as { uuid: string; version: string; base_version: string | null } | undefined;
    if (p) return { uuid, version: p.version, baseVersion: p.base_version, deleted: false };
    const d = this.db.prepare('SELECT version, base_version FROM tombstones WHERE uuid = ?').get(uuid) as { version: string; base_version: string | null } | undefined;
    return d && { uuid, version: d.version, baseVersion: d.base_version, deleted: true };
  }

  /** One person (or tombstone) as a record; crops only when `withCrops`. */
  record(uuid: string, withCrops = false): GalleryRecord | undefined {
    const row = this.db.prepare('SELECT * FROM people WHERE uuid = ?').get(uuid) as PersonRow | undefined;
    if (!row) {
      const d = this.db.prepare('SELECT version, base_version, deleted_at FROM tombstones WHERE uuid = ?').get(uuid) as { version: string; base_version: string | null; deleted_at: string } | undefined;
      return d && { uuid, version: d.version, baseVersion: d.base_version, deleted: true, deletedAt: d.deleted_at };
    }
    const p = toPerson(row);
    return {
      uuid,
      version: p.version,
      baseVersion: row.base_version,
      deleted: false,
      name: p.name,
      groups: p.groups,
      createdAt: p.createdAt,
      templates: this.templatesOf(p).map(({ id: _id, personId: _p, crop, ...t }) => ({ ...t, crop: withCrops ? crop : null })),
      negatives: this.negativesOf(p).map(({ id: _id, ...n }) => n),
    };
  }

  /**
   * Replaces the local state of one person with a replicated record (the caller decided it wins:
   * src/fleet/merge.ts). Followers apply records too: only local edits are refused on them.
   */
  applyRecord(rec: GalleryRecord): void {
    this.transaction(() => {
      this.observe(rec.version);
      const existing = this.db.prepare('SELECT id, name FROM people WHERE uuid = ?').get(rec.uuid) as { id: number; name: string } | undefined;
      if (rec.deleted) {
        if (existing) this.deletePersonRows(existing.id);
        this.writeTombstone(rec.uuid, rec.version, rec.baseVersion, rec.deletedAt);
        this.audit('replicated.remove', existing?.name ?? null, { uuid: rec.uuid, version: rec.version });
        return;
      }
      const name = validatePersonName(rec.name);
      const groups = rec.groups.map(validateGroupName);
      this.db.prepare('DELETE FROM tombstones WHERE uuid = ?').run(rec.uuid);
      let personId: number;
      if (existing) {
        personId = existing.id;
        this.db.prepare('UPDATE people SET name = ?, groups = ?, version = ?, base_version = ?, created_at = ?, updated_at = ? WHERE id = ?').run(name, JSON.stringify(groups), rec.version, rec.baseVersion, rec.createdAt, this.nowIso(), personId);
      } else {
        personId = Number(
          this.db.prepare('INSERT INTO people (uuid, name, groups, version, base_version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)').run(rec.uuid, name, JSON.stringify(groups), rec.version, rec.baseVersion, rec.createdAt, this.nowIso()).lastInsertRowid,
        );
      }
      const key = this.keys.current();
      // Templates are immutable once made: keep those the record still has, drop the others, add the new.
      const haveT = new Set((this.db.prepare('SELECT uuid FROM templates WHERE person_id = ?').all(personId) as { uuid: string }[]).map((r) => r.uuid));
      const wantT = new Set(rec.templates.map((t) => t.uuid));
      for (const uuid of haveT) if (!wantT.has(uuid)) this.db.prepare('DELETE FROM templates WHERE uuid = ?').run(uuid);
      for (const t of rec.templates) if (!haveT.has(t.uuid)) this.insertTemplate(personId, key, { ...t, sourceRef: t.sourceRef ?? undefined, crop: t.crop ?? undefined });
      const haveN = new Set((this.db.prepare('SELECT uuid FROM negatives WHERE person_id = ?').all(personId) as { uuid: string }[]).map((r) => r.uuid));
      const wantN = new Set(rec.negatives.map((n) => n.uuid));
      for (const uuid of haveN) if (!wantN.has(uuid)) this.db.prepare('DELETE FROM negatives WHERE uuid = ?').run(uuid);
      for (const n of rec.negatives) if (!haveN.has(n.uuid)) this.insertNegative(personId, key, n);
      this.audit('replicated.person', name, { uuid: rec.uuid, version: rec.version, templates: rec.templates.length, negatives: rec.negatives.length });
    });
  }

  counts(): { people: number; templates: number; tombstones: number } {
    return this.db.prepare('SELECT (SELECT count(*) FROM people) AS people, (SELECT count(*) FROM templates) AS templates, (SELECT count(*) FROM tombstones) AS tombstones').get() as { people: number; templates: number; tombstones: number };
  }

  /** The highest version in the gallery: how far it has come. */
  galleryVersion(): string | null {
    const r = this.db.prepare('SELECT max(v) AS v FROM (SELECT max(version) AS v FROM people UNION ALL SELECT max(version) FROM tombstones)').get() as { v: string | null };
    return r.v;
  }

  /** sha256 over every (uuid, version, deleted): equal on two controllers when their galleries agree. */
  galleryHash(): string {
    const h = createHash('sha256');
    for (const r of this.recordVersions().sort((a, b) => (a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0))) h.update(`${r.uuid} ${r.version} ${r.deleted ? 'x' : 'p'}\n`);
    return h.digest('hex');
  }

  // --- key rotation ---

  /**
   * Re-encrypts every template, negative and crop (and the device's pending captures) under a new
   * random key. The key file first holds new and old keys, every row is re-encrypted in one
   * transaction per file, and only then the old key leaves the file: a crash at any point leaves a
   * key file that opens every row.
   */
  rekey(device?: DeviceState): { keyId: string; rows: number } {
    const oldKeys = this.keys.ids.map((id) => this.keys.byId(id).key);
    const fresh = randomBytes(32);
    this.keys.replace([fresh, ...oldKeys]);
    const key = this.keys.current();
    const rows = this.transaction(() => this.reencryptRows(key)) + (device?.reencrypt(key) ?? 0);
    // Rows another process wrote meanwhile are re-encrypted under the write lock, then the old keys go.
    this.transaction(() => {
      device?.reencrypt(key);
      this.reencryptRows(key);
      this.keys.replace([fresh]);
    });
    this.compact();
    device?.compact();
    this.transaction(() => this.audit('gallery.rekey', null, { keyId: key.id, rows }));
    return { keyId: key.id, rows };
  }

  private reencryptRows(key: DataKey): number {
    let n = 0;
    const t = this.db.prepare('UPDATE templates SET embedding = ?, crop = ?, key_id = ? WHERE id = ?');
    for (const r of this.db.prepare('SELECT * FROM templates WHERE key_id IS NOT ? ').all(key.id) as Row[]) {
      const tpl = this.rowToTemplate(r);
      t.run(seal(key, float32ToBlob(tpl.embedding), `template:${tpl.uuid}:embedding`), tpl.crop && seal(key, tpl.crop, `template:${tpl.uuid}:crop`), key.id, tpl.id);
      n++;
    }
    const u = this.db.prepare('UPDATE negatives SET embedding = ?, key_id = ? WHERE id = ?');
    for (const r of this.db.prepare('SELECT * FROM negatives WHERE key_id IS NOT ?').all(key.id) as Row[]) {
      u.run(seal(key, float32ToBlob(this.openVector(r, `negative:${r.uuid as string}`)), `negative:${r.uuid as string}`), key.id, r.id);
      n++;
    }
    return n;
  }

  // --- device-local state: forwarded to DeviceState (the daemon moves to calling it directly) ---

  /** The armed enrollment and pending captures of this device, in the file next to the gallery. */
  get device(): DeviceState {
    this.deviceState ??= DeviceState.open(this, { clock: this.clock });
    return this.deviceState;
  }

  armEnrollment(name: string, ttlMs: number): { name: string; expiresAt: string } {
    return this.device.armEnrollment(name, ttlMs);
  }

  takeArmedEnrollment(): string | null {
    return this.device.takeArmedEnrollment();
  }

  addPending(model: ModelTag, templates: NewTemplate[], source: string, note?: string): number {
    return this.device.addPending(model, templates, source, note);
  }

  listPending(): { id: number; createdAt: string; source: string; note: string | null; templates: number }[] {
    return this.device.listPending();
  }

  namePending(id: number, name: string): { person: string; templates: number } {
    return this.device.namePending(id, name);
  }

  discardPending(id: number): void {
    this.device.discardPending(id);
  }

  integrityCheck(): string {
    return this.db.pragma('integrity_check', { simple: true }) as string;
  }
}

function sameVector(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Door groups (doors[].allow.groups): short, printable, no commas (the CLI lists them with commas). */
export function validateGroupName(raw: string): string {
  const g = raw.normalize('NFC').trim();
  if (!/^[\p{L}\p{N}][\p{L}\p{M}\p{N} ._-]{0,63}$/u.test(g)) throw new GalleryError(`group name "${raw}" must be 1-64 letters, digits, spaces and . - _`);
  return g;
}

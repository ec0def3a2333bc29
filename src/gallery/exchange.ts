// Gallery export/import as JSON, so a gallery moves between devices. Embeddings travel as
// base64 float32 (little-endian) with their model's id and hash; an import is validated whole
// before anything is written, and refuses templates of another model. UUIDs travel too, so a
// person imported on another controller is the same person there (and for fleet sync). Importing
// again adds nothing twice: templates already there (same UUID, identical or near-identical
// embedding) are skipped, and the export's groups are added to the person's.
import { z } from 'zod';
import { validateGroupName, type GalleryStore, type ModelTag, type TemplateSource } from './gallery-store.js';
import { validatePersonName } from './names.js';

export const EXCHANGE_FORMAT = 'facegate-gallery';
export const EXCHANGE_VERSION = 1;

const Uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

const Vector = z.object({
  uuid: Uuid.optional(),
  model: z.object({ id: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
  dim: z.number().int().positive(),
  embedding: z.string().describe('base64 of little-endian float32'),
  createdAt: z.string().optional(),
});

const ExchangeSchema = z.object({
  format: z.literal(EXCHANGE_FORMAT),
  version: z.literal(EXCHANGE_VERSION),
  exportedAt: z.string().optional(),
  people: z.array(
    z.object({
      uuid: Uuid.optional(),
      name: z.string(),
      groups: z.array(z.string()).default([]),
      templates: z.array(Vector.extend({ quality: z.record(z.string(), z.number()).default({}), source: z.enum(['camera', 'folder', 'remote', 'cli', 'reembed']), sourceRef: z.string().nullable().optional() })),
      negatives: z.array(Vector.extend({ note: z.string().nullable().optional() })).default([]),
    }),
  ),
});

export type GalleryExchange = z.infer<typeof ExchangeSchema>;

function encode(v: Float32Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
}

function decode(s: string, dim: number, where: string): Float32Array {
  const bytes = Buffer.from(s, 'base64');
  if (bytes.length !== dim * 4) throw new Error(`${where}: embedding has ${bytes.length / 4} values, dim says ${dim}`);
  const copy = new Uint8Array(bytes);
  const v = new Float32Array(copy.buffer);
  if (v.some((x) => !Number.isFinite(x))) throw new Error(`${where}: embedding contains NaN or infinity`);
  return v;
}

export function exportGallery(store: GalleryStore): GalleryExchange {
  return {
    format: EXCHANGE_FORMAT,
    version: EXCHANGE_VERSION,
    exportedAt: new Date(store.clock.now()).toISOString(),
    people: store.listPeople().map((p) => ({
      uuid: p.uuid,
      name: p.name,
      groups: p.groups,
      templates: store.templatesOf(p).map((t) => ({
        uuid: t.uuid,
        model: { id: t.modelId, sha256: t.modelSha },
        dim: t.embedding.length,
        embedding: encode(t.embedding),
        quality: t.quality,
        source: t.source,
        sourceRef: t.sourceRef,
        createdAt: t.createdAt,
      })),
      negatives: store.negativesOf(p).map((n) => ({
        uuid: n.uuid,
        model: { id: n.modelId, sha256: n.modelSha },
        dim: n.embedding.length,
        embedding: encode(n.embedding),
        note: n.note,
        createdAt: n.createdAt,
      })),
    })),
  };
}

export interface ImportResult {
  people: number;
  templates: number;
  negatives: number;
  /** Templates and negatives already in the gallery, not added again. */
  duplicates: number;
}

/** Validates everything first; then writes all people in one transaction. */
export function importGallery(store: GalleryStore, raw: unknown, model: ModelTag, dim: number, dedupeSimilarity = 0.95): ImportResult {
  const parsed = ExchangeSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`not a facegate gallery export: ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
  }
  const prepared = parsed.data.people.map((p, i) => {
    const name = validatePersonName(p.name);
    const check = (v: { model: ModelTag; dim: number }, where: string) => {
      if (v.model.sha256 !== model.sha256) {
        throw new Error(`${where}: made by model ${v.model.id} (${v.model.sha256.slice(0, 12)}), this gallery uses ${model.id} (${model.sha256.slice(0, 12)}): templates of different models cannot be compared; re-enroll from photos instead`);
      }
      if (v.dim !== dim) throw new Error(`${where}: dimension ${v.dim}, model ${model.id} makes ${dim}`);
    };
    const templates = p.templates.map((t, j) => {
      const where = `people[${i}] "${name}" templates[${j}]`;
      check(t, where);
      return { uuid: t.uuid, embedding: decode(t.embedding, t.dim, where), quality: t.quality, source: t.source as TemplateSource, sourceRef: t.sourceRef ?? undefined };
    });
    const negatives = p.negatives.map((n, j) => {
      const where = `people[${i}] "${name}" negatives[${j}]`;
      check(n, where);
      return { uuid: n.uuid, embedding: decode(n.embedding, n.dim, where), note: n.note ?? undefined };
    });
    return { uuid: p.uuid, name, groups: p.groups.map(validateGroupName), templates, negatives };
  });
  return store.transaction(() => {
    let templates = 0, negatives = 0, duplicates = 0;
    for (const p of prepared) {
      const person = store.ensurePerson(p.name, p.groups, p.uuid);
      if (p.groups.some((g) => !person.groups.includes(g))) store.updateGroups(person.uuid, p.groups, []);
      const have = store.templatesOf(person);
      const fresh = p.templates.filter((t) => !(t.uuid && have.some((h) => h.uuid === t.uuid)));
      duplicates += p.templates.length - fresh.length;
      const added = store.addNewTemplates(person, model, fresh, dedupeSimilarity);
      templates += added.ids.length;
      duplicates += added.duplicates;
      const haveNegatives = store.negativesOf(person);
      for (const n of p.negatives) {
        if (haveNegatives.some((h) => h.uuid === n.uuid || (h.modelSha === model.sha256 && sameVector(h.embedding, n.embedding)))) {
          duplicates++;
          continue;
        }
        store.addNegative(person, model, n.embedding, n.note);
        negatives++;
      }
    }
    store.audit('gallery.import', null, { people: prepared.length, templates, negatives, duplicates });
    return { people: prepared.length, templates, negatives, duplicates };
  });
}

function sameVector(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

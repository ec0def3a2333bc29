// A person on the wire: the versions in the clear (what the merge needs and the broker may see),
// the body (name, groups, templates of every model, negatives, crops when shared) encrypted with
// the site data key, and an Ed25519 signature over all of it (encrypt-then-sign: a forged record
// is refused before anything is decrypted or parsed).
import { createCipheriv, createDecipheriv, randomBytes, sign, verify } from 'node:crypto';
import { z } from 'zod';
import { isHlc } from '../gallery/hlc.js';
import type { GalleryRecord, PersonRecord } from '../gallery/gallery-store.js';
import type { SiteKeys } from './site-keys.js';

export const RECORD_SCHEME = 'facegate-fleet/1';
/** Larger payloads are refused unread (a person with 50 templates of 512 floats and crops is ~1 MiB). */
export const MAX_RECORD_BYTES = 4 * 1024 * 1024;

const Uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
const Version = z.string().refine(isHlc, 'not a version');

const WireRecord = z.strictObject({
  v: z.literal(1),
  site: z.string(),
  uuid: Uuid,
  version: Version,
  base: Version.nullable(),
  origin: z.string().min(1).max(64),
  deleted: z.boolean(),
  deletedAt: z.string().datetime().nullable(),
  body: z.string().nullable(),
  sig: z.string(),
});
export type WireRecord = z.infer<typeof WireRecord>;

const Vector = { uuid: Uuid, modelId: z.string().max(200), modelSha: z.string().regex(/^[0-9a-f]{64}$/), dim: z.number().int().positive().max(4096), embedding: z.string(), createdAt: z.string() };
const Body = z.strictObject({
  name: z.string(),
  groups: z.array(z.string()).max(100),
  createdAt: z.string(),
  templates: z.array(z.strictObject({ ...Vector, quality: z.record(z.string(), z.number()), source: z.enum(['camera', 'folder', 'remote', 'cli', 'reembed']), sourceRef: z.string().nullable(), crop: z.string().nullable() })).max(1000),
  negatives: z.array(z.strictObject({ ...Vector, note: z.string().nullable() })).max(1000),
});

export interface DecodedRecord {
  record: GalleryRecord;
  origin: string;
}

export type DecodeResult = ({ ok: true } & DecodedRecord) | { ok: false; reason: string; uuid?: string; version?: string };

function signedText(w: Omit<WireRecord, 'sig'>): Buffer {
  return Buffer.from([RECORD_SCHEME, w.site, w.uuid, w.version, w.base ?? '', w.origin, w.deleted ? '1' : '0', w.deletedAt ?? '', w.body ?? ''].join('\n'));
}

function aad(site: string, uuid: string, version: string): Buffer {
  return Buffer.from(`${RECORD_SCHEME}\n${site}\n${uuid}\n${version}`);
}

const b64 = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');

function floats(text: string, dim: number): Float32Array {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== dim * 4) throw new Error(`embedding has ${bytes.length} bytes, dim ${dim} needs ${dim * 4}`);
  const v = new Float32Array(new Uint8Array(bytes).buffer);
  if (v.some((x) => !Number.isFinite(x))) throw new Error('embedding holds NaN or infinity');
  return v;
}

export function encodeRecord(rec: GalleryRecord, ctx: { site: string; origin: string; keys: SiteKeys }): Buffer {
  if (!ctx.keys.signing) throw new Error('this controller has no signing key (a follower publishes no records)');
  let body: string | null = null;
  if (!rec.deleted) {
    const plain = JSON.stringify({
      name: rec.name,
      groups: rec.groups,
      createdAt: rec.createdAt,
      templates: rec.templates.map((t) => ({ uuid: t.uuid, modelId: t.modelId, modelSha: t.modelSha, dim: t.embedding.length, embedding: b64(t.embedding), createdAt: t.createdAt, quality: t.quality, source: t.source, sourceRef: t.sourceRef, crop: t.crop ? t.crop.toString('base64') : null })),
      negatives: rec.negatives.map((n) => ({ uuid: n.uuid, modelId: n.modelId, modelSha: n.modelSha, dim: n.embedding.length, embedding: b64(n.embedding), createdAt: n.createdAt, note: n.note })),
    });
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', ctx.keys.data, iv);
    cipher.setAAD(aad(ctx.site, rec.uuid, rec.version));
    const ct = Buffer.concat([cipher.update(plain), cipher.final()]);
    body = Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64');
  }
  const unsigned = { v: 1 as const, site: ctx.site, uuid: rec.uuid, version: rec.version, base: rec.baseVersion, origin: ctx.origin, deleted: rec.deleted, deletedAt: rec.deleted ? rec.deletedAt : null, body };
  return Buffer.from(JSON.stringify({ ...unsigned, sig: sign(null, signedText(unsigned), ctx.keys.signing).toString('base64') }));
}

/** Size and shape only: enough to see which version a payload claims (nothing is trusted yet). */
export function parseWire(payload: Buffer): { ok: true; wire: WireRecord } | { ok: false; reason: string } {
  if (payload.length > MAX_RECORD_BYTES) return { ok: false, reason: `record of ${payload.length} bytes is over ${MAX_RECORD_BYTES}` };
  try {
    const parsed = WireRecord.safeParse(JSON.parse(payload.toString('utf8')));
    if (!parsed.success) return { ok: false, reason: `not a record: ${parsed.error.issues[0]!.path.join('.')}: ${parsed.error.issues[0]!.message}` };
    return { ok: true, wire: parsed.data };
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
}

/** Checks size, shape, site, topic and signature, then decrypts: any failure is a reason, never an exception. */
export function decodeRecord(payload: Buffer, topicUuid: string, ctx: { site: string; keys: SiteKeys }): DecodeResult {
  const parsed = parseWire(payload);
  return parsed.ok ? openWire(parsed.wire, topicUuid, ctx) : parsed;
}

export function openWire(wire: WireRecord, topicUuid: string, ctx: { site: string; keys: SiteKeys }): DecodeResult {
  const where = { uuid: wire.uuid, version: wire.version };
  const { sig, ...unsigned } = wire;
  if (!verify(null, signedText(unsigned), ctx.keys.verify, Buffer.from(sig, 'base64'))) return { ok: false, reason: 'bad signature (not signed with this site\'s key)', ...where };
  if (wire.site !== ctx.site) return { ok: false, reason: `signed for site ${wire.site}, this is ${ctx.site}`, ...where };
  if (wire.uuid !== topicUuid) return { ok: false, reason: `record of ${wire.uuid} published on the topic of ${topicUuid}`, ...where };
  if (wire.deleted) {
    if (wire.deletedAt === null || wire.body !== null) return { ok: false, reason: 'a tombstone carries deletedAt and no body', ...where };
    return { ok: true, origin: wire.origin, record: { uuid: wire.uuid, version: wire.version, baseVersion: wire.base, deleted: true, deletedAt: wire.deletedAt } };
  }
  if (wire.body === null) return { ok: false, reason: 'a person record without a body', ...where };
  try {
    const blob = Buffer.from(wire.body, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', ctx.keys.data, blob.subarray(0, 12));
    decipher.setAAD(aad(wire.site, wire.uuid, wire.version));
    decipher.setAuthTag(blob.subarray(12, 28));
    const plain = Buffer.concat([decipher.update(blob.subarray(28)), decipher.final()]).toString('utf8');
    const body = Body.parse(JSON.parse(plain));
    const record: PersonRecord = {
      uuid: wire.uuid,
      version: wire.version,
      baseVersion: wire.base,
      deleted: false,
      name: body.name,
      groups: body.groups,
      createdAt: body.createdAt,
      templates: body.templates.map((t) => ({ uuid: t.uuid, modelId: t.modelId, modelSha: t.modelSha, embedding: floats(t.embedding, t.dim), quality: t.quality, source: t.source, sourceRef: t.sourceRef, createdAt: t.createdAt, crop: t.crop === null ? null : Buffer.from(t.crop, 'base64') })),
      negatives: body.negatives.map((n) => ({ uuid: n.uuid, modelId: n.modelId, modelSha: n.modelSha, embedding: floats(n.embedding, n.dim), note: n.note, createdAt: n.createdAt })),
    };
    return { ok: true, origin: wire.origin, record };
  } catch (err) {
    return { ok: false, reason: `body does not decrypt or parse with the site data key (${(err as Error).message.slice(0, 120)})`, ...where };
  }
}

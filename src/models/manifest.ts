// models/manifest.json: what each model file is, where its weights came from, and how to feed
// it. Code reads the input spec from here, so a user-supplied embedder (e.g. a FaceNet
// Inception-ResNet-v1 exported to ONNX) works by adding its file and an entry, without code changes.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

export const MANIFEST_VERSION = 1;

const Normalisation = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('linear'), mean: z.number(), scale: z.number() }).describe('(x - mean) * scale per channel'),
  z.object({ kind: z.literal('prewhiten') }).describe('per-image standardisation: (x - mean(x)) / max(std(x), 1/sqrt(N))'),
]);

const Crop = z.discriminatedUnion('method', [
  z.object({ method: z.literal('none') }),
  z.object({ method: z.literal('similarity-5pt'), template: z.literal('arcface-112') }),
  z.object({ method: z.literal('margin-box'), margin: z.number().int().min(0) }),
]);

const Source = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('npm'),
    package: z.string(),
    version: z.string(),
    path: z.string(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    tarballSha256: z.string().regex(/^[0-9a-f]{64}$/),
  }),
  z.object({ kind: z.literal('derived'), parent: z.string(), method: z.string(), calibration: z.string().optional() }),
  z.object({ kind: z.literal('user'), note: z.string().optional() }),
]);

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);

/** Verification on held-out people, base and tuned measured on the same pairs in the same domain. */
const HeldOutResult = z.object({
  auc: z.number(),
  eer: z.number(),
  tarAtFar1e3: z.number(),
  /** False when there were fewer than 1000 impostor pairs, so TAR at FAR 1e-3 says little. */
  tarAtFar1e3Resolvable: z.boolean(),
  genuine: z.number().int(),
  impostor: z.number().int(),
});

/** How a tuned model was made and how it compared with its parent: `models use` decides on this. */
const Tuning = z.object({
  method: z.literal('triplet'),
  parent: z.string(),
  parentSha256: Sha256,
  /** sha256 over the training folder's photos (relative path and content hash of each). */
  dataFingerprint: Sha256,
  degrade: z.string().nullable(),
  seed: z.number().int(),
  hyperParameters: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])),
  people: z.object({ train: z.array(z.string()), validation: z.array(z.string()), heldOut: z.array(z.string()) }),
  bestEpoch: z.number().int(),
  heldOut: z.object({ base: HeldOutResult, tuned: HeldOutResult }),
});

export const ModelEntrySchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'lower-case letters, digits, dot, dash, underscore'),
    // 'detector': a one-model face detector (boxes + five landmarks); MTCNN has its three nets.
    role: z.enum(['detector', 'detector-pnet', 'detector-rnet', 'detector-onet', 'embedder', 'anti-spoof']),
    family: z.string(),
    file: z.string(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    precision: z.enum(['float32', 'int8-static', 'int8-weights']),
    source: Source,
    licence: z.string(),
    trainingData: z.string(),
    input: z.object({
      name: z.string(),
      layout: z.enum(['NCHW', 'NHWC']),
      /** [batch, C, H, W] or [batch, H, W, C]; strings are dynamic dimensions. */
      shape: z.array(z.union([z.number().int(), z.string()])),
      colour: z.enum(['RGB', 'BGR']),
      normalisation: Normalisation,
      crop: Crop,
    }),
    outputs: z.array(z.object({ name: z.string(), meaning: z.string() })).min(1),
    embeddingDim: z.number().int().positive().optional(),
    runtime: z.object({ foldWeightOnlyQuant: z.boolean().optional() }).optional(),
    notes: z.string().optional(),
    tuning: Tuning.optional(),
  })
  .superRefine((m, ctx) => {
    if (m.role === 'embedder' && m.embeddingDim === undefined) {
      ctx.addIssue({ code: 'custom', message: 'embedder entries need embeddingDim', path: ['embeddingDim'] });
    }
    if (m.input.shape.length !== 4) ctx.addIssue({ code: 'custom', message: 'input.shape must have 4 dimensions', path: ['input', 'shape'] });
  });

export const ManifestSchema = z.object({
  version: z.literal(MANIFEST_VERSION),
  models: z.array(ModelEntrySchema),
});

export type ModelEntry = z.infer<typeof ModelEntrySchema>;
export type Manifest = z.infer<typeof ManifestSchema>;
export type Precision = ModelEntry['precision'];
export type TuningRecord = NonNullable<ModelEntry['tuning']>;
export type HeldOutResult = TuningRecord['heldOut']['base'];

export class ManifestError extends Error {
  override name = 'ManifestError';
}

export function manifestPath(modelsDir: string): string {
  return join(modelsDir, 'manifest.json');
}

export function readManifest(modelsDir: string): Manifest {
  const path = manifestPath(modelsDir);
  if (!existsSync(path)) throw new ManifestError(`${path} not found: run \`facegate models build\` first`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ManifestError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), '');
    const modelsIdx = issue.path[0] === 'models' && typeof issue.path[1] === 'number' ? issue.path[1] : undefined;
    const id = modelsIdx !== undefined ? (raw as { models: { id?: string }[] }).models[modelsIdx]?.id : undefined;
    throw new ManifestError(`${path}: ${where}${id ? ` (model "${id}")` : ''}: ${issue.message}`);
  }
  const ids = new Set<string>();
  for (const m of parsed.data.models) {
    if (ids.has(m.id)) throw new ManifestError(`${path}: model id "${m.id}" appears twice`);
    ids.add(m.id);
  }
  return parsed.data;
}

/** Stable formatting so that rebuilding an unchanged model set rewrites identical bytes. */
export function writeManifest(modelsDir: string, manifest: Manifest): void {
  writeFileSync(manifestPath(modelsDir), `${JSON.stringify(manifest, null, 2)}\n`);
}

export function fileSha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

export function findModel(manifest: Manifest, id: string): ModelEntry {
  const m = manifest.models.find((x) => x.id === id);
  if (!m) throw new ManifestError(`model "${id}" is not in the manifest (have: ${manifest.models.map((x) => x.id).join(', ')})`);
  return m;
}

/** Resolves an entry's file and checks it is the file the manifest describes. */
export function verifiedModelPath(modelsDir: string, entry: ModelEntry): string {
  const path = join(modelsDir, entry.file);
  if (!existsSync(path)) throw new ManifestError(`model file ${path} (model "${entry.id}") is missing: run \`facegate models build\``);
  const got = fileSha256(path);
  if (got !== entry.sha256) {
    throw new ManifestError(`model file ${path} (model "${entry.id}") has sha256 ${got}, manifest says ${entry.sha256}: rebuild or fix the entry`);
  }
  return path;
}

/** The MTCNN nets of one precision, as their manifest ids. */
export function mtcnnIds(precision: Precision): { pnet: string; rnet: string; onet: string } {
  const suffix = precisionSuffix(precision);
  return { pnet: `mtcnn-pnet-${suffix}`, rnet: `mtcnn-rnet-${suffix}`, onet: `mtcnn-onet-${suffix}` };
}

export function precisionSuffix(p: Precision): string {
  return p === 'float32' ? 'fp32' : p === 'int8-static' ? 'int8' : 'int8w';
}

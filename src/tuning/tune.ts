// `facegate tune`: photos in the FaceDataSet layout -> aligned (and degraded) crops -> penultimate
// features -> triplet training of the final projection on some people -> verification of base
// and tuned on other people -> a new ONNX model, its manifest entry, a loss curve and a report.
import cliProgress from 'cli-progress';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { scanFaceDataSet } from '../gallery/enrollment.js';
import { verificationMetrics, type VerificationMetrics } from '../eval/verification.js';
import { ModelEntrySchema, findModel, mtcnnIds, readManifest, verifiedModelPath, writeManifest, type HeldOutResult, type ModelEntry } from '../models/manifest.js';
import { createSession } from '../runtime/onnx-session.js';
import { Embedder } from '../vision/embedder.js';
import { defaultEmbedderId, toPrecision, type PipelineOptions } from '../vision/face-pipeline.js';
import { loadAnalyzer } from '../vision/load-analyzer.js';
import { DEFAULT_ANALYZER_OPTIONS, type FaceAnalyzer } from '../vision/face-analyzer.js';
import { DEFAULT_MTCNN_OPTIONS } from '../vision/mtcnn/options.js';
import type { Mat } from '../vision/opencv.js';
import { degradeFor, degradePreset, imageKey, type DegradePreset } from './degrade.js';
import { FeatureExtractor, alignPhotos, cachedFeatures, isUsable, sha256Hex, type UsablePhoto } from './features.js';
import { writeLossCurve } from './loss-curve.js';
import { compareHeldOut, type DeploymentCheck } from './policy.js';
import { createRng, seedFrom } from '../util/rng.js';
import { allPairScores, trainProjection, validationScore, type EpochStats, type TrainResult, type TrainSettings } from './train.js';
import { createProjection, embed, type Projection } from './triplet.js';
import { tunedModelBytes } from './write-model.js';

/** Where tuned models live inside the models folder (generated files, like the built ones). */
export const TUNED_SUBDIR = 'tuned';

export interface TuneOptions {
  dataDir: string;
  outName: string;
  /** Models folder, parent embedder (embedderId), providers, threads, detector settings. */
  pipeline: PipelineOptions;
  degrade?: string;
  seed: number;
  /** Share of people held out for the final base-vs-tuned comparison. */
  heldOut: number;
  /** Share of the training people used to pick the epoch (early stopping). */
  validation: number;
  /** Degraded variants per photo (flips and noise draws) to train on. */
  augment: number;
  train: Omit<TrainSettings, 'seed'>;
  matrix: string[];
  cacheDir: string;
  progress: boolean;
  log: (line: string) => void;
}

export interface Skipped {
  source: string;
  reason: string;
}

export interface HeldOutReport {
  people: number;
  photos: number;
  base: VerificationMetrics;
  tuned: VerificationMetrics;
}

export interface TuneReport {
  model: { id: string; file: string; sha256: string; parent: string; parentSha256: string };
  data: { dir: string; fingerprint: string; photos: number; usablePhotos: number; skipped: Skipped[] };
  split: { train: string[]; validation: string[]; heldOut: string[] };
  degrade: string | null;
  seed: number;
  hyperParameters: Record<string, number | string | boolean>;
  features: { dim: number; items: number; cached: boolean; layer: string };
  training: { epochs: EpochStats[]; bestEpoch: number; baseline?: { eer: number; auc: number }; stoppedEarly: boolean; batches: number };
  heldOut: HeldOutReport;
  deployment: DeploymentCheck;
  lossCurve: string;
  reportFile: string;
  matrix?: { images: string[]; base: number[][]; tuned: number[][]; skipped: Skipped[] };
}

interface Photo {
  person: number;
  aligned: UsablePhoto;
}

export class TuneInputError extends Error {
  override name = 'TuneInputError';
}

/** People split into held-out, validation and training by the seed; names sorted first so the folder order does not matter. */
export function splitPeople(names: readonly string[], heldOut: number, validation: number, seed: number): { train: string[]; validation: string[]; heldOut: string[] } {
  const order = createRng(seedFrom('split', seed)).shuffle([...names].sort());
  // Two people at least on each side: with one there are no impostor pairs to measure.
  const nHeld = Math.min(order.length - 2, Math.max(2, Math.round(order.length * heldOut)));
  const held = order.slice(0, nHeld);
  const rest = order.slice(nHeld);
  const nVal = Math.round(rest.length * validation);
  const useVal = nVal >= 2 && rest.length - nVal >= 2;
  return {
    heldOut: held.sort(),
    validation: useVal ? rest.slice(0, nVal).sort() : [],
    train: (useVal ? rest.slice(nVal) : rest).sort(),
  };
}

function heldOutResult(m: VerificationMetrics): HeldOutResult {
  const at = m.atFar.find((a) => a.target === 1e-3)!;
  return { auc: m.auc, eer: m.eer, tarAtFar1e3: at.tar, tarAtFar1e3Resolvable: at.resolvable, genuine: m.genuine, impostor: m.impostor };
}

/** Everything training and evaluation need, prepared once: aligned photos, their features, the split. */
export interface TuningData {
  parent: ModelEntry;
  parentBytes: Uint8Array;
  analyzer: FaceAnalyzer;
  alignKey: string;
  extractor: FeatureExtractor;
  preset?: DegradePreset;
  dataFingerprint: string;
  files: number;
  skipped: Skipped[];
  split: { train: string[]; validation: string[]; heldOut: string[] };
  photos: Photo[];
  /** features[featureIds[photo][variant]]: inDim floats. */
  features: Float32Array[];
  featureIds: number[][];
  variants: number;
  featuresCached: boolean;
  /** Photo indices of each named person, in the order given. */
  photosOf(names: readonly string[]): number[][];
  /** The crop the embedder sees for a photo's variant: mirrored for odd variants, then degraded. */
  variantCrop(photo: UsablePhoto, variant: number): Mat;
}

export type PrepareOptions = Pick<TuneOptions, 'dataDir' | 'pipeline' | 'degrade' | 'seed' | 'heldOut' | 'validation' | 'augment' | 'cacheDir' | 'progress' | 'log'>;

export async function prepareTuning(o: PrepareOptions): Promise<TuningData> {
  const modelsDir = o.pipeline.modelsDir;
  const manifest = readManifest(modelsDir);
  const parent = findModel(manifest, o.pipeline.embedderId ?? defaultEmbedderId('float32'));
  if (parent.role !== 'embedder') throw new TuneInputError(`model "${parent.id}" is a ${parent.role}, not an embedder`);
  if (parent.precision !== 'float32') throw new TuneInputError(`tune needs a float32 parent embedder; "${parent.id}" is ${parent.precision} (use --embedder mobilefacenet-fp32)`);
  const preset: DegradePreset | undefined = o.degrade ? degradePreset(o.degrade) : undefined;

  const scan = scanFaceDataSet(o.dataDir);
  const skipped: Skipped[] = scan.problems.map((p) => ({ source: p.source, reason: p.reason }));
  if (scan.people.length < 2) {
    const found = scan.people.length === 1 ? `photos of one person only (${scan.people[0]!.name})` : 'no person folders with photos';
    throw new TuneInputError(`${o.dataDir}: ${found}; triplet tuning needs DIR/<person>/*.jpg for at least 4 people with 2 or more photos each (2 people to train on, 2 to evaluate on)`);
  }
  const files = scan.people.flatMap((p) => p.files);
  const dataFingerprint = sha256Hex(files.map((f) => `${relative(o.dataDir, f)}\t${sha256Hex(readFileSync(f))}`).join('\n'));

  const { analyzer, description } = await loadAnalyzer({ ...o.pipeline, embedderId: parent.id });
  o.log(`tune: ${description}; ${scan.people.length} people, ${files.length} photos in ${o.dataDir}`);
  const alignKey = alignmentKey(manifest.models, parent, o.pipeline);
  const aligned = await alignPhotos(analyzer, files, o.cacheDir, alignKey, o.progress);
  const byFile = new Map(aligned.map((a) => [a.file, a]));
  for (const a of aligned) if (a.error) skipped.push({ source: a.file, reason: a.error });

  const usablePeople = scan.people
    .map((p) => ({ name: p.name, photos: p.files.map((f) => byFile.get(f)!).filter(isUsable) }))
    .filter((p) => {
      if (p.photos.length >= 2) return true;
      skipped.push({ source: join(o.dataDir, p.name), reason: `${p.photos.length} usable photo${p.photos.length === 1 ? '' : 's'}; a person needs 2 or more to form positive pairs` });
      return false;
    });
  if (usablePeople.length < 4) {
    throw new TuneInputError(
      `${o.dataDir}: only ${usablePeople.length} ${usablePeople.length === 1 ? 'person has' : 'people have'} 2 or more usable photos${usablePeople.length ? ` (${usablePeople.map((p) => p.name).join(', ')})` : ''}; ` +
        `tuning needs at least 4 (2 to train on, 2 to evaluate on).${skipped.length ? ` Skipped: ${skipped.map((s) => `${s.source}: ${s.reason}`).join('; ')}` : ''}`,
    );
  }
  const split = splitPeople(usablePeople.map((p) => p.name), o.heldOut, o.validation, o.seed);
  const photos: Photo[] = usablePeople.flatMap((p, person) => p.photos.map((aligned) => ({ person, aligned })));

  const parentBytes = new Uint8Array(readFileSync(verifiedModelPath(modelsDir, parent)));
  const extractor = await FeatureExtractor.load(parentBytes, parent, o.pipeline.threads ?? 1);
  const layer = extractor.projection;
  // Without degradation, variants beyond the mirror image would be identical copies.
  const variants = preset ? o.augment : Math.min(o.augment, 2);
  const items = photos.flatMap((_, i) => Array.from({ length: variants }, (_, v) => ({ photo: i, variant: v })));
  const featureKey = sha256Hex(JSON.stringify({ v: 1, parent: parent.sha256, layer: layer.node, alignKey, degrade: preset ?? null, seed: o.seed, variants, photos: photos.map((p) => [imageKey(p.aligned.file), p.aligned.sha256]) }));
  const variantCrop = (photo: UsablePhoto, variant: number): Mat => {
    const crop = variant % 2 === 1 ? photo.crop.flip(1) : photo.crop;
    return preset ? degradeFor(preset, o.seed, photo.file, variant)(crop) : crop;
  };
  const { features, cached } = await cachedFeatures(o.cacheDir, featureKey, items.length, layer.inDim, async () => {
    o.log(`tune: penultimate features of ${photos.length} photos x ${variants} variant${variants === 1 ? '' : 's'}${preset ? ` (degraded: ${preset.name})` : ''}`);
    const out: Float32Array[] = [];
    for (let i = 0; i < items.length; i += 32) {
      const chunk = items.slice(i, i + 32);
      out.push(...(await extractor.features(chunk.map((it) => variantCrop(photos[it.photo]!.aligned, it.variant)))));
    }
    return out;
  });
  const personIndex = new Map(usablePeople.map((p, i) => [p.name, i]));
  return {
    parent,
    parentBytes,
    analyzer,
    alignKey,
    extractor,
    ...(preset ? { preset } : {}),
    dataFingerprint,
    files: files.length,
    skipped,
    split,
    photos,
    features,
    featureIds: photos.map((_, i) => Array.from({ length: variants }, (_, v) => i * variants + v)),
    variants,
    featuresCached: cached,
    photosOf: (names) => names.map((n) => photos.flatMap((p, i) => (p.person === personIndex.get(n) ? [i] : []))),
    variantCrop,
  };
}

export async function tune(o: TuneOptions): Promise<TuneReport> {
  const idCheck = ModelEntrySchema.shape.id.safeParse(o.outName);
  if (!idCheck.success) throw new TuneInputError(`--out ${o.outName}: model names use ${idCheck.error.issues[0]!.message}`);
  const existing = readManifest(o.pipeline.modelsDir).models.find((m) => m.id === o.outName);
  if (existing && !existing.tuning) throw new TuneInputError(`--out ${o.outName}: the manifest already has a model of that name that tune did not make; choose another name`);
  const d = await prepareTuning(o);
  const layer = d.extractor.projection;
  const base = createProjection(layer.inDim, layer.outDim, [...layer.w, ...layer.b]);
  const result = trainWithProgress(o, d, base);
  const heldOut = compareOnHeldOut(d, base, result.projection);
  const deployment = compareHeldOut(heldOutResult(heldOut.base), heldOutResult(heldOut.tuned));
  const hyperParameters = hyperParametersOf(o, d.variants);
  const written = await writeTunedModel(o, d, result, heldOut, hyperParameters, deployment);

  const dir = join(o.pipeline.modelsDir, TUNED_SUBDIR);
  const lossCurve = join(dir, `${o.outName}.loss.png`);
  writeLossCurve(lossCurve, {
    title: `${o.outName}: triplet tuning of ${d.parent.id}${d.preset ? ` on ${d.preset.name} photos` : ''}, seed ${o.seed}`,
    batches: result.batches,
    epochs: result.epochs,
    bestEpoch: result.bestEpoch,
    ...(result.baseline ? { baselineEer: result.baseline.eer } : {}),
  });
  const matrix = o.matrix.length > 0 ? await distanceMatrices(o, d, base, result.projection) : undefined;
  const reportFile = join(dir, `${o.outName}.report.json`);
  const report: TuneReport = {
    model: { id: o.outName, file: written.file, sha256: written.sha256, parent: d.parent.id, parentSha256: d.parent.sha256 },
    data: { dir: o.dataDir, fingerprint: d.dataFingerprint, photos: d.files, usablePhotos: d.photos.length, skipped: d.skipped },
    split: d.split,
    degrade: d.preset?.name ?? null,
    seed: o.seed,
    hyperParameters,
    features: { dim: layer.inDim, items: d.features.length, cached: d.featuresCached, layer: layer.node },
    training: { epochs: result.epochs, bestEpoch: result.bestEpoch, ...(result.baseline ? { baseline: result.baseline } : {}), stoppedEarly: result.stoppedEarly, batches: result.batches.length },
    heldOut,
    deployment,
    lossCurve,
    reportFile,
    ...(matrix ? { matrix } : {}),
  };
  writeFileSync(reportFile, `${JSON.stringify(report, null, 2)}\n`);
  return report;
}

/** Features of the photos a model is judged on: variant 0, the photo as `eval --degrade` sees it. */
function evaluationSet(d: TuningData, names: readonly string[]): { features: Float32Array[]; labels: number[] } {
  const ids = d.photosOf(names).flat();
  return { features: ids.map((i) => d.features[d.featureIds[i]![0]!]!), labels: ids.map((i) => d.photos[i]!.person) };
}

function trainWithProgress(o: TuneOptions, d: TuningData, base: Projection): TrainResult {
  const val = evaluationSet(d, d.split.validation);
  const validate = val.features.length > 0 ? (p: Projection) => validationScore(p, val.features, val.labels) : undefined;
  o.log(`tune: training on ${d.split.train.length} people, picking the epoch on ${d.split.validation.length} validation people, evaluating on ${d.split.heldOut.length} held-out people`);
  const bar = o.progress
    ? new cliProgress.SingleBar({ format: 'tuning |{bar}| epoch {epoch}/{epochs} | loss {loss} | active {active} | val EER {val}', stream: process.stderr, clearOnComplete: true }, cliProgress.Presets.shades_classic)
    : undefined;
  bar?.start(o.train.maxEpochs * o.train.epochSize, 0, { epoch: 1, epochs: o.train.maxEpochs, loss: '-', active: '-', val: '-' });
  let batchesDone = 0;
  const result = trainProjection(
    base,
    { features: (id) => d.features[id]!, people: d.photosOf(d.split.train).map((ps) => ps.map((i) => d.featureIds[i]!)) },
    { ...o.train, seed: seedFrom('train', o.seed) },
    {
      ...(validate ? { validate } : {}),
      onBatch: (b) => bar?.update(++batchesDone, { epoch: b.epoch, loss: b.loss.toFixed(4), active: `${(b.active * 100).toFixed(0)}%` }),
      onEpoch: (e, best) => {
        const val = e.validation ? `${pctText(e.validation.eer)}${best ? ' (best)' : ''}` : '-';
        bar?.update({ val });
        if (!bar) o.log(`tune: epoch ${e.epoch}: loss ${e.loss.toFixed(4)}, active triplets ${(e.active * 100).toFixed(1)}%, validation EER ${val}`);
      },
    },
  );
  bar?.stop();
  return result;
}

/** Base vs tuned on every pair of the held-out people's photos. */
function compareOnHeldOut(d: TuningData, base: Projection, tuned: Projection): HeldOutReport {
  const held = evaluationSet(d, d.split.heldOut);
  const measure = (p: Projection) => {
    const { genuine, impostor } = allPairScores(held.features.map((f) => embed(p, f).e), held.labels);
    return verificationMetrics(genuine, impostor, [1e-2, 1e-3]);
  };
  return { people: d.split.heldOut.length, photos: held.features.length, base: measure(base), tuned: measure(tuned) };
}

function hyperParametersOf(o: TuneOptions, variants: number): Record<string, number | string | boolean> {
  return {
    heldOut: o.heldOut,
    validation: o.validation,
    augment: variants,
    alpha: o.train.alpha,
    peoplePerBatch: o.train.peoplePerBatch,
    imagesPerPerson: o.train.imagesPerPerson,
    batchSize: o.train.batchSize,
    epochSize: o.train.epochSize,
    maxEpochs: o.train.maxEpochs,
    patience: o.train.patience,
    learningRate: o.train.learningRate,
    weightDecay: o.train.weightDecay,
    mining: o.train.fallback === 'skip' ? 'semi-hard' : 'semi-hard, else mildest hard',
    optimiser: 'adam',
  };
}

/** models/tuned/NAME.onnx and its manifest entry with the tuning record. */
async function writeTunedModel(
  o: TuneOptions,
  d: TuningData,
  result: TrainResult,
  heldOut: HeldOutReport,
  hyperParameters: Record<string, number | string | boolean>,
  deployment: DeploymentCheck,
): Promise<{ file: string; sha256: string }> {
  const { parent, preset, split } = d;
  const layer = d.extractor.projection;
  const bytes = tunedModelBytes(d.parentBytes, layer, Float32Array.from(result.projection.w), Float32Array.from(result.projection.b), {
    parentSha256: parent.sha256,
    dataFingerprint: d.dataFingerprint,
    extra: { tuning_method: `triplet loss on layer ${layer.node}`, degrade: preset?.name ?? 'none', seed: String(o.seed), hyper_parameters: JSON.stringify(hyperParameters) },
  });
  const modelsDir = o.pipeline.modelsDir;
  mkdirSync(join(modelsDir, TUNED_SUBDIR), { recursive: true });
  const file = `${TUNED_SUBDIR}/${o.outName}.onnx`;
  const path = join(modelsDir, file);
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
  await checkWrittenModel(path, parent, result.projection, d.photos.slice(0, 4).map((p) => d.variantCrop(p.aligned, 0)), d.extractor);

  const sha256 = sha256Hex(bytes);
  const entry: ModelEntry = {
    id: o.outName,
    role: 'embedder',
    family: parent.family,
    file,
    sha256,
    precision: 'float32',
    source: { kind: 'derived', parent: parent.id, method: `triplet fine-tune of the final projection (${layer.node})` },
    licence: parent.licence,
    trainingData: `${parent.trainingData} Final projection fine-tuned on ${split.train.length + split.validation.length} people from ${o.dataDir}${preset ? ` degraded as ${preset.name}` : ''}.`,
    input: parent.input,
    outputs: parent.outputs,
    embeddingDim: parent.embeddingDim,
    notes: `held-out (${split.heldOut.length} people): EER ${pctText(heldOut.base.eer)} -> ${pctText(heldOut.tuned.eer)}, AUC ${heldOut.base.auc.toFixed(4)} -> ${heldOut.tuned.auc.toFixed(4)}${deployment.ok ? '' : `; not deployable: ${deployment.reasons.join('; ')}`}`,
    tuning: {
      method: 'triplet',
      parent: parent.id,
      parentSha256: parent.sha256,
      dataFingerprint: d.dataFingerprint,
      degrade: preset?.name ?? null,
      seed: o.seed,
      hyperParameters,
      people: split,
      bestEpoch: result.bestEpoch,
      heldOut: { base: heldOutResult(heldOut.base), tuned: heldOutResult(heldOut.tuned) },
    },
  };
  // Read again just before writing: the manifest may have changed during a long run.
  const latest = readManifest(modelsDir);
  writeManifest(modelsDir, { ...latest, models: [...latest.models.filter((m) => m.id !== o.outName), entry] });
  return { file, sha256 };
}

function pctText(x: number): string {
  return `${(x * 100).toFixed(2)}%`;
}

/** What the aligned crops depend on: detector models and settings, and the embedder's crop spec. */
function alignmentKey(models: ModelEntry[], parent: ModelEntry, p: PipelineOptions): string {
  const detectorIds = Object.values(mtcnnIds(toPrecision(p.precision ?? 'float32')));
  return sha256Hex(
    JSON.stringify({
      detector: detectorIds.map((id) => models.find((m) => m.id === id)?.sha256 ?? id),
      mtcnn: { ...DEFAULT_MTCNN_OPTIONS, ...p.mtcnn },
      analyzer: DEFAULT_ANALYZER_OPTIONS,
      crop: parent.input.crop,
      shape: parent.input.shape,
    }),
  );
}

/**
 * The written file must embed like the weights it was written from: run it on a few crops and
 * compare with the projection applied to their features (float32 in the file vs float64 here).
 */
async function checkWrittenModel(path: string, parent: ModelEntry, p: Projection, crops: Mat[], extractor: FeatureExtractor): Promise<void> {
  const session = await createSession(path);
  const fromFile = await new Embedder(session.session, parent).embedCrops(crops);
  const fromWeights = (await extractor.features(crops)).map((f) => embed(p, f).e);
  const worst = Math.max(...fromFile.flatMap((e, i) => Array.from(e, (v, k) => Math.abs(v - fromWeights[i]![k]!))));
  if (!(worst < 1e-4)) throw new Error(`tuned model ${path} does not reproduce the trained embeddings (max difference ${worst}); this is a bug in facegate tune`);
}

async function distanceMatrices(o: TuneOptions, d: TuningData, base: Projection, tuned: Projection): Promise<NonNullable<TuneReport['matrix']>> {
  const aligned = await alignPhotos(d.analyzer, o.matrix, o.cacheDir, d.alignKey, false);
  const usable = aligned.filter(isUsable);
  const feats = await d.extractor.features(usable.map((a) => d.variantCrop(a, 0)));
  const matrixFor = (p: Projection) => {
    const e = feats.map((f) => embed(p, f).e);
    return e.map((a) => e.map((b) => Math.sqrt(a.reduce((s, v, k) => s + (v - b[k]!) ** 2, 0))));
  };
  return {
    images: usable.map((a) => a.file),
    base: matrixFor(base),
    tuned: matrixFor(tuned),
    skipped: aligned.filter((a) => a.error).map((a) => ({ source: a.file, reason: a.error! })),
  };
}

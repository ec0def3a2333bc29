// Per-stage latency of the vision pipeline (decode, MTCNN stages, alignment, embedding) for each
// precision x thread count x frame, plus the machine facts needed to compare runs.
import { createRequire } from 'node:module';
import { arch, availableParallelism, cpus, platform, release, totalmem } from 'node:os';
import { loadDetector, loadEmbedder, type PrecisionChoice } from '../vision/face-pipeline.js';
import { decodeImage } from '../vision/image.js';
import type { FaceDetector } from '../vision/detection/face-detector.js';
import type { Embedder } from '../vision/embedder.js';
import type { BenchFrame } from './frames.js';
import type { ort } from '../runtime/onnx-session.js';

export interface Summary {
  median: number;
  p90: number;
  mean: number;
  n: number;
}

/** Quantile of sorted values, linearly interpolated between ranks (numpy's default). */
function quantile(sorted: number[], q: number): number {
  const rank = q * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

export function summarize(samples: number[]): Summary {
  if (samples.length === 0) throw new Error('summarize: no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    median: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    mean: sorted.reduce((s, v) => s + v, 0) / sorted.length,
    n: sorted.length,
  };
}

export const STAGES = ['decode', 'pyramid', 'pnet', 'rnet', 'onet', 'align', 'embed', 'total', 'inference'] as const;
export type Stage = (typeof STAGES)[number];

/** Untimed runs first: ORT allocates its arenas and P-Net sees each pyramid shape once. */
export const WARMUP_RUNS = 3;

export const PRECISIONS: PrecisionChoice[] = ['float32', 'int8', 'int8-weights'];

export interface MachineFacts {
  cpuModel: string;
  cores: number;
  totalMemoryBytes: number;
  node: string;
  onnxruntimeNode: string;
  os: string;
  arch: string;
}

export function machineFacts(): MachineFacts {
  const require = createRequire(import.meta.url);
  const ortPkg = require('onnxruntime-node/package.json') as { version: string };
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    totalMemoryBytes: totalmem(),
    node: process.version,
    onnxruntimeNode: ortPkg.version,
    os: `${platform()} ${release()}`,
    arch: arch(),
  };
}

/** Peak resident set size of this process so far, in KiB (models, arenas and frames together). */
export function peakRssKiB(): number {
  return process.resourceUsage().maxRSS;
}

export interface StageConfigResult {
  precision: PrecisionChoice;
  threads: number;
  frame: string;
  /** Providers that actually ran, after any fallback to CPU. */
  providers: { detector: string; embedder: string };
  /** Faces found in the last measured run; int8 detectors may disagree with the frame's float32 count. */
  faces: number;
  /**
   * Milliseconds. rnet/onet include cutting and normalising their crops; total also covers NMS
   * and box bookkeeping; inference is ONNX Runtime alone on the very tensors of the run (the limit).
   */
  stages: Record<Stage, Summary>;
  /** Median over runs of (total - decode) / inference: what detection + embedding cost around the models. */
  overhead: number;
}

export interface StageBenchOptions {
  modelsDir: string;
  frames: BenchFrame[];
  precisions: PrecisionChoice[];
  threads: number[];
  runs: number;
  onProgress?: (line: string) => void;
  log?: (line: string) => void;
}

type Sample = Record<Stage, number> & { faces: number };

/** Keeps every (session, feeds) pair run since the last `take()`, to replay them alone. */
class FeedRecorder {
  private calls: { session: ort.InferenceSession; feeds: ort.InferenceSession.FeedsType }[] = [];

  wrap = (_id: string, session: ort.InferenceSession): ort.InferenceSession => {
    const calls = () => this.calls;
    return new Proxy(session, {
      get(target, prop, receiver) {
        if (prop === 'run') {
          return (feeds: ort.InferenceSession.FeedsType, ...rest: unknown[]) => {
            calls().push({ session: target, feeds });
            return (target.run as (...a: unknown[]) => Promise<ort.InferenceSession.ReturnType>).call(target, feeds, ...rest);
          };
        }
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
  };

  take() {
    const c = this.calls;
    this.calls = [];
    return c;
  }
}

/** The recorded runs again, back to back: ONNX Runtime time only. */
async function replay(calls: ReturnType<FeedRecorder['take']>): Promise<number> {
  const start = performance.now();
  for (const c of calls) await c.session.run(c.feeds);
  return performance.now() - start;
}

/** One frame through the whole pipeline, as the daemon would run it, timed per stage. */
async function timeOnce(frame: BenchFrame, detector: FaceDetector, embedder: Embedder, recorder: FeedRecorder): Promise<Sample> {
  recorder.take();
  const t0 = performance.now();
  const { mat } = decodeImage(frame.jpeg, frame.name);
  const t1 = performance.now();
  const { faces, timings } = await detector.detect(mat);
  const t2 = performance.now();
  const crops = faces.map((f) => embedder.crop(mat, f));
  const t3 = performance.now();
  await embedder.embedCrops(crops);
  const t4 = performance.now();
  return {
    decode: t1 - t0,
    pyramid: timings.pyramid ?? 0,
    pnet: timings.pnet ?? 0,
    rnet: timings.rnet ?? 0,
    onet: timings.onet ?? 0,
    align: t3 - t2,
    embed: t4 - t3,
    total: t4 - t0,
    inference: await replay(recorder.take()),
    faces: faces.length,
  };
}

function summarizeStages(samples: Sample[]): Record<Stage, Summary> {
  return Object.fromEntries(STAGES.map((s) => [s, summarize(samples.map((x) => x[s]))])) as Record<Stage, Summary>;
}

export async function runStageBench(opts: StageBenchOptions): Promise<StageConfigResult[]> {
  const total = opts.precisions.length * opts.threads.length * opts.frames.length;
  const results: StageConfigResult[] = [];
  for (const precision of opts.precisions) {
    for (const threads of opts.threads) {
      const recorder = new FeedRecorder();
      const pipeline = { modelsDir: opts.modelsDir, precision, threads, log: opts.log, instrument: recorder.wrap };
      const { detector, provider: detectorProvider } = await loadDetector(pipeline);
      const { embedder, provider: embedderProvider } = await loadEmbedder(pipeline);
      for (const frame of opts.frames) {
        opts.onProgress?.(`[${results.length + 1}/${total}] ${precision}, ${threads} thread${threads === 1 ? '' : 's'}, ${frame.name} frame`);
        for (let i = 0; i < WARMUP_RUNS; i++) await timeOnce(frame, detector, embedder, recorder);
        const samples: Sample[] = [];
        for (let i = 0; i < opts.runs; i++) samples.push(await timeOnce(frame, detector, embedder, recorder));
        const stages = summarizeStages(samples);
        results.push({
          precision,
          threads,
          frame: frame.name,
          providers: { detector: detectorProvider, embedder: embedderProvider },
          faces: samples.at(-1)!.faces,
          stages,
          overhead: summarize(samples.map((s) => (s.total - s.decode) / s.inference)).median,
        });
      }
    }
  }
  return results;
}

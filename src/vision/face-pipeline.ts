// Loads the detector and embedder named by the manifest for the chosen precision and providers.
import { createSession, type ExecutionProvider, type ort } from '../runtime/onnx-session.js';
import { findModel, readManifest, verifiedModelPath, type Manifest, type ModelEntry, type Precision } from '../models/manifest.js';
import type { MtcnnOptions } from './mtcnn/options.js';
import { loadMtcnn } from './mtcnn/load-mtcnn.js';
import type { FaceDetector } from './detection/face-detector.js';
import { Embedder } from './embedder.js';

export type PrecisionChoice = 'float32' | 'int8' | 'int8-weights';

export function toPrecision(p: PrecisionChoice): Precision {
  return p === 'int8' ? 'int8-static' : p;
}

export interface PipelineOptions {
  modelsDir: string;
  precision?: PrecisionChoice;
  /** Detector family (config `detector.type`); default MTCNN. */
  detectorType?: string;
  /** Manifest id of the embedder; default: MobileFaceNet of the chosen precision. */
  embedderId?: string;
  providers?: ExecutionProvider[];
  threads?: number;
  mtcnn?: Partial<MtcnnOptions>;
  log?: (line: string) => void;
  /** Wraps each session as it is created (`facegate bench` records the tensors it is fed). */
  instrument?: (modelId: string, session: ort.InferenceSession) => ort.InferenceSession;
}

export async function sessionFor(modelsDir: string, entry: ModelEntry, opts: PipelineOptions) {
  const path = verifiedModelPath(modelsDir, entry);
  const s = await createSession(path, {
    providers: opts.providers,
    intraOpThreads: opts.threads ?? 1,
    foldWeightOnlyQuant: entry.runtime?.foldWeightOnlyQuant ?? false,
    log: opts.log,
  });
  return opts.instrument ? { ...s, session: opts.instrument(entry.id, s.session) } : s;
}

export interface LoadedDetector {
  detector: FaceDetector;
  provider: string;
  /** Manifest ids of the models it runs. */
  ids: string[];
}

/**
 * Detector families by manifest `family`: a new detector is its implementation plus one line
 * here and its manifest entry (role 'detector').
 */
export const DETECTOR_FAMILIES: Record<string, (opts: PipelineOptions, manifest: Manifest) => Promise<LoadedDetector>> = {
  mtcnn: loadMtcnn,
};

export async function loadDetector(opts: PipelineOptions, manifest: Manifest = readManifest(opts.modelsDir)): Promise<LoadedDetector> {
  const type = opts.detectorType ?? 'mtcnn';
  const load = DETECTOR_FAMILIES[type];
  if (!load) throw new Error(`unknown detector type "${type}" (known: ${Object.keys(DETECTOR_FAMILIES).join(', ')})`);
  return load(opts, manifest);
}

export function defaultEmbedderId(precision: PrecisionChoice): string {
  return precision === 'float32' ? 'mobilefacenet-fp32' : precision === 'int8' ? 'mobilefacenet-int8' : 'mobilefacenet-int8w';
}

export async function loadEmbedder(opts: PipelineOptions, manifest: Manifest = readManifest(opts.modelsDir)): Promise<{ embedder: Embedder; provider: string }> {
  const entry = findModel(manifest, opts.embedderId ?? defaultEmbedderId(opts.precision ?? 'float32'));
  if (entry.role !== 'embedder') throw new Error(`model "${entry.id}" is a ${entry.role}, not an embedder`);
  const s = await sessionFor(opts.modelsDir, entry, opts);
  return { embedder: new Embedder(s.session, entry), provider: s.provider };
}

// Loads the detector and embedder named by the manifest for the chosen precision and providers.
import { createSession, type ExecutionProvider } from '../runtime/onnx-session.js';
import { findModel, mtcnnIds, readManifest, verifiedModelPath, type Manifest, type ModelEntry, type Precision } from '../models/manifest.js';
import { MtcnnDetector } from './mtcnn/detector.js';
import type { MtcnnOptions } from './mtcnn/options.js';
import { Embedder } from './embedder.js';

export type PrecisionChoice = 'float32' | 'int8' | 'int8-weights';

export function toPrecision(p: PrecisionChoice): Precision {
  return p === 'int8' ? 'int8-static' : p;
}

export interface PipelineOptions {
  modelsDir: string;
  precision?: PrecisionChoice;
  /** Manifest id of the embedder; default: MobileFaceNet of the chosen precision. */
  embedderId?: string;
  providers?: ExecutionProvider[];
  threads?: number;
  mtcnn?: Partial<MtcnnOptions>;
  log?: (line: string) => void;
}

async function sessionFor(modelsDir: string, entry: ModelEntry, opts: PipelineOptions) {
  const path = verifiedModelPath(modelsDir, entry);
  const s = await createSession(path, {
    providers: opts.providers,
    intraOpThreads: opts.threads ?? 1,
    foldWeightOnlyQuant: entry.runtime?.foldWeightOnlyQuant ?? false,
    log: opts.log,
  });
  return s;
}

export async function loadDetector(opts: PipelineOptions, manifest: Manifest = readManifest(opts.modelsDir)): Promise<{ detector: MtcnnDetector; provider: string; ids: string[] }> {
  const ids = mtcnnIds(toPrecision(opts.precision ?? 'float32'));
  const entries = { pnet: findModel(manifest, ids.pnet), rnet: findModel(manifest, ids.rnet), onet: findModel(manifest, ids.onet) };
  const [pnet, rnet, onet] = await Promise.all([
    sessionFor(opts.modelsDir, entries.pnet, opts),
    sessionFor(opts.modelsDir, entries.rnet, opts),
    sessionFor(opts.modelsDir, entries.onet, opts),
  ]);
  const norm = entries.pnet.input.normalisation;
  if (norm.kind !== 'linear') throw new Error(`detector ${entries.pnet.id}: MTCNN needs linear normalisation`);
  const detector = new MtcnnDetector({ pnet: pnet.session, rnet: rnet.session, onet: onet.session }, { mean: norm.mean, scale: norm.scale }, opts.mtcnn);
  return { detector, provider: pnet.provider, ids: Object.values(ids) };
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

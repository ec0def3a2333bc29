import { readManifest } from '../models/manifest.js';
import { FaceAnalyzer } from './face-analyzer.js';
import { loadDetector, loadEmbedder, type PipelineOptions } from './face-pipeline.js';

/** Detector + embedder of the chosen precision (or named embedder), wired into an analyzer. */
export async function loadAnalyzer(opts: PipelineOptions): Promise<{ analyzer: FaceAnalyzer; description: string }> {
  const manifest = readManifest(opts.modelsDir);
  const det = await loadDetector(opts, manifest);
  const emb = await loadEmbedder(opts, manifest);
  const description = `detector MTCNN ${opts.precision ?? 'float32'} (${det.provider}), embedder ${emb.embedder.entry.id} (${emb.provider})`;
  return { analyzer: new FaceAnalyzer(det.detector, emb.embedder), description };
}

// What the gallery commands share: config, the open gallery, the embedder's model tag, and
// (when faces must be analysed) the detector + embedder.
import { existsSync } from 'node:fs';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { findModel, readManifest, type ModelEntry } from '../models/manifest.js';
import { GalleryStore, type ModelTag } from '../gallery/gallery-store.js';
import type { EnrollmentSettings } from '../gallery/enrollment.js';
import type { MatchPolicy } from '../matching/search-index.js';
import { defaultEmbedderId, type PipelineOptions } from '../vision/face-pipeline.js';
import { loadAnalyzer } from '../vision/load-analyzer.js';
import type { FaceAnalyzer } from '../vision/face-analyzer.js';

export const DEFAULT_CONFIG_FILE = 'facegate.yaml';

/** --config, else $FACEGATE_CONFIG, else ./facegate.yaml when it exists, else built-in defaults. */
export function configPathFrom(option?: string): string | undefined {
  return option ?? process.env.FACEGATE_CONFIG ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
}

export interface GalleryContext {
  loaded: LoadedConfig;
  store: GalleryStore;
  embedderEntry: ModelEntry;
  model: ModelTag;
  policy: MatchPolicy;
  settings: EnrollmentSettings;
  pipeline: PipelineOptions;
  close(): void;
}

/** Model options from the config, paths resolved against the config file. */
export function pipelineOptions(loaded: LoadedConfig, log?: (l: string) => void): PipelineOptions {
  const c = loaded.config;
  return {
    modelsDir: loaded.resolvePath(c.models.dir),
    precision: c.models.precision,
    embedderId: c.models.embedder,
    providers: c.models.providers,
    threads: c.models.threads,
    mtcnn: { minSize: c.detector.minSize, thresholds: c.detector.thresholds, factor: c.detector.factor },
    log,
  };
}

export function openGalleryContext(configOption: string | undefined, log?: (l: string) => void): GalleryContext {
  const loaded = loadConfig(configPathFrom(configOption));
  const c = loaded.config;
  const pipeline = pipelineOptions(loaded, log);
  const modelsDir = pipeline.modelsDir;
  const embedderEntry = findModel(readManifest(modelsDir), c.models.embedder ?? defaultEmbedderId(c.models.precision));
  const store = GalleryStore.open(loaded.resolvePath(c.gallery.path));
  return {
    loaded,
    store,
    embedderEntry,
    model: { id: embedderEntry.id, sha256: embedderEntry.sha256 },
    policy: { ...c.matching },
    settings: { gate: { ...c.quality }, dedupeSimilarity: c.gallery.dedupeSimilarity, keepCrops: c.gallery.keepCrops },
    pipeline,
    close: () => store.close(),
  };
}

export async function analyzerFor(ctx: GalleryContext): Promise<FaceAnalyzer> {
  return (await loadAnalyzer(ctx.pipeline)).analyzer;
}

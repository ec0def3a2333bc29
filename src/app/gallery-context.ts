// What the gallery commands share: config, the open gallery, the embedder's model tag, and
// (when faces must be analysed) the detector + embedder.
import { existsSync, statSync } from 'node:fs';
import { describeConfigSource, loadConfigFor, locateConfig, LOCAL_CONFIG_FILE, type LoadedConfig } from '../config/load.js';
import { DEFAULT_MODELS_DIR } from '../paths.js';
import { explainFsError } from '../util/fs-errors.js';
import { findModel, readManifest, type ModelEntry } from '../models/manifest.js';
import type { GalleryStore, ModelTag } from '../gallery/gallery-store.js';
import { openConfiguredGallery } from '../gallery/open-configured.js';
import type { EnrollmentSettings } from '../gallery/enrollment.js';
import type { MatchPolicy } from '../matching/search-index.js';
import { defaultEmbedderId, type PipelineOptions } from '../vision/face-pipeline.js';
import { loadAnalyzer } from '../vision/load-analyzer.js';
import type { FaceAnalyzer } from '../vision/face-analyzer.js';

export const DEFAULT_CONFIG_FILE = LOCAL_CONFIG_FILE;

/** The config file a command uses (src/config/load.ts locateConfig), or undefined for built-in defaults. */
export function configPathFrom(option?: string): string | undefined {
  return locateConfig(option).path ?? undefined;
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

/**
 * Model options from the config, paths resolved against the config file. Without a config file
 * the models are this installation's own (models/ of the checkout), wherever the command runs.
 */
export function pipelineOptions(loaded: LoadedConfig, log?: (l: string) => void): PipelineOptions {
  const c = loaded.config;
  return {
    modelsDir: loaded.path === null ? DEFAULT_MODELS_DIR : loaded.resolvePath(c.models.dir),
    precision: c.models.precision,
    embedderId: c.models.embedder,
    providers: c.models.providers,
    threads: c.models.threads,
    detectorType: c.detector.type,
    mtcnn: { minSize: c.detector.minSize, thresholds: c.detector.thresholds, factor: c.detector.factor },
    log,
  };
}

export interface GalleryContextOptions {
  /**
   * 'read': the gallery must exist (identify, list: nothing to read in a file that is not there).
   * 'write' (default): a missing gallery is created only where a config file puts it, and the
   * command says so; without a config file it refuses, naming the path, so nobody enrolls people
   * into ./data/gallery.db while the daemon reads /var/lib/facegate/gallery.db.
   */
  mode?: 'read' | 'write';
  /** Model flags of the command line over the config's (cli/commands/pipeline-options.ts). */
  pipeline?: (base: PipelineOptions) => PipelineOptions;
}

/** Why a gallery file cannot be used as it is, or null when it can be opened (or created). */
export function galleryProblem(loaded: LoadedConfig, galleryPath: string, mode: 'read' | 'write', exists: (p: string) => boolean = existsSync): string | null {
  if (exists(galleryPath)) return statSync(galleryPath).isDirectory() ? `${galleryPath} is a folder, expected the gallery file (gallery.path)` : null;
  const where = loaded.path ? `gallery.path in ${loaded.path}` : (loaded.foundBy ?? 'built-in defaults: no config file');
  if (mode === 'read') return `no gallery at ${galleryPath} (${where}): enroll people first (facegate enroll NAME PHOTO...), or pass the daemon's config (--config /etc/facegate/facegate.yaml)`;
  if (!loaded.path) return `no gallery at ${galleryPath} and no config file says where it belongs (${where}): pass --config FILE (the daemon's is /etc/facegate/facegate.yaml), set $FACEGATE_CONFIG, or create ./${LOCAL_CONFIG_FILE} with gallery.path`;
  return null;
}

export function openGalleryContext(configOption: string | undefined, log?: (l: string) => void, opts: GalleryContextOptions = {}): GalleryContext {
  const loaded = loadConfigFor(configOption);
  log?.(describeConfigSource(loaded));
  const c = loaded.config;
  const base = pipelineOptions(loaded, log);
  const pipeline = opts.pipeline ? opts.pipeline(base) : base;
  const modelsDir = pipeline.modelsDir;
  const embedderEntry = findModel(readManifest(modelsDir), pipeline.embedderId ?? defaultEmbedderId(pipeline.precision ?? 'float32'));
  const galleryPath = loaded.resolvePath(c.gallery.path);
  const problem = galleryProblem(loaded, galleryPath, opts.mode ?? 'write');
  if (problem) throw new Error(problem);
  if (!existsSync(galleryPath)) log?.(`creating a new gallery at ${galleryPath} (gallery.path in ${loaded.path})`);
  let store: GalleryStore;
  try {
    store = openConfiguredGallery(c, (p) => loaded.resolvePath(p), { log });
  } catch (err) {
    throw explainFsError(err, galleryPath);
  }
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

// The one configuration file (YAML), validated by this schema. Every option has a default and a
// description; `facegate config docs` prints them, so the schema is the documentation.
import { z } from 'zod';

const providers = z.array(z.enum(['cpu', 'cuda', 'tensorrt', 'coreml', 'dml', 'webgpu', 'xnnpack', 'qnn']));

export const ModelsConfig = z
  .strictObject({
    dir: z.string().default('models').describe('folder with manifest.json and the ONNX files (relative to the config file)'),
    precision: z.enum(['float32', 'int8', 'int8-weights']).default('float32').describe('detector/embedder precision: float32, int8 (static) or int8-weights'),
    embedder: z.string().optional().describe('embedder id from the manifest; default MobileFaceNet of the chosen precision'),
    providers: providers.default(['cpu']).describe('ONNX Runtime execution providers to try in order; cpu is always the fallback'),
    threads: z.number().int().min(1).max(64).default(1).describe('intra-op threads per model (1 was fastest on a 2-core VM)'),
  })
  .default({ dir: 'models', precision: 'float32', providers: ['cpu'], threads: 1 });

export const DetectorConfig = z
  .strictObject({
    minSize: z.number().min(8).default(20).describe('MTCNN minimum face size in pixels'),
    thresholds: z.tuple([z.number().min(0).max(1), z.number().min(0).max(1), z.number().min(0).max(1)]).default([0.6, 0.7, 0.7]).describe('P/R/O-Net face probability thresholds'),
    factor: z.number().gt(0).lt(1).default(0.709).describe('image pyramid scale factor'),
  })
  .default({ minSize: 20, thresholds: [0.6, 0.7, 0.7], factor: 0.709 });

export const QualityConfig = z
  .strictObject({
    minFaceSize: z.number().min(0).default(60).describe('shorter side of the face box in pixels'),
    minSharpness: z.number().min(0).default(40).describe('variance of the Laplacian of the grey aligned crop'),
    minFrontalness: z.number().min(0).max(1).default(0.5).describe('0..1 from the landmarks (1 = facing the camera)'),
    minScore: z.number().min(0).max(1).default(0.95).describe('detector face probability'),
  })
  .default({ minFaceSize: 60, minSharpness: 40, minFrontalness: 0.5, minScore: 0.95 });

export const MatchingConfig = z
  .strictObject({
    threshold: z.number().min(-1).max(1).default(0.5258).describe('cosine similarity a face must exceed to be identified. Default from `facegate calibrate --pairs ../shared/faces/pairs_all.tsv --far 1e-3 --people 10` (FAR 1e-4 per comparison, MobileFaceNet float32)'),
    margin: z.number().min(0).max(2).default(0.05).describe('required lead of the best identity over the second best'),
    aggregation: z.enum(['max', 'mean-top2', 'centroid']).default('centroid').describe('how one person\'s templates combine into one score'),
    negativeMargin: z.number().min(0).max(2).default(0).describe('a negative template ("not this person") vetoes a match when it is at least this much closer than the positive'),
  })
  .default({ threshold: 0.5258, margin: 0.05, aggregation: 'centroid', negativeMargin: 0 });

export const GalleryConfig = z
  .strictObject({
    path: z.string().default('data/gallery.db').describe('SQLite gallery file (relative to the config file)'),
    keepCrops: z.boolean().default(false).describe('store aligned face crops so a model switch can re-embed the gallery (off: privacy first)'),
    dedupeSimilarity: z.number().min(0).max(1).default(0.95).describe('photos of one person more similar than this are collapsed into one template'),
  })
  .default({ path: 'data/gallery.db', keepCrops: false, dedupeSimilarity: 0.95 });

export const ConfigSchema = z.strictObject({
  models: ModelsConfig,
  detector: DetectorConfig,
  quality: QualityConfig,
  matching: MatchingConfig,
  gallery: GalleryConfig,
});

export type Config = z.infer<typeof ConfigSchema>;

// Embeds the primary face of each image file once, with a progress bar; failures are kept as
// per-file reasons so a run over hundreds of photos reports them instead of stopping.
import cliProgress from 'cli-progress';
import { errorReason, loadImage } from '../vision/image.js';
import type { FaceAnalyzer } from '../vision/face-analyzer.js';
import type { FaceQuality } from '../vision/quality.js';
import type { Mat } from '../vision/opencv.js';

export interface FileEmbedding {
  file: string;
  embedding?: Float32Array;
  faces: number;
  quality?: FaceQuality;
  error?: string;
}

export interface EmbedFilesOptions {
  /** Applied to each decoded image before detection. */
  transform?: (image: Mat) => Mat;
  /** Applied to the aligned face crop of each file before embedding (e.g. --degrade presets). */
  cropTransform?: (crop: Mat, file: string) => Mat;
  progress?: boolean;
  /** Called after each file (done or failed): progress lines where there is no terminal for the bar. */
  onFile?: (file: string) => void;
}

export async function embedFiles(analyzer: FaceAnalyzer, files: string[], opts: EmbedFilesOptions = {}): Promise<Map<string, FileEmbedding>> {
  const bar = opts.progress ? new cliProgress.SingleBar({ format: 'embedding |{bar}| {value}/{total} images {eta_formatted}', stream: process.stderr, clearOnComplete: true }, cliProgress.Presets.shades_classic) : undefined;
  bar?.start(files.length, 0);
  const out = new Map<string, FileEmbedding>();
  for (const file of files) {
    try {
      const img = loadImage(file);
      const mat = opts.transform ? opts.transform(img.mat) : img.mat;
      const cropTransform = opts.cropTransform;
      const a = await analyzer.analyze(mat, 'primary', cropTransform ? { cropTransform: (crop) => cropTransform(crop, file) } : {});
      if (a.primary < 0) out.set(file, { file, faces: 0, error: 'no face found' });
      else out.set(file, { file, faces: a.faces.length, embedding: a.faces[a.primary]!.embedding!, quality: a.faces[a.primary]!.quality });
    } catch (err) {
      out.set(file, { file, faces: 0, error: errorReason(err) });
    }
    bar?.increment();
    opts.onFile?.(file);
  }
  bar?.stop();
  return out;
}

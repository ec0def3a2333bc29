// Detect -> crop -> quality -> embed for one image: what compare, eval, the gallery and the
// daemon all need, in one place.
import { cv, type Mat } from './opencv.js';
import type { DetectedFace, FaceDetector, Point } from './detection/face-detector.js';
import type { Embedder } from './embedder.js';
import { faceQuality, primaryFace, type FaceQuality } from './quality.js';

export interface AnalyzedFace extends DetectedFace {
  quality: FaceQuality;
  /** L2-normalised; present for the faces that were asked to be embedded. */
  embedding?: Float32Array;
}

export interface PreparedFace {
  face: DetectedFace;
  /** The embedder's aligned crop (RGB, its input size). */
  crop: Mat;
  quality: FaceQuality;
}

export interface Analysis {
  faces: AnalyzedFace[];
  /** Index of the face a one-person photo is about, or -1 when there is none. */
  primary: number;
  /** Milliseconds per named stage: the detector's (MTCNN: pyramid, pnet, rnet, onet), then align and embed. */
  timings: Record<string, number>;
}

export interface AnalyzerOptions {
  /**
   * Tight face crops (LFW chips, 150x150 and smaller) leave MTCNN no context and it misses
   * faces; a grey border of this many pixels around images whose longer side is at most
   * `smallImageSide` fixes that.
   */
  smallImageBorder: number;
  smallImageSide: number;
}

export interface AnalyzeOptions {
  /**
   * Applied to each face's aligned crop (with the face's index) before quality and embedding:
   * `eval --degrade` and `tune` simulate a worse camera after alignment with it.
   */
  cropTransform?: (crop: Mat, index: number) => Mat;
}

export const DEFAULT_ANALYZER_OPTIONS: AnalyzerOptions = { smallImageBorder: 40, smallImageSide: 160 };

export class FaceAnalyzer {
  readonly options: AnalyzerOptions;

  constructor(
    readonly detector: FaceDetector,
    readonly embedder: Embedder,
    options: Partial<AnalyzerOptions> = {},
  ) {
    this.options = { ...DEFAULT_ANALYZER_OPTIONS, ...options };
  }

  async release(): Promise<void> {
    await Promise.all([this.detector.release(), this.embedder.release()]);
  }

  /** `embed`: which faces get an embedding: every face, only the primary one, or none. */
  async analyze(image: Mat, embed: 'all' | 'primary' | 'none' = 'all', opts: AnalyzeOptions = {}): Promise<Analysis> {
    const pad = Math.max(image.cols, image.rows) <= this.options.smallImageSide ? this.options.smallImageBorder : 0;
    const work = pad > 0 ? image.copyMakeBorder(pad, pad, pad, pad, cv.BORDER_CONSTANT, new cv.Vec3(127, 127, 127)) : image;
    const { faces, timings } = await this.detector.detect(work);
    const primary = primaryFace(faces, work.cols, work.rows);
    let start = performance.now();
    const transform = opts.cropTransform ?? ((crop: Mat) => crop);
    const crops = faces.map((f, i) => transform(this.embedder.crop(work, f), i));
    const alignMs = performance.now() - start;
    const wanted = faces.map((_, i) => embed === 'all' || (embed === 'primary' && i === primary));
    start = performance.now();
    const vectors = await this.embedder.embedCrops(crops.filter((_, i) => wanted[i]));
    const embedMs = performance.now() - start;
    let next = 0;
    const analyzed = faces.map((f, i): AnalyzedFace => {
      const face = pad > 0 ? shift(f, -pad) : f;
      return { ...face, quality: faceQuality(face, crops[i]!), ...(wanted[i] ? { embedding: vectors[next++]! } : {}) };
    });
    return { faces: analyzed, primary, timings: { ...timings, align: alignMs, embed: embedMs } };
  }

  /**
   * Crop and quality of faces already found (the recognition loop detects per track region and
   * decides per track which faces to embed).
   */
  prepare(image: Mat, faces: readonly DetectedFace[]): PreparedFace[] {
    return faces.map((face) => {
      const crop = this.embedder.crop(image, face);
      return { face, crop, quality: faceQuality(face, crop) };
    });
  }

  /** One batch through the embedder: L2-normalised vectors in the crops' order. */
  embedCrops(crops: Mat[]): Promise<Float32Array[]> {
    return this.embedder.embedCrops(crops);
  }
}

function shift(f: DetectedFace, d: number): DetectedFace {
  return {
    ...f,
    box: [f.box[0] + d, f.box[1] + d, f.box[2], f.box[3]],
    landmarks: f.landmarks.map(([x, y]) => [x + d, y + d] as Point) as DetectedFace['landmarks'],
  };
}

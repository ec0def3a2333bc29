// What every face detector gives the rest of facegate: boxes, a score and five landmarks per face,
// with named stage timings. MTCNN is one implementation (src/vision/mtcnn/); another detector is
// one file implementing `FaceDetector` plus its entry in `DETECTOR_FAMILIES` (load-detector.ts).
import type { Mat } from '../opencv.js';

export type Point = [number, number];

export interface DetectedFace {
  /** [x, y, width, height] in pixels of the whole image, clipped to it. */
  box: [number, number, number, number];
  /** The detector's face probability (MTCNN: O-Net's). */
  score: number;
  /** Left eye, right eye, nose, left mouth corner, right mouth corner (as seen in the image). */
  landmarks: [Point, Point, Point, Point, Point];
}

/** Integer pixel rectangle [x, y, width, height]. */
export type Rect = [number, number, number, number];

export interface DetectOptions {
  /** Look only inside this part of the image (faces are still reported in whole-image pixels). */
  roi?: Rect;
  /** Smallest face side to look for, pixels; default: the detector's configured one. */
  minSize?: number;
}

export interface DetectionResult {
  faces: DetectedFace[];
  /** Milliseconds per named stage (MTCNN: pyramid, pnet, rnet, onet); summed over calls by callers. */
  timings: Record<string, number>;
}

export interface FaceDetector {
  /** Which detector, for logs and bench reports ("mtcnn"). */
  readonly family: string;
  /** The configured settings, for reports; every detector has a smallest face size. */
  readonly options: { readonly minSize: number; readonly thresholds?: readonly number[] };
  detect(image: Mat, options?: DetectOptions): Promise<DetectionResult>;
  /** Frees the model sessions. */
  release(): Promise<void>;
}

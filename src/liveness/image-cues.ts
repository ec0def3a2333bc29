// Passive cues of the primary face of still images: what eval-liveness, liveness train and
// calibrate-liveness compute for each labelled photo.
import { cv } from '../vision/opencv.js';
import { loadImage, errorReason } from '../vision/image.js';
import type { FaceDetector } from '../vision/detection/face-detector.js';
import { primaryFace } from '../vision/quality.js';
import { passiveCues, type PassiveScorer } from './passive-scorers.js';
import type { SpoofSample } from './spoof-set.js';

export type ImageCues = { sample: SpoofSample; cues: Record<string, number> } | { sample: SpoofSample; miss: string };

/**
 * Tight tutorial crops leave MTCNN no context: a grey border of 40% of the longer side is tried
 * when the bare image gives no face (the same fix the analyzer uses for LFW chips).
 */
const RETRY_BORDER = 0.4;

export async function cuesOfImages(
  samples: readonly SpoofSample[],
  detector: FaceDetector,
  scorers: readonly PassiveScorer[],
  onProgress?: (done: number, total: number) => void,
): Promise<ImageCues[]> {
  const out: ImageCues[] = [];
  for (const [i, sample] of samples.entries()) {
    try {
      let frame = loadImage(sample.path).mat;
      let faces = (await detector.detect(frame)).faces;
      if (faces.length === 0) {
        const b = Math.round(Math.max(frame.cols, frame.rows) * RETRY_BORDER);
        frame = frame.copyMakeBorder(b, b, b, b, cv.BORDER_CONSTANT, new cv.Vec3(128, 128, 128));
        faces = (await detector.detect(frame)).faces;
      }
      const p = primaryFace(faces, frame.cols, frame.rows);
      if (p < 0) out.push({ sample, miss: 'no face detected' });
      else out.push({ sample, cues: await passiveCues(scorers, frame, faces[p]!) });
    } catch (err) {
      out.push({ sample, miss: errorReason(err) });
    }
    onProgress?.(i + 1, samples.length);
  }
  return out;
}

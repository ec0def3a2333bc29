// The three stages of the cascade: P-Net proposes boxes over the pyramid, R-Net and O-Net
// re-score square crops of them in batches; O-Net adds five landmarks.
import { cv, type Mat } from '../opencv.js';
import { matToChw } from '../image.js';
import { ort } from '../../runtime/onnx-session.js';
import { applyRegression, boxesFromPnetMap, cropRect, landmarksToImage, nms, toSquare, type CandidateBox } from './boxes.js';
import { pyramidScales, scaledSize } from './pyramid.js';
import { NMS, type MtcnnOptions } from './options.js';

export interface Normalisation {
  mean: number;
  scale: number;
}

export interface StageTimings {
  pyramidMs: number;
  pnetMs: number;
  rnetMs: number;
  onetMs: number;
}

export async function stage1(
  pnet: ort.InferenceSession,
  image: Mat,
  opts: MtcnnOptions,
  norm: Normalisation,
  t: StageTimings,
): Promise<CandidateBox[]> {
  const scales = pyramidScales(image.cols, image.rows, opts.minSize, opts.factor);
  let all: CandidateBox[] = [];
  const level = (scale: number) => {
    const start = performance.now();
    const { width, height } = scaledSize(image.cols, image.rows, scale);
    const data = matToChw(image.resize(height, width, 0, 0, cv.INTER_AREA), norm.mean, norm.scale);
    t.pyramidMs += performance.now() - start;
    return new ort.Tensor('float32', data, [1, 3, height, width]);
  };
  // Pipelined: ONNX Runtime runs P-Net on its own thread while this one resizes the next level,
  // so on two cores the pyramid (OpenCV's INTER_AREA, as the reference; faster filters changed
  // which borderline faces are found) hides behind P-Net. pnetMs is from run to result and
  // overlaps pyramidMs.
  let next = scales.length > 0 ? level(scales[0]!) : undefined;
  for (const [i, scale] of scales.entries()) {
    const start = performance.now();
    const running = pnet.run({ input: next! });
    next = i + 1 < scales.length ? level(scales[i + 1]!) : undefined;
    const out = await running;
    t.pnetMs += performance.now() - start;
    const prob = out.prob!;
    const [, , mapH, mapW] = prob.dims as number[];
    const boxes = boxesFromPnetMap(prob.data as Float32Array, out.bbox_reg!.data as Float32Array, mapW!, mapH!, scale, opts.thresholds[0]);
    all = all.concat(nms(boxes, NMS.perScale, 'union'));
  }
  return nms(all, NMS.stage1, 'union').map((b) => toSquare(applyRegression(b, false)));
}

/** Cuts each box out of the image (zero outside it) and resizes to size x size, as one batch tensor. */
export function cropBatch(image: Mat, boxes: CandidateBox[], size: number, norm: Normalisation): Float32Array {
  const plane = 3 * size * size;
  const batch = new Float32Array(boxes.length * plane);
  boxes.forEach((b, i) => {
    const r = cropRect(b);
    const x1 = Math.max(0, r.x);
    const y1 = Math.max(0, r.y);
    const x2 = Math.min(image.cols, r.x + r.width);
    const y2 = Math.min(image.rows, r.y + r.height);
    let crop: Mat;
    if (x2 <= x1 || y2 <= y1) {
      crop = new cv.Mat(size, size, cv.CV_8UC3, 0);
    } else {
      const inside = image.getRegion(new cv.Rect(x1, y1, x2 - x1, y2 - y1));
      const padded =
        x1 - r.x || y1 - r.y || r.x + r.width - x2 || r.y + r.height - y2
          ? inside.copyMakeBorder(y1 - r.y, r.y + r.height - y2, x1 - r.x, r.x + r.width - x2, cv.BORDER_CONSTANT, new cv.Vec3(0, 0, 0))
          : inside;
      crop = padded.resize(size, size, 0, 0, cv.INTER_AREA);
    }
    matToChw(crop, norm.mean, norm.scale, batch, i * plane);
  });
  return batch;
}

async function runBatched(
  net: ort.InferenceSession,
  image: Mat,
  boxes: CandidateBox[],
  size: number,
  opts: MtcnnOptions,
  norm: Normalisation,
): Promise<{ prob: Float32Array; reg: Float32Array; landmarks?: Float32Array }> {
  const prob = new Float32Array(boxes.length * 2);
  const reg = new Float32Array(boxes.length * 4);
  const landmarks = new Float32Array(boxes.length * 10);
  let hasLandmarks = false;
  for (let start = 0; start < boxes.length; start += opts.maxBatch) {
    const chunk = boxes.slice(start, start + opts.maxBatch);
    const data = cropBatch(image, chunk, size, norm);
    const out = await net.run({ input: new ort.Tensor('float32', data, [chunk.length, 3, size, size]) });
    prob.set(out.prob!.data as Float32Array, start * 2);
    reg.set(out.bbox_reg!.data as Float32Array, start * 4);
    if (out.landmarks) {
      hasLandmarks = true;
      landmarks.set(out.landmarks.data as Float32Array, start * 10);
    }
  }
  return hasLandmarks ? { prob, reg, landmarks } : { prob, reg };
}

export async function stage2(
  rnet: ort.InferenceSession,
  image: Mat,
  boxes: CandidateBox[],
  opts: MtcnnOptions,
  norm: Normalisation,
  t: StageTimings,
): Promise<CandidateBox[]> {
  if (boxes.length === 0) return [];
  const start = performance.now();
  const { prob, reg } = await runBatched(rnet, image, boxes, 24, opts, norm);
  t.rnetMs += performance.now() - start;
  const kept: CandidateBox[] = [];
  boxes.forEach((b, i) => {
    const score = prob[i * 2 + 1]!;
    if (score > opts.thresholds[1]) kept.push({ ...b, score, reg: [reg[i * 4]!, reg[i * 4 + 1]!, reg[i * 4 + 2]!, reg[i * 4 + 3]!] });
  });
  return nms(kept, NMS.stage2, 'union').map((b) => toSquare(applyRegression(b, true)));
}

export async function stage3(
  onet: ort.InferenceSession,
  image: Mat,
  boxes: CandidateBox[],
  opts: MtcnnOptions,
  norm: Normalisation,
  t: StageTimings,
): Promise<CandidateBox[]> {
  if (boxes.length === 0) return [];
  // The reference truncates the boxes to whole pixels before O-Net and measures landmarks on them.
  const whole = boxes.map((b) => ({ ...b, x1: Math.trunc(b.x1), y1: Math.trunc(b.y1), x2: Math.trunc(b.x2), y2: Math.trunc(b.y2) }));
  const start = performance.now();
  const { prob, reg, landmarks } = await runBatched(onet, image, whole, 48, opts, norm);
  t.onetMs += performance.now() - start;
  const kept: CandidateBox[] = [];
  whole.forEach((b, i) => {
    const score = prob[i * 2 + 1]!;
    if (score <= opts.thresholds[2]) return;
    kept.push({
      ...b,
      score,
      reg: [reg[i * 4]!, reg[i * 4 + 1]!, reg[i * 4 + 2]!, reg[i * 4 + 3]!],
      landmarks: landmarksToImage(b, landmarks!.subarray(i * 10, i * 10 + 10)),
    });
  });
  return nms(
    kept.map((b) => applyRegression(b, true)),
    NMS.stage3,
    'min',
  );
}

// The planarity test: a printed photo or a screen moved in front of the camera is a plane, so
// every point of the face on it moves by one homography from frame to frame; a real head that
// turns moves its nose, cheeks and ears by different amounts (parallax), which a homography cannot
// explain but a rigid 3-D motion (the epipolar constraint of a fundamental matrix) can.
//
// Corner features (ORB: this OpenCV binding has no pyramidal Lucas-Kanade) are matched between a
// reference frame of the track and the current one inside the face box. Both models are fitted
// by RANSAC with the same pixel tolerance; the cue is the share of the 3-D model's inliers that
// the plane does NOT explain. A plane scores about 0; a turning head clearly more. A face that
// barely moves gives no evidence either way: the test only speaks once the face moved enough.
import { cv, type Mat } from '../vision/opencv.js';
import type { DetectedFace } from '../vision/detection/face-detector.js';

export interface PlanarityOptions {
  /** Matched features needed before a pair says anything. */
  minMatches: number;
  /** Median feature displacement, as a share of the face size, before a pair says anything. */
  minMotion: number;
  /** RANSAC tolerance, as a share of the face size (at least 1 px). */
  tolerance: number;
  /** Non-planar share at or above which a pair proves a 3-D face. */
  proofThreshold: number;
  /** Frames are compared with a reference at most this old; older references are replaced. */
  maxReferenceAgeMs: number;
}

export const DEFAULT_PLANARITY_OPTIONS: PlanarityOptions = {
  minMatches: 16,
  minMotion: 0.02,
  tolerance: 0.012,
  proofThreshold: 0.3,
  maxReferenceAgeMs: 1500,
};

export interface PairEvidence {
  matches: number;
  /** Median displacement / face size. */
  motion: number;
  homographyInliers: number;
  fundamentalInliers: number;
  /** 1 - homography inliers / fundamental inliers: ~0 for a plane. */
  nonPlanar: number;
  /** Median distance of the 3-D model's inliers from the plane's prediction / face size. */
  parallax: number;
}

/** Pure: does one frame pair speak, and does it prove a 3-D face? */
export function judgePair(e: PairEvidence, opts: PlanarityOptions): 'no-evidence' | 'planar' | 'non-planar' {
  if (e.matches < opts.minMatches || e.motion < opts.minMotion || e.fundamentalInliers < opts.minMatches) return 'no-evidence';
  return e.nonPlanar >= opts.proofThreshold ? 'non-planar' : 'planar';
}

interface Features {
  points: { x: number; y: number }[];
  descriptors: Mat;
  faceSize: number;
  atMs: number;
}

const orb = new cv.ORBDetector({ maxFeatures: 400, scaleFactor: 1.2, nLevels: 4, edgeThreshold: 15, patchSize: 15 });

/** ORB features inside the face box (grown by 10%), in frame coordinates. */
export function faceFeatures(frame: Mat, face: DetectedFace, atMs: number): Features | null {
  const [bx, by, bw, bh] = face.box;
  const grow = 0.1 * Math.max(bw, bh);
  const x = Math.max(0, Math.floor(bx - grow));
  const y = Math.max(0, Math.floor(by - grow));
  const w = Math.min(frame.cols - x, Math.ceil(bw + 2 * grow));
  const h = Math.min(frame.rows - y, Math.ceil(bh + 2 * grow));
  if (w < 32 || h < 32) return null;
  const grey = frame.getRegion(new cv.Rect(x, y, w, h)).cvtColor(cv.COLOR_RGB2GRAY);
  const keypoints = orb.detect(grey);
  if (keypoints.length < 8) return null;
  const descriptors = orb.compute(grey, keypoints);
  return { points: keypoints.map((k) => ({ x: k.pt.x + x, y: k.pt.y + y })), descriptors, faceSize: Math.max(bw, bh), atMs };
}

/** Mutual best matches with a Hamming distance below 64 (of 256 bits). */
function mutualMatches(a: Features, b: Features): [number, number][] {
  const ab = cv.matchBruteForceHamming(a.descriptors, b.descriptors);
  const ba = cv.matchBruteForceHamming(b.descriptors, a.descriptors);
  const back = new Map(ba.map((m) => [m.queryIdx, m.trainIdx]));
  return ab.filter((m) => m.distance < 64 && back.get(m.trainIdx) === m.queryIdx).map((m) => [m.queryIdx, m.trainIdx]);
}

const HOMOGRAPHY_TOLERANCE_FACTOR = 2;

/** Distance of each matched point from where the homography puts it. */
function homographyResiduals(h: Mat, src: { x: number; y: number }[], dst: { x: number; y: number }[]): number[] {
  if (h.empty) return src.map(() => Infinity);
  const m = (h.getDataAsArray() as number[][]).flat();
  return src.map((p, k) => {
    const w = m[6]! * p.x + m[7]! * p.y + m[8]!;
    const x = (m[0]! * p.x + m[1]! * p.y + m[2]!) / w;
    const y = (m[3]! * p.x + m[4]! * p.y + m[5]!) / w;
    return Math.hypot(x - dst[k]!.x, y - dst[k]!.y);
  });
}

function median(values: number[]): number {
  const s = [...values].sort((p, q) => p - q);
  return s.length === 0 ? 0 : s[Math.floor(s.length / 2)]!;
}

export function comparePair(ref: Features, cur: Features, opts: PlanarityOptions): PairEvidence {
  const pairs = mutualMatches(ref, cur);
  const none: PairEvidence = { matches: pairs.length, motion: 0, homographyInliers: 0, fundamentalInliers: 0, nonPlanar: 0, parallax: 0 };
  if (pairs.length < Math.max(8, opts.minMatches)) return none;
  const src = pairs.map(([i]) => new cv.Point2(ref.points[i]!.x, ref.points[i]!.y));
  const dst = pairs.map(([, j]) => new cv.Point2(cur.points[j]!.x, cur.points[j]!.y));
  const size = (ref.faceSize + cur.faceSize) / 2;
  const motion = median(src.map((p, k) => Math.hypot(dst[k]!.x - p.x, dst[k]!.y - p.y))) / size;
  const tol = Math.max(1, opts.tolerance * size);
  const f = cv.findFundamentalMat(src, dst, cv.FM_RANSAC, tol, 0.995);
  const fMask = f.mask.empty ? [] : (f.mask.getDataAsArray() as number[][]).map((r) => r[0]! > 0);
  const fundamentalInliers = fMask.filter(Boolean).length;
  // The plane gets twice the tolerance: corner positions are noisier than the 3-D model needs,
  // and a real head's parallax (nose against cheeks) is several times larger than that.
  const h = cv.findHomography(src, dst, cv.RANSAC, HOMOGRAPHY_TOLERANCE_FACTOR * tol, 2000, 0.995);
  const residual = homographyResiduals(h.homography, src, dst).filter((_, k) => fMask[k]);
  const homographyInliers = residual.filter((r) => r <= HOMOGRAPHY_TOLERANCE_FACTOR * tol).length;
  const nonPlanar = fundamentalInliers > 0 ? Math.max(0, 1 - homographyInliers / fundamentalInliers) : 0;
  return { matches: pairs.length, motion, homographyInliers, fundamentalInliers, nonPlanar, parallax: median(residual) / size };
}

/** Per-track state: a reference frame's features and the strongest evidence seen so far. */
export class PlanarityTracker {
  private reference: Features | null = null;
  /** Most non-planar share of any pair that spoke; -1 before one did. */
  bestNonPlanar = -1;
  pairsJudged = 0;
  proofAtMs: number | null = null;

  constructor(private readonly opts: PlanarityOptions = DEFAULT_PLANARITY_OPTIONS) {}

  observe(frame: Mat, face: DetectedFace, atMs: number): PairEvidence | null {
    const cur = faceFeatures(frame, face, atMs);
    if (!cur) return null;
    const ref = this.reference;
    if (!ref || atMs - ref.atMs > this.opts.maxReferenceAgeMs) {
      this.reference = cur;
      return null;
    }
    const e = comparePair(ref, cur, this.opts);
    const verdict = judgePair(e, this.opts);
    if (verdict !== 'no-evidence') {
      this.pairsJudged++;
      this.bestNonPlanar = Math.max(this.bestNonPlanar, e.nonPlanar);
      if (verdict === 'non-planar' && this.proofAtMs === null) this.proofAtMs = atMs;
      // After a judged pair the current frame becomes the reference, so the next pair measures new motion.
      this.reference = cur;
    } else if (e.matches < this.opts.minMatches) {
      this.reference = cur;
    }
    return e;
  }

  get proven(): boolean {
    return this.proofAtMs !== null;
  }
}

// Per-face quality signals. Later stages gate enrollment and unlocking on them: a blurred,
// tiny or turned-away face gives embeddings that match the wrong person more often.
import { cv, type Mat } from './opencv.js';
import type { DetectedFace, Point } from './detection/face-detector.js';

export interface FacePose {
  /** In-plane rotation of the eye line, degrees (0 = level). */
  rollDeg: number;
  /** Nose offset from the eye-mouth midline, in inter-eye distances (0 frontal, about +-0.5 at profile). */
  yaw: number;
  /** Nose height between eye line (0) and mouth line (1); about 0.5 when facing the camera. */
  pitch: number;
  /** 1 for a frontal face, falling to 0 as yaw or pitch leave the frontal range. */
  frontalness: number;
}

export interface FaceQuality extends FacePose {
  /** Shorter side of the detector box, pixels. */
  faceSize: number;
  /** Distance between the eye landmarks, pixels. */
  eyeDistance: number;
  /** Variance of the Laplacian of the grey aligned crop: low means blurred. */
  sharpness: number;
  /** Detector (O-Net) face probability. */
  score: number;
}

const clamp01 = (v: number) => Math.min(1, Math.max(0, v));

/** Head pose proxies from the five landmarks alone (no 3-D model): cheap and good enough to gate on. */
export function landmarkPose(landmarks: readonly Point[]): FacePose {
  const [le, re, nose, lm, rm] = landmarks as [Point, Point, Point, Point, Point];
  const roll = Math.atan2(re[1] - le[1], re[0] - le[0]);
  // Undo roll so "horizontal" and "vertical" mean the face's own axes.
  const cos = Math.cos(-roll), sin = Math.sin(-roll);
  const rot = (p: Point): Point => [p[0] * cos - p[1] * sin, p[0] * sin + p[1] * cos];
  const [l, r, n, ml, mr] = [le, re, nose, lm, rm].map(rot) as [Point, Point, Point, Point, Point];
  const eyeMid: Point = [(l[0] + r[0]) / 2, (l[1] + r[1]) / 2];
  const mouthMid: Point = [(ml[0] + mr[0]) / 2, (ml[1] + mr[1]) / 2];
  const eyeDist = Math.max(1e-6, Math.hypot(r[0] - l[0], r[1] - l[1]));
  const yaw = (n[0] - (eyeMid[0] + mouthMid[0]) / 2) / eyeDist;
  const span = mouthMid[1] - eyeMid[1];
  const pitch = span > 1e-6 ? (n[1] - eyeMid[1]) / span : 0;
  const frontalness = clamp01(1 - Math.abs(yaw) / 0.45) * clamp01(1 - Math.abs(pitch - 0.5) / 0.45);
  return { rollDeg: (roll * 180) / Math.PI, yaw, pitch, frontalness };
}

/** Laplacian variance of a crop: the usual blur measure (Frigate and others gate on it). */
export function sharpness(crop: Mat): number {
  const grey = crop.channels === 1 ? crop : crop.cvtColor(cv.COLOR_RGB2GRAY);
  const { stddev } = grey.laplacian(cv.CV_64F).meanStdDev();
  const sd = stddev.at(0, 0) as number;
  return sd * sd;
}

export function faceQuality(face: DetectedFace, alignedCrop: Mat): FaceQuality {
  const [le, re] = face.landmarks;
  return {
    ...landmarkPose(face.landmarks),
    faceSize: Math.min(face.box[2], face.box[3]),
    eyeDistance: Math.hypot(re[0] - le[0], re[1] - le[1]),
    sharpness: sharpness(alignedCrop),
    score: face.score,
  };
}

/**
 * Which face a one-person photo is about: the most central of the faces at least half as large
 * as the largest. Bystanders can be larger than the subject, and the most central face of a big
 * photo can be a small false positive; this rule handles both (measured on LFW-style photos).
 */
export function primaryFace(faces: readonly DetectedFace[], width: number, height: number): number {
  if (faces.length === 0) return -1;
  const areas = faces.map((f) => f.box[2] * f.box[3]);
  const largest = Math.max(...areas);
  let best = -1;
  let bestDist = Infinity;
  faces.forEach((f, i) => {
    if (areas[i]! < largest / 2) return;
    const d = Math.hypot(f.box[0] + f.box[2] / 2 - width / 2, f.box[1] + f.box[3] / 2 - height / 2);
    if (d < bestDist) {
      bestDist = d;
      best = i;
    }
  });
  return best;
}

// Simulated print attacks: a real photo held up and moved in front of the camera is a plane, so
// each camera frame is the photo warped by a homography: rotation of the plane about its centre
// (tilt towards / away from the camera, turn, in-plane roll), then moved and scaled in view.
import { cv, type Mat } from '../../src/vision/opencv.js';

export interface PlanePose {
  /** Turn about the vertical axis, tilt about the horizontal axis, in-plane roll: degrees. */
  yawDeg: number;
  pitchDeg: number;
  rollDeg: number;
  /** Centre of the photo in the frame, pixels. */
  cx: number;
  cy: number;
  /** Pixels of frame per pixel of photo. */
  scale: number;
}

/** 3x3 homography (row-major) taking photo pixels to frame pixels for a photo plane in that pose. */
export function planeHomography(photoW: number, photoH: number, pose: PlanePose, focal = 900): number[] {
  const r = (d: number) => (d * Math.PI) / 180;
  const [a, b, c] = [r(pose.pitchDeg), r(pose.yawDeg), r(pose.rollDeg)];
  const rx = [1, 0, 0, 0, Math.cos(a), -Math.sin(a), 0, Math.sin(a), Math.cos(a)];
  const ry = [Math.cos(b), 0, Math.sin(b), 0, 1, 0, -Math.sin(b), 0, Math.cos(b)];
  const rz = [Math.cos(c), -Math.sin(c), 0, Math.sin(c), Math.cos(c), 0, 0, 0, 1];
  const mul = (p: number[], q: number[]) =>
    Array.from({ length: 9 }, (_, i) => {
      const [row, col] = [Math.floor(i / 3), i % 3];
      return p[row * 3]! * q[col]! + p[row * 3 + 1]! * q[3 + col]! + p[row * 3 + 2]! * q[6 + col]!;
    });
  const R = mul(rz, mul(ry, rx));
  // Plane point (u, v, 0) at depth `focal` in camera coordinates, projected with focal length `focal`.
  const s = pose.scale;
  const plane = [s, 0, -s * photoW / 2, 0, s, -s * photoH / 2, 0, 0, 1];
  const camera = [R[0]!, R[1]!, 0, R[3]!, R[4]!, 0, R[6]! / focal, R[7]! / focal, 1];
  const toFrame = [1, 0, pose.cx, 0, 1, pose.cy, 0, 0, 1];
  return mul(toFrame, mul(camera, plane));
}

/** The photo as the camera sees it in that pose, on a plain grey background. */
export function warpPhoto(photo: Mat, pose: PlanePose, frameW = 640, frameH = 480): Mat {
  const h = planeHomography(photo.cols, photo.rows, pose);
  const m = new cv.Mat([h.slice(0, 3), h.slice(3, 6), h.slice(6, 9)], cv.CV_64F);
  return photo.warpPerspective(m, new cv.Size(frameW, frameH), cv.INTER_LINEAR, cv.BORDER_CONSTANT, new cv.Vec3(110, 110, 110));
}

/** A smooth hand-held motion: n poses, turning, tilting and drifting; `seed` varies the path. */
export function handHeldPath(n: number, seed: number, base: { cx: number; cy: number; scale: number }): PlanePose[] {
  return Array.from({ length: n }, (_, k) => {
    const t = k / Math.max(1, n - 1);
    const ph = seed * 1.7;
    return {
      yawDeg: 25 * Math.sin(2 * Math.PI * t + ph),
      pitchDeg: 18 * Math.cos(2 * Math.PI * t * 0.8 + ph),
      rollDeg: 8 * Math.sin(2 * Math.PI * t * 1.3 + ph),
      cx: base.cx + 40 * Math.sin(2 * Math.PI * t * 0.6 + ph),
      cy: base.cy + 25 * Math.cos(2 * Math.PI * t * 0.9 + ph),
      scale: base.scale * (1 + 0.15 * Math.sin(2 * Math.PI * t * 0.7 + ph)),
    };
  });
}

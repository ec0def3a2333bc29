// Least-squares similarity transform (rotation, uniform scale, translation; no reflection)
// from detected landmarks onto a template: Umeyama's method in closed form for 2-D.

export type Point = [number, number];

/** The standard ArcFace 112x112 landmark template: eyes, nose tip, mouth corners. */
export const ARCFACE_112_TEMPLATE: Point[] = [
  [38.2946, 51.6963],
  [73.5318, 51.5014],
  [56.0252, 71.7366],
  [41.5493, 92.3655],
  [70.7299, 92.2041],
];

/** Returns the 2x3 affine matrix [a, -b, tx; b, a, ty] mapping `src` onto `dst`. */
export function similarityTransform(src: Point[], dst: Point[]): [number, number, number, number, number, number] {
  if (src.length !== dst.length || src.length < 2) throw new Error('similarity transform needs >= 2 matching points');
  const n = src.length;
  let sx = 0, sy = 0, dx = 0, dy = 0;
  for (let i = 0; i < n; i++) {
    sx += src[i]![0]; sy += src[i]![1];
    dx += dst[i]![0]; dy += dst[i]![1];
  }
  sx /= n; sy /= n; dx /= n; dy /= n;
  // For 2-D the optimal rotation+scale is [a -b; b a] with a, b from these sums.
  let num_a = 0, num_b = 0, den = 0;
  for (let i = 0; i < n; i++) {
    const px = src[i]![0] - sx, py = src[i]![1] - sy;
    const qx = dst[i]![0] - dx, qy = dst[i]![1] - dy;
    num_a += px * qx + py * qy;
    num_b += px * qy - py * qx;
    den += px * px + py * py;
  }
  if (den === 0) throw new Error('similarity transform: source points coincide');
  const a = num_a / den;
  const b = num_b / den;
  const tx = dx - (a * sx - b * sy);
  const ty = dy - (b * sx + a * sy);
  return [a, -b, tx, b, a, ty];
}

export function applyAffine(m: readonly number[], p: Point): Point {
  return [m[0]! * p[0] + m[1]! * p[1] + m[2]!, m[3]! * p[0] + m[4]! * p[1] + m[5]!];
}

/** Template scaled to another square output size (e.g. 96 or 128 px embedders). */
export function scaledTemplate(size: number): Point[] {
  return ARCFACE_112_TEMPLATE.map(([x, y]) => [(x * size) / 112, (y * size) / 112]);
}

/** FaceNet-style crop: the detector box grown by `margin` pixels in total, clipped to the image. */
export function marginCropRect(
  box: [number, number, number, number],
  margin: number,
  imageWidth: number,
  imageHeight: number,
): { x: number; y: number; width: number; height: number } {
  const x1 = Math.max(Math.floor(box[0] - margin / 2), 0);
  const y1 = Math.max(Math.floor(box[1] - margin / 2), 0);
  const x2 = Math.min(Math.ceil(box[0] + box[2] + margin / 2), imageWidth);
  const y2 = Math.min(Math.ceil(box[1] + box[3] + margin / 2), imageHeight);
  return { x: x1, y: y1, width: Math.max(1, x2 - x1), height: Math.max(1, y2 - y1) };
}

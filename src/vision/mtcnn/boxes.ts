// Box geometry of the MTCNN cascade. Boxes are corner form [x1, y1, x2, y2] in pixels of the
// original image, inclusive (width = x2 - x1 + 1), as in the reference implementation.

export interface CandidateBox {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  score: number;
  /** Regression offsets dx1, dy1, dx2, dy2 as fractions of the box size. */
  reg: [number, number, number, number];
  /** x1..x5 then y1..y5 after O-Net. */
  landmarks?: number[];
}

export type NmsMode = 'union' | 'min';

function area(b: CandidateBox): number {
  return (b.x2 - b.x1 + 1) * (b.y2 - b.y1 + 1);
}

/** Greedy non-maximum suppression; returns the kept boxes, best first. */
export function nms(boxes: CandidateBox[], threshold: number, mode: NmsMode = 'union'): CandidateBox[] {
  const sorted = [...boxes].sort((a, b) => b.score - a.score);
  const kept: CandidateBox[] = [];
  const suppressed = new Uint8Array(sorted.length);
  for (let i = 0; i < sorted.length; i++) {
    if (suppressed[i]) continue;
    const a = sorted[i]!;
    kept.push(a);
    const areaA = area(a);
    for (let j = i + 1; j < sorted.length; j++) {
      if (suppressed[j]) continue;
      const b = sorted[j]!;
      const w = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1) + 1;
      const h = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1) + 1;
      if (w <= 0 || h <= 0) continue;
      const inter = w * h;
      const denom = mode === 'min' ? Math.min(areaA, area(b)) : areaA + area(b) - inter;
      if (inter / denom > threshold) suppressed[j] = 1;
    }
  }
  return kept;
}

/**
 * Turns one P-Net output map into candidate boxes. P-Net is a 12x12 window slid with stride 2
 * over the scaled image, so map cell (row, col) covers [2col, 2col+12) x [2row, 2row+12) there.
 */
export function boxesFromPnetMap(
  prob: Float32Array,
  reg: Float32Array,
  mapWidth: number,
  mapHeight: number,
  scale: number,
  threshold: number,
): CandidateBox[] {
  const stride = 2;
  const cell = 12;
  const plane = mapWidth * mapHeight;
  const out: CandidateBox[] = [];
  for (let row = 0; row < mapHeight; row++) {
    for (let col = 0; col < mapWidth; col++) {
      const i = row * mapWidth + col;
      // prob holds [p(background), p(face)] planes.
      const score = prob[plane + i]!;
      if (score < threshold) continue;
      out.push({
        x1: Math.trunc((stride * col + 1) / scale),
        y1: Math.trunc((stride * row + 1) / scale),
        x2: Math.trunc((stride * col + cell) / scale),
        y2: Math.trunc((stride * row + cell) / scale),
        score,
        reg: [reg[i]!, reg[plane + i]!, reg[2 * plane + i]!, reg[3 * plane + i]!],
      });
    }
  }
  return out;
}

/**
 * Applies the regression offsets. Stage 1 measures the box as x2 - x1, later stages as
 * x2 - x1 + 1: the reference implementation does so and the weights were tuned with it.
 */
export function applyRegression(b: CandidateBox, inclusive: boolean): CandidateBox {
  const w = b.x2 - b.x1 + (inclusive ? 1 : 0);
  const h = b.y2 - b.y1 + (inclusive ? 1 : 0);
  return {
    ...b,
    x1: b.x1 + b.reg[0] * w,
    y1: b.y1 + b.reg[1] * h,
    x2: b.x2 + b.reg[2] * w,
    y2: b.y2 + b.reg[3] * h,
  };
}

/** Makes a box square around its centre (the next stage's input is square). */
export function toSquare(b: CandidateBox): CandidateBox {
  const w = b.x2 - b.x1;
  const h = b.y2 - b.y1;
  const side = Math.max(w, h);
  const x1 = b.x1 + w * 0.5 - side * 0.5;
  const y1 = b.y1 + h * 0.5 - side * 0.5;
  return { ...b, x1, y1, x2: x1 + side, y2: y1 + side };
}

/** Integer pixel box used to cut a crop; parts outside the image are zero-padded by the caller. */
export interface CropRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export function cropRect(b: CandidateBox): CropRect {
  const x1 = Math.trunc(b.x1);
  const y1 = Math.trunc(b.y1);
  const x2 = Math.trunc(b.x2);
  const y2 = Math.trunc(b.y2);
  return { x: x1, y: y1, width: x2 - x1 + 1, height: y2 - y1 + 1 };
}

/** Maps O-Net's normalised landmarks (x1..x5, y1..y5) into image pixels of the crop box. */
export function landmarksToImage(b: CandidateBox, raw: ArrayLike<number>): number[] {
  const w = b.x2 - b.x1 + 1;
  const h = b.y2 - b.y1 + 1;
  const out = new Array<number>(10);
  for (let k = 0; k < 5; k++) {
    out[k] = w * raw[k]! + b.x1 - 1;
    out[k + 5] = h * raw[k + 5]! + b.y1 - 1;
  }
  return out;
}

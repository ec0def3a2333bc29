// Verification metrics from similarity scores (higher = more alike). A pair is accepted when
// its score is strictly above the threshold; every threshold reported means exactly that.

export interface OperatingPoint {
  far: number;
  tar: number;
  threshold: number;
}

export interface VerificationMetrics {
  genuine: number;
  impostor: number;
  auc: number;
  eer: number;
  eerThreshold: number;
  /** TAR at the largest threshold-defined FAR not above each target. */
  atFar: { target: number; tar: number; far: number; threshold: number; resolvable: boolean }[];
}

/** ROC AUC as the probability that a random genuine pair outscores a random impostor pair (ties half). */
export function rocAuc(genuine: readonly number[], impostor: readonly number[]): number {
  if (genuine.length === 0 || impostor.length === 0) return NaN;
  const all = [...genuine.map((s) => ({ s, g: 1 })), ...impostor.map((s) => ({ s, g: 0 }))].sort((a, b) => a.s - b.s);
  // Rank-sum with average ranks for ties (Mann-Whitney U).
  let rankSumGenuine = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j < all.length && all[j]!.s === all[i]!.s) j++;
    const avgRank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) if (all[k]!.g) rankSumGenuine += avgRank;
    i = j;
  }
  const u = rankSumGenuine - (genuine.length * (genuine.length + 1)) / 2;
  return u / (genuine.length * impostor.length);
}

/** ROC points at every distinct threshold, from strictest to most lenient. */
export function rocCurve(genuine: readonly number[], impostor: readonly number[]): OperatingPoint[] {
  const g = [...genuine].sort((a, b) => b - a);
  const im = [...impostor].sort((a, b) => b - a);
  const thresholds = [...new Set([...g, ...im])].sort((a, b) => b - a);
  const points: OperatingPoint[] = [{ far: 0, tar: 0, threshold: Infinity }];
  let gi = 0, ii = 0;
  for (const t of thresholds) {
    // Accept when score > next-lower threshold: after passing t, everything >= t is accepted.
    while (gi < g.length && g[gi]! >= t) gi++;
    while (ii < im.length && im[ii]! >= t) ii++;
    points.push({ far: ii / im.length, tar: gi / g.length, threshold: nextDown(t) });
  }
  return points;
}

function nextDown(x: number): number {
  // The largest double below x: "score > threshold" then accepts x itself.
  if (!Number.isFinite(x) || x === 0) return x === 0 ? -Number.MIN_VALUE : x;
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, x);
  const bits = buf.getBigUint64(0);
  buf.setBigUint64(0, x > 0 ? bits - 1n : bits + 1n);
  return buf.getFloat64(0);
}

/** Equal error rate, interpolated between the two ROC points where FAR crosses FRR. */
export function equalErrorRate(points: readonly OperatingPoint[]): { eer: number; threshold: number } {
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1]!, b = points[i]!;
    const da = a.far - (1 - a.tar);
    const db = b.far - (1 - b.tar);
    if (da <= 0 && db >= 0) {
      const w = db === da ? 0 : -da / (db - da);
      return { eer: a.far + w * (b.far - a.far), threshold: Number.isFinite(a.threshold) ? a.threshold + w * (b.threshold - a.threshold) : b.threshold };
    }
  }
  return { eer: NaN, threshold: NaN };
}

/**
 * TAR at a target FAR: the most lenient threshold whose FAR does not exceed the target.
 * `resolvable` is false when there are too few impostors for the target (one impostor is
 * already more than target x count).
 */
export function tarAtFar(genuine: readonly number[], impostor: readonly number[], target: number) {
  const im = [...impostor].sort((a, b) => b - a);
  const allowed = Math.floor(target * im.length);
  // Threshold at the (allowed)-th highest impostor: scores strictly above it are accepted.
  const threshold = allowed < im.length ? im[allowed]! : -Infinity;
  const accepted = genuine.filter((s) => s > threshold).length;
  const falseAccepts = im.filter((s) => s > threshold).length;
  return {
    target,
    tar: genuine.length ? accepted / genuine.length : NaN,
    far: im.length ? falseAccepts / im.length : NaN,
    threshold,
    resolvable: im.length * target >= 1,
  };
}

export function verificationMetrics(genuine: readonly number[], impostor: readonly number[], targets = [1e-2, 1e-3]): VerificationMetrics {
  const { eer, threshold } = equalErrorRate(rocCurve(genuine, impostor));
  return {
    genuine: genuine.length,
    impostor: impostor.length,
    auc: rocAuc(genuine, impostor),
    eer,
    eerThreshold: threshold,
    atFar: targets.map((t) => tarAtFar(genuine, impostor, t)),
  };
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

export function l2Distance(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(s);
}

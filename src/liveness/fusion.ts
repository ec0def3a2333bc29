// One calibrated liveness probability from several cues: each cue is replaced by its rank among
// the training samples (so cues on wildly different scales, and their outliers, weigh alike),
// then a logistic regression on the ranks gives p(live). Pure: training and scoring are plain
// arithmetic on numbers, deterministic for the same input.
//
// Training weighs every correlation group (a source, or a person within NUAA) equally and both
// classes equally inside it: the development set is 80% NUAA, and a fit dominated by one camera
// learns that camera (the spoof README's warning about sharpness).

export interface FusionModel {
  version: 1;
  /** Cue names, in weight order. */
  cues: string[];
  /** Per cue: sorted quantiles of the training values, for the rank transform. */
  quantiles: Record<string, number[]>;
  weights: number[];
  bias: number;
  /** How it was made: reproducible by `facegate liveness train` on the same manifest. */
  trainedOn: { description: string; samples: number; groups: string[]; l2: number };
}

export interface TrainingSample {
  cues: Record<string, number>;
  live: boolean;
  group: string;
}

const QUANTILES = 65;

function sortedFinite(values: number[]): number[] {
  return values.filter(Number.isFinite).sort((a, b) => a - b);
}

/** Pure: `count` evenly spaced quantiles of the values (fewer if there are fewer values). */
export function quantiles(values: number[], count = QUANTILES): number[] {
  const s = sortedFinite(values);
  if (s.length <= count) return s;
  return Array.from({ length: count }, (_, i) => s[Math.round((i * (s.length - 1)) / (count - 1))]!);
}

/** Pure: where v falls among the quantiles, 0..1, interpolated linearly; ties take the middle. */
export function rankOf(q: readonly number[], v: number): number {
  const n = q.length;
  if (n === 0 || !Number.isFinite(v)) return 0.5;
  if (n === 1) return v < q[0]! ? 0 : v > q[0]! ? 1 : 0.5;
  if (v <= q[0]!) return 0;
  if (v >= q[n - 1]!) return 1;
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (q[mid]! <= v) lo = mid;
    else hi = mid;
  }
  const a = q[lo]!;
  const b = q[hi]!;
  const t = b > a ? (v - a) / (b - a) : 0.5;
  return (lo + t) / (n - 1);
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

function features(model: Pick<FusionModel, 'cues' | 'quantiles'>, cues: Record<string, number>): number[] {
  return model.cues.map((c) => {
    const v = cues[c];
    if (v === undefined) throw new Error(`liveness fusion: cue "${c}" missing (have ${Object.keys(cues).join(', ')})`);
    return rankOf(model.quantiles[c]!, v);
  });
}

/** p(live) for one face's cues. */
export function fuse(model: FusionModel, cues: Record<string, number>): number {
  const x = features(model, cues);
  return sigmoid(model.bias + x.reduce((s, xi, i) => s + xi * model.weights[i]!, 0));
}

/** Per-sample weights: each group sums to 1, split equally between its live and spoof samples. */
export function groupBalancedWeights(samples: readonly TrainingSample[]): number[] {
  const counts = new Map<string, { live: number; spoof: number }>();
  for (const s of samples) {
    const c = counts.get(s.group) ?? { live: 0, spoof: 0 };
    if (s.live) c.live++;
    else c.spoof++;
    counts.set(s.group, c);
  }
  return samples.map((s) => {
    const c = counts.get(s.group)!;
    const classes = (c.live > 0 ? 1 : 0) + (c.spoof > 0 ? 1 : 0);
    return 1 / classes / (s.live ? c.live : c.spoof);
  });
}

/**
 * Fits the rank-logistic model by Newton's method (IRLS) with an L2 penalty on the weights (not
 * the bias): a handful of iterations, deterministic, no learning rate to tune.
 */
export function trainFusion(samples: readonly TrainingSample[], cueNames: readonly string[], opts: { l2?: number; description?: string } = {}): FusionModel {
  if (samples.length === 0) throw new Error('liveness fusion: no training samples');
  if (!samples.some((s) => s.live) || !samples.some((s) => !s.live)) throw new Error('liveness fusion: training needs both live and spoof samples');
  const l2 = opts.l2 ?? 1;
  const q = Object.fromEntries(cueNames.map((c) => [c, quantiles(samples.map((s) => s.cues[c] ?? NaN))]));
  const shape = { cues: [...cueNames], quantiles: q };
  const X = samples.map((s) => [1, ...features(shape, s.cues)]);
  const y = samples.map((s) => (s.live ? 1 : 0));
  const w = groupBalancedWeights(samples);
  const total = w.reduce((a, b) => a + b, 0);
  const sw = w.map((v) => v / total);
  const d = cueNames.length + 1;
  let beta = new Array<number>(d).fill(0);
  for (let iter = 0; iter < 50; iter++) {
    const grad = new Array<number>(d).fill(0);
    const hess = Array.from({ length: d }, () => new Array<number>(d).fill(0));
    X.forEach((x, i) => {
      const p = sigmoid(x.reduce((s, xi, k) => s + xi * beta[k]!, 0));
      const r = sw[i]! * (p - y[i]!);
      const h = sw[i]! * p * (1 - p);
      for (let a = 0; a < d; a++) {
        grad[a]! += r * x[a]!;
        for (let b = 0; b < d; b++) hess[a]![b]! += h * x[a]! * x[b]!;
      }
    });
    // The penalty is per unit of total weight (1): l2 = 1 is a mild prior for 0..1 features.
    const penalty = l2 / samples.length;
    for (let a = 1; a < d; a++) {
      grad[a]! += penalty * beta[a]!;
      hess[a]![a]! += penalty;
    }
    hess[0]![0]! += 1e-9;
    const step = solve(hess, grad);
    beta = beta.map((b, k) => b - step[k]!);
    if (Math.max(...step.map(Math.abs)) < 1e-8) break;
  }
  const groups = [...new Set(samples.map((s) => s.group))].sort();
  return {
    version: 1,
    cues: [...cueNames],
    quantiles: q,
    bias: beta[0]!,
    weights: beta.slice(1),
    trainedOn: { description: opts.description ?? '', samples: samples.length, groups, l2 },
  };
}

/** Gaussian elimination with partial pivoting; the systems here are at most ~10x10. */
function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    [m[c], m[p]] = [m[p]!, m[c]!];
    const pivot = m[c]![c]!;
    if (Math.abs(pivot) < 1e-15) continue;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r]![c]! / pivot;
      for (let k = c; k <= n; k++) m[r]![k]! -= f * m[c]![k]!;
    }
  }
  return m.map((row, i) => (Math.abs(row[i]!) < 1e-15 ? 0 : row[n]! / row[i]!));
}

/**
 * Held-out scores by leaving one fold out at a time: every sample is scored by a model that never
 * saw its fold. `foldOf` says which fold a sample is in (a group for leave-one-group-out, a source
 * for leave-one-source-out).
 */
export function crossValidatedScores(
  samples: readonly TrainingSample[],
  cueNames: readonly string[],
  foldOf: (i: number) => string,
  opts: { l2?: number } = {},
): number[] {
  const folds = [...new Set(samples.map((_, i) => foldOf(i)))];
  const out = new Array<number>(samples.length).fill(NaN);
  for (const fold of folds) {
    const train = samples.filter((_, i) => foldOf(i) !== fold);
    const model = trainFusion(train, cueNames, opts);
    samples.forEach((s, i) => {
      if (foldOf(i) === fold) out[i] = fuse(model, s.cues);
    });
  }
  return out;
}

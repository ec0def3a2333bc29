// Presentation-attack detection measures of ISO/IEC 30107-3, from scored samples. Pure.
// Scores are "higher = more likely live"; a sample is accepted as live when score >= threshold.
// - APCER (per attack type): share of that type's attacks accepted as live.
// - The overall APCER is the worst attack type's (the standard's rule), not the pooled share.
// - BPCER: share of live presentations rejected.  ACER = (max APCER + BPCER) / 2.
// - BPCER at APCER x: the least BPCER of any threshold at which every attack type's APCER <= x.

export interface ScoredSample {
  score: number;
  live: boolean;
  attackType: string;
  source: string;
}

export interface OperatingPoint {
  threshold: number;
  apcerByType: Record<string, number>;
  apcer: number;
  bpcer: number;
  acer: number;
}

export interface LivenessReport {
  live: number;
  spoof: number;
  attackTypes: Record<string, number>;
  auc: number;
  /** At the given threshold. */
  at: OperatingPoint;
  bpcerAtApcer5: { bpcer: number; threshold: number };
  bpcerAtApcer1: { bpcer: number; threshold: number };
  /** The same with APCER pooled over all attack types. */
  bpcerAtPooledApcer5: { bpcer: number; threshold: number };
  /** Threshold where the worst APCER and BPCER cross (equal error). */
  eer: { rate: number; threshold: number };
  bySource: Record<string, { live: number; spoof: number; auc: number | null; apcer: number | null; bpcer: number | null }>;
  roc: { apcer: number[]; bpcer: number[] };
}

/** Pure: probability that a random live sample outscores a random attack (ties count half). */
export function rocAuc(live: readonly number[], spoof: readonly number[]): number {
  if (live.length === 0 || spoof.length === 0) return NaN;
  const all = [...live.map((s) => ({ s, l: 1 })), ...spoof.map((s) => ({ s, l: 0 }))].sort((a, b) => a.s - b.s);
  let rankSum = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j < all.length && all[j]!.s === all[i]!.s) j++;
    const midRank = (i + j + 1) / 2;
    for (let k = i; k < j; k++) if (all[k]!.l === 1) rankSum += midRank;
    i = j;
  }
  return (rankSum - (live.length * (live.length + 1)) / 2) / (live.length * spoof.length);
}

export function operatingPoint(samples: readonly ScoredSample[], threshold: number): OperatingPoint {
  const live = samples.filter((s) => s.live);
  const types = [...new Set(samples.filter((s) => !s.live).map((s) => s.attackType))].sort();
  const apcerByType = Object.fromEntries(
    types.map((t) => {
      const attacks = samples.filter((s) => !s.live && s.attackType === t);
      return [t, attacks.filter((s) => s.score >= threshold).length / attacks.length];
    }),
  );
  const apcer = types.length === 0 ? 0 : Math.max(...Object.values(apcerByType));
  const bpcer = live.length === 0 ? 0 : live.filter((s) => s.score < threshold).length / live.length;
  return { threshold, apcerByType, apcer, bpcer, acer: (apcer + bpcer) / 2 };
}

/** Every distinct cut: below all scores, between each pair, above all. */
function candidateThresholds(samples: readonly ScoredSample[]): number[] {
  const s = [...new Set(samples.map((x) => x.score))].sort((a, b) => a - b);
  if (s.length === 0) return [0];
  const cuts = [s[0]! - 1];
  for (let i = 1; i < s.length; i++) cuts.push((s[i - 1]! + s[i]!) / 2);
  cuts.push(s[s.length - 1]! + 1);
  return cuts;
}

/**
 * The lowest-BPCER threshold at which every attack type's APCER stays <= target, or with
 * `pooled` the share of all attacks together (what a single "APCER" often means outside the standard).
 */
export function bpcerAtApcer(samples: readonly ScoredSample[], target: number, opts: { pooled?: boolean } = {}): { bpcer: number; threshold: number } {
  const attacks = samples.filter((s) => !s.live);
  let best = { bpcer: 1, threshold: Infinity };
  for (const t of candidateThresholds(samples)) {
    const p = operatingPoint(samples, t);
    const apcer = opts.pooled ? attacks.filter((s) => s.score >= t).length / Math.max(1, attacks.length) : p.apcer;
    if (apcer <= target + 1e-12 && p.bpcer < best.bpcer) best = { bpcer: p.bpcer, threshold: t };
  }
  return best;
}

/** The lowest-APCER threshold at which BPCER stays <= target: what calibrate-liveness uses for a convenience target. */
export function apcerAtBpcer(samples: readonly ScoredSample[], target: number): { apcer: number; threshold: number } {
  let best = { apcer: 1, threshold: -Infinity };
  for (const t of candidateThresholds(samples)) {
    const p = operatingPoint(samples, t);
    if (p.bpcer <= target + 1e-12 && p.apcer < best.apcer - 1e-12) best = { apcer: p.apcer, threshold: t };
  }
  return best;
}

export function livenessReport(samples: readonly ScoredSample[], threshold: number): LivenessReport {
  const live = samples.filter((s) => s.live);
  const spoof = samples.filter((s) => !s.live);
  const attackTypes: Record<string, number> = {};
  for (const s of spoof) attackTypes[s.attackType] = (attackTypes[s.attackType] ?? 0) + 1;
  const roc = { apcer: [] as number[], bpcer: [] as number[] };
  let eer = { rate: 1, threshold: 0, gap: Infinity };
  for (const t of candidateThresholds(samples)) {
    const p = operatingPoint(samples, t);
    roc.apcer.push(p.apcer);
    roc.bpcer.push(p.bpcer);
    const gap = Math.abs(p.apcer - p.bpcer);
    if (gap < eer.gap) eer = { rate: (p.apcer + p.bpcer) / 2, threshold: t, gap };
  }
  const sources = [...new Set(samples.map((s) => s.source))].sort();
  const bySource = Object.fromEntries(
    sources.map((src) => {
      const mine = samples.filter((s) => s.source === src);
      const l = mine.filter((s) => s.live);
      const a = mine.filter((s) => !s.live);
      return [
        src,
        {
          live: l.length,
          spoof: a.length,
          auc: l.length && a.length ? rocAuc(l.map((s) => s.score), a.map((s) => s.score)) : null,
          apcer: a.length ? a.filter((s) => s.score >= threshold).length / a.length : null,
          bpcer: l.length ? l.filter((s) => s.score < threshold).length / l.length : null,
        },
      ];
    }),
  );
  return {
    live: live.length,
    spoof: spoof.length,
    attackTypes,
    auc: rocAuc(live.map((s) => s.score), spoof.map((s) => s.score)),
    at: operatingPoint(samples, threshold),
    bpcerAtApcer5: bpcerAtApcer(samples, 0.05),
    bpcerAtApcer1: bpcerAtApcer(samples, 0.01),
    bpcerAtPooledApcer5: bpcerAtApcer(samples, 0.05, { pooled: true }),
    eer: { rate: eer.rate, threshold: eer.threshold },
    bySource,
    roc,
  };
}

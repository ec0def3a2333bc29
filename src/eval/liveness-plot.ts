// ROC and score histograms for eval-liveness. The verification plot's layout is reused (live faces
// on the genuine side, attacks on the impostor side) and its wording replaced, so the axes say
// APCER, 1 - BPCER and p(live) rather than FAR, TAR and cosine similarity.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { cv } from '../vision/opencv.js';
import { plotFormat, rasterise, renderSvg, verificationScene, type Scene } from './plot.js';
import type { ScoredSample } from './liveness-metrics.js';

const WORDING: [RegExp, string][] = [
  [/^FAR \(false accept rate\)$/, 'APCER (attacks accepted, all types pooled)'],
  [/^TAR \(true accept rate\)$/, '1 - BPCER (live faces accepted)'],
  [/^genuine \(/, 'live ('],
  [/^impostor \(/, 'attacks ('],
  [/^cosine similarity$/, 'fused p(live)'],
];

function reword(scene: Scene): Scene {
  return {
    ...scene,
    groups: scene.groups.map((g) => ({
      ...g,
      shapes: g.shapes.map((s) => (s.kind === 'text' ? { ...s, text: WORDING.reduce((t, [re, by]) => t.replace(re, by), s.text) } : s)),
    })),
  };
}

/** Pooled APCER and 1 - BPCER at every distinct cut, from the highest threshold down. */
function pooledRoc(samples: readonly ScoredSample[]): { far: number[]; tar: number[] } {
  const live = samples.filter((s) => s.live).map((s) => s.score);
  const attacks = samples.filter((s) => !s.live).map((s) => s.score);
  const cuts = [Infinity, ...[...new Set(samples.map((s) => s.score))].sort((a, b) => b - a)];
  return {
    far: cuts.map((t) => attacks.filter((v) => v >= t).length / attacks.length),
    tar: cuts.map((t) => live.filter((v) => v >= t).length / live.length),
  };
}

export function writeLivenessPlot(path: string, samples: readonly ScoredSample[], title: string, threshold: number): void {
  const format = plotFormat(path);
  const scene = reword(
    verificationScene({
      title,
      roc: [{ ...pooledRoc(samples), label: 'fused liveness score' }],
      genuine: samples.filter((s) => s.live).map((s) => s.score),
      impostor: samples.filter((s) => !s.live).map((s) => s.score),
      thresholds: [{ value: threshold, label: `threshold ${threshold.toFixed(3)}` }],
    }),
  );
  mkdirSync(dirname(path), { recursive: true });
  if (format === 'svg') writeFileSync(path, renderSvg(scene));
  else cv.imwrite(path, rasterise(scene).cvtColor(cv.COLOR_RGB2BGR));
}

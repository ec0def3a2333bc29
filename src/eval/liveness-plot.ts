// ROC and score histograms for eval-liveness, drawn by the verification plot: live faces take the
// genuine side, attacks the impostor side, so its FAR axis reads as APCER and its TAR as 1 - BPCER.
import { writeVerificationPlot } from './plot.js';
import { livenessReport, type ScoredSample } from './liveness-metrics.js';

export function writeLivenessPlot(path: string, samples: readonly ScoredSample[], title: string, threshold: number): void {
  const { roc } = livenessReport(samples, threshold);
  writeVerificationPlot(path, {
    title: `${title} (x: APCER, y: 1 - BPCER; green live, orange attacks)`,
    roc: [{ far: roc.apcer, tar: roc.bpcer.map((b) => 1 - b), label: 'fused liveness score' }],
    genuine: samples.filter((s) => s.live).map((s) => s.score),
    impostor: samples.filter((s) => !s.live).map((s) => s.score),
    thresholds: [{ value: threshold, label: `threshold ${threshold.toFixed(3)}` }],
  });
}

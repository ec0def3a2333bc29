// Per-face cost of each liveness scorer, for `facegate bench`: the DTN model, the texture cues,
// one planarity comparison (ORB features + two RANSAC fits) and the fusion, on real faces.
import { performance } from 'node:perf_hooks';
import type { Mat } from '../vision/opencv.js';
import type { DetectedFace } from '../vision/detection/face-detector.js';
import { squareFaceCrop } from './face-crop.js';
import { DTN_INPUT_SIZE, type DtnScorer } from './dtn-scorer.js';
import { fuse, type FusionModel } from './fusion.js';
import { textureCues } from './texture-cues.js';
import { comparePair, DEFAULT_PLANARITY_OPTIONS, faceFeatures } from './planarity.js';

export interface LivenessBenchResult {
  faces: number;
  iterations: number;
  /** Median milliseconds per face. */
  msPerFace: { crop: number; dtn: number | null; texture: number; planarity: number; fusion: number | null };
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

async function timed(iterations: number, faces: number, fn: () => unknown): Promise<number> {
  await fn();
  const runs: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t = performance.now();
    await fn();
    runs.push((performance.now() - t) / faces);
  }
  return median(runs);
}

/**
 * `frames` are consecutive RGB frames with one detected face each (at least two, for the
 * planarity pair). Each scorer runs `iterations` times over all faces; the median per face is kept.
 */
export async function benchLiveness(opts: { frames: { frame: Mat; face: DetectedFace }[]; dtn?: DtnScorer; fusion?: FusionModel; iterations?: number }): Promise<LivenessBenchResult> {
  const { frames } = opts;
  if (frames.length < 2) throw new Error('benchLiveness needs at least two frames with a face');
  const iterations = opts.iterations ?? 5;
  const n = frames.length;
  const crops = frames.map((f) => squareFaceCrop(f.frame, f.face.box, DTN_INPUT_SIZE));
  const crop = await timed(iterations, n, () => frames.forEach((f) => squareFaceCrop(f.frame, f.face.box, DTN_INPUT_SIZE)));
  const dtn = opts.dtn ? await timed(iterations, n, async () => { for (const c of crops) await opts.dtn!.spoofScores([c]); }) : null;
  const texture = await timed(iterations, n, () => crops.forEach((c) => textureCues(c)));
  // As in a track: features once per face, compared with the previous face's.
  const planarity = await timed(iterations, n, () => {
    let previous = faceFeatures(frames[0]!.frame, frames[0]!.face, 0);
    for (let i = 1; i < n; i++) {
      const current = faceFeatures(frames[i]!.frame, frames[i]!.face, i * 100);
      if (previous && current) comparePair(previous, current, DEFAULT_PLANARITY_OPTIONS);
      previous = current;
    }
  });
  const model = opts.fusion;
  const cues = model ? Object.fromEntries(model.cues.map((c) => [c, 0.5])) : undefined;
  const fusion = model ? await timed(iterations, 1, () => fuse(model, cues!)) : null;
  return { faces: n, iterations, msPerFace: { crop, dtn, texture, planarity, fusion } };
}

// The presentation-attack check of the per-track pipeline (the LivenessCheck slot): passive cues
// on the first few usable faces of a track, fused into one calibrated p(live), plus the planarity
// test on every face. Doors read the verdict: passive doors need state 'live'; strict doors also
// need `temporalProof` and wait while it is missing.
import type { Mat } from '../vision/opencv.js';
import type { DetectedFace } from '../vision/detection/face-detector.js';
import type { LivenessCheck, LivenessVerdict } from '../recognition/liveness-slot.js';
import { fuse, type FusionModel } from './fusion.js';
import { passiveCues, type PassiveScorer } from './passive-scorers.js';
import { PlanarityTracker, type PlanarityOptions } from './planarity.js';

export interface LivenessSettings {
  cues: readonly string[];
  /** p(live) below this: spoof. */
  passiveThreshold: number;
  /** Usable faces per track the passive scorers run on. */
  passiveFrames: number;
  temporal: Omit<PlanarityOptions, 'tolerance'> & { tolerance?: number };
}

export interface LivenessModels {
  scorers: PassiveScorer[];
  fusion: FusionModel;
}

interface TrackState {
  passive: number[];
  cueSums: Record<string, number>;
  planarity: PlanarityTracker;
}

/** Pure: the track's verdict from its per-frame passive scores and its planarity evidence. */
export function trackVerdict(
  passive: readonly number[],
  meanCues: Record<string, number>,
  planarity: { bestNonPlanar: number; pairsJudged: number; proven: boolean },
  threshold: number,
): LivenessVerdict {
  const cues = { ...meanCues, nonPlanar: planarity.bestNonPlanar, planarityPairs: planarity.pairsJudged };
  if (passive.length === 0) return { state: 'pending', score: 0, cues, temporalProof: planarity.proven };
  // The median, so one odd frame (motion blur, a half-turned face) neither passes nor fails a track.
  const sorted = [...passive].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const score = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { state: score >= threshold ? 'live' : 'spoof', score, cues: { ...cues, fused: score }, temporalProof: planarity.proven };
}

export function createLivenessCheck(settings: LivenessSettings, models: LivenessModels): LivenessCheck {
  const missing = settings.cues.filter((c) => !models.fusion.cues.includes(c));
  const extra = models.fusion.cues.filter((c) => !settings.cues.includes(c));
  if (missing.length > 0 || extra.length > 0) {
    throw new Error(
      `liveness: the fusion file was trained on cues [${models.fusion.cues.join(', ')}] but the config asks for [${settings.cues.join(', ')}]; ` +
        `retrain with facegate liveness train --cues ${settings.cues.join(',')} or set liveness.cues to match`,
    );
  }
  const given = new Set(models.scorers.flatMap((s) => s.cueNames));
  const unscored = models.fusion.cues.filter((c) => !given.has(c));
  if (unscored.length > 0) throw new Error(`liveness: no scorer gives the cues ${unscored.join(', ')}`);
  const scorers = models.scorers.filter((s) => s.cueNames.some((c) => models.fusion.cues.includes(c)));
  const planarityOptions: PlanarityOptions = { tolerance: 0.012, ...settings.temporal };
  const tracks = new Map<number, TrackState>();

  const stateOf = (trackId: number): TrackState => {
    let t = tracks.get(trackId);
    if (!t) {
      t = { passive: [], cueSums: {}, planarity: new PlanarityTracker(planarityOptions) };
      tracks.set(trackId, t);
    }
    return t;
  };

  return {
    async observe(trackId: number, input: { frame: Mat; face: DetectedFace; atMs: number }): Promise<void> {
      const t = stateOf(trackId);
      t.planarity.observe(input.frame, input.face, input.atMs);
      if (t.passive.length >= settings.passiveFrames) return;
      const cues = await passiveCues(scorers, input.frame, input.face);
      t.passive.push(fuse(models.fusion, cues));
      for (const c of models.fusion.cues) t.cueSums[c] = (t.cueSums[c] ?? 0) + cues[c]!;
    },
    verdict(trackId: number): LivenessVerdict {
      const t = tracks.get(trackId);
      if (!t) return trackVerdict([], {}, { bestNonPlanar: -1, pairsJudged: 0, proven: false }, settings.passiveThreshold);
      const n = t.passive.length;
      const mean = Object.fromEntries(Object.entries(t.cueSums).map(([k, v]) => [k, n > 0 ? v / n : 0]));
      return trackVerdict(t.passive, mean, t.planarity, settings.passiveThreshold);
    },
    forget(trackId: number): void {
      tracks.delete(trackId);
    },
  };
}

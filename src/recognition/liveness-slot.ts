// The presentation-attack stage of the per-track pipeline (detect -> quality -> liveness ->
// embed -> identify -> fuse -> decide). The loop feeds every usable face of a track to the check
// and asks for the track's verdict when it decides; a door's `liveness` mode says what it needs.
import type { Mat } from '../vision/opencv.js';
import type { DetectedFace } from '../vision/detection/face-detector.js';

export interface LivenessVerdict {
  /** 'pending': not enough evidence yet (temporal cues need several frames). */
  state: 'live' | 'spoof' | 'pending';
  /** Fused, calibrated score: higher is more likely live (0..1). */
  score: number;
  /** Per-cue scores, for the decision event. */
  cues: Record<string, number>;
  /** A temporal proof (blink, non-planar motion) was seen on this track. */
  temporalProof: boolean;
}

export interface LivenessCheck {
  /** Every usable face observation of a track, in frame order. `frame` is RGB and only valid during the call. */
  observe(trackId: number, input: { frame: Mat; face: DetectedFace; atMs: number }): void | Promise<void>;
  verdict(trackId: number): LivenessVerdict;
  /** The track ended. */
  forget(trackId: number): void;
}

/** No check configured: every track is live (doors with `liveness: off`). */
export const NO_LIVENESS_CHECK: LivenessCheck = {
  observe: () => undefined,
  verdict: () => ({ state: 'live', score: 1, cues: {}, temporalProof: false }),
  forget: () => undefined,
};

// The decision event: what the daemon logs, counts, and publishes over MQTT.
import type { DecisionReason } from './door-policy.js';

export interface RecognitionEvent {
  /** Unique and stable: consumers de-duplicate on it. */
  eventId: string;
  time: string;
  door: string;
  decision: 'granted' | 'denied';
  reason: DecisionReason;
  relay: 'pulse' | 'none' | 'cooldown';
  trackId: number;
  person: { id: number; name: string; uuid?: string } | null;
  /** Mean identification score of the agreeing frames (cosine). */
  score: number;
  /** Mean margin to the second-best person over the agreeing frames. */
  margin: number;
  votes: number;
  /** Share of the track's usable weight that agreed. */
  share: number;
  quality: { faceSize: number; sharpness: number; frontalness: number; detectorScore: number };
  /** From the track's first sighting (frame capture time) to the decision. */
  latencyMs: number;
  modelId: string;
  frameSeq: number;
  box: [number, number, number, number];
  /** The track's presentation-attack verdict, for doors with liveness passive or strict (absent when off). */
  liveness?: { state: 'live' | 'spoof' | 'pending'; score: number; temporalProof: boolean; cues: Record<string, number> };
  /**
   * Person and unknown decisions: the mean (re-normalised) embedding of the agreeing frames.
   * Internal: never published or logged; the event log keeps a person's so "that was not them"
   * can store a negative, and an unknown visitor's only with events.unknownFaces.
   */
  embedding?: Float32Array;
}

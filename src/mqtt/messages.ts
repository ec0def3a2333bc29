// Internal events -> the payloads of the MQTT contract (contract.ts). Pure.
import type { RecognitionEvent } from '../recognition/events.js';
import type { EnrollmentOutcome } from '../recognition/button-enrollment.js';
import type { SourceState } from '../camera/frame-source.js';
import { CONTRACT_VERSION, type EnrollmentMessage, type LastPersonMessage, type RecognitionMessage, type StateMessage, type UnlockMessage } from './contract.js';
import type { Transaction } from './commands.js';

export function recognitionMessage(e: RecognitionEvent, device: string): RecognitionMessage {
  return {
    version: CONTRACT_VERSION,
    type: 'recognition',
    id: e.eventId,
    time: e.time,
    device,
    door: e.door,
    decision: e.decision,
    reason: e.reason,
    relay: e.relay,
    track_id: e.trackId,
    person: e.person ? { id: e.person.id, name: e.person.name, ...(e.person.uuid ? { uuid: e.person.uuid } : {}) } : null,
    score: e.score,
    margin: e.margin,
    votes: e.votes,
    share: e.share,
    quality: { face_size: e.quality.faceSize, sharpness: e.quality.sharpness, frontalness: e.quality.frontalness, detector_score: e.quality.detectorScore },
    box: e.box,
    model_id: e.modelId,
    latency_ms: e.latencyMs,
    ...(e.liveness ? { liveness: { state: e.liveness.state, score: Math.round(e.liveness.score * 1000) / 1000, temporal_proof: e.liveness.temporalProof, cues: e.liveness.cues } } : {}),
  };
}

export function lastPersonMessage(e: RecognitionEvent & { person: { id: number; name: string } }): LastPersonMessage {
  return { version: CONTRACT_VERSION, name: e.person.name, person_id: e.person.id, door: e.door, decision: e.decision, reason: e.reason, score: e.score, event_id: e.eventId, time: e.time };
}

export interface RemoteUnlock {
  eventId: string;
  time: string;
  door: string;
  relay: 'pulse' | 'busy';
  transaction: Transaction | undefined;
}

export function unlockMessage(u: RemoteUnlock, device: string): UnlockMessage {
  return { version: CONTRACT_VERSION, type: 'unlock', id: u.eventId, time: u.time, device, door: u.door, decision: 'granted', reason: 'granted-remote', relay: u.relay, transaction: u.transaction ?? null };
}

export function enrollmentMessage(o: Exclude<EnrollmentOutcome, { kind: 'cancelled' }>, eventId: string, time: string, device: string): EnrollmentMessage {
  return {
    version: CONTRACT_VERSION,
    type: 'enrollment',
    id: eventId,
    time,
    device,
    outcome: o.kind,
    trigger: o.trigger,
    name: o.kind === 'enrolled' ? o.name : null,
    pending_id: o.kind === 'pending' ? o.pendingId : null,
    templates: o.kind === 'enrolled' || o.kind === 'pending' ? o.templates : 0,
  };
}

/** What the daemon reports about itself; the bridge adds device, version and time. */
export interface DeviceStatus {
  startedAt: string;
  models: { embedder: string; embedderSha256: string; precision: string };
  camera: { state: SourceState; source: string; fps: number; dropped: number };
  gallery: { people: number; templates: number };
  doors: { name: string; state: 'locked' | 'unlocked' }[];
  fleet?: { connected: boolean; synced: boolean; controllersUp: number; converged: boolean; galleryHash: string; lagMs: number | null; conflicts: number; rejected: number };
}

export function stateMessage(s: DeviceStatus, outbox: { pending: number; dropped: number }, device: string, software: string, time: string): StateMessage {
  return {
    version: CONTRACT_VERSION,
    device,
    software,
    time,
    started_at: s.startedAt,
    models: { embedder: s.models.embedder, embedder_sha256: s.models.embedderSha256, precision: s.models.precision },
    camera: { state: s.camera.state, source: s.camera.source, fps: Math.round(s.camera.fps * 10) / 10, dropped: s.camera.dropped },
    gallery: { people: s.gallery.people, templates: s.gallery.templates },
    doors: s.doors.map((d) => ({ name: d.name, state: d.state })),
    outbox,
    ...(s.fleet ? { fleet: { connected: s.fleet.connected, synced: s.fleet.synced, controllers_up: s.fleet.controllersUp, converged: s.fleet.converged, gallery_hash: s.fleet.galleryHash, lag_ms: s.fleet.lagMs, conflicts: s.fleet.conflicts, rejected: s.fleet.rejected } } : {}),
  };
}

// Frame -> faces -> quality gate -> identity -> track -> fused decision -> door decisions.
// The loop owns no hardware: it reports decisions through callbacks and the daemon acts on them.
import { randomUUID } from 'node:crypto';
import type { Mat } from '../vision/opencv.js';
import type { Analysis, FaceAnalyzer } from '../vision/face-analyzer.js';
import type { Identification, MatchPolicy, SearchIndex } from '../matching/search-index.js';
import { qualityProblems, type QualityGate } from '../gallery/enrollment.js';
import { IouTracker, type TrackerOptions } from './tracker.js';
import { fuse, observationWeight, type FusionOptions, type Observation } from './fusion.js';
import type { DoorPolicy } from './door-policy.js';
import type { RecognitionEvent } from './events.js';

export interface LoopFrame {
  mat: Mat;
  seq: number;
  capturedAtMs: number;
}

export interface FramePort {
  next(): Promise<LoopFrame | null>;
}

/** The gallery as the loop sees it: swapped whole when the gallery changes. */
export interface GallerySnapshot {
  index: SearchIndex;
  modelId: string;
  modelSha: string;
  groupsOf(name: string): string[];
}

export interface LoopSettings {
  gate: QualityGate;
  match: MatchPolicy;
  tracker: TrackerOptions;
  fusion: FusionOptions;
}

export interface FrameReport {
  seq: number;
  faces: number;
  analysis: Analysis;
  identifyMs: number;
  totalMs: number;
}

export interface LoopCallbacks {
  onEvent(event: RecognitionEvent): void;
  onFrame(report: FrameReport, frame: LoopFrame): void;
  onError?(err: Error): void;
}

interface TrackMemory {
  observations: Observation[];
  /** The embedding behind each observation (same index), for the event's mean embedding. */
  embeddings: Float32Array[];
  /** What the track was decided as ('unknown', a name, or '' for poor quality); null while undecided. */
  decidedAs: string | null;
  decidedUnknown: boolean;
  personIds: Map<string, number>;
  lastQuality: RecognitionEvent['quality'];
  lastBox: [number, number, number, number];
}

export class RecognitionLoop {
  private running = false;
  private done: Promise<void> | undefined;
  private readonly tracker: IouTracker;
  private readonly memory = new Map<number, TrackMemory>();

  constructor(
    private readonly frames: FramePort,
    private readonly analyzer: FaceAnalyzer,
    private readonly gallery: () => GallerySnapshot,
    private readonly doors: DoorPolicy,
    private readonly settings: LoopSettings,
    private readonly callbacks: LoopCallbacks,
  ) {
    this.tracker = new IouTracker(settings.tracker);
  }

  start(): void {
    this.running = true;
    this.done = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }

  /** Resolves when the frame source has ended (a file played to its end) or the loop stopped. */
  finished(): Promise<void> {
    return this.done ?? Promise.resolve();
  }

  private async run(): Promise<void> {
    while (this.running) {
      const frame = await this.frames.next();
      if (!frame) break;
      try {
        await this.processFrame(frame);
      } catch (err) {
        this.callbacks.onError?.(err as Error);
      }
    }
    this.running = false;
  }

  async processFrame(frame: LoopFrame): Promise<void> {
    const start = performance.now();
    const analysis = await this.analyzer.analyze(frame.mat, 'all');
    const snapshot = this.gallery();
    const identifyStart = performance.now();
    const ids: Identification[] = [];
    for (const f of analysis.faces) ids.push(await snapshot.index.identify(f.embedding!, snapshot.modelSha, this.settings.match));
    const identifyMs = performance.now() - identifyStart;

    const now = frame.capturedAtMs;
    const { trackIds, ended } = this.tracker.update(analysis.faces.map((f) => f.box), now);
    for (const t of ended) this.memory.delete(t.id);

    analysis.faces.forEach((face, i) => {
      const id = ids[i]!;
      const trackId = trackIds[i]!;
      const mem: TrackMemory = this.memory.get(trackId) ?? { observations: [], embeddings: [], decidedAs: null, decidedUnknown: false, personIds: new Map(), lastQuality: { faceSize: 0, sharpness: 0, frontalness: 0, detectorScore: 0 }, lastBox: face.box };
      this.memory.set(trackId, mem);
      const problems = qualityProblems(face.quality, this.settings.gate);
      const vote = problems.length > 0 ? null : id.name ?? 'unknown';
      if (id.name && id.personId !== null) mem.personIds.set(id.name, id.personId);
      mem.observations.push({ atMs: now, vote, score: id.score, margin: id.margin, weight: observationWeight(face.box[2] * face.box[3], face.quality.frontalness, face.quality.sharpness) });
      mem.embeddings.push(face.embedding!);
      if (mem.observations.length > this.settings.fusion.m) {
        mem.observations.shift();
        mem.embeddings.shift();
      }
      mem.lastQuality = { faceSize: face.quality.faceSize, sharpness: face.quality.sharpness, frontalness: face.quality.frontalness, detectorScore: face.score };
      mem.lastBox = face.box;
    });

    // Decide after all faces of the frame are recorded, so "a stranger is in view" is current.
    for (const trackId of trackIds) {
      const mem = this.memory.get(trackId)!;
      const fused = fuse(mem.observations, this.settings.fusion);
      if (fused.kind === 'undecided') continue;
      // One decision per track, unless N of the last M frames now say somebody else: the tracker
      // followed one box while the person in it changed.
      const label = fused.kind === 'person' ? fused.name : fused.kind === 'unknown' ? 'unknown' : '';
      if (mem.decidedAs === label || (mem.decidedAs !== null && label === '')) continue;
      mem.decidedAs = label;
      mem.decidedUnknown = fused.kind === 'unknown';
      const track = this.tracker.get(trackId)!;
      const strangerInView = trackIds.some((other) => other !== trackId && this.memory.get(other)?.decidedUnknown);
      const name = fused.kind === 'person' ? fused.name : null;
      const agrees = (o: Observation) => (fused.kind === 'person' ? o.vote === fused.name : fused.kind === 'unknown' ? o.vote === 'unknown' : o.vote === null);
      const agreeing = mem.observations.filter(agrees);
      // A named person's: "that was not them" turns it into a negative template. An unknown
      // visitor's: kept only where the config says so (events.unknownFaces), to enroll them later.
      const embedding = fused.kind === 'person' || fused.kind === 'unknown' ? meanEmbedding(mem.embeddings.filter((_, i) => agrees(mem.observations[i]!))) : undefined;
      const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
      const decisions = this.doors.decide({ fused, groups: name ? snapshot.groupsOf(name) : [], nowMs: Date.now(), strangerInView });
      for (const d of decisions) {
        this.callbacks.onEvent({
          eventId: randomUUID(),
          time: new Date().toISOString(),
          door: d.door,
          decision: d.granted ? 'granted' : 'denied',
          reason: d.reason,
          relay: d.relay,
          trackId,
          person: name ? { id: mem.personIds.get(name) ?? -1, name } : null,
          score: round(mean(agreeing.map((o) => o.score))),
          margin: round(mean(agreeing.map((o) => o.margin))),
          votes: 'votes' in fused ? fused.votes : 0,
          share: 'share' in fused ? round(fused.share) : 0,
          quality: { ...mem.lastQuality, sharpness: round(mem.lastQuality.sharpness), frontalness: round(mem.lastQuality.frontalness), detectorScore: round(mem.lastQuality.detectorScore) },
          latencyMs: Math.round(Date.now() - track.firstSeenMs),
          modelId: snapshot.modelId,
          frameSeq: frame.seq,
          box: mem.lastBox.map((v) => Math.round(v)) as [number, number, number, number],
          ...(embedding ? { embedding } : {}),
        });
      }
    }
    this.callbacks.onFrame({ seq: frame.seq, faces: analysis.faces.length, analysis, identifyMs, totalMs: performance.now() - start }, frame);
  }
}

/** Mean of L2-normalised vectors, normalised again (the gallery compares unit vectors). */
function meanEmbedding(vectors: Float32Array[]): Float32Array | undefined {
  const first = vectors[0];
  if (!first) return undefined;
  const mean = new Float32Array(first.length);
  for (const v of vectors) for (let i = 0; i < v.length; i++) mean[i]! += v[i]!;
  let norm = 0;
  for (const x of mean) norm += x * x;
  norm = Math.sqrt(norm);
  if (norm > 0) for (let i = 0; i < mean.length; i++) mean[i]! /= norm;
  return mean;
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}

// Track-centric recognition: tracks predict where their faces will be, the detector looks there
// (and over the whole frame only every so often), and each track goes through its own stages in
// this order: detect -> quality -> liveness -> embed -> identify -> fuse -> decide.
// The loop owns no hardware: it reports decisions through callbacks and the daemon acts on them.
import { randomUUID } from 'node:crypto';
import type { Mat } from '../vision/opencv.js';
import type { Analysis, AnalyzedFace, PreparedFace } from '../vision/face-analyzer.js';
import type { DetectedFace, FaceDetector } from '../vision/detection/face-detector.js';
import { primaryFace } from '../vision/quality.js';
import type { Identification, MatchPolicy, SearchIndex } from '../matching/search-index.js';
import { qualityProblems, type QualityGate } from '../gallery/enrollment.js';
import type { FaceInView } from '../core/event-bus.js';
import { systemClock, type Clock } from '../util/clock.js';
import { IouTracker, iou, planRegions, predictBox, type Box, type TrackerOptions, type TrackState } from './tracker.js';
import { fuse, observationWeight, type FusedDecision, type FusionOptions, type Observation } from './fusion.js';
import type { DoorPolicy } from './door-policy.js';
import type { RecognitionEvent } from './events.js';
import { NO_LIVENESS_CHECK, type LivenessCheck } from './liveness-slot.js';
import { DEFAULT_REGIONS, DEFAULT_VISIT, type RegionSettings, type VisitSettings } from './loop-defaults.js';

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

/** What the loop needs of the vision pipeline (FaceAnalyzer provides it). */
export interface LoopAnalyzer {
  readonly detector: Pick<FaceDetector, 'detect' | 'options'>;
  prepare(image: Mat, faces: readonly DetectedFace[]): PreparedFace[];
  embedCrops(crops: Mat[]): Promise<Float32Array[]>;
}

export interface LoopSettings {
  gate: QualityGate;
  match: MatchPolicy;
  tracker: TrackerOptions;
  fusion: FusionOptions;
  regions?: RegionSettings;
  visit?: VisitSettings;
  /** The presentation-attack stage; default: none (every track live). */
  liveness?: LivenessCheck;
  /** Wall clock for event times; decisions use the frames' capture times. */
  clock?: Clock;
}

export interface FrameReport {
  seq: number;
  faces: FaceInView[];
  /**
   * The frame's faces with quality, and embeddings where one was computed (every face while
   * `needEmbeddings` says so: button enrollment reads them).
   */
  analysis: Analysis;
  /** Whether the detector searched the whole frame (else only around the tracks). */
  fullFrame: boolean;
  identifyMs: number;
  totalMs: number;
  /** Milliseconds per stage: the detector's own (summed over regions), align, liveness, embed, identify, total. */
  timings: Record<string, number>;
}

export interface LoopCallbacks {
  onEvent(event: RecognitionEvent): void;
  onFrame(report: FrameReport, frame: LoopFrame): void;
  onError?(err: Error): void;
  /** True while every face of every frame must be embedded (an enrollment burst is capturing). */
  needEmbeddings?(): boolean;
}

type TrackObservation = Observation & { usable: boolean; embedding: Float32Array };

interface TrackRecord {
  /** Last M embedded observations (usable and poor). */
  observations: TrackObservation[];
  /** What the track was decided as ('unknown' or a name); null while undecided. */
  decidedAs: string | null;
  /** Re-check observations of a decided track that disagree with its decision. */
  doubts: TrackObservation[];
  lastEmbedMs: number;
  /** Capture time of the frame the track's face was last seen in. */
  lastFaceMs: number;
  frames: number;
  usableFrames: number;
  lastScore: number;
  personIds: Map<string, number>;
  lastQuality: RecognitionEvent['quality'];
  lastBox: Box;
  /** Doors that have decided this track. */
  doorsDone: Set<string>;
  /**
   * The person decision, while a door still waits on the presentation-attack check (strict mode
   * without a temporal proof yet): asked again every frame until that door decides.
   */
  awaiting: Extract<FusedDecision, { kind: 'person' }> | null;
}

/**
 * Faces found twice (a face on the border of two regions) are kept once; boxes overlapping more
 * than this are the same face.
 */
const SAME_FACE_IOU = 0.5;
/**
 * A decided track whose face was out of sight this long is re-checked as soon as a face is back
 * in its box: it may be the next visitor stepping into the same spot (two or three frames of a
 * 10-15 fps camera: a missed detection or two do not trigger it).
 */
const REAPPEAR_RECHECK_MS = 250;

export class RecognitionLoop {
  private running = false;
  private done: Promise<void> | undefined;
  private readonly tracker: IouTracker;
  private readonly records = new Map<number, TrackRecord>();
  private readonly regions: RegionSettings;
  private readonly visit: VisitSettings;
  private readonly liveness: LivenessCheck;
  private readonly clock: Clock;
  private lastFullFrameMs = -Infinity;
  private regionFramesSinceFull = 0;

  constructor(
    private readonly frames: FramePort,
    private readonly analyzer: LoopAnalyzer,
    private readonly gallery: () => GallerySnapshot,
    private readonly doors: DoorPolicy,
    private readonly settings: LoopSettings,
    private readonly callbacks: LoopCallbacks,
  ) {
    this.tracker = new IouTracker(settings.tracker);
    this.regions = settings.regions ?? DEFAULT_REGIONS;
    this.visit = settings.visit ?? DEFAULT_VISIT;
    this.liveness = settings.liveness ?? NO_LIVENESS_CHECK;
    this.clock = settings.clock ?? systemClock;
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
    const now = frame.capturedAtMs;
    const timings: Record<string, number> = {};
    const add = (stage: string, ms: number) => (timings[stage] = (timings[stage] ?? 0) + ms);

    // detect: around the tracks' predicted faces, or the whole frame.
    const { faces, fullFrame } = await this.detect(frame, now, add);
    const { trackIds, ended } = this.tracker.update(
      faces.map((f) => f.box),
      now,
    );
    const snapshot = this.gallery();
    for (const t of ended) this.endVisit(t, frame, now, snapshot);

    // quality
    let stageStart = performance.now();
    const prepared = this.analyzer.prepare(frame.mat, faces);
    add('align', performance.now() - stageStart);
    const usable = prepared.map((p) => qualityProblems(p.quality, this.settings.gate).length === 0);
    prepared.forEach((p, i) => {
      const rec = this.record(trackIds[i]!, p.face.box);
      if (rec.decidedAs !== null && now - rec.lastFaceMs > REAPPEAR_RECHECK_MS) rec.lastEmbedMs = -Infinity;
      rec.lastFaceMs = now;
      rec.frames++;
      if (usable[i]) rec.usableFrames++;
      rec.lastQuality = { faceSize: p.quality.faceSize, sharpness: p.quality.sharpness, frontalness: p.quality.frontalness, detectorScore: p.face.score };
      rec.lastBox = p.face.box;
    });

    // liveness: every usable face of every track, before anyone is identified.
    stageStart = performance.now();
    for (let i = 0; i < prepared.length; i++) {
      if (usable[i]) await this.liveness.observe(trackIds[i]!, { frame: frame.mat, face: prepared[i]!.face, atMs: now });
    }
    add('liveness', performance.now() - stageStart);

    // embed: undecided tracks every frame, decided ones only at the re-check rate.
    const everyone = this.callbacks.needEmbeddings?.() ?? false;
    const wanted = prepared.map((p, i) => everyone || this.wantsEmbedding(trackIds[i]!, p, usable[i]!, now));
    stageStart = performance.now();
    const vectors = await this.analyzer.embedCrops(prepared.filter((_, i) => wanted[i]).map((p) => p.crop));
    add('embed', performance.now() - stageStart);

    // identify
    stageStart = performance.now();
    const embeddings: (Float32Array | undefined)[] = [];
    const ids: (Identification | undefined)[] = [];
    let next = 0;
    for (let i = 0; i < prepared.length; i++) {
      const v = wanted[i] ? vectors[next++]! : undefined;
      embeddings.push(v);
      ids.push(v ? await snapshot.index.identify(v, snapshot.modelSha, this.settings.match) : undefined);
    }
    const identifyMs = performance.now() - stageStart;
    add('identify', identifyMs);

    // fuse: each embedded face becomes an observation of its track.
    prepared.forEach((p, i) => {
      const id = ids[i];
      if (!id) return;
      const trackId = trackIds[i]!;
      const rec = this.records.get(trackId)!;
      rec.lastEmbedMs = now;
      rec.lastScore = id.score;
      if (id.name && id.personId !== null) rec.personIds.set(id.name, id.personId);
      const o: TrackObservation = {
        atMs: now,
        vote: this.vote(id, usable[i]!, p),
        score: id.score,
        margin: id.margin,
        weight: observationWeight(p.face.box[2] * p.face.box[3], p.quality.frontalness, p.quality.sharpness),
        usable: usable[i]!,
        embedding: embeddings[i]!,
      };
      if (rec.decidedAs === null) {
        push(rec.observations, o, this.settings.fusion.m);
      } else if (o.usable) {
        // A re-check of a decided track: an agreeing face clears the doubts; disagreeing ones
        // accumulate (and are embedded every frame meanwhile) until fusion says who it is now.
        if (o.vote === rec.decidedAs) rec.doubts = [];
        else push(rec.doubts, o, this.settings.fusion.m);
      }
    });

    // decide, after all faces of the frame are recorded so "a stranger is in view" is current.
    for (let i = 0; i < trackIds.length; i++) {
      const trackId = trackIds[i]!;
      const rec = this.records.get(trackId)!;
      if (rec.decidedAs === null) {
        const fused = this.fuseUndecided(rec, this.tracker.get(trackId)!, now);
        if (fused) this.decide(trackId, rec, fused, trackIds, frame, now, snapshot);
      } else if (rec.awaiting && rec.doubts.length === 0) {
        this.decide(trackId, rec, rec.awaiting, trackIds, frame, now, snapshot);
      } else if (rec.doubts.length > 0) {
        const fused = fuse(rec.doubts, this.settings.fusion);
        const label = labelOf(fused);
        if (label !== null && label !== rec.decidedAs) {
          // The person in the box changed (the previous visitor left as the next one stepped in):
          // a new visit with its own track and decision.
          const split = this.tracker.split(trackId, now)!;
          // The new visit began when its first disagreeing face was seen.
          split.next.firstSeenMs = rec.doubts[0]!.atMs;
          this.forget(trackId);
          const fresh = this.record(split.next.id, rec.lastBox);
          Object.assign(fresh, { observations: rec.doubts, frames: rec.doubts.length, usableFrames: rec.doubts.length, lastQuality: rec.lastQuality, lastScore: rec.lastScore, personIds: rec.personIds, lastEmbedMs: now, lastFaceMs: now });
          trackIds[i] = split.next.id;
          this.decide(split.next.id, fresh, fused as DecidedFusion, trackIds, frame, now, snapshot);
        } else if (rec.doubts.length >= this.settings.fusion.m) {
          rec.doubts = [];
        }
      }
    }

    const inView = prepared.map((p, i): FaceInView => {
      const rec = this.records.get(trackIds[i]!)!;
      const verdict = usable[i] ? this.liveness.verdict(trackIds[i]!) : undefined;
      return {
        trackId: trackIds[i]!,
        box: p.face.box,
        label: rec.decidedAs,
        score: round(rec.lastScore),
        usable: usable[i]!,
        ...(verdict ? { liveness: { state: verdict.state, score: verdict.score } } : {}),
      };
    });
    const analysed = prepared.map((p, i): AnalyzedFace => ({ ...p.face, quality: p.quality, ...(embeddings[i] ? { embedding: embeddings[i] } : {}) }));
    const totalMs = performance.now() - start;
    timings.total = totalMs;
    const analysis: Analysis = { faces: analysed, primary: primaryFace(faces, frame.mat.cols, frame.mat.rows), timings };
    this.callbacks.onFrame({ seq: frame.seq, faces: inView, analysis, fullFrame, identifyMs, totalMs, timings }, frame);
  }

  private async detect(frame: LoopFrame, now: number, add: (stage: string, ms: number) => void): Promise<{ faces: DetectedFace[]; fullFrame: boolean }> {
    const { mat } = frame;
    const detector = this.analyzer.detector;
    const tracks = this.tracker.active;
    const plan = this.regions.enabled
      ? planRegions(
          tracks.map((t) => predictBox(t, now)),
          mat.cols,
          mat.rows,
          { ms: now - this.lastFullFrameMs, frames: this.regionFramesSinceFull },
          { ...this.regions, minSizeFloor: detector.options.minSize },
        )
      : ({ full: true } as const);
    const stageStart = performance.now();
    let faces: DetectedFace[] = [];
    if (plan.full) {
      this.lastFullFrameMs = now;
      this.regionFramesSinceFull = 0;
      const r = await detector.detect(mat);
      for (const [k, v] of Object.entries(r.timings)) add(k, v);
      faces = r.faces;
    } else {
      this.regionFramesSinceFull++;
      for (const region of plan.regions) {
        const r = await detector.detect(mat, region);
        for (const [k, v] of Object.entries(r.timings)) add(k, v);
        faces.push(...r.faces);
      }
      faces = dedupe(faces);
    }
    add('detect', performance.now() - stageStart);
    return { faces, fullFrame: plan.full };
  }

  private record(trackId: number, box: Box): TrackRecord {
    let rec = this.records.get(trackId);
    if (!rec) {
      rec = {
        observations: [],
        decidedAs: null,
        doubts: [],
        lastEmbedMs: -Infinity,
        lastFaceMs: -Infinity,
        frames: 0,
        usableFrames: 0,
        lastScore: 0,
        personIds: new Map(),
        lastQuality: { faceSize: 0, sharpness: 0, frontalness: 0, detectorScore: 0 },
        lastBox: box,
        doorsDone: new Set(),
        awaiting: null,
      };
      this.records.set(trackId, rec);
    }
    return rec;
  }

  private wantsEmbedding(trackId: number, p: PreparedFace, usable: boolean, now: number): boolean {
    const rec = this.records.get(trackId)!;
    if (rec.decidedAs === null) return usable || this.mayVoteWhenPoor(p);
    // Decided: only usable faces can change the decision; doubts are settled at frame rate.
    return usable && (rec.doubts.length > 0 || now - rec.lastEmbedMs >= this.visit.recheckMs);
  }

  /**
   * A face below the quality gate still counts when it is at least half the gate's size: the
   * issue's visits with 49 px faces and an upscaled photo matched at 0.80-0.83 in every frame
   * and were denied for quality. Smaller faces carry too little detail to vote at all.
   */
  private mayVoteWhenPoor(p: PreparedFace): boolean {
    return p.quality.faceSize >= this.settings.gate.minFaceSize / 2 && p.quality.frontalness >= this.settings.gate.minFrontalness / 2;
  }

  /**
   * Usable faces vote as identification says. A poor face votes only for a person, and only
   * with a score `poorMatchMargin` above the threshold: its score is less reliable, and a poor
   * face saying "unknown" says little (it may just be too small to match).
   */
  private vote(id: Identification, usable: boolean, p: PreparedFace): string | null {
    if (usable) return id.name ?? 'unknown';
    if (!this.mayVoteWhenPoor(p)) return null;
    return id.name && id.score >= this.settings.match.threshold + this.visit.poorMatchMargin ? id.name : null;
  }

  /**
   * An undecided track is decided by its usable faces (N of the last M agreeing). Only after
   * waiting `qualityWaitMs` for them may clear matches of poor faces decide it: a visitor walking
   * up is small and blurred first, sharp a moment later, and should be judged on the sharp frames.
   */
  private fuseUndecided(rec: TrackRecord, track: TrackState, now: number): DecidedFusion | null {
    const usableOnly = rec.observations.map((o) => (o.usable ? o : { ...o, vote: null }));
    const byUsable = fuse(usableOnly, this.settings.fusion);
    if (byUsable.kind === 'person' || byUsable.kind === 'unknown') return byUsable;
    if (now - track.firstSeenMs < this.visit.qualityWaitMs) return null;
    const byAll = fuse(rec.observations, this.settings.fusion);
    return byAll.kind === 'person' ? byAll : null;
  }

  /** The visit ended. `denied-quality` is decided here, and only here: it never showed a usable face. */
  private endVisit(track: TrackState, frame: LoopFrame, now: number, snapshot: GallerySnapshot): void {
    const rec = this.records.get(track.id);
    if (rec && rec.decidedAs === null && rec.usableFrames === 0 && rec.frames >= this.settings.fusion.n) {
      this.emitDecisions(track.id, rec, { kind: 'poor-quality', votes: rec.frames }, [], frame, now - track.firstSeenMs, false, snapshot);
    }
    this.forget(track.id);
  }

  private forget(trackId: number): void {
    this.records.delete(trackId);
    this.liveness.forget(trackId);
  }

  private decide(trackId: number, rec: TrackRecord, fused: DecidedFusion, inFrame: number[], frame: LoopFrame, now: number, snapshot: GallerySnapshot): void {
    rec.decidedAs = labelOf(fused);
    rec.doubts = [];
    const agreeing = rec.observations.filter((o) => o.vote === rec.decidedAs);
    const strangerInView = inFrame.some((other) => other !== trackId && this.records.get(other)?.decidedAs === 'unknown');
    const track = this.tracker.get(trackId)!;
    this.emitDecisions(trackId, rec, fused, agreeing, frame, now - track.firstSeenMs, strangerInView, snapshot);
  }

  private emitDecisions(
    trackId: number,
    rec: TrackRecord,
    fused: Exclude<FusedDecision, { kind: 'undecided' }>,
    agreeing: TrackObservation[],
    frame: LoopFrame,
    latencyMs: number,
    strangerInView: boolean,
    snapshot: GallerySnapshot,
  ): void {
    const name = fused.kind === 'person' ? fused.name : null;
    // A named person's: "that was not them" turns it into a negative template. An unknown
    // visitor's: kept only where the config says so (events.unknownFaces), to enroll them later.
    const embedding = fused.kind === 'person' || fused.kind === 'unknown' ? meanEmbedding(agreeing.map((o) => o.embedding)) : undefined;
    const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
    const verdict = this.liveness.verdict(trackId);
    // Each door decides a track once; a door that answers nothing for a person is waiting on the
    // liveness check, and is asked again on the next frame (see `awaiting`).
    const decisions = this.doors.decide({ fused, groups: name ? snapshot.groupsOf(name) : [], nowMs: frame.capturedAtMs, strangerInView, liveness: verdict }).filter((d) => !rec.doorsDone.has(d.door));
    for (const d of decisions) rec.doorsDone.add(d.door);
    rec.awaiting = fused.kind === 'person' && this.doors.doors.some((door) => !rec.doorsDone.has(door.name)) ? fused : null;
    const q = rec.lastQuality;
    for (const d of decisions) {
      const checked = (this.doors.doors.find((door) => door.name === d.door)?.liveness ?? 'off') !== 'off';
      this.callbacks.onEvent({
        eventId: randomUUID(),
        time: new Date(this.clock.now()).toISOString(),
        door: d.door,
        decision: d.granted ? 'granted' : 'denied',
        reason: d.reason,
        relay: d.relay,
        trackId,
        person: name ? { id: rec.personIds.get(name) ?? -1, name } : null,
        score: round(mean(agreeing.map((o) => o.score))),
        margin: round(mean(agreeing.map((o) => o.margin))),
        votes: fused.votes,
        share: 'share' in fused ? round(fused.share) : 0,
        quality: { faceSize: q.faceSize, sharpness: round(q.sharpness), frontalness: round(q.frontalness), detectorScore: round(q.detectorScore) },
        latencyMs: Math.round(latencyMs),
        modelId: snapshot.modelId,
        frameSeq: frame.seq,
        box: rec.lastBox.map((v) => Math.round(v)) as Box,
        ...(checked ? { liveness: { state: verdict.state, score: round(verdict.score), temporalProof: verdict.temporalProof, cues: verdict.cues } } : {}),
        ...(embedding ? { embedding } : {}),
      });
    }
  }
}

type DecidedFusion = Extract<FusedDecision, { kind: 'person' | 'unknown' }>;

function labelOf(f: FusedDecision): string | null {
  return f.kind === 'person' ? f.name : f.kind === 'unknown' ? 'unknown' : null;
}

function push<T>(list: T[], item: T, max: number): void {
  list.push(item);
  if (list.length > max) list.shift();
}

/** Best score first; a face overlapping a kept one by more than SAME_FACE_IOU is the same face. */
function dedupe(faces: DetectedFace[]): DetectedFace[] {
  const kept: DetectedFace[] = [];
  for (const f of [...faces].sort((a, b) => b.score - a.score)) {
    if (!kept.some((k) => iou(k.box, f.box) > SAME_FACE_IOU)) kept.push(f);
  }
  return kept;
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

// Box tracker: a person walking up to the door is one track across frames, so the decision is
// made once per visit instead of once per frame. Tracks move with constant velocity between
// sightings, so the loop can look for each face where it will be (planRegions) instead of
// searching the whole frame every time.

export type Box = [number, number, number, number];

export function iou(a: Box, b: Box): number {
  const x1 = Math.max(a[0], b[0]);
  const y1 = Math.max(a[1], b[1]);
  const x2 = Math.min(a[0] + a[2], b[0] + b[2]);
  const y2 = Math.min(a[1] + a[3], b[1] + b[3]);
  const inter = Math.max(0, x2 - x1) * Math.max(0, y2 - y1);
  const union = a[2] * a[3] + b[2] * b[3] - inter;
  return union > 0 ? inter / union : 0;
}

export interface TrackerOptions {
  /** Minimum overlap of a detection with a track's predicted box to continue the track. */
  minIou: number;
  /** A track not seen for longer than this ends (the person left). */
  maxGapMs: number;
}

export interface TrackState {
  id: number;
  /** Last seen box. */
  box: Box;
  /** Pixels per millisecond of x, y, width and height (smoothed). */
  velocity: Box;
  firstSeenMs: number;
  lastSeenMs: number;
  frames: number;
  /** Processed frames since the last sighting. */
  missed: number;
}

/**
 * Prediction stops after this long without a sighting: a coasting track keeps its last estimate
 * instead of drifting off with a velocity that is no longer true.
 */
const MAX_EXTRAPOLATION_MS = 300;
/**
 * A track ends only after being missed in this many processed frames as well as for maxGapMs:
 * on an overloaded device frames can be further apart than maxGapMs, and a face that is in
 * every frame must not become a new visit (and decision) with each one.
 */
const MIN_MISSED_FRAMES = 2;
/** Weight of the newest displacement in the smoothed velocity: reacts in two or three frames, ignores single-frame box jitter. */
const VELOCITY_GAIN = 0.5;

/** Where the track's face is expected at `nowMs` (constant velocity from its last sighting). */
export function predictBox(t: TrackState, nowMs: number): Box {
  const dt = Math.min(MAX_EXTRAPOLATION_MS, Math.max(0, nowMs - t.lastSeenMs));
  const w = Math.max(1, t.box[2] + t.velocity[2] * dt);
  const h = Math.max(1, t.box[3] + t.velocity[3] * dt);
  return [t.box[0] + t.velocity[0] * dt, t.box[1] + t.velocity[1] * dt, w, h];
}

export class IouTracker {
  private nextId = 1;
  private readonly tracks = new Map<number, TrackState>();

  constructor(private readonly options: TrackerOptions) {}

  /**
   * Assigns each box of this frame to a track (greedy by overlap with the tracks' predicted
   * boxes, best pairs first), starting new tracks for the rest. Returns the track id per box and
   * the tracks that ended.
   */
  update(boxes: Box[], nowMs: number): { trackIds: number[]; ended: TrackState[] } {
    for (const t of this.tracks.values()) t.missed++;
    const ended = this.expire(nowMs);
    const pairs: { box: number; track: number; overlap: number }[] = [];
    const predicted = new Map([...this.tracks].map(([id, t]) => [id, predictBox(t, nowMs)]));
    boxes.forEach((b, i) => {
      for (const [id, p] of predicted) {
        const overlap = iou(b, p);
        if (overlap >= this.options.minIou) pairs.push({ box: i, track: id, overlap });
      }
    });
    pairs.sort((a, b) => b.overlap - a.overlap || a.track - b.track);
    const trackIds = new Array<number>(boxes.length).fill(0);
    const taken = new Set<number>();
    for (const p of pairs) {
      if (trackIds[p.box] !== 0 || taken.has(p.track)) continue;
      trackIds[p.box] = p.track;
      taken.add(p.track);
    }
    boxes.forEach((b, i) => {
      const id = trackIds[i]!;
      if (id === 0) {
        trackIds[i] = this.start(b, [0, 0, 0, 0], nowMs);
        return;
      }
      const t = this.tracks.get(id)!;
      const dt = nowMs - t.lastSeenMs;
      if (dt > 0) {
        t.velocity = t.velocity.map((v, k) => (1 - VELOCITY_GAIN) * v + (VELOCITY_GAIN * (b[k]! - t.box[k]!)) / dt) as Box;
      }
      t.box = b;
      t.lastSeenMs = nowMs;
      t.frames++;
      t.missed = 0;
    });
    return { trackIds, ended };
  }

  /** Ends the tracks not seen for longer than maxGapMs (and missed in MIN_MISSED_FRAMES frames). */
  private expire(nowMs: number): TrackState[] {
    const ended: TrackState[] = [];
    for (const [id, t] of this.tracks) {
      if (nowMs - t.lastSeenMs > this.options.maxGapMs && t.missed >= MIN_MISSED_FRAMES) {
        this.tracks.delete(id);
        ended.push(t);
      }
    }
    return ended;
  }

  /**
   * Ends a track and starts a new one in its place (same box and motion, first seen now): the
   * person in the box changed, which the boxes alone cannot tell.
   */
  split(id: number, nowMs: number): { ended: TrackState; next: TrackState } | undefined {
    const t = this.tracks.get(id);
    if (!t) return undefined;
    this.tracks.delete(id);
    const next = this.tracks.get(this.start(t.box, t.velocity, nowMs))!;
    return { ended: t, next };
  }

  private start(box: Box, velocity: Box, nowMs: number): number {
    const id = this.nextId++;
    this.tracks.set(id, { id, box, velocity, firstSeenMs: nowMs, lastSeenMs: nowMs, frames: 1, missed: 0 });
    return id;
  }

  get active(): TrackState[] {
    return [...this.tracks.values()];
  }

  get(id: number): TrackState | undefined {
    return this.tracks.get(id);
  }
}

export interface RegionOptions {
  /** Margin added on each side of a predicted face box, in face sides. */
  margin: number;
  /** The smallest face looked for in a track's region, as a share of its predicted face side. */
  minSizeRatio: number;
  /** Never look for faces smaller than this (the detector's own minimum). */
  minSizeFloor: number;
  /** Full-frame search at least this often (ms), so a new arrival is found within it. */
  fullFrameEveryMs: number;
}

export interface DetectionRegion {
  roi: Box;
  minSize: number;
}

export type DetectionPlan = { full: true } | { full: false; regions: DetectionRegion[] };

/**
 * At least this many region-only frames between two full-frame searches: when the loop is slower
 * than fullFrameEveryMs per frame (an overloaded board), every frame would otherwise be searched
 * in full, which makes it slower still. A newcomer is then found within
 * max(fullFrameEveryMs, this + 1 frames).
 */
export const MIN_REGION_FRAMES_BETWEEN_FULL = 2;

/**
 * Where to run the detector on this frame: the whole frame when nothing is tracked or the
 * full-frame interval is due, otherwise one region around each track's predicted box (regions
 * that overlap are merged, so a face is never searched twice).
 */
export function planRegions(
  predicted: readonly Box[],
  frameWidth: number,
  frameHeight: number,
  sinceFullFrame: { ms: number; frames: number },
  opts: RegionOptions,
): DetectionPlan {
  if (predicted.length === 0) return { full: true };
  if (sinceFullFrame.ms >= opts.fullFrameEveryMs && sinceFullFrame.frames >= MIN_REGION_FRAMES_BETWEEN_FULL) return { full: true };
  let regions = predicted.map((p): DetectionRegion => {
    const side = Math.max(p[2], p[3]);
    const m = opts.margin * side;
    const w = roundUp(p[2] + 2 * m, ROI_STEP), h = roundUp(p[3] + 2 * m, ROI_STEP);
    const cx = p[0] + p[2] / 2, cy = p[1] + p[3] / 2;
    return { roi: clip([cx - w / 2, cy - h / 2, w, h], frameWidth, frameHeight), minSize: snapMinSize(opts.minSizeRatio * side, opts.minSizeFloor) };
  });
  // Merge until no two regions overlap.
  for (let merged = true; merged; ) {
    merged = false;
    outer: for (let i = 0; i < regions.length; i++) {
      for (let j = i + 1; j < regions.length; j++) {
        if (iou(regions[i]!.roi, regions[j]!.roi) > 0) {
          const a = regions[i]!, b = regions[j]!;
          const x1 = Math.min(a.roi[0], b.roi[0]), y1 = Math.min(a.roi[1], b.roi[1]);
          const x2 = Math.max(a.roi[0] + a.roi[2], b.roi[0] + b.roi[2]), y2 = Math.max(a.roi[1] + a.roi[3], b.roi[1] + b.roi[3]);
          regions = [...regions.filter((_, k) => k !== i && k !== j), { roi: [x1, y1, x2 - x1, y2 - y1], minSize: Math.min(a.minSize, b.minSize) }];
          merged = true;
          break outer;
        }
      }
    }
  }
  return { full: false, regions: regions.filter((r) => r.roi[2] > 0 && r.roi[3] > 0) };
}

/**
 * Region sides are multiples of this and minimum sizes lie on a grid of sqrt(2) steps, so the
 * detector sees a few input shapes again and again: ONNX Runtime keeps per-shape memory plans,
 * and a new shape every frame costs time and memory.
 */
const ROI_STEP = 32;

function roundUp(v: number, step: number): number {
  return Math.ceil(v / step) * step;
}

/** The largest floor * sqrt(2)^k not above `size` (never below the floor), to 0.01 px. */
export function snapMinSize(size: number, floor: number): number {
  if (size <= floor) return floor;
  const k = Math.floor(Math.log(size / floor) / Math.log(Math.SQRT2) + 1e-9);
  return Math.round(floor * Math.SQRT2 ** k * 100) / 100;
}

function clip([x, y, w, h]: Box, width: number, height: number): Box {
  const x1 = Math.max(0, Math.floor(x));
  const y1 = Math.max(0, Math.floor(y));
  const x2 = Math.min(width, Math.ceil(x + w));
  const y2 = Math.min(height, Math.ceil(y + h));
  return [x1, y1, Math.max(0, x2 - x1), Math.max(0, y2 - y1)];
}

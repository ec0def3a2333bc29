// Box-overlap tracker: a person walking up to the door is one track across frames, so the
// decision is made once per visit instead of once per frame.

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
  /** Minimum overlap for a detection to continue a track. */
  minIou: number;
  /** A track not seen for longer than this ends (the person left). */
  maxGapMs: number;
}

export interface TrackState {
  id: number;
  box: Box;
  firstSeenMs: number;
  lastSeenMs: number;
  frames: number;
}

export class IouTracker {
  private nextId = 1;
  private readonly tracks = new Map<number, TrackState>();

  constructor(private readonly options: TrackerOptions) {}

  /**
   * Assigns each box of this frame to a track (greedy by overlap, best pairs first), starting
   * new tracks for the rest. Returns the track id per box and the tracks that ended.
   */
  update(boxes: Box[], nowMs: number): { trackIds: number[]; ended: TrackState[] } {
    const ended: TrackState[] = [];
    for (const [id, t] of this.tracks) {
      if (nowMs - t.lastSeenMs > this.options.maxGapMs) {
        this.tracks.delete(id);
        ended.push(t);
      }
    }
    const pairs: { box: number; track: number; overlap: number }[] = [];
    boxes.forEach((b, i) => {
      for (const [id, t] of this.tracks) {
        const overlap = iou(b, t.box);
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
      let id = trackIds[i]!;
      if (id === 0) {
        id = this.nextId++;
        trackIds[i] = id;
        this.tracks.set(id, { id, box: b, firstSeenMs: nowMs, lastSeenMs: nowMs, frames: 1 });
      } else {
        const t = this.tracks.get(id)!;
        t.box = b;
        t.lastSeenMs = nowMs;
        t.frames++;
      }
    });
    return { trackIds, ended };
  }

  get active(): TrackState[] {
    return [...this.tracks.values()];
  }

  get(id: number): TrackState | undefined {
    return this.tracks.get(id);
  }
}

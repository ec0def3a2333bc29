// Multi-frame fusion: a track is decided only when N of its last M observations agree, weighted
// by face area and quality, so one lucky or unlucky frame never opens (or slams) the door.

/** What one frame said about a track's face. */
export interface Observation {
  atMs: number;
  /** Person name, 'unknown' (below threshold etc.), or null when the face failed the quality gate. */
  vote: string | null;
  score: number;
  margin: number;
  /** Area x quality: bigger, sharper, more frontal faces count for more. */
  weight: number;
}

export interface FusionOptions {
  /** Observations that must agree... */
  n: number;
  /** ...among the last M. */
  m: number;
}

export type FusedDecision =
  | { kind: 'person'; name: string; votes: number; share: number }
  | { kind: 'unknown'; votes: number; share: number }
  | { kind: 'poor-quality'; votes: number }
  | { kind: 'undecided' };

export function observationWeight(faceArea: number, frontalness: number, sharpness: number): number {
  // Area dominates (a face twice as close carries more detail); blur and pose discount it.
  return Math.sqrt(Math.max(1, faceArea)) * (0.5 + 0.5 * frontalness) * Math.min(1, 0.3 + sharpness / 200);
}

export function fuse(history: readonly Observation[], opts: FusionOptions): FusedDecision {
  const window = history.slice(-opts.m);
  const poor = window.filter((o) => o.vote === null).length;
  const usable = window.filter((o) => o.vote !== null);
  const total = usable.reduce((s, o) => s + o.weight, 0);
  const tally = new Map<string, { votes: number; weight: number }>();
  for (const o of usable) {
    const t = tally.get(o.vote!) ?? { votes: 0, weight: 0 };
    t.votes++;
    t.weight += o.weight;
    tally.set(o.vote!, t);
  }
  // The leader by weight must also have N votes and more than half the usable weight.
  const leader = [...tally].sort((a, b) => b[1].weight - a[1].weight || a[0].localeCompare(b[0]))[0];
  if (leader && leader[1].votes >= opts.n && leader[1].weight > total / 2) {
    const share = leader[1].weight / total;
    return leader[0] === 'unknown' ? { kind: 'unknown', votes: leader[1].votes, share } : { kind: 'person', name: leader[0], votes: leader[1].votes, share };
  }
  if (window.length >= opts.m && poor >= opts.n && usable.length < opts.n) return { kind: 'poor-quality', votes: poor };
  return { kind: 'undecided' };
}

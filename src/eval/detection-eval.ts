// Scoring a face detector against hand-drawn boxes: which detection found which face, which faces
// were missed, which detections were not faces. Pure functions; the eval-detect command does the I/O.
import { z } from 'zod';

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface ScoredBox {
  box: Box;
  score: number;
}

/**
 * `centre`: the hand-drawn box's centre lies inside the detection, and the detection's centre lies
 * inside the hand-drawn box grown by 50%. Tight eyes-to-mouth boxes (dlib) sit well inside MTCNN's
 * forehead-to-chin boxes, so their IoU is low even for a perfect detection; centres still agree.
 * `iou`: intersection over union at least `threshold` (use a relaxed one, e.g. 0.3, for such boxes).
 */
export type MatchRule = { kind: 'centre' } | { kind: 'iou'; threshold: number };

export const DEFAULT_IOU_THRESHOLD = 0.3;
/** How much the hand-drawn box is grown before the detection's centre must fall inside it. */
export const CENTRE_RULE_GROWTH = 1.5;

export interface Match {
  gt: number;
  det: number;
  iou: number;
}

export interface ImageMatch {
  matches: Match[];
  /** Indices of hand-drawn boxes no detection matched. */
  missed: number[];
  /** Indices of detections that matched no hand-drawn box, duplicates of a matched face included. */
  falsePositives: number[];
}

export function boxFromXywh([x, y, w, h]: readonly [number, number, number, number]): Box {
  return { x, y, w, h };
}

export function iou(a: Box, b: Box): number {
  const iw = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const ih = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  return inter / (a.w * a.h + b.w * b.h - inter);
}

export function centre(b: Box): [number, number] {
  return [b.x + b.w / 2, b.y + b.h / 2];
}

export function contains(b: Box, [px, py]: readonly [number, number]): boolean {
  return px >= b.x && px <= b.x + b.w && py >= b.y && py <= b.y + b.h;
}

/** The box scaled by `factor` about its centre. */
export function grow(b: Box, factor: number): Box {
  const [cx, cy] = centre(b);
  return { x: cx - (b.w * factor) / 2, y: cy - (b.h * factor) / 2, w: b.w * factor, h: b.h * factor };
}

export function isMatch(rule: MatchRule, det: Box, gt: Box): boolean {
  if (rule.kind === 'iou') return iou(det, gt) >= rule.threshold;
  return contains(det, centre(gt)) && contains(grow(gt, CENTRE_RULE_GROWTH), centre(det));
}

/**
 * Greedy one-to-one matching: detections in descending score order each take the unmatched
 * hand-drawn box they overlap most among those the rule accepts. A face found twice therefore
 * counts once, and the weaker duplicate is a false positive.
 */
export function matchImage(gt: readonly Box[], dets: readonly ScoredBox[], rule: MatchRule): ImageMatch {
  const order = dets.map((_, i) => i).sort((a, b) => dets[b]!.score - dets[a]!.score || a - b);
  const taken = new Set<number>();
  const matches: Match[] = [];
  const falsePositives: number[] = [];
  for (const d of order) {
    const det = dets[d]!.box;
    let best: Match | undefined;
    gt.forEach((g, i) => {
      if (taken.has(i) || !isMatch(rule, det, g)) return;
      const overlap = iou(det, g);
      if (!best || overlap > best.iou) best = { gt: i, det: d, iou: overlap };
    });
    if (best) {
      taken.add(best.gt);
      matches.push(best);
    } else falsePositives.push(d);
  }
  const missed = gt.map((_, i) => i).filter((i) => !taken.has(i));
  return { matches, missed, falsePositives: falsePositives.sort((a, b) => a - b) };
}

export interface DetectionTotals {
  images: number;
  gt: number;
  detections: number;
  matched: number;
  missed: number;
  falsePositives: number;
  /** matched / gt; null without hand-drawn boxes. */
  recall: number | null;
  /** matched / detections; null without detections. */
  precision: number | null;
  /** Mean IoU of the matched pairs; null without matches. */
  meanIou: number | null;
}

export function detectionTotals(images: readonly ImageMatch[]): DetectionTotals {
  const matches = images.flatMap((m) => m.matches);
  const missed = images.reduce((n, m) => n + m.missed.length, 0);
  const falsePositives = images.reduce((n, m) => n + m.falsePositives.length, 0);
  const gt = matches.length + missed;
  const detections = matches.length + falsePositives;
  return {
    images: images.length,
    gt,
    detections,
    matched: matches.length,
    missed,
    falsePositives,
    recall: gt ? matches.length / gt : null,
    precision: detections ? matches.length / detections : null,
    meanIou: matches.length ? matches.reduce((s, m) => s + m.iou, 0) / matches.length : null,
  };
}

// Ground-truth file: { images: [{ file, width?, height?, boxes_xywh: [{ x, y, w, h }] }] }, paths
// relative to a root folder (for ../shared/faces, the folder holding detection/).

const GroundTruthSchema = z.object({
  source: z.string().optional(),
  note: z.string().optional(),
  images: z.array(
    z.object({
      file: z.string().min(1),
      width: z.number().int().positive().optional(),
      height: z.number().int().positive().optional(),
      split: z.string().optional(),
      boxes_xywh: z.array(z.object({ x: z.number(), y: z.number(), w: z.number().positive(), h: z.number().positive() })),
    }),
  ),
});

export type GroundTruth = z.infer<typeof GroundTruthSchema>;

export function parseGroundTruth(text: string, source: string): GroundTruth {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`${source} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = GroundTruthSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${source}: ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
  }
  return parsed.data;
}

/** The candidate folder under which most of the image paths exist (the first one on a tie). */
export function chooseRoot(candidates: readonly string[], files: readonly string[], exists: (root: string, file: string) => boolean): string {
  let best = { root: candidates[0]!, found: -1 };
  for (const root of candidates) {
    const found = files.filter((f) => exists(root, f)).length;
    if (found > best.found) best = { root, found };
  }
  return best.root;
}

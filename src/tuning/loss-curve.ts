// The tuning run as a picture: the triplet loss over the batches, and per epoch the share of
// active triplets and the validation EER, each on its own scale, with the epoch that was kept
// marked. Drawn with the verification plot's scene renderer, so .svg and .png show the same.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { cv } from '../vision/opencv.js';
import { ROC_COLOURS, axesShapes, linearTicks, plotFormat, rasterise, renderSvg, toPx, type Axis, type Panel, type Pt, type Scene, type Shape } from '../eval/plot.js';
import type { BatchStats, EpochStats } from './train.js';

export interface LossCurveData {
  title: string;
  batches: readonly BatchStats[];
  epochs: readonly EpochStats[];
  /** The epoch whose weights were kept; 0 = the pretrained ones. */
  bestEpoch: number;
  /** Validation EER of the pretrained weights (epoch 0). */
  baselineEer?: number;
}

const WIDTH = 1200;
const HEIGHT = 460;
const PANELS = 3;
const INK = [34, 34, 34] as const;
const KEPT_DASH = [6, 4];
/** More points than pixels only blurs the line; batches are averaged down to about this many. */
const MAX_POINTS = 300;

function panel(index: number): Panel {
  const x0 = (index * WIDTH) / PANELS;
  return { left: x0 + 70, top: 84, right: x0 + WIDTH / PANELS - 24, bottom: HEIGHT - 62 };
}

/** Mean loss over runs of consecutive batches, placed at the fractional epoch where each run ends. */
export function smoothedLoss(batches: readonly BatchStats[], epochSize: number, maxPoints = MAX_POINTS): Pt[] {
  const bin = Math.max(1, Math.ceil(batches.length / maxPoints));
  const out: Pt[] = [];
  for (let i = 0; i < batches.length; i += bin) {
    const run = batches.slice(i, i + bin);
    const last = run[run.length - 1]!;
    out.push([last.epoch - 1 + last.batch / epochSize, run.reduce((s, b) => s + b.loss, 0) / run.length]);
  }
  return out;
}

/** The values' range widened to whole tick steps, so small changes fill the panel instead of a sliver of it. */
export function valueRange(values: readonly number[], minSpan: number, max = Infinity): [number, number] {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return [0, 1];
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  const mid = (lo + hi) / 2;
  const span = Math.max(hi - lo, minSpan) * 1.2;
  const ticks = linearTicks(mid - span / 2, mid + span / 2);
  const step = ticks.length > 1 ? ticks[1]!.value - ticks[0]!.value : span;
  return [Math.max(0, Math.floor((mid - span / 2) / step) * step), Math.min(max, Math.ceil((mid + span / 2) / step) * step)];
}

interface Series {
  points: Pt[];
  colour: readonly [number, number, number];
  label: string;
}

function linePanel(id: string, p: Panel, title: string, yLabel: string, series: Series, epochs: number, bestEpoch: number, range: [minSpan: number, max?: number]): Scene['groups'] {
  const x: Axis = { lo: 0, hi: Math.max(1, epochs), log: false, px0: p.left, px1: p.right };
  const [lo, hi] = valueRange(series.points.map(([, v]) => v), ...range);
  const y: Axis = { lo, hi, log: false, px0: p.bottom, px1: p.top };
  const shapes: Shape[] = [{ kind: 'polyline', points: series.points.map(([e, v]) => [toPx(x, e), toPx(y, v)]), colour: series.colour, width: 2, title: series.label }];
  if (bestEpoch > 0) {
    const px = toPx(x, bestEpoch);
    shapes.push({ kind: 'line', from: [px, p.top], to: [px, p.bottom], colour: INK, width: 1.5, dash: KEPT_DASH });
  }
  return [
    { id: `${id}-axes`, shapes: axesShapes(p, x, y, linearTicks(0, x.hi, 5), linearTicks(lo, hi), { title, x: 'epoch', y: yLabel }) },
    { id, shapes },
  ];
}

export function lossCurveScene(d: LossCurveData): Scene {
  const epochSize = Math.max(1, ...d.batches.map((b) => b.batch));
  const n = d.epochs.length;
  const eer = [...(d.baselineEer !== undefined ? [[0, d.baselineEer * 100] as Pt] : []), ...d.epochs.flatMap((e): Pt[] => (e.validation ? [[e.epoch, e.validation.eer * 100]] : []))];
  const kept = d.bestEpoch > 0 ? `; dashed: epoch ${d.bestEpoch}, kept` : eer.length > 0 ? '; no epoch beat the pretrained weights' : '';
  const title = `${d.title}${kept}`;
  const titleShape: Shape = { kind: 'text', at: [WIDTH / 2, 34], text: title, size: Math.min(20, (WIDTH - 40) / (0.56 * title.length)), colour: INK, anchor: 'middle', bold: true };
  return {
    width: WIDTH,
    height: HEIGHT,
    background: [255, 255, 255],
    groups: [
      { id: 'title', shapes: [titleShape] },
      ...linePanel('loss', panel(0), 'Triplet loss (training batches)', 'mean triplet loss', { points: smoothedLoss(d.batches, epochSize), colour: ROC_COLOURS[0]!, label: 'triplet loss' }, n, d.bestEpoch, [0.01]),
      ...linePanel('active', panel(1), 'Active triplets', '% of triplets with loss > 0', { points: d.epochs.map((e) => [e.epoch, e.active * 100]), colour: ROC_COLOURS[1]!, label: 'active triplets' }, n, d.bestEpoch, [5, 100]),
      ...linePanel('validation', panel(2), 'Validation EER', 'EER % (validation people)', { points: eer, colour: ROC_COLOURS[2]!, label: 'validation EER' }, n, d.bestEpoch, [1, 100]),
    ],
  };
}

export function writeLossCurve(path: string, d: LossCurveData): void {
  const format = plotFormat(path);
  const scene = lossCurveScene(d);
  mkdirSync(dirname(path), { recursive: true });
  if (format === 'svg') writeFileSync(path, renderSvg(scene));
  else cv.imwrite(path, rasterise(scene).cvtColor(cv.COLOR_RGB2BGR));
}

// The tuning run as a picture: triplet loss over the batches, and per epoch the share of active
// triplets and the validation EER, with the epoch that was kept marked. Drawn with the
// verification plot's scene renderer, so .svg and .png show the same thing.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { cv } from '../vision/opencv.js';
import { ROC_COLOURS, axesShapes, legendShapes, legendSize, linearTicks, plotFormat, rasterise, renderSvg, toPx, type Axis, type LegendEntry, type Panel, type Pt, type Scene, type Shape } from '../eval/plot.js';
import type { BatchStats, EpochStats } from './train.js';

export interface LossCurveData {
  title: string;
  batches: readonly BatchStats[];
  epochs: readonly EpochStats[];
  bestEpoch: number;
  /** Validation EER of the pretrained weights (epoch 0). */
  baselineEer?: number;
}

const WIDTH = 1200;
const HEIGHT = 500;
const INK = [34, 34, 34] as const;
/** More points than pixels only blurs the line; batches are averaged down to about this many. */
const MAX_POINTS = 400;

function panel(index: number): Panel {
  const x0 = (index * WIDTH) / 2;
  return { left: x0 + 78, top: 84, right: x0 + WIDTH / 2 - 28, bottom: HEIGHT - 62 };
}

/** Mean loss over runs of consecutive batches, at the fractional epoch where each run ends. */
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

function lossGroup(d: LossCurveData, p: Panel): Scene['groups'] {
  const epochSize = Math.max(1, ...d.batches.map((b) => b.batch));
  const points = smoothedLoss(d.batches, epochSize);
  const xHi = Math.max(1, d.epochs.length);
  const yHi = Math.max(0.01, ...points.map(([, l]) => l)) * 1.1;
  const x: Axis = { lo: 0, hi: xHi, log: false, px0: p.left, px1: p.right };
  const y: Axis = { lo: 0, hi: yHi, log: false, px0: p.bottom, px1: p.top };
  const line: Shape = { kind: 'polyline', points: points.map(([e, l]) => [toPx(x, e), toPx(y, l)]), colour: ROC_COLOURS[0]!, width: 2, title: 'triplet loss' };
  return [
    { id: 'loss-axes', shapes: axesShapes(p, x, y, linearTicks(0, xHi, 6), linearTicks(0, yHi), { title: 'Triplet loss (training batches)', x: 'epoch', y: 'mean triplet loss' }) },
    { id: 'loss', shapes: [line, ...bestMark(d, p, x)] },
  ];
}

function bestMark(d: LossCurveData, p: Panel, x: Axis): Shape[] {
  if (d.bestEpoch <= 0) return [];
  const px = toPx(x, d.bestEpoch);
  return [{ kind: 'line', from: [px, p.top], to: [px, p.bottom], colour: INK, width: 1.5, dash: [6, 4] }];
}

function epochGroup(d: LossCurveData, p: Panel): Scene['groups'] {
  const xHi = Math.max(1, d.epochs.length);
  const x: Axis = { lo: 0, hi: xHi, log: false, px0: p.left, px1: p.right };
  const eers = d.epochs.flatMap((e) => (e.validation ? [e.validation.eer] : []));
  const yHi = Math.min(1, Math.max(0.05, ...d.epochs.map((e) => e.active), ...eers, d.baselineEer ?? 0) * 1.15);
  const y: Axis = { lo: 0, hi: yHi, log: false, px0: p.bottom, px1: p.top };
  const pt = (e: number, v: number): Pt => [toPx(x, e), toPx(y, v)];
  const shapes: Shape[] = [{ kind: 'polyline', points: d.epochs.map((e) => pt(e.epoch, e.active)), colour: ROC_COLOURS[1]!, width: 2, title: 'active triplets' }];
  const entries: LegendEntry[] = [{ label: 'active triplets', colour: ROC_COLOURS[1]!, swatch: 'line' }];
  if (eers.length > 0) {
    const start = d.baselineEer !== undefined ? [pt(0, d.baselineEer)] : [];
    shapes.push({ kind: 'polyline', points: [...start, ...d.epochs.flatMap((e) => (e.validation ? [pt(e.epoch, e.validation.eer)] : []))], colour: ROC_COLOURS[0]!, width: 2, title: 'validation EER' });
    entries.push({ label: 'validation EER', colour: ROC_COLOURS[0]!, swatch: 'line' });
  }
  if (d.bestEpoch > 0) entries.push({ label: `kept: epoch ${d.bestEpoch}`, colour: INK, swatch: 'line', dash: [6, 4] });
  else if (eers.length > 0) entries.push({ label: 'kept: pretrained (epoch 0)', colour: INK, swatch: 'line', dash: [6, 4] });
  const size = legendSize(entries);
  return [
    { id: 'epoch-axes', shapes: axesShapes(p, x, y, linearTicks(0, xHi, 6), linearTicks(0, yHi), { title: 'Per epoch', x: 'epoch', y: 'share' }) },
    { id: 'epoch-lines', shapes: [...shapes, ...bestMark(d, p, x)] },
    { id: 'epoch-legend', shapes: legendShapes(entries, p.right - 10 - size.w, p.top + 10) },
  ];
}

export function lossCurveScene(d: LossCurveData): Scene {
  const title: Shape = { kind: 'text', at: [WIDTH / 2, 34], text: d.title, size: Math.min(20, (WIDTH - 40) / (0.56 * d.title.length)), colour: INK, anchor: 'middle', bold: true };
  return { width: WIDTH, height: HEIGHT, background: [255, 255, 255], groups: [{ id: 'title', shapes: [title] }, ...lossGroup(d, panel(0)), ...epochGroup(d, panel(1))] };
}

export function writeLossCurve(path: string, d: LossCurveData): void {
  const format = plotFormat(path);
  const scene = lossCurveScene(d);
  mkdirSync(dirname(path), { recursive: true });
  if (format === 'svg') writeFileSync(path, renderSvg(scene));
  else cv.imwrite(path, rasterise(scene).cvtColor(cv.COLOR_RGB2BGR));
}

// Verification plots: ROC curves and genuine/impostor score histograms. The figure is first laid
// out as a small scene of shapes in pixel units; an SVG writer and an OpenCV rasteriser then draw
// the same scene, so the .svg and .png of one result cannot disagree.
import { writeFileSync } from 'node:fs';
import { makeDirs } from '../util/make-dirs.js';
import { dirname, extname } from 'node:path';
import { cv, type Mat } from '../vision/opencv.js';

export type Rgb = readonly [number, number, number];
export type Pt = readonly [number, number];

export interface Bar {
  x0: number;
  x1: number;
  /** y of the bar's top edge; bars grow up from the shape's baseline. */
  top: number;
}

export type Shape =
  | { kind: 'line'; from: Pt; to: Pt; colour: Rgb; width: number; dash?: readonly number[] }
  | { kind: 'polyline'; points: Pt[]; colour: Rgb; width: number; title?: string }
  | { kind: 'rect'; x: number; y: number; w: number; h: number; fill?: Rgb; opacity?: number; stroke?: Rgb }
  | { kind: 'bars'; baseline: number; bars: Bar[]; fill: Rgb; opacity: number; outline: Rgb }
  | { kind: 'text'; at: Pt; text: string; size: number; colour: Rgb; anchor: 'start' | 'middle' | 'end'; bold?: boolean; vertical?: boolean };

/** Pixel coordinates with SVG's convention: pixel (i, j) covers [i, i+1) x [j, j+1). */
export interface Scene {
  width: number;
  height: number;
  background: Rgb;
  groups: { id: string; shapes: Shape[] }[];
}

export interface VerificationPlotData {
  roc: { far: number[]; tar: number[]; label: string }[];
  genuine: number[];
  impostor: number[];
  title: string;
  thresholds?: { value: number; label: string }[];
  /**
   * The threshold the daemon decides with (matching.threshold): a solid line on the histograms and,
   * on each ROC curve, the point that threshold gives (FAR/TAR of that curve's scores).
   */
  configured?: { value: number; label: string; points: { far: number; tar: number }[] };
}

// Okabe-Ito palette: distinguishable with the common colour-vision deficiencies and in greyscale.
export const ROC_COLOURS: readonly Rgb[] = [[0, 114, 178], [213, 94, 0], [204, 121, 167], [86, 180, 233], [0, 0, 0]];
export const GENUINE_COLOUR: Rgb = [0, 158, 115];
export const IMPOSTOR_COLOUR: Rgb = [230, 159, 0];
const INK: Rgb = [34, 34, 34];
/** The configured threshold: solid, in Okabe-Ito vermillion's darker neighbour, unlike the dashed FAR thresholds. */
const CONFIGURED_COLOUR: Rgb = [170, 51, 0];
const MUTED: Rgb = [90, 90, 90];
const GRID: Rgb = [222, 222, 222];
const MINOR_GRID: Rgb = [240, 240, 240];
const WHITE: Rgb = [255, 255, 255];
/** Threshold lines are told apart by dash pattern, so they need no colour of their own. */
const THRESHOLD_DASHES: readonly (readonly number[])[] = [[6, 4], [2, 3], [10, 3, 2, 3], [14, 4]];

const WIDTH = 1200;
const HEIGHT = 500;
const PANEL_MARGIN = { left: 78, right: 28, top: 84, bottom: 62 };
const TICK_SIZE = 12;
const LABEL_SIZE = 14;
const HISTOGRAM_BINS = 40;
const BARS_OUTLINE_WIDTH = 1.5;
/** The ROC's FAR axis starts here unless some curve reaches lower. */
const DEFAULT_MIN_FAR = 1e-4;

export type PlotFormat = 'svg' | 'png';

export function plotFormat(path: string): PlotFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.svg' || ext === '.png') return ext.slice(1) as PlotFormat;
  throw new Error(`cannot write a plot to "${path}": the file name must end in .svg or .png`);
}

export function writeVerificationPlot(path: string, data: VerificationPlotData): void {
  const format = plotFormat(path);
  const scene = verificationScene(data);
  makeDirs(dirname(path));
  if (format === 'svg') writeFileSync(path, renderSvg(scene));
  else cv.imwrite(path, rasterise(scene).cvtColor(cv.COLOR_RGB2BGR));
}

// ---------------------------------------------------------------------------------------------
// Layout

export interface Axis {
  lo: number;
  hi: number;
  log: boolean;
  /** Pixel positions of lo and hi (for a y axis, px0 is the bottom). */
  px0: number;
  px1: number;
}

export interface Tick {
  value: number;
  label?: string;
}

export function toPx(a: Axis, v: number): number {
  const t = a.log ? (Math.log10(v) - Math.log10(a.lo)) / (Math.log10(a.hi) - Math.log10(a.lo)) : (v - a.lo) / (a.hi - a.lo);
  return a.px0 + t * (a.px1 - a.px0);
}

/** Half-pixel positions make one-pixel lines crisp instead of smeared over two pixels. */
function crisp(v: number): number {
  return Math.floor(v) + 0.5;
}

function textWidth(text: string, size: number): number {
  // Average advance of a sans-serif font, and of OpenCV's Hershey font at the scale rasterise uses.
  return 0.56 * size * text.length;
}

function niceStep(span: number, target: number): number {
  const raw = span / target;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m < 1.5 ? 1 : m < 3 ? 2 : m < 7 ? 5 : 10) * p;
}

export function linearTicks(lo: number, hi: number, target = 5): Tick[] {
  const step = niceStep(hi - lo, target);
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const ticks: Tick[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) {
    const value = Number((k * step).toFixed(decimals));
    ticks.push({ value, label: value.toFixed(decimals) });
  }
  return ticks;
}

/** Decades labelled, 2..9 times each decade as unlabelled minor ticks. */
export function logTicks(lo: number, hi: number): Tick[] {
  const ticks: Tick[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (let m = 1; m <= 9; m++) {
      const value = m * 10 ** e;
      if (value < lo * (1 - 1e-9) || value > hi * (1 + 1e-9)) continue;
      ticks.push(m === 1 ? { value, label: e >= -2 ? String(Number(value.toFixed(2))) : `1e${e}` } : { value });
    }
  }
  return ticks;
}

/** The FAR axis's lower end: 1e-4, or the decade of the smallest non-zero FAR if that is lower. */
export function farAxisMin(curves: VerificationPlotData['roc']): number {
  const positive = curves.flatMap((c) => c.far).filter((f) => f > 0 && Number.isFinite(f));
  if (positive.length === 0) return DEFAULT_MIN_FAR;
  return Math.min(DEFAULT_MIN_FAR, 10 ** Math.floor(Math.log10(Math.min(...positive))));
}

/**
 * The TAR axis's lower end: a good ROC on 0..1 is a line along the top edge, so the axis starts a
 * little below the lowest TAR any curve reaches on the FAR axis (in steps of 0.1; 0 at worst).
 */
export function tarAxisMin(curves: VerificationPlotData['roc'], alsoShow: number[] = []): number {
  const tars = [...curves.flatMap((c) => rocPoints(c.far, c.tar).map(([, t]) => t)), ...alsoShow.filter(Number.isFinite)];
  if (tars.length === 0) return 0;
  return Math.max(0, Math.min(0.9, Math.floor((Math.min(...tars) - 0.02) * 10) / 10));
}

/** Score axis: the data rounded out to 0.1, or -1..1 when there is no data. */
export function scoreRange(values: number[]): [number, number] {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return [-1, 1];
  let lo = Math.floor(Math.min(...finite) * 10 + 1e-9) / 10;
  let hi = Math.ceil(Math.max(...finite) * 10 - 1e-9) / 10;
  if (hi - lo < 0.2) [lo, hi] = [lo - 0.1, hi + 0.1];
  return [lo, hi];
}

/** Histogram normalised to a density (area 1), so a few hundred genuine pairs show next to 40k impostors. */
export function density(values: number[], lo: number, hi: number, bins: number): number[] {
  const counts = new Array<number>(bins).fill(0);
  const finite = values.filter(Number.isFinite);
  const width = (hi - lo) / bins;
  for (const v of finite) {
    const i = Math.min(bins - 1, Math.max(0, Math.floor((v - lo) / width)));
    counts[i]!++;
  }
  return counts.map((c) => (finite.length ? c / (finite.length * width) : 0));
}

/** ROC points that a log FAR axis can show (FAR > 0), in FAR order. */
export function rocPoints(far: number[], tar: number[]): Pt[] {
  if (far.length !== tar.length) throw new Error(`ROC has ${far.length} FAR values but ${tar.length} TAR values`);
  return far
    .map((f, i): Pt => [f, tar[i]!])
    .filter(([f, t]) => f > 0 && f <= 1 && Number.isFinite(t))
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
}

/** Thousands of ROC points collapse onto the same pixels; keep one per 0.1 px. */
function dropRepeats(points: Pt[]): Pt[] {
  const out: Pt[] = [];
  for (const [x, y] of points) {
    const p: Pt = [Math.round(x * 10) / 10, Math.round(y * 10) / 10];
    const last = out[out.length - 1];
    if (!last || last[0] !== p[0] || last[1] !== p[1]) out.push(p);
  }
  return out;
}

export interface Panel {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

function panelArea(index: number): Panel {
  const x0 = (index * WIDTH) / 2;
  return {
    left: x0 + PANEL_MARGIN.left,
    top: PANEL_MARGIN.top,
    right: x0 + WIDTH / 2 - PANEL_MARGIN.right,
    bottom: HEIGHT - PANEL_MARGIN.bottom,
  };
}

export function axesShapes(p: Panel, x: Axis, y: Axis, xTicks: Tick[], yTicks: Tick[], labels: { title: string; x: string; y: string }): Shape[] {
  const shapes: Shape[] = [];
  const grid = (t: Tick): Rgb => (t.label === undefined ? MINOR_GRID : GRID);
  // Minor lines first so the major ones are drawn over them where they meet.
  for (const t of [...xTicks.filter((t) => t.label === undefined), ...xTicks.filter((t) => t.label !== undefined)]) {
    const px = crisp(toPx(x, t.value));
    shapes.push({ kind: 'line', from: [px, p.top], to: [px, p.bottom], colour: grid(t), width: 1 });
  }
  for (const t of yTicks) {
    const py = crisp(toPx(y, t.value));
    shapes.push({ kind: 'line', from: [p.left, py], to: [p.right, py], colour: grid(t), width: 1 });
  }
  shapes.push({ kind: 'rect', x: crisp(p.left), y: crisp(p.top), w: Math.round(p.right - p.left), h: Math.round(p.bottom - p.top), stroke: MUTED });
  for (const t of xTicks) {
    if (t.label === undefined) continue;
    const px = crisp(toPx(x, t.value));
    shapes.push({ kind: 'line', from: [px, p.bottom], to: [px, p.bottom + 5], colour: MUTED, width: 1 });
    shapes.push({ kind: 'text', at: [px, p.bottom + 20], text: t.label, size: TICK_SIZE, colour: MUTED, anchor: 'middle' });
  }
  for (const t of yTicks) {
    if (t.label === undefined) continue;
    const py = crisp(toPx(y, t.value));
    shapes.push({ kind: 'line', from: [p.left - 5, py], to: [p.left, py], colour: MUTED, width: 1 });
    shapes.push({ kind: 'text', at: [p.left - 8, py + TICK_SIZE * 0.36], text: t.label, size: TICK_SIZE, colour: MUTED, anchor: 'end' });
  }
  const cx = (p.left + p.right) / 2;
  shapes.push({ kind: 'text', at: [cx, p.top - 14], text: labels.title, size: 15, colour: INK, anchor: 'middle', bold: true });
  shapes.push({ kind: 'text', at: [cx, p.bottom + 46], text: labels.x, size: LABEL_SIZE, colour: INK, anchor: 'middle' });
  shapes.push({ kind: 'text', at: [p.left - 50, (p.top + p.bottom) / 2], text: labels.y, size: LABEL_SIZE, colour: INK, anchor: 'middle', vertical: true });
  return shapes;
}

interface LegendEntry {
  label: string;
  colour: Rgb;
  swatch: 'line' | 'box';
  dash?: readonly number[];
}

const LEGEND = { size: 13, row: 20, pad: 8, swatch: 28 };
/** Gap between the legend and the plot frame. */
const INSET = 10;

function legendSize(entries: LegendEntry[]): { w: number; h: number } {
  const widest = Math.max(...entries.map((e) => textWidth(e.label, LEGEND.size)));
  return { w: Math.ceil(LEGEND.pad * 2 + LEGEND.swatch + 8 + widest), h: LEGEND.pad * 2 + LEGEND.row * entries.length - 4 };
}

function legendShapes(entries: LegendEntry[], x: number, y: number): Shape[] {
  const { w, h } = legendSize(entries);
  const shapes: Shape[] = [{ kind: 'rect', x: crisp(x), y: crisp(y), w, h, fill: WHITE, opacity: 0.9, stroke: GRID }];
  entries.forEach((e, i) => {
    const cy = y + LEGEND.pad + 8 + i * LEGEND.row;
    const sx = x + LEGEND.pad;
    shapes.push(
      e.swatch === 'line'
        ? { kind: 'line', from: [sx, cy], to: [sx + LEGEND.swatch, cy], colour: e.colour, width: 2, dash: e.dash }
        : { kind: 'rect', x: sx, y: cy - 6, w: LEGEND.swatch, h: 12, fill: e.colour, opacity: 0.6, stroke: e.colour },
    );
    shapes.push({ kind: 'text', at: [sx + LEGEND.swatch + 8, cy + LEGEND.size * 0.36], text: e.label, size: LEGEND.size, colour: INK, anchor: 'start' });
  });
  return shapes;
}

function rocGroups(data: VerificationPlotData, p: Panel): Scene['groups'] {
  const x: Axis = { lo: farAxisMin(data.roc), hi: 1, log: true, px0: p.left, px1: p.right };
  const y: Axis = { lo: tarAxisMin(data.roc, (data.configured?.points ?? []).map((pt) => pt.tar)), hi: 1, log: false, px0: p.bottom, px1: p.top };
  const curves: Shape[] = data.roc.map((c, i) => ({
    kind: 'polyline',
    points: dropRepeats(rocPoints(c.far, c.tar).map(([f, t]) => [toPx(x, f), toPx(y, t)])),
    colour: ROC_COLOURS[i % ROC_COLOURS.length]!,
    width: 2,
    title: c.label,
  }));
  const entries: LegendEntry[] = data.roc.map((c, i) => ({ label: c.label, colour: ROC_COLOURS[i % ROC_COLOURS.length]!, swatch: 'line' }));
  // The configured threshold's point on each curve; a FAR of 0 (no impostor above it) sits on the axis's left end.
  const marks: Shape[] = (data.configured?.points ?? []).flatMap((pt, i) => {
    if (!Number.isFinite(pt.tar) || pt.tar < y.lo) return [];
    const px = toPx(x, Math.max(x.lo, Math.min(1, pt.far)));
    const py = toPx(y, pt.tar);
    return [{ kind: 'rect', x: px - 4, y: py - 4, w: 8, h: 8, fill: ROC_COLOURS[i % ROC_COLOURS.length]!, opacity: 1, stroke: INK } satisfies Shape];
  });
  const onEdge = (data.configured?.points ?? []).some((pt) => pt.far < x.lo);
  if (marks.length > 0) entries.push({ label: `${data.configured!.label}${onEdge ? ` (FAR < ${x.lo.toExponential(0)}: at the left edge)` : ''}`, colour: INK, swatch: 'box' });
  // A useful ROC on a log FAR axis hugs the top of the panel, which leaves the lower right empty.
  const size = entries.length ? legendSize(entries) : undefined;
  const legend = size ? legendShapes(entries, p.right - INSET - size.w, p.bottom - INSET - size.h) : [];
  return [
    { id: 'roc-axes', shapes: axesShapes(p, x, y, logTicks(x.lo, x.hi), linearTicks(y.lo, 1), { title: 'ROC', x: 'FAR (false accept rate)', y: 'TAR (true accept rate)' }) },
    { id: 'roc-curves', shapes: curves },
    { id: 'roc-threshold', shapes: marks },
    { id: 'roc-legend', shapes: legend },
  ];
}

function histogramGroups(data: VerificationPlotData, p: Panel): Scene['groups'] {
  // A threshold no score reaches (e.g. for a FAR below 1 / impostors) has no place on the axis.
  const thresholds = (data.thresholds ?? []).filter((t) => Number.isFinite(t.value));
  const configured = data.configured && Number.isFinite(data.configured.value) ? data.configured : undefined;
  // A threshold line on the frame would be lost, so each gets some room on either side.
  const [lo, hi] = scoreRange([...data.genuine, ...data.impostor, ...[...thresholds, ...(configured ? [configured] : [])].flatMap((t) => [t.value - 0.05, t.value + 0.05])]);
  const sets = [
    { name: 'impostor', values: data.impostor, colour: IMPOSTOR_COLOUR },
    { name: 'genuine', values: data.genuine, colour: GENUINE_COLOUR },
  ]
    .map((s) => ({ ...s, values: s.values.filter(Number.isFinite) }))
    .filter((s) => s.values.length > 0);
  const densities = sets.map((s) => density(s.values, lo, hi, HISTOGRAM_BINS));
  const x: Axis = { lo, hi, log: false, px0: p.left, px1: p.right };
  const binWidth = (hi - lo) / HISTOGRAM_BINS;
  const binPx = (i: number): [number, number] => [toPx(x, lo + i * binWidth), toPx(x, lo + (i + 1) * binWidth)];

  const entries: LegendEntry[] = [
    ...sets.map((s): LegendEntry => ({ label: `${s.name} (n=${s.values.length.toLocaleString('en-US')})`, colour: s.colour, swatch: 'box' })).reverse(),
    ...thresholds.map((t, i): LegendEntry => ({ label: t.label, colour: INK, swatch: 'line', dash: thresholdDash(i) })),
    ...(configured ? [{ label: configured.label, colour: CONFIGURED_COLOUR, swatch: 'line' } satisfies LegendEntry] : []),
  ];
  const binPeaks = Array.from({ length: HISTOGRAM_BINS }, (_, i) => Math.max(0, ...densities.map((d) => d[i]!)));
  const { legendX, yMax } = placeLegend(entries, binPeaks.map((d, i) => ({ span: binPx(i), value: d })), p);
  const yStep = niceStep(yMax, 5);
  const y: Axis = { lo: 0, hi: Math.ceil(yMax / yStep - 1e-9) * yStep, log: false, px0: p.bottom, px1: p.top };

  const histograms: Shape[] = sets.map((s, k) => ({
    kind: 'bars',
    baseline: p.bottom,
    bars: trimEmpty(densities[k]!).map(({ value, index }) => {
      const [x0, x1] = binPx(index);
      return { x0, x1, top: toPx(y, value) };
    }),
    fill: s.colour,
    opacity: 0.35,
    outline: s.colour,
  }));
  const marks: Shape[] = thresholds.map((t, i) => {
    const px = toPx(x, t.value);
    return { kind: 'line', from: [px, p.top], to: [px, p.bottom], colour: INK, width: 1.5, dash: thresholdDash(i) };
  });
  if (configured) {
    const px = toPx(x, configured.value);
    marks.push({ kind: 'line', from: [px, p.top], to: [px, p.bottom], colour: CONFIGURED_COLOUR, width: 2 });
  }

  return [
    { id: 'histogram-axes', shapes: axesShapes(p, x, y, linearTicks(lo, hi, 6), linearTicks(y.lo, y.hi), { title: 'Score distributions', x: 'cosine similarity', y: 'density' }) },
    { id: 'histograms', shapes: histograms },
    { id: 'thresholds', shapes: marks },
    { id: 'histogram-legend', shapes: entries.length ? legendShapes(entries, legendX, p.top + INSET) : [] },
  ];
}

function thresholdDash(i: number): readonly number[] {
  return THRESHOLD_DASHES[i % THRESHOLD_DASHES.length]!;
}

/** Bins from the first to the last non-empty one: empty ends would draw a line along the axis. */
function trimEmpty(values: number[]): { value: number; index: number }[] {
  const nonEmpty = values.flatMap((value, index) => (value > 0 ? [index] : []));
  const first = nonEmpty[0];
  const last = nonEmpty[nonEmpty.length - 1];
  if (first === undefined || last === undefined) return [];
  return values.slice(first, last + 1).map((value, k) => ({ value, index: first + k }));
}

/**
 * The legend goes in the top right or top left corner, whichever needs less headroom above the
 * bars beneath it (top right on a tie); the y axis then gets that headroom so nothing is hidden.
 */
function placeLegend(entries: LegendEntry[], bins: { span: [number, number]; value: number }[], p: Panel): { legendX: number; yMax: number } {
  const peak = Math.max(0, ...bins.map((b) => b.value));
  const base = peak > 0 ? peak * 1.08 : 1;
  if (entries.length === 0) return { legendX: p.right, yMax: base };
  const { w, h } = legendSize(entries);
  const plotH = p.bottom - p.top;
  // Bars under the legend must stay below its bottom edge, with a little air; a legend of many
  // thresholds may cover them rather than squash the histograms flat.
  const free = Math.max(0.3, (plotH - INSET - h - 8) / plotH);
  const options = [p.right - INSET - w, p.left + INSET].map((legendX) => {
    const under = Math.max(0, ...bins.filter((b) => b.span[1] > legendX && b.span[0] < legendX + w).map((b) => b.value));
    return { legendX, yMax: Math.max(base, under / free) };
  });
  return options[1]!.yMax < options[0]!.yMax ? options[1]! : options[0]!;
}

export function verificationScene(data: VerificationPlotData): Scene {
  // Long titles (a file path and the models) shrink to fit the width rather than run off it.
  const titleSize = Math.min(20, (WIDTH - 40) / textWidth(data.title, 1));
  const title: Shape = { kind: 'text', at: [WIDTH / 2, 34], text: data.title, size: titleSize, colour: INK, anchor: 'middle', bold: true };
  return {
    width: WIDTH,
    height: HEIGHT,
    background: WHITE,
    groups: [{ id: 'title', shapes: [title] }, ...rocGroups(data, panelArea(0)), ...histogramGroups(data, panelArea(1))],
  };
}

/** Closed outline of a row of bars standing on the baseline: one polygon instead of many rectangles. */
export function barsOutline(bars: Bar[], baseline: number): Pt[] {
  const first = bars[0];
  if (!first) return [];
  const pts: Pt[] = [[first.x0, baseline]];
  for (const b of bars) pts.push([b.x0, b.top], [b.x1, b.top]);
  pts.push([bars[bars.length - 1]!.x1, baseline]);
  return pts;
}

// ---------------------------------------------------------------------------------------------
// SVG back-end

function num(v: number): string {
  return String(Math.round(v * 10) / 10);
}

function hex([r, g, b]: Rgb): string {
  return `#${[r, g, b].map((c) => c.toString(16).padStart(2, '0')).join('')}`;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&${{ '<': 'lt', '>': 'gt', '&': 'amp', '"': 'quot', "'": 'apos' }[c]};`);
}

function points(pts: readonly Pt[]): string {
  return pts.map(([x, y]) => `${num(x)},${num(y)}`).join(' ');
}

function svgShape(s: Shape): string {
  switch (s.kind) {
    case 'line':
      return `<line x1="${num(s.from[0])}" y1="${num(s.from[1])}" x2="${num(s.to[0])}" y2="${num(s.to[1])}" stroke="${hex(s.colour)}" stroke-width="${s.width}"${s.dash ? ` stroke-dasharray="${s.dash.join(' ')}"` : ''}/>`;
    case 'polyline': {
      const title = s.title ? `<title>${escapeXml(s.title)}</title>` : '';
      return `<polyline points="${points(s.points)}" fill="none" stroke="${hex(s.colour)}" stroke-width="${s.width}" stroke-linejoin="round">${title}</polyline>`;
    }
    case 'rect': {
      const fill = s.fill ? `fill="${hex(s.fill)}"${s.opacity !== undefined ? ` fill-opacity="${s.opacity}"` : ''}` : 'fill="none"';
      return `<rect x="${num(s.x)}" y="${num(s.y)}" width="${num(s.w)}" height="${num(s.h)}" ${fill}${s.stroke ? ` stroke="${hex(s.stroke)}"` : ''}/>`;
    }
    case 'bars':
      return `<polygon points="${points(barsOutline(s.bars, s.baseline))}" fill="${hex(s.fill)}" fill-opacity="${s.opacity}" stroke="${hex(s.outline)}" stroke-width="${BARS_OUTLINE_WIDTH}"/>`;
    case 'text': {
      const anchor = s.anchor === 'start' ? '' : ` text-anchor="${s.anchor}"`;
      const weight = s.bold ? ' font-weight="bold"' : '';
      const rotate = s.vertical ? ` transform="rotate(-90 ${num(s.at[0])} ${num(s.at[1])})"` : '';
      return `<text x="${num(s.at[0])}" y="${num(s.at[1])}" font-size="${s.size}" fill="${hex(s.colour)}"${anchor}${weight}${rotate}>${escapeXml(s.text)}</text>`;
    }
  }
}

export function renderSvg(scene: Scene): string {
  const lines = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${scene.width}" height="${scene.height}" viewBox="0 0 ${scene.width} ${scene.height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`,
    `  <rect width="100%" height="100%" fill="${hex(scene.background)}"/>`,
  ];
  for (const g of scene.groups) {
    if (g.shapes.length === 0) continue;
    lines.push(`  <g id="${g.id}">`, ...g.shapes.map((s) => `    ${svgShape(s)}`), '  </g>');
  }
  lines.push('</svg>', '');
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// OpenCV back-end (draws RGB; the caller converts to BGR for imwrite)

/** Fractional bits for OpenCV's sub-pixel drawing. */
const SHIFT = 4;
const FONT = cv.FONT_HERSHEY_SIMPLEX;
/** Drawn at this multiple of the scene size and shrunk: smoother lines and text than OpenCV's own anti-aliasing. */
const SUPERSAMPLE = 2;

type Point2 = InstanceType<typeof cv.Point2>;

/** Scene coordinates put pixel centres at .5, OpenCV at integers. */
function cvPt([x, y]: Pt): Point2 {
  return new cv.Point2(Math.round((x * SUPERSAMPLE - 0.5) * 2 ** SHIFT), Math.round((y * SUPERSAMPLE - 0.5) * 2 ** SHIFT));
}

function vec([r, g, b]: Rgb): InstanceType<typeof cv.Vec3> {
  return new cv.Vec3(r, g, b);
}

function thickness(width: number): number {
  return Math.max(1, Math.round(width * SUPERSAMPLE));
}

/** Hershey simplex is 22 px tall at scale 1; this matches its cap height to a sans-serif font of `size` px. */
function fontScale(size: number): number {
  return (size * SUPERSAMPLE) / 30;
}

/** A line cut into the on/off lengths of an SVG dash array. */
export function dashes(from: Pt, to: Pt, pattern: readonly number[]): [Pt, Pt][] {
  const len = Math.hypot(to[0] - from[0], to[1] - from[1]);
  const period = pattern.reduce((a, b) => a + b, 0);
  if (len === 0 || period <= 0) return [[from, to]];
  const at = (d: number): Pt => [from[0] + ((to[0] - from[0]) * d) / len, from[1] + ((to[1] - from[1]) * d) / len];
  const out: [Pt, Pt][] = [];
  for (let d = 0, i = 0; d < len; d += pattern[i % pattern.length]!, i++) {
    if (i % 2 === 0) out.push([at(d), at(Math.min(len, d + pattern[i % pattern.length]!))]);
  }
  return out;
}

/** Draws into a copy and blends it back: OpenCV has no alpha for fills. */
function blend(img: Mat, opacity: number, draw: (layer: Mat) => void): void {
  const layer = img.copy();
  draw(layer);
  layer.addWeighted(opacity, img, 1 - opacity, 0).copyTo(img);
}

function drawText(img: Mat, s: Extract<Shape, { kind: 'text' }>): void {
  const scale = fontScale(s.size);
  const weight = thickness(s.bold ? 1.6 : 1);
  const { size, baseLine } = cv.getTextSize(s.text, FONT, scale, weight);
  const offset = s.anchor === 'start' ? 0 : s.anchor === 'middle' ? size.width / 2 : size.width;
  const ax = Math.round(s.at[0] * SUPERSAMPLE);
  const ay = Math.round(s.at[1] * SUPERSAMPLE);
  if (!s.vertical) {
    img.putText(s.text, new cv.Point2(Math.round(ax - offset), ay), FONT, scale, vec(s.colour), weight, cv.LINE_AA);
    return;
  }
  // putText cannot rotate: turn the patch under the text upright, write on it, turn it back.
  const x = Math.max(0, ax - size.height);
  const y = Math.max(0, Math.round(ay - size.width + offset));
  const rect = new cv.Rect(x, y, Math.min(size.height + baseLine, img.cols - x), Math.min(size.width, img.rows - y));
  const region = img.getRegion(rect);
  const upright = region.rotate(cv.ROTATE_90_CLOCKWISE);
  upright.putText(s.text, new cv.Point2(0, size.height), FONT, scale, vec(s.colour), weight, cv.LINE_AA);
  upright.rotate(cv.ROTATE_90_COUNTERCLOCKWISE).copyTo(region);
}

function drawShape(img: Mat, s: Shape): void {
  const aa = cv.LINE_AA;
  switch (s.kind) {
    case 'line':
      for (const [a, b] of s.dash ? dashes(s.from, s.to, s.dash) : [[s.from, s.to] as [Pt, Pt]]) {
        img.drawLine(cvPt(a), cvPt(b), vec(s.colour), thickness(s.width), aa, SHIFT);
      }
      return;
    case 'polyline':
      if (s.points.length > 1) img.drawPolylines([s.points.map(cvPt)], false, vec(s.colour), thickness(s.width), aa, SHIFT);
      return;
    case 'rect': {
      const corners = ([[s.x, s.y], [s.x + s.w, s.y], [s.x + s.w, s.y + s.h], [s.x, s.y + s.h]] as Pt[]).map(cvPt);
      const { fill } = s;
      if (fill) blend(img, s.opacity ?? 1, (layer) => layer.drawFillPoly([corners], vec(fill), aa, SHIFT));
      if (s.stroke) img.drawPolylines([corners], true, vec(s.stroke), thickness(1), aa, SHIFT);
      return;
    }
    case 'bars': {
      const outline = barsOutline(s.bars, s.baseline).map(cvPt);
      if (outline.length === 0) return;
      blend(img, s.opacity, (layer) => layer.drawFillPoly([outline], vec(s.fill), aa, SHIFT));
      img.drawPolylines([outline], true, vec(s.outline), thickness(BARS_OUTLINE_WIDTH), aa, SHIFT);
      return;
    }
    case 'text':
      drawText(img, s);
  }
}

/** The scene as an 8-bit RGB image of scene.width x scene.height. */
export function rasterise(scene: Scene): Mat {
  // setTo, not the Mat constructor's fill value: the binding fills that pixel by pixel in JS (~1 s here).
  const img = new cv.Mat(scene.height * SUPERSAMPLE, scene.width * SUPERSAMPLE, cv.CV_8UC3).setTo(vec(scene.background));
  for (const g of scene.groups) for (const s of g.shapes) drawShape(img, s);
  return img.resize(scene.height, scene.width, 0, 0, cv.INTER_AREA);
}

import { Option, type Command } from 'commander';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import {
  DEFAULT_IOU_THRESHOLD,
  boxFromXywh,
  chooseRoot,
  detectionTotals,
  matchImage,
  parseGroundTruth,
  type Box,
  type DetectionTotals,
  type GroundTruth,
  type ImageMatch,
  type MatchRule,
  type ScoredBox,
} from '../../eval/detection-eval.js';
import { loadDetector } from '../../vision/face-pipeline.js';
import { errorReason, loadImage } from '../../vision/image.js';
import type { FaceDetector } from '../../vision/detection/face-detector.js';
import { CliError, fmt, info, onFile, printJson } from '../output.js';
import { addPipelineOptions, cliModels, type PipelineCliOptions } from './pipeline-options.js';

interface EvalDetectOptions extends PipelineCliOptions {
  boxes?: string;
  root?: string;
  match: 'centre' | 'iou';
  iou?: string;
  negatives?: string;
  json?: boolean;
}

interface BoxesImageResult {
  file: string;
  error?: string;
  gt?: number;
  detections?: number;
  matched?: number;
  missed?: number;
  falsePositives?: number;
  /** The hand-drawn boxes nobody found and the detections that matched nothing, for a closer look. */
  missedBoxes?: Box[];
  falsePositiveBoxes?: ScoredBox[];
}

interface NegativeImageResult {
  file: string;
  error?: string;
  faces?: ScoredBox[];
}

const IMAGE_EXTENSIONS = /\.(jpe?g|png|bmp|webp|tiff?)$/i;

export function registerEvalDetectCommand(program: Command): void {
  addPipelineOptions(
    program
      .command('eval-detect')
      .description('score the detector against hand-drawn face boxes (recall, precision) and count detections on photos without faces')
      .option('--boxes <file>', 'ground-truth JSON: { images: [{ file, width, height, boxes_xywh: [{ x, y, w, h }] }] }')
      .option('--root <dir>', 'folder the image paths in --boxes are relative to (default: the file\'s folder or its parent, whichever resolves them)')
      .addOption(new Option('--match <rule>', 'centre: box centres agree (for tight hand-drawn boxes); iou: overlap of at least --iou').choices(['centre', 'iou']).default('centre'))
      .option('--iou <t>', `IoU threshold for --match iou (default ${DEFAULT_IOU_THRESHOLD})`)
      .option('--negatives <dir>', 'also run on every image in this folder (photos without real faces) and count what is found')
      .option('--json', 'print JSON'),
  ).action(async (o: EvalDetectOptions) => {
    if (!o.boxes && !o.negatives) throw new CliError('give --boxes FILE, --negatives DIR, or both');
    const rule = matchRuleFrom(o);
    // Read the inputs before loading models, so a typo fails at once.
    const truth = o.boxes ? onFile(o.boxes, () => readGroundTruth(o.boxes!, o.root)) : undefined;
    const negatives = o.negatives ? listImages(o.negatives) : undefined;

    const { pipeline } = cliModels(o, { quiet: o.json === true });
    const { detector, provider } = await loadDetector(pipeline);
    if (!o.json) info(`detector: MTCNN ${pipeline.precision}, provider ${provider}`);
    const report: Record<string, unknown> = { detector: { precision: pipeline.precision, provider, minSize: detector.options.minSize, thresholds: detector.options.thresholds } };
    let failed = false;

    if (truth) {
      const { images, totals, errors } = await evaluateBoxes(detector, truth.data, truth.root, rule);
      failed ||= errors > 0;
      report.boxes = { file: truth.file, root: truth.root, match: rule, images, totals, errors };
      if (!o.json) printBoxes(truth.file, truth.root, rule, images, totals, errors);
    }
    if (negatives) {
      const images = await scanNegatives(detector, negatives.files);
      const ok = images.filter((r) => r.faces);
      failed ||= ok.length < images.length;
      const totals = { images: ok.length, imagesWithFaces: ok.filter((r) => r.faces!.length > 0).length, faces: ok.reduce((n, r) => n + r.faces!.length, 0), errors: images.length - ok.length };
      report.negatives = { dir: negatives.dir, images, totals };
      if (!o.json) printNegatives(negatives.dir, images, totals);
    }
    if (o.json) printJson(report);
    if (failed) process.exitCode = 1;
  });
}

function matchRuleFrom(o: EvalDetectOptions): MatchRule {
  if (o.match === 'centre') {
    if (o.iou !== undefined) throw new CliError('--iou applies to --match iou only');
    return { kind: 'centre' };
  }
  const threshold = Number(o.iou ?? DEFAULT_IOU_THRESHOLD);
  if (!(threshold > 0 && threshold <= 1)) throw new CliError(`--iou must be a number in (0, 1], got "${o.iou}"`);
  return { kind: 'iou', threshold };
}

function readGroundTruth(file: string, root: string | undefined): { file: string; data: GroundTruth; root: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`--boxes ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message}`);
  }
  let data: GroundTruth;
  try {
    data = parseGroundTruth(text, file);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  // Paths in the file may be relative to its own folder or, as in ../shared/faces, to the folder above.
  const candidates = [dirname(resolve(file)), dirname(dirname(resolve(file)))];
  const files = data.images.map((i) => i.file);
  return { file, data, root: root ?? chooseRoot(candidates, files, (r, f) => existsSync(resolve(r, f))) };
}

function listImages(dir: string): { dir: string; files: string[] } {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw new CliError(`--negatives ${dir}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'folder not found' : (err as Error).message}`);
  }
  const files = names.filter((n) => IMAGE_EXTENSIONS.test(n)).sort().map((n) => join(dir, n)).filter((f) => statSync(f).isFile());
  if (files.length === 0) throw new CliError(`--negatives ${dir}: no .jpg, .png, .bmp, .webp or .tif images`);
  return { dir, files };
}

async function detectBoxes(detector: FaceDetector, path: string): Promise<{ faces: ScoredBox[]; width: number; height: number }> {
  const img = loadImage(path);
  const { faces } = await detector.detect(img.mat);
  return { faces: faces.map((f) => ({ box: boxFromXywh(f.box), score: f.score })), width: img.width, height: img.height };
}

async function evaluateBoxes(detector: FaceDetector, truth: GroundTruth, root: string, rule: MatchRule): Promise<{ images: BoxesImageResult[]; totals: DetectionTotals; errors: number }> {
  const images: BoxesImageResult[] = [];
  const matched: ImageMatch[] = [];
  for (const entry of truth.images) {
    try {
      const { faces, width, height } = await detectBoxes(detector, resolve(root, entry.file));
      // Boxes drawn on a different size of the photo would be scored against the wrong pixels.
      if ((entry.width !== undefined && entry.width !== width) || (entry.height !== undefined && entry.height !== height)) {
        throw new Error(`image is ${width}x${height}, the boxes were drawn on ${entry.width}x${entry.height}`);
      }
      const gt = entry.boxes_xywh;
      const m = matchImage(gt, faces, rule);
      matched.push(m);
      images.push({
        file: entry.file,
        gt: gt.length,
        detections: faces.length,
        matched: m.matches.length,
        missed: m.missed.length,
        falsePositives: m.falsePositives.length,
        missedBoxes: m.missed.map((i) => gt[i]!),
        falsePositiveBoxes: m.falsePositives.map((i) => faces[i]!),
      });
    } catch (err) {
      images.push({ file: entry.file, error: errorReason(err) });
    }
  }
  return { images, totals: detectionTotals(matched), errors: images.length - matched.length };
}

async function scanNegatives(detector: FaceDetector, files: string[]): Promise<NegativeImageResult[]> {
  const out: NegativeImageResult[] = [];
  for (const file of files) {
    try {
      out.push({ file, faces: (await detectBoxes(detector, file)).faces });
    } catch (err) {
      out.push({ file, error: errorReason(err) });
    }
  }
  return out;
}

function ratio(v: number | null): string {
  return v === null ? 'n/a' : fmt(v, 3);
}

function describeRule(rule: MatchRule): string {
  return rule.kind === 'iou' ? `IoU >= ${rule.threshold}` : 'centre (box centre inside the detection, detection centre inside the box grown 1.5x)';
}

function printBoxes(file: string, root: string, rule: MatchRule, images: BoxesImageResult[], t: DetectionTotals, errors: number): void {
  console.log(`boxes: ${file} (images under ${root}), match: ${describeRule(rule)}`);
  const width = Math.max(4, ...images.map((r) => r.file.length));
  console.log(`${'file'.padEnd(width)}  ${['GT', 'det', 'match', 'miss', 'FP'].map((h) => h.padStart(5)).join(' ')}`);
  for (const r of images) {
    if (r.error) console.log(`${r.file.padEnd(width)}  error: ${r.error}`);
    else console.log(`${r.file.padEnd(width)}  ${[r.gt, r.detections, r.matched, r.missed, r.falsePositives].map((v) => String(v).padStart(5)).join(' ')}`);
  }
  console.log(`total: ${t.images} image${t.images === 1 ? '' : 's'}, ${t.gt} faces, ${t.detections} detections, ${t.matched} matched, ${t.missed} missed, ${t.falsePositives} false positive${t.falsePositives === 1 ? '' : 's'}`);
  console.log(`recall ${ratio(t.recall)}  precision ${ratio(t.precision)}  mean IoU of matches ${ratio(t.meanIou)}`);
  if (errors) console.log(`${errors} image${errors === 1 ? ' is' : 's are'} left out of the totals (errors above)`);
}

function printNegatives(dir: string, images: NegativeImageResult[], t: { images: number; imagesWithFaces: number; faces: number; errors: number }): void {
  console.log(`negatives: ${dir} (no real faces: every detection is a false positive)`);
  for (const r of images) {
    if (r.error) console.log(`  ${r.file}: error: ${r.error}`);
    else {
      const scores = r.faces!.map((f) => fmt(f.score, 3)).join(', ');
      console.log(`  ${r.file}: ${r.faces!.length} face${r.faces!.length === 1 ? '' : 's'}${scores ? ` (scores ${scores})` : ''}`);
    }
  }
  console.log(`total: ${t.faces} false positive${t.faces === 1 ? '' : 's'} in ${t.imagesWithFaces} of ${t.images} images${t.errors ? `; ${t.errors} left out (errors above)` : ''}`);
}

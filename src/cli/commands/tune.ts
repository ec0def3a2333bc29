import { Option, type Command } from 'commander';
import { join } from 'node:path';
import { CACHE_DIR } from '../../paths.js';
import { describePresets, DEGRADE_PRESETS } from '../../tuning/degrade.js';
import { tune, type TuneReport } from '../../tuning/tune.js';
import type { VerificationMetrics } from '../../eval/verification.js';
import { info, printJson } from '../output.js';
import { formatMatrix } from './compare.js';
import { addPipelineOptions, pipelineOptionsFrom, type PipelineCliOptions } from './pipeline-options.js';

interface TuneCliOptions extends PipelineCliOptions {
  data: string;
  out: string;
  degrade?: string;
  seed: string;
  heldOut: string;
  validation: string;
  alpha: string;
  imagesPerPerson: string;
  peoplePerBatch: string;
  batchSize: string;
  epochSize: string;
  maxEpochs: string;
  patience: string;
  lr: string;
  weightDecay: string;
  augment: string;
  mining: 'semi-hard' | 'semi-hard+hard';
  matrix?: string[];
  cacheDir: string;
  json?: boolean;
}

function number(name: string, v: string, check: (n: number) => boolean, what: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || !check(n)) throw new Error(`--${name} must be ${what}, got "${v}"`);
  return n;
}

const positiveInt = (name: string, v: string) => number(name, v, (n) => Number.isInteger(n) && n > 0, 'a positive whole number');
const fraction = (name: string, v: string) => number(name, v, (n) => n > 0 && n < 1, 'between 0 and 1');
const nonNegative = (name: string, v: string) => number(name, v, (n) => n >= 0, 'zero or more');

export function registerTuneCommand(program: Command): void {
  addPipelineOptions(
    program
      .command('tune')
      .description(
        'fine-tune the embedder\'s final projection with triplet loss on DIR/<person>/*.jpg; people are split into training and held-out sets, ' +
          'and the report compares base and tuned on the held-out people. Writes models/tuned/NAME.onnx, its manifest entry, NAME.loss.png and NAME.report.json. ' +
          '`facegate models use NAME` deploys it only if it beat its parent there.',
      )
      .requiredOption('--data <dir>', 'photos in the FaceDataSet layout: DIR/<person>/*.jpg')
      .requiredOption('--out <name>', 'id of the new model (lower-case letters, digits, . _ -)')
      .addOption(new Option('--degrade <preset>', `degrade aligned crops like a night-time door camera: ${describePresets()}`).choices(DEGRADE_PRESETS.map((p) => p.name)))
      .option('--seed <n>', 'seed for the split, the degradation noise and the batches: same data and seed, same model bytes', '1')
      .option('--held-out <fraction>', 'share of people held out for the base-vs-tuned comparison', '0.3')
      .option('--validation <fraction>', 'share of the training people used to pick the epoch (early stopping)', '0.25')
      .option('--alpha <margin>', 'triplet loss margin', '0.2')
      .option('--images-per-person <n>', 'photos per person in each sample', '40')
      .option('--people-per-batch <n>', 'people per sample', '45')
      .option('--batch-size <n>', 'images per training batch (batch-size / 3 triplets)', '90')
      .option('--epoch-size <n>', 'training batches per epoch', '500')
      .option('--max-epochs <n>', 'most epochs to train', '20')
      .option('--patience <n>', 'stop after this many epochs without a better validation EER', '3')
      .option('--lr <rate>', 'Adam learning rate (small: only a few dozen people pull on a layer trained on millions of faces)', '0.00001')
      .option('--weight-decay <lambda>', 'L2 pull toward the pretrained weights (not toward zero)', '0.1')
      .option('--augment <n>', 'degraded variants per photo to train on (mirror images and fresh noise)', '4')
      .addOption(new Option('--mining <kind>', 'negatives: semi-hard only (FaceNet), or semi-hard else the mildest hard one').choices(['semi-hard', 'semi-hard+hard']).default('semi-hard+hard'))
      .option('--matrix <images...>', 'also print the distance matrices of these images, base and tuned (degraded like the data)')
      .option('--cache-dir <dir>', 'where aligned crops and features are cached', join(CACHE_DIR, 'tune'))
      .option('--json', 'print JSON'),
  ).action(async (o: TuneCliOptions) => {
    const report = await tune({
      dataDir: o.data,
      outName: o.out,
      pipeline: pipelineOptionsFrom(o),
      ...(o.degrade ? { degrade: o.degrade } : {}),
      seed: number('seed', o.seed, (n) => Number.isInteger(n) && n >= 0, 'a whole number'),
      heldOut: fraction('held-out', o.heldOut),
      validation: number('validation', o.validation, (n) => n >= 0 && n < 1, 'at least 0 and below 1'),
      augment: positiveInt('augment', o.augment),
      train: {
        alpha: number('alpha', o.alpha, (n) => n > 0, 'positive'),
        imagesPerPerson: positiveInt('images-per-person', o.imagesPerPerson),
        peoplePerBatch: positiveInt('people-per-batch', o.peoplePerBatch),
        batchSize: number('batch-size', o.batchSize, (n) => Number.isInteger(n) && n >= 3, 'a whole number of at least 3'),
        epochSize: positiveInt('epoch-size', o.epochSize),
        maxEpochs: positiveInt('max-epochs', o.maxEpochs),
        patience: positiveInt('patience', o.patience),
        learningRate: number('lr', o.lr, (n) => n > 0, 'positive'),
        weightDecay: nonNegative('weight-decay', o.weightDecay),
        fallback: o.mining === 'semi-hard' ? 'skip' : 'mildest-hard',
      },
      matrix: o.matrix ?? [],
      cacheDir: o.cacheDir,
      progress: process.stderr.isTTY,
      log: info,
    });
    if (o.json) printJson(report);
    else printTuneReport(report);
  });
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

function metricsRow(label: string, m: VerificationMetrics): string {
  const at = (t: number) => m.atFar.find((a) => a.target === t)!;
  return `  ${label.padEnd(6)} ${m.auc.toFixed(5).padStart(8)}  ${pct(m.eer).padStart(7)}  ${pct(at(1e-2).tar).padStart(10)}  ${pct(at(1e-3).tar).padStart(10)}${at(1e-3).resolvable ? '' : ' (not resolvable)'}`;
}

function printTuneReport(r: TuneReport): void {
  console.log(`model ${r.model.id}: ${r.model.file} (sha256 ${r.model.sha256.slice(0, 16)}), tuned from ${r.model.parent}`);
  console.log(`data: ${r.data.dir}: ${r.data.photos} photos, ${r.data.usablePhotos} usable; fingerprint ${r.data.fingerprint.slice(0, 16)}`);
  console.log(`split by person (seed ${r.seed}): ${r.split.train.length} train, ${r.split.validation.length} validation, ${r.split.heldOut.length} held out`);
  console.log(`  held out: ${r.split.heldOut.join(', ')}`);
  console.log(`domain: ${r.degrade ?? 'clean photos'}; features ${r.features.dim}-d at the input of ${r.features.layer}${r.features.cached ? ' (cached)' : ''}`);
  const t = r.training;
  const kept = t.bestEpoch === 0 ? 'kept the pretrained weights (no epoch beat them on validation)' : `kept epoch ${t.bestEpoch}`;
  console.log(`training: ${t.epochs.length} epochs, ${t.batches} batches${t.stoppedEarly ? ' (stopped early)' : ''}; ${kept}`);
  console.log('  epoch  loss     active  validation EER');
  if (t.baseline) console.log(`  ${'0'.padStart(5)}  ${'-'.padEnd(7)}  ${'-'.padStart(6)}  ${pct(t.baseline.eer)} (pretrained)`);
  for (const e of t.epochs) {
    console.log(`  ${String(e.epoch).padStart(5)}  ${e.loss.toFixed(4).padEnd(7)}  ${`${(e.active * 100).toFixed(1)}%`.padStart(6)}  ${e.validation ? pct(e.validation.eer) : '-'}${e.epoch === t.bestEpoch ? ' (kept)' : ''}`);
  }
  const h = r.heldOut;
  console.log(`held out: ${h.people} people, ${h.photos} photos, ${h.base.genuine} genuine / ${h.base.impostor} impostor pairs${r.degrade ? ` (${r.degrade})` : ''}`);
  console.log('         ROC AUC      EER  TAR@FAR1e-2  TAR@FAR1e-3');
  console.log(metricsRow('base', h.base));
  console.log(metricsRow('tuned', h.tuned));
  console.log(r.deployment.ok ? `deployable: better than ${r.model.parent} on the held-out people (facegate models use ${r.model.id})` : `NOT deployable: ${r.deployment.reasons.join('; ')}; \`facegate models use ${r.model.id}\` will refuse it`);
  console.log(`loss curve: ${r.lossCurve}`);
  console.log(`report: ${r.reportFile}`);
  if (r.matrix) {
    console.log('');
    console.log('Images:');
    r.matrix.images.forEach((f, i) => console.log(`${i}: ${f}`));
    console.log('');
    console.log(formatMatrix(`Distance matrix (base ${r.model.parent})`, r.matrix.base));
    console.log('');
    console.log(formatMatrix(`Distance matrix (tuned ${r.model.id})`, r.matrix.tuned));
    for (const s of r.matrix.skipped) console.log(`skipped ${s.source}: ${s.reason}`);
  }
  if (r.data.skipped.length > 0) {
    console.log(`skipped ${r.data.skipped.length}:`);
    for (const s of r.data.skipped) console.log(`  ${s.source}: ${s.reason}`);
  }
}

// `facegate eval-liveness`: ISO/IEC 30107-3 measures of the presentation-attack check on labelled
// live and attack photos, either with a fusion file (as the daemon would score) or held out by
// cross-validation on the set itself (`--cv source|group`: every photo scored by a fusion trained
// without its source or group), or one raw cue.
import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { livenessReport, type LivenessReport, type ScoredSample } from '../../eval/liveness-metrics.js';
import { writeLivenessPlot } from '../../eval/liveness-plot.js';
import { LIVENESS_CUES } from '../../config/schema.js';
import { crossValidatedScores, fuse, type FusionModel } from '../../liveness/fusion.js';
import { cuesOfImages, type ImageCues } from '../../liveness/image-cues.js';
import { loadDtnScorer, readFusionModel } from '../../liveness/load-liveness.js';
import { DtnPassiveScorer, TexturePassiveScorer, type PassiveScorer } from '../../liveness/passive-scorers.js';
import { readSpoofFolders, readSpoofManifest, type SpoofSample } from '../../liveness/spoof-set.js';
import { loadDetector } from '../../vision/face-pipeline.js';
import { CliError, fmt, info, printJson } from '../output.js';
import { addPipelineOptions, cliModels, type CliModels, type PipelineCliOptions } from './pipeline-options.js';

export interface SpoofSetCliOptions extends PipelineCliOptions {
  live?: string;
  spoof?: string;
  manifest?: string;
}

export function addSpoofSetOptions(cmd: Command): Command {
  return addPipelineOptions(
    cmd
      .option('--live <dir>', 'folder of live captures (real faces in front of the camera)')
      .option('--spoof <dir>', 'folder of attack captures (prints, screens)')
      .option('--manifest <file>', 'TSV with columns file, label (live|spoof), attack_type (as ../shared/spoof/MANIFEST.tsv)'),
  );
}

export function readSpoofSet(o: SpoofSetCliOptions): SpoofSample[] {
  try {
    if (o.manifest) {
      if (o.live || o.spoof) throw new CliError('give either --manifest or --live and --spoof, not both');
      return readSpoofManifest(o.manifest);
    }
    if (!o.live || !o.spoof) throw new CliError('give --live DIR and --spoof DIR, or --manifest FILE');
    return readSpoofFolders(o.live, o.spoof);
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError((err as Error).message);
  }
}

/** Passive cues of the primary face of every photo; the DTN is loaded only when a cue needs it. */
export async function computeCues(models: CliModels, samples: SpoofSample[], cues: readonly string[]): Promise<ImageCues[]> {
  const { pipeline } = models;
  const { detector } = await loadDetector(pipeline);
  const scorers: PassiveScorer[] = [new TexturePassiveScorer()];
  const modelId = models.loaded.config.liveness.modelId;
  const dtn = cues.includes('dtn') ? await loadDtnScorer({ modelsDir: pipeline.modelsDir, modelId, providers: pipeline.providers, threads: pipeline.threads, log: info }) : undefined;
  if (dtn) scorers.unshift(new DtnPassiveScorer(dtn));
  try {
    return await cuesOfImages(samples, detector, scorers, (done, total) => {
      if (done % 50 === 0 || done === total) info(`liveness: ${done}/${total} photos`);
    });
  } finally {
    await dtn?.release();
    await detector.release();
  }
}

export function parseCueList(text: string): string[] {
  const cues = text.split(',').map((c) => c.trim()).filter(Boolean);
  const bad = cues.filter((c) => !(LIVENESS_CUES as readonly string[]).includes(c));
  if (cues.length === 0 || bad.length > 0) throw new CliError(`unknown cue(s) ${bad.join(', ') || '(none given)'}; known: ${LIVENESS_CUES.join(', ')}`);
  return cues;
}

/** Raw cues where a higher value means more likely a spoof, so `--cue` can report them as "higher = live". */
const SPOOF_DIRECTION = new Set(['dtn']);

interface EvalLivenessOptions extends SpoofSetCliOptions {
  fusion?: string;
  cue?: string;
  cv?: 'source' | 'group';
  cues?: string;
  threshold?: string;
  plot?: string;
  report?: string;
  json?: boolean;
}

export function registerEvalLivenessCommand(program: Command): void {
  addSpoofSetOptions(
    program
      .command('eval-liveness')
      .description('presentation-attack detection measures (ISO/IEC 30107-3: APCER per attack type, BPCER, ACER, ROC AUC, BPCER at APCER 5% / 1%) on live and attack photos'),
  )
    .option('--fusion <file>', 'fusion weights to score with (default: liveness.fusionFile from --config, else the bundled one)')
    .option('--cv <fold>', 'score held out instead: train the fusion on the other sources (source) or groups (group) of this set and score each left-out one')
    .option('--cues <list>', 'cues for --cv (default: liveness.cues from the config)')
    .option('--cue <name>', 'score with one raw cue instead of the fusion (e.g. dtn, laplacianVar)')
    .option('--threshold <p>', 'operating threshold on the score (default: liveness.passiveThreshold; the equal-error point for --cue)')
    .option('--plot <file>', 'write ROC and score histograms (.svg or .png)')
    .option('--report <file>', 'also write the JSON report to this file')
    .option('--json', 'print JSON')
    .action(async (o: EvalLivenessOptions) => {
      if ([o.fusion, o.cue, o.cv].filter(Boolean).length > 1) throw new CliError('give at most one of --fusion, --cue, --cv');
      if (o.cv && o.cv !== 'source' && o.cv !== 'group') throw new CliError(`--cv must be source or group, got "${o.cv}"`);
      const models = cliModels(o);
      const { config, resolvePath } = models.loaded;
      const samples = readSpoofSet(o);
      const fusion: FusionModel | undefined = o.cue || o.cv ? undefined : readFusionModel(o.fusion ?? (config.liveness.fusionFile ? resolvePath(config.liveness.fusionFile) : undefined));
      const cues = o.cue ? parseCueList(o.cue) : o.cv ? (o.cues ? parseCueList(o.cues) : config.liveness.cues) : fusion!.cues;
      const results = await computeCues(models, samples, cues);
      const scoredRows = results.filter((r): r is Extract<ImageCues, { cues: object }> => 'cues' in r);
      const misses = results.filter((r): r is Extract<ImageCues, { miss: string }> => 'miss' in r);

      let scores: number[];
      let method: string;
      if (o.cue) {
        const cue = cues[0]!;
        scores = scoredRows.map((r) => (SPOOF_DIRECTION.has(cue) ? -r.cues[cue]! : r.cues[cue]!));
        method = `raw cue ${cue}${SPOOF_DIRECTION.has(cue) ? ' (negated: higher = live)' : ''}`;
      } else if (o.cv) {
        const training = scoredRows.map((r) => ({ cues: r.cues, live: r.sample.label === 'live', group: r.sample.group }));
        scores = crossValidatedScores(training, cues, (i) => (o.cv === 'source' ? scoredRows[i]!.sample.source : scoredRows[i]!.sample.group));
        method = `fusion of ${cues.join(', ')}, held out by ${o.cv} (each scored by a fusion trained without its ${o.cv})`;
      } else {
        scores = scoredRows.map((r) => fuse(fusion!, r.cues));
        method = `fusion of ${fusion!.cues.join(', ')} (${o.fusion ?? config.liveness.fusionFile ?? 'bundled fusion-default.json'})`;
      }
      const scored: ScoredSample[] = scoredRows.map((r, i) => ({ score: scores[i]!, live: r.sample.label === 'live', attackType: r.sample.attackType, source: r.sample.source }));
      if (!scored.some((s) => s.live) || !scored.some((s) => !s.live)) throw new CliError('need at least one live and one attack photo with a detected face');
      const provisional = livenessReport(scored, 0);
      const threshold = o.threshold !== undefined ? Number(o.threshold) : o.cue ? provisional.eer.threshold : config.liveness.passiveThreshold;
      if (!Number.isFinite(threshold)) throw new CliError(`--threshold must be a number, got "${o.threshold}"`);
      const report = livenessReport(scored, threshold);
      if (o.plot) writeLivenessPlot(o.plot, scored, `${method}: ${report.live} live, ${report.spoof} attacks`, threshold);
      const missList = misses.map((m) => ({ file: m.sample.path, label: m.sample.label, reason: m.miss }));
      const perPhoto = scoredRows.map((r, i) => ({ file: r.sample.path, label: r.sample.label, attackType: r.sample.attackType, source: r.sample.source, score: scores[i]! }));
      const json = { method, threshold, misses: missList, ...report, roc: o.plot ? undefined : report.roc, samples: perPhoto };
      if (o.report) writeFileSync(o.report, `${JSON.stringify(json, null, 2)}\n`);
      if (o.json) printJson(json);
      else printReport(method, report, missList);
    });
}

const pct = (v: number | null) => (v === null ? '  -  ' : `${(100 * v).toFixed(1)}%`);

export function printReport(method: string, r: LivenessReport, misses: { file: string; label: string; reason: string }[]): void {
  const lines = [
    `score: ${method}`,
    `photos: ${r.live} live, ${r.spoof} attacks (${Object.entries(r.attackTypes).map(([t, n]) => `${t} ${n}`).join(', ')}); no face found in ${misses.length} (not counted)`,
    `ROC AUC ${fmt(r.auc, 3)}   EER ${pct(r.eer.rate)} at ${fmt(r.eer.threshold, 3)}`,
    `at threshold ${fmt(r.at.threshold, 3)}: APCER ${pct(r.at.apcer)} (worst attack type; ${Object.entries(r.at.apcerByType).map(([t, v]) => `${t} ${pct(v)}`).join(', ')})  BPCER ${pct(r.at.bpcer)}  ACER ${pct(r.at.acer)}`,
    `BPCER at APCER <= 5%: ${pct(r.bpcerAtApcer5.bpcer)} (threshold ${fmt(r.bpcerAtApcer5.threshold, 3)})   at APCER <= 1%: ${pct(r.bpcerAtApcer1.bpcer)}   at pooled APCER <= 5%: ${pct(r.bpcerAtPooledApcer5.bpcer)}`,
    'per source (at the threshold):',
    ...Object.entries(r.bySource).map(([s, v]) => `  ${s.padEnd(14)} live ${String(v.live).padStart(3)}  attacks ${String(v.spoof).padStart(3)}  AUC ${v.auc === null ? '  -  ' : fmt(v.auc, 2)}  APCER ${pct(v.apcer)}  BPCER ${pct(v.bpcer)}`),
    ...misses.map((m) => `  no face: ${m.file} (${m.label}): ${m.reason}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

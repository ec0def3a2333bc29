import { Option, type Command } from 'commander';
import { dirname, isAbsolute, join } from 'node:path';
import { loadAnalyzer } from '../../vision/load-analyzer.js';
import { embedFiles } from '../../eval/embed-files.js';
import { readPairs, type Pair } from '../../eval/pairs.js';
import { cosine, rocCurve, verificationMetrics, type VerificationMetrics } from '../../eval/verification.js';
import { DEGRADE_PRESETS, degradeFor, degradePreset, describePresets } from '../../tuning/degrade.js';
import { info, onFile, printJson } from '../output.js';
import { addPipelineOptions, cliModels, type PipelineCliOptions } from './pipeline-options.js';
import { plotFormat, writeVerificationPlot } from '../../eval/plot.js';
import { makeDirs } from '../../util/make-dirs.js';
import { progress } from '../progress.js';

interface EvalOptions extends PipelineCliOptions {
  pairs: string;
  root?: string;
  by?: string;
  plot?: string;
  degrade?: string;
  degradeSeed: string;
  json?: boolean;
}

interface SubsetReport extends VerificationMetrics {
  subset: string;
  pairs: number;
  /** Pairs left out because one of the photos gave no face (or could not be read). */
  noFacePairs: number;
}

export function registerEvalCommand(program: Command): void {
  addPipelineOptions(
    program
      .command('eval')
      .description('verification over a pairs file (columns file_a file_b same): ROC AUC, EER, TAR at FAR 1e-2 and 1e-3 with thresholds (cosine similarity; accept when score > threshold)')
      .requiredOption('--pairs <file>', 'tab-separated pairs file with a header')
      .option('--root <dir>', 'folder the pair paths are relative to (default: the pairs file\'s folder)')
      .option('--by <column>', 'also report per value of this column (e.g. subset)')
      .option('--plot <file>', 'write the ROC and score histograms (.png or .svg)')
      .addOption(new Option('--degrade <preset>', `degrade each aligned face like a night-time door camera: ${describePresets()}`).choices(DEGRADE_PRESETS.map((p) => p.name)))
      .option('--degrade-seed <n>', 'seed of the degradation noise (tune --seed degrades the same photo identically)', '1')
      .option('--json', 'print JSON'),
  ).action(async (o: EvalOptions) => {
    // Everything that can be refused is refused before minutes of embedding: the plot's file type first.
    if (o.plot) {
      plotFormat(o.plot);
      makeDirs(dirname(o.plot));
    }
    const pairs = onFile(o.pairs, () => readPairs(o.pairs));
    if (o.by && !(o.by in (pairs[0]?.columns ?? {}))) throw new Error(`--by ${o.by}: no such column in ${o.pairs}`);
    const root = o.root ?? dirname(o.pairs);
    const resolve = (f: string) => (isAbsolute(f) ? f : join(root, f));
    const files = [...new Set(pairs.flatMap((p) => [resolve(p.fileA), resolve(p.fileB)]))];
    const preset = o.degrade ? degradePreset(o.degrade) : undefined;
    const degradeSeed = Number(o.degradeSeed);
    if (!Number.isInteger(degradeSeed) || degradeSeed < 0) throw new Error(`--degrade-seed must be a whole number, got "${o.degradeSeed}"`);
    const { loaded, pipeline } = cliModels(o);
    const configuredThreshold = loaded.config.matching.threshold;
    const { analyzer, description } = await loadAnalyzer(pipeline);
    info(`${description}; ${pairs.length} pairs over ${files.length} images${preset ? `; faces degraded: ${preset.name}` : ''}`);
    const bar = progress(files.length, { label: 'embedding', unit: 'images' });
    const embeddings = await embedFiles(analyzer, files, {
      onFile: () => bar.tick(),
      ...(preset ? { cropTransform: (crop, file) => degradeFor(preset, degradeSeed, file)(crop) } : {}),
    });
    bar.stop();

    const score = (p: Pair) => {
      const a = embeddings.get(resolve(p.fileA))?.embedding;
      const b = embeddings.get(resolve(p.fileB))?.embedding;
      return a && b ? cosine(a, b) : undefined;
    };
    const report = (subset: string, ps: Pair[]): SubsetReport & { scores: { genuine: number[]; impostor: number[] } } => {
      const genuine: number[] = [];
      const impostor: number[] = [];
      let noFace = 0;
      for (const p of ps) {
        const s = score(p);
        if (s === undefined) noFace++;
        else (p.same ? genuine : impostor).push(s);
      }
      return { subset, pairs: ps.length, noFacePairs: noFace, ...verificationMetrics(genuine, impostor), scores: { genuine, impostor } };
    };
    const all = report('all', pairs);
    const subsets = o.by ? [...new Set(pairs.map((p) => p.columns[o.by!]!))].sort().map((v) => report(v, pairs.filter((p) => p.columns[o.by!] === v))) : [];
    const failures = files.filter((f) => embeddings.get(f)?.error).map((f) => ({ file: f, error: embeddings.get(f)!.error! }));

    if (o.plot) {
      const curves = [all, ...subsets].map((r) => {
        const pts = rocCurve(r.scores.genuine, r.scores.impostor);
        return { far: pts.map((p) => p.far), tar: pts.map((p) => p.tar), label: r.subset };
      });
      writeVerificationPlot(o.plot, {
        roc: curves,
        genuine: all.scores.genuine,
        impostor: all.scores.impostor,
        title: `${o.pairs}: ${description}${preset ? ` (${preset.name})` : ''}`,
        thresholds: all.atFar.map((a) => ({ value: a.threshold, label: `FAR ${a.target}` })),
        configured: {
          value: configuredThreshold,
          label: `matching.threshold ${configuredThreshold}`,
          points: [all, ...subsets].map((r) => operatingPoint(r.scores.genuine, r.scores.impostor, configuredThreshold)),
        },
      });
      info(`plot written to ${o.plot}`);
    }

    const strip = ({ scores: _scores, ...r }: ReturnType<typeof report>) => r;
    if (o.json) {
      printJson({ config: loaded.path, models: description, pairsFile: o.pairs, degrade: preset ? { preset: preset.name, seed: degradeSeed } : null, all: strip(all), subsets: subsets.map(strip), failures });
    } else {
      for (const r of [all, ...subsets]) printReport(r);
      if (failures.length > 0) {
        console.log(`images without a usable face: ${failures.length}`);
        for (const f of failures) console.log(`  ${f.file}: ${f.error}`);
      }
    }
  });
}

/** FAR and TAR of a threshold (accept when score > threshold, as the daemon does). */
export function operatingPoint(genuine: number[], impostor: number[], threshold: number): { far: number; tar: number } {
  const above = (xs: number[]) => (xs.length ? xs.filter((x) => x > threshold).length / xs.length : NaN);
  return { far: above(impostor), tar: above(genuine) };
}

function printReport(r: SubsetReport): void {
  console.log(`[${r.subset}] ${r.pairs} pairs: ${r.genuine} genuine, ${r.impostor} impostor, ${r.noFacePairs} without a face`);
  console.log(`  ROC AUC ${r.auc.toFixed(5)}   EER ${(r.eer * 100).toFixed(2)}% at cosine ${r.eerThreshold.toFixed(4)}`);
  for (const a of r.atFar) {
    const note = a.resolvable ? '' : `  (only ${r.impostor} impostors: FAR ${a.target} not resolvable)`;
    console.log(`  TAR ${(a.tar * 100).toFixed(2)}% at FAR ${a.target} (actual ${a.far.toExponential(1)}), threshold cosine ${a.threshold.toFixed(4)}${note}`);
  }
}

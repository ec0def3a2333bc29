import type { Command } from 'commander';
import { loadAnalyzer } from '../../vision/load-analyzer.js';
import { embedFiles } from '../../eval/embed-files.js';
import { cosine, l2Distance } from '../../eval/verification.js';
import { info, printJson } from '../output.js';
import { addPipelineOptions, cliModels, type PipelineCliOptions } from './pipeline-options.js';

interface CompareOptions extends PipelineCliOptions {
  cosine?: boolean;
  json?: boolean;
}

/**
 * Formats a square matrix the way the seed's compare.py printed its distance matrix, with every
 * column the same width, so negative cosines and two-digit indices do not shift the rows.
 */
export function formatMatrix(title: string, m: number[][]): string {
  const cells = m.map((row) => row.map((v) => v.toFixed(4)));
  const width = Math.max(6, ...cells.flat().map((c) => c.length), String(m.length - 1).length);
  const label = String(Math.max(0, m.length - 1)).length;
  const lines = [title, `${''.padStart(label)}  ${m.map((_, i) => `  ${String(i).padStart(width)}`).join('')}`];
  cells.forEach((row, i) => lines.push(`${String(i).padStart(label)}  ${row.map((c) => `  ${c.padStart(width)}`).join('')}`));
  return lines.join('\n');
}

export interface PairVerdict {
  a: number;
  b: number;
  cosine: number;
  same: boolean;
}

/** Every pair of images judged as the daemon would: the same person when cosine > threshold. */
export function pairVerdicts(cos: number[][], threshold: number): PairVerdict[] {
  const out: PairVerdict[] = [];
  for (let a = 0; a < cos.length; a++) for (let b = a + 1; b < cos.length; b++) out.push({ a, b, cosine: cos[a]![b]!, same: cos[a]![b]! > threshold });
  return out;
}

export function formatVerdicts(verdicts: PairVerdict[], threshold: number): string[] {
  return verdicts.map((v) => `${v.a} vs ${v.b}: ${v.same ? 'same person     ' : 'different people'}  cosine ${v.cosine.toFixed(4).padStart(7)} ${v.same ? '>' : '<='} threshold ${threshold.toFixed(4)}`);
}

export function registerCompareCommand(program: Command): void {
  addPipelineOptions(
    program
      .command('compare')
      .description("L2 distance matrix between the faces of the images, in the seed's layout (the primary face of each image: the most central of the faces at least half as large as the largest), and a same/different verdict per pair at the config's matching.threshold")
      .argument('<images...>', 'image files')
      .option('--cosine', 'also print the cosine similarity matrix')
      .option('--json', 'print JSON'),
  ).action(async (images: string[], o: CompareOptions) => {
    const { loaded, pipeline } = cliModels(o, { quiet: o.json === true });
    const threshold = loaded.config.matching.threshold;
    const { analyzer, description } = await loadAnalyzer(pipeline);
    if (!o.json) info(description);
    const results = await embedFiles(analyzer, images);
    const usable = images.filter((f) => results.get(f)?.embedding);
    const failed = images.filter((f) => !results.get(f)?.embedding);
    const vec = (f: string) => results.get(f)!.embedding!;
    const l2 = usable.map((a) => usable.map((b) => l2Distance(vec(a), vec(b))));
    const cos = usable.map((a) => usable.map((b) => cosine(vec(a), vec(b))));
    if (o.json) {
      printJson({ config: loaded.path, images: usable, distance: l2, cosine: cos, threshold, verdicts: pairVerdicts(cos, threshold), failed: failed.map((f) => ({ file: f, error: results.get(f)!.error })) });
    } else {
      console.log('Images:');
      usable.forEach((f, i) => console.log(`${i}: ${f}`));
      console.log('');
      console.log(formatMatrix('Distance matrix', l2));
      if (o.cosine) {
        console.log('');
        console.log(formatMatrix('Cosine similarity matrix', cos));
      }
      if (usable.length > 1) {
        console.log('');
        console.log(`Verdicts at matching.threshold ${threshold} (${loaded.path ?? 'built-in default'}):`);
        for (const line of formatVerdicts(pairVerdicts(cos, threshold), threshold)) console.log(line);
      }
      for (const f of failed) console.log(`skipped ${f}: ${results.get(f)!.error}`);
    }
    if (failed.length > 0) process.exitCode = 1;
  });
}

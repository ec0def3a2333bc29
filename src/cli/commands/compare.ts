import type { Command } from 'commander';
import { loadAnalyzer } from '../../vision/load-analyzer.js';
import { embedFiles } from '../../eval/embed-files.js';
import { cosine, l2Distance } from '../../eval/verification.js';
import { info, printJson } from '../output.js';
import { addPipelineOptions, pipelineOptionsFrom, type PipelineCliOptions } from './pipeline-options.js';

interface CompareOptions extends PipelineCliOptions {
  cosine?: boolean;
  json?: boolean;
}

/** Formats a square matrix the way the seed's compare.py printed its distance matrix. */
export function formatMatrix(title: string, m: number[][]): string {
  const lines = [title, `    ${m.map((_, i) => `    ${i}     `).join('')}`];
  m.forEach((row, i) => lines.push(`${i}  ${row.map((v) => `  ${v.toFixed(4)}  `).join('')}`));
  return lines.join('\n');
}

export function registerCompareCommand(program: Command): void {
  addPipelineOptions(
    program
      .command('compare')
      .description("L2 distance matrix between the faces of the images, in the seed's layout (the primary face of each image: the most central of the faces at least half as large as the largest)")
      .argument('<images...>', 'image files')
      .option('--cosine', 'also print the cosine similarity matrix')
      .option('--json', 'print JSON'),
  ).action(async (images: string[], o: CompareOptions) => {
    const { analyzer, description } = await loadAnalyzer(pipelineOptionsFrom(o));
    if (!o.json) info(description);
    const results = await embedFiles(analyzer, images);
    const usable = images.filter((f) => results.get(f)?.embedding);
    const failed = images.filter((f) => !results.get(f)?.embedding);
    const vec = (f: string) => results.get(f)!.embedding!;
    const l2 = usable.map((a) => usable.map((b) => l2Distance(vec(a), vec(b))));
    const cos = usable.map((a) => usable.map((b) => cosine(vec(a), vec(b))));
    if (o.json) {
      printJson({ images: usable, distance: l2, cosine: cos, failed: failed.map((f) => ({ file: f, error: results.get(f)!.error })) });
    } else {
      console.log('Images:');
      usable.forEach((f, i) => console.log(`${i}: ${f}`));
      console.log('');
      console.log(formatMatrix('Distance matrix', l2));
      if (o.cosine) {
        console.log('');
        console.log(formatMatrix('Cosine similarity matrix', cos));
      }
      for (const f of failed) console.log(`skipped ${f}: ${results.get(f)!.error}`);
    }
    if (failed.length > 0) process.exitCode = 1;
  });
}

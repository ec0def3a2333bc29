// `facegate liveness train`: fits the fusion of liveness cues on a labelled set and reports what
// it scores on data it did not see (leave-one-source-out and leave-one-group-out).
import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { livenessReport } from '../../eval/liveness-metrics.js';
import { crossValidatedScores, trainFusion, type TrainingSample } from '../../liveness/fusion.js';
import { CliError, info, printJson } from '../output.js';
import { cliModels } from './pipeline-options.js';
import { addSpoofSetOptions, computeCues, parseCueList, printReport, readSpoofSet, type SpoofSetCliOptions } from './eval-liveness.js';

interface TrainOptions extends SpoofSetCliOptions {
  out: string;
  cues?: string;
  l2: string;
  json?: boolean;
}

export function registerLivenessCommands(program: Command): void {
  const liveness = program.command('liveness').description('presentation-attack detection tools');
  addSpoofSetOptions(liveness.command('train').description('fit the fused liveness score (rank-logistic) on labelled live / attack photos and report held-out numbers'))
    .requiredOption('--out <file>', 'where to write the fusion weights (JSON; point liveness.fusionFile at it)')
    .option('--cues <list>', 'cues to fuse (default: liveness.cues from the config)')
    .option('--l2 <x>', 'L2 penalty on the weights', '1')
    .option('--json', 'print JSON')
    .action(async (o: TrainOptions) => {
      const models = cliModels(o);
      const { config } = models.loaded;
      const cues = o.cues ? parseCueList(o.cues) : config.liveness.cues;
      const l2 = Number(o.l2);
      if (!(l2 >= 0)) throw new CliError(`--l2 must be a number >= 0, got "${o.l2}"`);
      const samples = readSpoofSet(o);
      const rows = (await computeCues(models, samples, cues)).filter((r) => 'cues' in r) as { sample: (typeof samples)[number]; cues: Record<string, number> }[];
      const training: TrainingSample[] = rows.map((r) => ({ cues: r.cues, live: r.sample.label === 'live', group: r.sample.group }));
      const description = `${o.manifest ? basename(o.manifest) : `${o.live} + ${o.spoof}`}: ${rows.length} photos with a face`;
      const model = trainFusion(training, cues, { l2, description });
      writeFileSync(o.out, `${JSON.stringify(model, null, 2)}\n`);
      info(`liveness: wrote ${o.out} (cues ${cues.join(', ')}; trained on ${model.trainedOn.groups.length} groups)`);
      const heldOut = (['source', 'group'] as const).map((fold) => {
        const scores = crossValidatedScores(training, cues, (i) => (fold === 'source' ? rows[i]!.sample.source : rows[i]!.sample.group), { l2 });
        const scored = rows.map((r, i) => ({ score: scores[i]!, live: r.sample.label === 'live', attackType: r.sample.attackType, source: r.sample.source }));
        return { fold, report: livenessReport(scored, config.liveness.passiveThreshold) };
      });
      if (o.json) printJson({ out: o.out, model: { cues: model.cues, weights: model.weights, bias: model.bias, trainedOn: model.trainedOn }, heldOut: heldOut.map((h) => ({ fold: h.fold, ...h.report, roc: undefined })) });
      else for (const h of heldOut) printReport(`held out by ${h.fold} (never the data the weights above were fitted on)`, h.report, []);
    });
}

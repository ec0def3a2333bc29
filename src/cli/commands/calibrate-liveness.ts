// `facegate calibrate-liveness`: sets liveness.passiveThreshold from the user's own camera: live
// captures of real people and captures of prints / screens held up to the same camera.
import type { Command } from 'commander';
import { apcerAtBpcer, bpcerAtApcer, livenessReport } from '../../eval/liveness-metrics.js';
import { updateConfigValue } from '../../config/load.js';
import { fuse } from '../../liveness/fusion.js';
import { readFusionModel } from '../../liveness/load-liveness.js';
import { CliError, info, printJson } from '../output.js';
import { cliModels } from './pipeline-options.js';
import { addSpoofSetOptions, computeCues, printReport, readSpoofSet, type SpoofSetCliOptions } from './eval-liveness.js';

interface CalibrateOptions extends SpoofSetCliOptions {
  targetApcer?: string;
  targetBpcer?: string;
  dryRun?: boolean;
  json?: boolean;
}

export function registerCalibrateLivenessCommand(program: Command): void {
  addSpoofSetOptions(
    program.command('calibrate-liveness').description('choose the passive liveness threshold from your own camera captures at a target APCER (or BPCER) and write it to the config'),
  )
    .option('--target-apcer <x>', 'highest share of attacks that may pass (default 0.05)')
    .option('--target-bpcer <x>', 'instead: highest share of live faces that may be rejected')
    .option('--dry-run', 'print the threshold without writing the config')
    .option('--json', 'print JSON')
    .action(async (o: CalibrateOptions) => {
      if (o.targetApcer !== undefined && o.targetBpcer !== undefined) throw new CliError('give --target-apcer or --target-bpcer, not both');
      const target = Number(o.targetBpcer ?? o.targetApcer ?? 0.05);
      if (!(target >= 0 && target < 1)) throw new CliError(`the target must be a share in [0, 1), got ${target}`);
      const models = cliModels(o);
      const { config, resolvePath, path: configPath } = models.loaded;
      if (!configPath && !o.dryRun) throw new CliError('no config file found to write the threshold to: give --config FILE (or --dry-run)');
      const fusion = readFusionModel(config.liveness.fusionFile ? resolvePath(config.liveness.fusionFile) : undefined);
      const samples = readSpoofSet(o);
      const rows = (await computeCues(models, samples, fusion.cues)).filter((r) => 'cues' in r) as { sample: (typeof samples)[number]; cues: Record<string, number> }[];
      const scored = rows.map((r) => ({ score: fuse(fusion, r.cues), live: r.sample.label === 'live', attackType: r.sample.attackType, source: r.sample.source }));
      if (scored.filter((s) => s.live).length < 10 || scored.filter((s) => !s.live).length < 10) {
        throw new CliError(`calibration needs at least 10 live and 10 attack captures with a detected face (have ${scored.filter((s) => s.live).length} and ${scored.filter((s) => !s.live).length})`);
      }
      const picked = o.targetBpcer !== undefined ? apcerAtBpcer(scored, target).threshold : bpcerAtApcer(scored, target).threshold;
      if (!Number.isFinite(picked)) throw new CliError(`no threshold reaches the target on these captures`);
      const threshold = Math.min(1, Math.max(0, Number(picked.toFixed(4))));
      const report = livenessReport(scored, threshold);
      if (!o.dryRun) {
        updateConfigValue(configPath!, ['liveness', 'passiveThreshold'], threshold);
        info(`liveness: wrote liveness.passiveThreshold = ${threshold} to ${configPath}`);
      }
      if (o.json) printJson({ threshold, written: !o.dryRun, ...report, roc: undefined });
      else printReport(`calibrated threshold ${threshold} (${o.targetBpcer !== undefined ? `BPCER <= ${target}` : `APCER <= ${target}`})`, report, []);
    });
}

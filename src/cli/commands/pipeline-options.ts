// The model flags every command that runs the models shares, and where their values come from:
// a flag on the command line, else the config (found like every command finds it), else the
// built-in default. One rule for detect, compare, eval, identify, ...: a command run with the
// same config sees the same models as the daemon.
import { Option, type Command } from 'commander';
import { loadConfigFor, describeConfigSource, type LoadedConfig } from '../../config/load.js';
import { pipelineOptions } from '../../app/gallery-context.js';
import type { PipelineOptions, PrecisionChoice } from '../../vision/face-pipeline.js';
import type { ExecutionProvider } from '../../runtime/onnx-session.js';
import { CliError, info } from '../output.js';

/** As commander hands them over: undefined where the flag was not given. */
export interface PipelineCliOptions {
  config?: string;
  modelsDir?: string;
  precision?: PrecisionChoice;
  embedder?: string;
  provider?: string;
  threads?: string;
  minsize?: string;
  thresholds?: string;
  factor?: string;
}

/** Options shared by every command that runs the models; --config is among them. */
export function addPipelineOptions(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'config file (default: $FACEGATE_CONFIG, ./facegate.yaml, /etc/facegate/facegate.yaml)')
    .option('--models-dir <dir>', 'models folder with manifest.json (default: the config\'s models.dir)')
    .addOption(new Option('--precision <p>', 'model precision (default: the config\'s models.precision)').choices(['float32', 'int8', 'int8-weights']))
    .option('--embedder <id>', 'embedder model id from the manifest (default: the config\'s, else MobileFaceNet of the chosen precision)')
    .option('--provider <list>', 'execution providers to try in order, comma-separated; cpu is always the fallback (default: the config\'s models.providers)')
    .option('--threads <n>', 'intra-op threads per model (default: the config\'s models.threads)')
    .option('--minsize <px>', 'MTCNN minimum face size in pixels (default: the config\'s detector.minSize)')
    .option('--thresholds <a,b,c>', 'MTCNN P/R/O-Net thresholds (default: the config\'s detector.thresholds)')
    .option('--factor <f>', 'MTCNN pyramid factor (default: the config\'s detector.factor)');
}

function positive(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new CliError(`--${name} must be a positive number, got "${v}"`);
  return n;
}

/** Flags over the config's values (which are over the built-in defaults). Pure: no files read. */
export function applyPipelineFlags(base: PipelineOptions, o: PipelineCliOptions): PipelineOptions {
  const out: PipelineOptions = { ...base, mtcnn: { ...base.mtcnn } };
  if (o.modelsDir !== undefined) out.modelsDir = o.modelsDir;
  if (o.precision !== undefined) {
    out.precision = o.precision;
    // The config's embedder belongs to its precision; a new precision picks its own default.
    if (o.embedder === undefined) delete out.embedderId;
  }
  if (o.embedder !== undefined) out.embedderId = o.embedder;
  if (o.provider !== undefined) out.providers = o.provider.split(',').map((p) => p.trim() as ExecutionProvider);
  if (o.threads !== undefined) {
    const t = positive('threads', o.threads);
    if (!Number.isInteger(t)) throw new CliError(`--threads must be a whole number, got "${o.threads}"`);
    out.threads = t;
  }
  if (o.minsize !== undefined) out.mtcnn!.minSize = positive('minsize', o.minsize);
  if (o.factor !== undefined) {
    const f = positive('factor', o.factor);
    if (f >= 1) throw new CliError(`--factor must be between 0 and 1, got "${o.factor}"`);
    out.mtcnn!.factor = f;
  }
  if (o.thresholds !== undefined) {
    const t = o.thresholds.split(',').map(Number);
    if (t.length !== 3 || t.some((x) => !(x >= 0 && x <= 1))) throw new CliError(`--thresholds must be three numbers in [0, 1], got "${o.thresholds}"`);
    out.mtcnn!.thresholds = t as [number, number, number];
  }
  return out;
}

export interface CliModels {
  loaded: LoadedConfig;
  pipeline: PipelineOptions;
}

/** The config this command uses (said on stderr) and the model options after the flags. */
export function cliModels(o: PipelineCliOptions, opts: { quiet?: boolean } = {}): CliModels {
  const loaded = loadConfigFor(o.config);
  if (!opts.quiet) info(describeConfigSource(loaded));
  return { loaded, pipeline: applyPipelineFlags(pipelineOptions(loaded, info), o) };
}

export function pipelineOptionsFrom(o: PipelineCliOptions): PipelineOptions {
  return cliModels(o).pipeline;
}

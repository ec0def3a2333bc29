import { Option, type Command } from 'commander';
import { DEFAULT_MODELS_DIR } from '../../paths.js';
import type { PipelineOptions, PrecisionChoice } from '../../vision/face-pipeline.js';
import type { ExecutionProvider } from '../../runtime/onnx-session.js';
import { info } from '../output.js';

export interface PipelineCliOptions {
  modelsDir: string;
  precision: PrecisionChoice;
  embedder?: string;
  provider: string;
  threads: string;
  minsize: string;
  thresholds: string;
  factor: string;
}

/** Options shared by every command that runs the models. */
export function addPipelineOptions(cmd: Command): Command {
  return cmd
    .option('--models-dir <dir>', 'models folder with manifest.json', DEFAULT_MODELS_DIR)
    .addOption(new Option('--precision <p>', 'model precision').choices(['float32', 'int8', 'int8-weights']).default('float32'))
    .option('--embedder <id>', 'embedder model id from the manifest (default: MobileFaceNet of the chosen precision)')
    .option('--provider <list>', 'execution providers to try in order, comma-separated (cpu is always the fallback)', 'cpu')
    .option('--threads <n>', 'intra-op threads per model', '1')
    .option('--minsize <px>', 'MTCNN minimum face size', '20')
    .option('--thresholds <a,b,c>', 'MTCNN P/R/O-Net thresholds', '0.6,0.7,0.7')
    .option('--factor <f>', 'MTCNN pyramid factor', '0.709');
}

export function pipelineOptionsFrom(o: PipelineCliOptions): PipelineOptions {
  const thresholds = o.thresholds.split(',').map(Number);
  if (thresholds.length !== 3 || thresholds.some((t) => !(t >= 0 && t <= 1))) {
    throw new Error(`--thresholds must be three numbers in [0, 1], got "${o.thresholds}"`);
  }
  const num = (name: string, v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got "${v}"`);
    return n;
  };
  return {
    modelsDir: o.modelsDir,
    precision: o.precision,
    embedderId: o.embedder,
    providers: o.provider.split(',').map((p) => p.trim() as ExecutionProvider),
    threads: num('threads', o.threads),
    mtcnn: { minSize: num('minsize', o.minsize), factor: num('factor', o.factor), thresholds: thresholds as [number, number, number] },
    log: info,
  };
}

// The one place that creates ONNX Runtime sessions: it applies the configured execution
// providers with a CPU fallback and says which provider actually runs.
process.env.ORT_DISABLE_TELEMETRY ??= '1';

import * as ort from 'onnxruntime-node';
import { readFileSync } from 'node:fs';

export { ort };

export type ExecutionProvider = 'cpu' | 'cuda' | 'tensorrt' | 'coreml' | 'dml' | 'webgpu' | 'xnnpack' | 'qnn';

export interface SessionOptions {
  /** Providers to try, in order; CPU is always appended as the fallback. */
  providers?: ExecutionProvider[];
  intraOpThreads?: number;
  interOpThreads?: number;
  /**
   * For weight-only int8 files: fold the int8 weights back to float at load, which runs faster
   * than dequantising at every inference.
   */
  foldWeightOnlyQuant?: boolean;
  log?: (line: string) => void;
}

export interface OnnxSession {
  session: ort.InferenceSession;
  provider: ExecutionProvider;
  path: string;
}

/** Backends the installed onnxruntime-node build offers (CUDA/TensorRT only with a matching install). */
export function availableProviders(): string[] {
  const list = (ort as unknown as { listSupportedBackends?: () => { name: string }[] }).listSupportedBackends;
  return list ? list().map((b) => b.name) : ['cpu'];
}

export async function createSession(path: string, opts: SessionOptions = {}): Promise<OnnxSession> {
  const bytes = readFileSync(path);
  const wanted = [...(opts.providers ?? ['cpu'])];
  if (!wanted.includes('cpu')) wanted.push('cpu');
  const available = availableProviders();
  const base: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    intraOpNumThreads: opts.intraOpThreads ?? 1,
    interOpNumThreads: opts.interOpThreads ?? 1,
    executionMode: 'sequential',
    extra: {
      session: {
        ...(opts.foldWeightOnlyQuant ? { disable_quant_qdq: '1' } : {}),
        // Each session has its own pool; spinning workers of four sessions on a 2-core board made
        // two threads about 3x slower than one (measured with facegate bench).
        ...((opts.intraOpThreads ?? 1) > 1 ? { intra_op: { allow_spinning: '0' } } : {}),
      },
    },
  };
  let lastError: unknown;
  for (const provider of wanted) {
    if (provider !== 'cpu' && !available.includes(provider)) {
      opts.log?.(`onnx: provider ${provider} is not in this onnxruntime build (has: ${available.join(', ')}); trying the next`);
      continue;
    }
    try {
      const session = await ort.InferenceSession.create(bytes, { ...base, executionProviders: [provider] });
      if (provider !== wanted[0]) opts.log?.(`onnx: ${path} runs on ${provider} (fell back from ${wanted[0]})`);
      return { session, provider, path };
    } catch (err) {
      lastError = err;
      opts.log?.(`onnx: provider ${provider} failed for ${path}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(`could not load ONNX model ${path}: ${(lastError as Error)?.message ?? 'no provider worked'}`);
}

// What ORT actually runs: load a model with full graph optimisation, have ORT write the
// optimised graph to a file, and count its ops. This is the only reliable way to tell whether
// Q/DQ pairs were fused into integer kernels (QLinearConv, QGemm) or left as float ops.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { decodeModel } from '../onnx/graph.js';

/**
 * Op counts keyed by op type; ops outside the default ONNX domain are keyed `domain:OpType`
 * (e.g. `com.microsoft:QGemm`, `com.microsoft.nchwc:Conv`), because ORT reuses plain names
 * such as Conv for its own layout-specific float kernels.
 */
export type OpCounts = Record<string, number>;

/** Ops in an ORT-optimised CPU graph that are float convolutions (plain, fused with an activation, or NCHWc). */
export const FLOAT_CONV_OPS = ['Conv', 'com.microsoft:FusedConv', 'com.microsoft.nchwc:Conv'] as const;

export interface OptimizedGraph {
  opCounts: OpCounts;
  nodes: { name: string; opKey: string }[];
}

export async function inspectOptimizedGraph(
  model: Uint8Array,
  sessionOptions: ort.InferenceSession.SessionOptions = {},
): Promise<OptimizedGraph> {
  const dir = mkdtempSync(join(tmpdir(), 'facegate-inspect-'));
  try {
    const file = join(dir, 'optimized.onnx');
    const session = await ort.InferenceSession.create(model, {
      // ORT warns that an NCHWc-optimised file is hardware specific; that is the point here.
      logSeverityLevel: 3,
      ...sessionOptions,
      graphOptimizationLevel: 'all',
      optimizedModelFilePath: file,
    });
    await session.release();
    const graph = decodeModel(readFileSync(file)).graph;
    const nodes = (graph?.node ?? []).map((n) => ({
      name: n.name ?? '',
      opKey: !n.domain || n.domain === 'ai.onnx' ? (n.opType ?? '') : `${n.domain}:${n.opType ?? ''}`,
    }));
    const opCounts: OpCounts = {};
    for (const n of nodes) opCounts[n.opKey] = (opCounts[n.opKey] ?? 0) + 1;
    return { opCounts, nodes };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Where the time of each model goes, per ONNX operator type: ONNX Runtime's own profiler
// (session option enableProfiling) over a number of runs of fixed-shape inputs, float32 against
// static int8 on the same shapes. This is how the README explains why static int8 is slower here.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ort } from '../runtime/onnx-session.js';
import { findModel, readManifest, verifiedModelPath } from '../models/manifest.js';

/** The shapes the daemon feeds: a 640x480 frame's first P-Net level, R/O-Net batches of 16 crops, one face to embed. */
export const PROFILED_MODELS: { family: string; shape: number[] }[] = [
  { family: 'mtcnn-pnet', shape: [1, 3, 288, 384] },
  { family: 'mtcnn-rnet', shape: [16, 3, 24, 24] },
  { family: 'mtcnn-onet', shape: [16, 3, 48, 48] },
  { family: 'mobilefacenet', shape: [1, 3, 112, 112] },
];

export interface OpTypeTime {
  opType: string;
  /** Mean milliseconds per run spent in nodes of this type. */
  ms: number;
  nodes: number;
}

export interface ModelProfile {
  id: string;
  shape: number[];
  /** Mean milliseconds per run over all nodes (without session overhead). */
  totalMs: number;
  byOpType: OpTypeTime[];
}

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string };
}

export async function profileModels(opts: { modelsDir: string; suffixes: string[]; runs: number }): Promise<ModelProfile[]> {
  const manifest = readManifest(opts.modelsDir);
  const out: ModelProfile[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'facegate-profile-'));
  try {
    for (const { family, shape } of PROFILED_MODELS) {
      for (const suffix of opts.suffixes) {
        const entry = findModel(manifest, `${family}-${suffix}`);
        const session = await ort.InferenceSession.create(readFileSync(verifiedModelPath(opts.modelsDir, entry)), {
          graphOptimizationLevel: 'all',
          intraOpNumThreads: 1,
          interOpNumThreads: 1,
          executionMode: 'sequential',
          enableProfiling: true,
          profileFilePrefix: join(dir, entry.id),
        });
        const size = shape.reduce((a, b) => a * b, 1);
        const input = new Float32Array(size);
        for (let i = 0; i < size; i++) input[i] = ((i * 2654435761) % 255) / 127.5 - 1;
        const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', input, shape) };
        // Warm-up runs are profiled too; the per-run means below divide by all runs.
        for (let i = 0; i < opts.runs; i++) await session.run(feeds);
        session.endProfiling();
        await session.release();
        // The profiler names its file <prefix>_<timestamp>.json.
        const file = readdirSync(dir).find((f) => f.startsWith(`${entry.id}_`) && f.endsWith('.json'));
        if (!file) throw new Error(`ONNX Runtime wrote no profile for ${entry.id}`);
        out.push(summariseProfile(entry.id, shape, JSON.parse(readFileSync(join(dir, file), 'utf8')) as ProfileEvent[], opts.runs));
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

/** Node events ("<node>_kernel_time") summed by operator type, per run. */
export function summariseProfile(id: string, shape: number[], events: ProfileEvent[], runs: number): ModelProfile {
  const byType = new Map<string, { us: number; nodes: Set<string> }>();
  let totalUs = 0;
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const type = e.args?.op_name ?? 'unknown';
    const t = byType.get(type) ?? { us: 0, nodes: new Set<string>() };
    t.us += e.dur;
    t.nodes.add(e.name);
    byType.set(type, t);
    totalUs += e.dur;
  }
  const byOpType = [...byType]
    .map(([opType, t]) => ({ opType, ms: t.us / 1000 / runs, nodes: t.nodes.size }))
    .sort((a, b) => b.ms - a.ms);
  return { id, shape, totalMs: totalUs / 1000 / runs, byOpType };
}

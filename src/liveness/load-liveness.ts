// Loads what createLivenessCheck needs from the config: the fusion weights file and, when the
// fusion reads the DTN cue, the DTN model from the manifest (sha256-verified like every model).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { findModel, readManifest, verifiedModelPath } from '../models/manifest.js';
import { createSession, type ExecutionProvider } from '../runtime/onnx-session.js';
import { DtnScorer } from './dtn-scorer.js';
import type { FusionModel } from './fusion.js';
import type { LivenessModels } from './liveness-check.js';
import { DtnPassiveScorer, TexturePassiveScorer, type PassiveScorer } from './passive-scorers.js';

/** Trained on the development split of ../shared/spoof by `facegate liveness train` (see docs/liveness.md). */
export const DEFAULT_FUSION_FILE = fileURLToPath(new URL('./fusion-default.json', import.meta.url));

const FusionSchema = z.object({
  version: z.literal(1),
  cues: z.array(z.string()).min(1),
  quantiles: z.record(z.string(), z.array(z.number())),
  weights: z.array(z.number()),
  bias: z.number(),
  trainedOn: z.object({ description: z.string(), samples: z.number(), groups: z.array(z.string()), l2: z.number() }),
});

export function readFusionModel(path: string = DEFAULT_FUSION_FILE): FusionModel {
  if (!existsSync(path)) throw new Error(`liveness fusion file ${path} not found: train one with facegate liveness train --manifest FILE --out ${path}`);
  const parsed = FusionSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success) throw new Error(`liveness fusion file ${path} is not a fusion model: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  const m = parsed.data;
  if (m.weights.length !== m.cues.length || m.cues.some((c) => !m.quantiles[c])) throw new Error(`liveness fusion file ${path}: weights and quantiles must match its cues`);
  return m;
}

export interface LoadLivenessOptions {
  modelsDir: string;
  modelId: string;
  fusionFile?: string;
  providers?: ExecutionProvider[];
  threads?: number;
  log?: (line: string) => void;
}

export async function loadDtnScorer(opts: Pick<LoadLivenessOptions, 'modelsDir' | 'modelId' | 'providers' | 'threads' | 'log'>): Promise<DtnScorer> {
  const manifest = readManifest(opts.modelsDir);
  const entry = manifest.models.find((m) => m.id === opts.modelId);
  if (!entry) throw new Error(`liveness model "${opts.modelId}" is not in ${opts.modelsDir}/manifest.json: run facegate models build`);
  if (entry.role !== 'anti-spoof') throw new Error(`model "${entry.id}" is a ${entry.role}, not an anti-spoof model`);
  const s = await createSession(verifiedModelPath(opts.modelsDir, findModel(manifest, entry.id)), { providers: opts.providers, intraOpThreads: opts.threads ?? 1, log: opts.log });
  return new DtnScorer(s.session);
}

/** The scorers the fusion reads, and the fusion; `release` frees the ONNX session. */
export async function loadLivenessModels(opts: LoadLivenessOptions): Promise<LivenessModels & { release(): Promise<void> }> {
  const fusion = readFusionModel(opts.fusionFile);
  const scorers: PassiveScorer[] = [new TexturePassiveScorer()];
  let dtn: DtnScorer | undefined;
  if (fusion.cues.includes('dtn')) {
    dtn = await loadDtnScorer(opts);
    scorers.unshift(new DtnPassiveScorer(dtn));
  }
  return { scorers, fusion, release: async () => dtn?.release() };
}

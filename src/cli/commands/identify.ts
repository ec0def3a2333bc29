import type { Command } from 'commander';
import { dirname, isAbsolute, join } from 'node:path';
import { existsSync } from 'node:fs';
import { analyzerFor, configPathFrom, DEFAULT_CONFIG_FILE, openGalleryContext, pipelineOptions } from '../../app/gallery-context.js';
import { loadConfig, updateConfigValue } from '../../config/load.js';
import { SearchIndex, type Identification } from '../../matching/search-index.js';
import { rowScorerFor } from '../../matching/ort-row-scorer.js';
import { errorReason, loadImage } from '../../vision/image.js';
import { embedFiles } from '../../eval/embed-files.js';
import { readPairs } from '../../eval/pairs.js';
import { cosine, tarAtFar } from '../../eval/verification.js';
import { loadAnalyzer } from '../../vision/load-analyzer.js';
import { qualityProblems, type QualityGate } from '../../gallery/enrollment.js';
import type { FaceQuality } from '../../vision/quality.js';
import { CliError, info, onFile, printJson } from '../output.js';
import { progress } from '../progress.js';
import { addPipelineOptions, applyPipelineFlags, type PipelineCliOptions } from './pipeline-options.js';

const REASON_TEXT: Record<Identification['reason'], string> = {
  matched: 'matched',
  'empty-gallery': 'the gallery is empty',
  'below-threshold': 'below threshold',
  'margin-too-small': 'too close to the second-best person',
  'negative-match': 'matched a negative template',
};

export function describeIdentification(id: Identification, threshold: number): string {
  const second = id.secondName ? ` (next: ${id.secondName} ${id.secondScore!.toFixed(3)})` : '';
  if (id.reason === 'matched') return `${id.name}  score ${id.score.toFixed(3)}  margin ${id.margin.toFixed(3)}${second}`;
  if (id.reason === 'empty-gallery') return 'unknown (the gallery is empty)';
  const best = `best ${id.bestName} ${id.score.toFixed(3)}`;
  const detail = id.reason === 'below-threshold' ? `${best} <= threshold ${threshold.toFixed(3)}` : id.reason === 'margin-too-small' ? `${best}, margin ${id.margin.toFixed(3)}${second}` : `${best}, negative ${id.negativeScore!.toFixed(3)}`;
  return `unknown (${REASON_TEXT[id.reason]}: ${detail})`;
}

/** A face the daemon's quality gate turns away: identifying it would claim a match the door never makes. */
export function describeRejection(problems: string[]): string {
  return `rejected: quality (${problems.join('; ')})`;
}

export interface FaceVerdict {
  box: [number, number, number, number];
  detectorScore: number;
  quality: FaceQuality;
  /** Set when the quality gate refused the face; no identity is looked up then. */
  rejected?: { reason: 'quality'; problems: string[] };
  identity?: Identification;
}

/** The gate first, exactly as the recognition loop applies it; only a face that passes is identified. */
export async function judgeFace(face: { box: [number, number, number, number]; score: number; quality: FaceQuality; embedding?: Float32Array }, gate: QualityGate | null, identify: (e: Float32Array) => Promise<Identification>): Promise<FaceVerdict> {
  const base = { box: face.box, detectorScore: face.score, quality: face.quality };
  const problems = gate ? qualityProblems(face.quality, gate) : [];
  if (problems.length > 0) return { ...base, rejected: { reason: 'quality', problems } };
  return { ...base, identity: await identify(face.embedding!) };
}

interface IdentifyOptions extends PipelineCliOptions {
  json?: boolean;
  qualityGate: boolean;
}

export function registerIdentifyCommands(program: Command): void {
  addPipelineOptions(
    program
      .command('identify')
      .description("1:N open-set identification of every face, as the daemon decides: the quality gate first (rejected: quality), then best person or unknown, with score, margin and reason")
      .argument('<images...>', 'image files')
      .option('--no-quality-gate', 'identify faces the quality gate would reject (the door would not: for looking at photos only)')
      .option('--json', 'print JSON'),
  ).action(async (images: string[], o: IdentifyOptions) => {
    const ctx = openGalleryContext(o.config, info, { mode: 'read', pipeline: (base) => applyPipelineFlags(base, o) });
    try {
      const matrix = ctx.store.matrixFor(ctx.model);
      if (matrix.personIds.length === 0) {
        const others = ctx.store.modelsInUse().filter((m) => m.modelSha !== ctx.model.sha256);
        const why = others.length > 0 ? `its ${others.reduce((n, m) => n + m.templates, 0)} templates were made by ${others.map((m) => m.modelId).join(', ')}, not the configured ${ctx.model.id} (facegate gallery list)` : 'it is empty: enroll people first (facegate enroll NAME PHOTO...)';
        throw new CliError(`gallery ${ctx.store.path} has no templates of model ${ctx.model.id}: ${why}; every face would be unknown`);
      }
      const analyzer = await analyzerFor(ctx);
      const index = new SearchIndex(matrix, ctx.store.negativesMatrixFor(ctx.model), await rowScorerFor(matrix.vectors, matrix.dim));
      const gate = o.qualityGate ? ctx.settings.gate : null;
      if (!gate && !o.json) info('quality gate off (--no-quality-gate): the door would reject some of these faces');
      const results: unknown[] = [];
      for (const file of images) {
        try {
          const img = loadImage(file);
          const a = await analyzer.analyze(img.mat, 'all');
          const faces: FaceVerdict[] = [];
          for (const f of a.faces) faces.push(await judgeFace(f, gate, (e) => index.identify(e, ctx.model.sha256, ctx.policy)));
          results.push({ file, faces });
          if (!o.json) {
            console.log(`${file}: ${faces.length} face${faces.length === 1 ? '' : 's'}`);
            faces.forEach((f, i) => console.log(`  #${i + 1} ${f.rejected ? describeRejection(f.rejected.problems) : describeIdentification(f.identity!, ctx.policy.threshold)}  box [${f.box.map((v) => v.toFixed(0)).join(', ')}]`));
          }
        } catch (err) {
          results.push({ file, error: errorReason(err) });
          if (!o.json) console.log(`${file}: error: ${errorReason(err)}`);
          process.exitCode = 1;
        }
      }
      if (o.json) printJson({ config: ctx.loaded.path, gallery: ctx.store.path, model: ctx.model, policy: ctx.policy, qualityGate: gate, results });
    } finally {
      ctx.close();
    }
  });

  program
    .command('calibrate')
    .description('choose the match threshold from verification pairs at a target false-accept rate and write it to the config')
    .requiredOption('--pairs <file>', 'pairs file (file_a file_b same), e.g. ../shared/faces/pairs_all.tsv')
    .option('--root <dir>', "folder the pair paths are relative to (default: the pairs file's folder)")
    .option('--far <rate>', 'target false-accept rate per comparison', '1e-3')
    .option('--people <n>', 'expected gallery size: a stranger is compared with every person, so the per-comparison FAR target is divided by it', '1')
    .option('--config <file>', `config file to write (default: $FACEGATE_CONFIG, ./${DEFAULT_CONFIG_FILE}, /etc/facegate/facegate.yaml; ./${DEFAULT_CONFIG_FILE} is created when there is none)`)
    .option('--dry-run', 'print the threshold without writing it')
    .option('--json', 'print JSON')
    .action(async (o: { pairs: string; root?: string; far: string; people: string; config?: string; dryRun?: boolean; json?: boolean }) => {
      const far = Number(o.far);
      const people = Number(o.people);
      if (!(far > 0 && far < 1)) throw new Error(`--far must be between 0 and 1, got ${o.far}`);
      if (!(Number.isInteger(people) && people >= 1)) throw new Error(`--people must be a whole number >= 1, got ${o.people}`);
      const target = far / people;
      const configPath = configPathFrom(o.config) ?? DEFAULT_CONFIG_FILE;
      const pipeline = pipelineOptions(loadConfig(existsSync(configPath) ? configPath : undefined), info);
      const pairs = onFile(o.pairs, () => readPairs(o.pairs));
      const tooFew = (impostors: number) => new Error(`${impostors} impostor pairs cannot resolve a FAR of ${target.toExponential(1)}: use a pairs file with at least ${Math.ceil(1 / target)} impostor pairs (e.g. pairs_all.tsv)`);
      // Said before the models load and every photo is embedded: the count alone decides it.
      const listed = pairs.filter((p) => !p.same).length;
      if (listed * target < 1) throw tooFew(listed);
      const root = o.root ?? dirname(o.pairs);
      const resolve = (f: string) => (isAbsolute(f) ? f : join(root, f));
      const { analyzer, description } = await loadAnalyzer(pipeline);
      info(`${description}; ${pairs.length} pairs`);
      const files = [...new Set(pairs.flatMap((p) => [resolve(p.fileA), resolve(p.fileB)]))];
      const bar = progress(files.length, { label: 'embedding', unit: 'images' });
      const emb = await embedFiles(analyzer, files, { onFile: () => bar.tick() });
      bar.stop();
      const genuine: number[] = [];
      const impostor: number[] = [];
      for (const p of pairs) {
        const a = emb.get(resolve(p.fileA))?.embedding;
        const b = emb.get(resolve(p.fileB))?.embedding;
        if (a && b) (p.same ? genuine : impostor).push(cosine(a, b));
      }
      const op = tarAtFar(genuine, impostor, target);
      // Photos without a usable face drop their pairs: the count can fall short after all.
      if (!op.resolvable) throw tooFew(impostor.length);
      const threshold = Math.round(op.threshold * 1e4) / 1e4 + 1e-4;
      if (!o.dryRun) updateConfigValue(configPath, ['matching', 'threshold'], Number(threshold.toFixed(4)));
      const result = { threshold: Number(threshold.toFixed(4)), targetFar: target, measuredFar: op.far, tar: op.tar, genuine: genuine.length, impostor: impostor.length, models: description, written: o.dryRun ? null : configPath };
      if (o.json) printJson(result);
      else {
        console.log(`threshold ${result.threshold} (cosine): FAR ${op.far.toExponential(2)} (target ${target.toExponential(1)}), TAR ${(op.tar * 100).toFixed(2)}% on ${genuine.length} genuine / ${impostor.length} impostor pairs`);
        console.log(o.dryRun ? 'not written (--dry-run)' : `written to ${configPath} (matching.threshold)`);
        if (people === 1) console.log('note: a stranger is compared with every enrolled person; with N people expect about N x this FAR per stranger (use --people N)');
      }
    });
}

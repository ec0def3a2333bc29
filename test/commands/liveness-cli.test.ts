// eval-liveness and calibrate-liveness end to end on folders of real photos (franck frames as
// live, blurred warped portraits as "prints"), with a texture-only fusion so the test needs no
// model beyond the detector. The commands run in-process (a commander program per call) to spare
// a Node start per call.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { cv } from '../../src/vision/opencv.js';
import { registerEvalLivenessCommand } from '../../src/cli/commands/eval-liveness.js';
import { registerCalibrateLivenessCommand } from '../../src/cli/commands/calibrate-liveness.js';
import { trainFusion } from '../../src/liveness/fusion.js';
import { bpcerAtApcer, operatingPoint } from '../../src/eval/liveness-metrics.js';
import { FRANCK_FRAMES } from '../../src/fixtures/sample-photos.js';
import { MODELS_DIR, requireModels, samplePhotos } from '../helpers/models.js';
import { handHeldPath, warpPhoto } from '../helpers/planar-attack.js';

const dir = mkdtempSync(join(tmpdir(), 'facegate-liveness-'));
const live = join(dir, 'live');
const spoof = join(dir, 'spoof');
const config = join(dir, 'facegate.yaml');

before(async () => {
  requireModels();
  const photos = await samplePhotos();
  mkdirSync(live);
  mkdirSync(spoof);
  FRANCK_FRAMES.slice(0, 10).forEach((n) => writeFileSync(join(live, `${n}.jpg`), readFileSync(photos[n]!)));
  const portraits = ['audrey', 'cage', 'SeanConnery', 'kim1_crop', 'bieber_small'];
  for (const [i, name] of portraits.entries()) {
    const rgb = cv.imread(photos[name]!).cvtColor(cv.COLOR_BGR2RGB);
    const scale = Math.min(380 / rgb.cols, 360 / rgb.rows);
    for (const [k, pose] of handHeldPath(2, i, { cx: 320, cy: 240, scale }).entries()) {
      // A print seen through a second lens: softer than the live frames.
      const frame = warpPhoto(rgb, pose).gaussianBlur(new cv.Size(0, 0), 2.5);
      cv.imwrite(join(spoof, `${name}-${k}.png`), frame.cvtColor(cv.COLOR_RGB2BGR));
    }
  }
  // A fusion of texture cues only, fitted on synthetic numbers: the commands must run without the DTN.
  const fusion = trainFusion(
    Array.from({ length: 40 }, (_, i) => ({ live: i % 2 === 0, group: 'synthetic', cues: { laplacianVar: i % 2 === 0 ? 400 + i : 20 + i, detailRatio: i % 2 === 0 ? 2 + i / 40 : 1 + i / 40 } })),
    ['laplacianVar', 'detailRatio'],
  );
  writeFileSync(join(dir, 'fusion.json'), JSON.stringify(fusion));
  writeFileSync(config, '# my door\nliveness:\n  cues: [laplacianVar, detailRatio]\n  fusionFile: fusion.json\n');
});

/** Runs one command in-process (its text report goes to stdout, progress to stderr). */
async function facegate(...args: string[]): Promise<void> {
  const program = new Command('facegate').exitOverride();
  registerEvalLivenessCommand(program);
  registerCalibrateLivenessCommand(program);
  await program.parseAsync([...args, '--models-dir', MODELS_DIR], { from: 'user' });
}

let report: Promise<any> | undefined;
/** The eval-liveness report before calibration, computed once for both tests that read it. */
function evalReport(): Promise<any> {
  const file = join(dir, 'report.json');
  report ??= facegate('eval-liveness', '--live', live, '--spoof', spoof, '--config', config, '--report', file).then(() => JSON.parse(readFileSync(file, 'utf8')));
  return report;
}

test('eval-liveness --report: ISO 30107-3 measures for a live and a spoof folder', async () => {
  const r = await evalReport();
  assert.equal(r.live, 10);
  assert.equal(r.spoof, 10);
  assert.deepEqual(r.attackTypes, { unknown: 10 });
  assert.deepEqual(r.misses, []);
  assert.ok(r.auc > 0.8, `AUC ${r.auc}`);
  for (const k of ['apcer', 'bpcer', 'acer']) assert.ok(r.at[k] >= 0 && r.at[k] <= 1, k);
  assert.ok('unknown' in r.at.apcerByType);
  assert.ok(r.bpcerAtApcer5.bpcer >= 0 && r.bpcerAtApcer1.bpcer >= r.bpcerAtApcer5.bpcer);
});

test('calibrate-liveness writes the threshold for the target APCER into the config and keeps its comments', async () => {
  const before = await evalReport();
  const scored = before.samples.map((x: { score: number; label: string; attackType: string; source: string }) => ({ score: x.score, live: x.label === 'live', attackType: x.attackType, source: x.source }));
  const expected = bpcerAtApcer(scored, 0.1).threshold;
  await facegate('calibrate-liveness', '--live', live, '--spoof', spoof, '--config', config, '--target-apcer', '0.1');
  const text = readFileSync(config, 'utf8');
  assert.match(text, /# my door/);
  const threshold = parse(text).liveness.passiveThreshold as number;
  assert.ok(threshold > 0 && threshold < 1, `threshold ${threshold}`);
  assert.ok(Math.abs(threshold - Math.min(1, Math.max(0, expected))) < 1e-4, `wrote ${threshold}, expected ${expected}`);
  assert.ok(operatingPoint(scored, threshold).apcer <= 0.1, 'the written threshold meets the target on the same captures');
});

test('bad invocations say what to do', async () => {
  const fail = (args: string[]) => facegate(...args).then(() => assert.fail('expected an error'), (e: Error) => e.message);
  assert.match(await fail(['eval-liveness', '--live', live]), /--live DIR and --spoof DIR, or --manifest FILE/);
  assert.match(await fail(['calibrate-liveness', '--live', live, '--spoof', spoof]), /--config FILE/);
  assert.match(await fail(['eval-liveness', '--live', live, '--spoof', join(dir, 'nope')]), /spoof folder .* not found/);
});

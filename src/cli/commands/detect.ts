import type { Command } from 'commander';
import { basename, join } from 'node:path';
import { loadDetector } from '../../vision/face-pipeline.js';
import { makeDirs } from '../../util/make-dirs.js';
import { errorReason, loadImage } from '../../vision/image.js';
import { cv, type Mat } from '../../vision/opencv.js';
import type { DetectedFace } from '../../vision/detection/face-detector.js';
import { formatFaces } from '../../vision/describe-faces.js';
import { info, printJson } from '../output.js';
import { addPipelineOptions, cliModels, type PipelineCliOptions } from './pipeline-options.js';

interface DetectOptions extends PipelineCliOptions {
  draw?: string;
  json?: boolean;
}

export function registerDetectCommand(program: Command): void {
  addPipelineOptions(
    program
      .command('detect')
      .description('detect faces: box [x, y, w, h], score and five landmarks per face')
      .argument('<images...>', 'image files')
      .option('--draw <dir>', 'write annotated copies into this folder')
      .option('--json', 'print JSON'),
  ).action(async (images: string[], o: DetectOptions) => {
    // The output folder first: a folder that cannot be made fails before the models load.
    if (o.draw) makeDirs(o.draw);
    const { pipeline } = cliModels(o, { quiet: o.json === true });
    const { detector, provider } = await loadDetector(pipeline);
    if (!o.json) info(`detector: ${detector.family} ${pipeline.precision}, provider ${provider}`);
    const results: { file: string; width?: number; height?: number; faces?: DetectedFace[]; error?: string }[] = [];
    for (const file of images) {
      try {
        const img = loadImage(file);
        const { faces } = await detector.detect(img.mat);
        results.push({ file, width: img.width, height: img.height, faces });
        if (o.draw) drawFaces(img.mat, faces, join(o.draw, basename(file)));
        if (!o.json) for (const line of formatFaces(file, img.width, img.height, faces)) console.log(line);
      } catch (err) {
        results.push({ file, error: errorReason(err) });
        if (!o.json) console.log(`${file}: error: ${errorReason(err)}`);
      }
    }
    if (o.json) printJson(results);
    if (results.some((r) => r.error)) process.exitCode = 1;
  });
}

function drawFaces(rgb: Mat, faces: DetectedFace[], out: string): void {
  const img = rgb.cvtColor(cv.COLOR_RGB2BGR);
  const thickness = Math.max(1, Math.round(Math.max(img.cols, img.rows) / 400));
  for (const f of faces) {
    const [x, y, w, h] = f.box;
    img.drawRectangle(new cv.Rect(Math.round(x), Math.round(y), Math.round(w), Math.round(h)), new cv.Vec3(0, 255, 0), thickness);
    for (const [px, py] of f.landmarks) img.drawCircle(new cv.Point2(Math.round(px), Math.round(py)), thickness + 1, new cv.Vec3(0, 0, 255), -1);
    img.putText(f.score.toFixed(3), new cv.Point2(Math.round(x), Math.max(10, Math.round(y) - 4)), cv.FONT_HERSHEY_SIMPLEX, 0.4 * thickness, new cv.Vec3(0, 255, 0), thickness);
  }
  cv.imwrite(out, img);
}

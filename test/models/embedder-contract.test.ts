// The manifest is the embedder contract: a FaceNet-style model (160x160 margin crop, prewhiten,
// 512-d) that a user drops into models/ with an entry works without code changes.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OnnxGraphBuilder, attr } from '../../src/models/onnx/graph.js';
import { buildModels } from '../../src/models/build/build-models.js';
import { MANIFEST_VERSION, readManifest, writeManifest, type ModelEntry } from '../../src/models/manifest.js';
import { sha256Bytes } from '../../src/models/sources/npm-package.js';
import { loadDetector, loadEmbedder } from '../../src/vision/face-pipeline.js';
import { loadImage } from '../../src/vision/image.js';
import { ort } from '../../src/runtime/onnx-session.js';
import { SOURCES_CACHE_DIR } from '../../src/paths.js';
import { MODELS_DIR, requireModels, samplePhotos } from '../helpers/models.js';
import { createRng } from '../../src/util/rng.js';

/** Seeded so the stand-in network has the same weights every run. */
const rng = (seed: number) => createRng(seed).next;

/** A small random-weight network with FaceNet's interface: [N,3,160,160] -> [N,512]. */
function facenetStandIn(): Uint8Array {
  const r = rng(42);
  const rand = (n: number, s: number) => Float32Array.from({ length: n }, () => (r() * 2 - 1) * s);
  const g = new OnnxGraphBuilder('facenet_stand_in');
  const x = g.input('input', ['batch', 3, 160, 160]);
  const c1 = g.op('Conv', [x, g.initializer('c1.w', rand(16 * 3 * 25, 0.2), [16, 3, 5, 5]), g.initializer('c1.b', rand(16, 0.1), [16])], {
    kernel_shape: attr.ints([5, 5]), strides: attr.ints([4, 4]), pads: attr.ints([2, 2, 2, 2]),
  });
  const c2 = g.op('Conv', [g.op('Relu', [c1]), g.initializer('c2.w', rand(32 * 16 * 9, 0.2), [32, 16, 3, 3]), g.initializer('c2.b', rand(32, 0.1), [32])], {
    kernel_shape: attr.ints([3, 3]), strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]),
  });
  const pooled = g.op('Flatten', [g.op('GlobalAveragePool', [g.op('Relu', [c2])])], { axis: attr.int(1) });
  g.node('Gemm', [pooled, g.initializer('fc.w', rand(512 * 32, 0.3), [512, 32]), g.initializer('fc.b', rand(512, 0.1), [512])], {
    outputs: ['embeddings'], attrs: { transB: attr.int(1) },
  });
  g.output('embeddings', ['batch', 512]);
  return g.build();
}

const USER_ENTRY = (bytes: Uint8Array): ModelEntry => ({
  id: 'facenet-user',
  role: 'embedder',
  family: 'facenet-inception-resnet-v1',
  file: 'facenet-user.onnx',
  sha256: sha256Bytes(bytes),
  precision: 'float32',
  source: { kind: 'user', note: 'random-weight stand-in with FaceNet\'s input and output' },
  licence: 'test fixture',
  trainingData: 'none (random weights)',
  input: {
    name: 'input',
    layout: 'NCHW',
    shape: ['batch', 3, 160, 160],
    colour: 'RGB',
    normalisation: { kind: 'prewhiten' },
    crop: { method: 'margin-box', margin: 32 },
  },
  outputs: [{ name: 'embeddings', meaning: '[N,512] face embedding' }],
  embeddingDim: 512,
});

let facenetBytes: Uint8Array;
/** The installed model set (linked, not copied) plus the user's FaceNet model and its entry. */
let userDir: string;

before(() => {
  requireModels();
  facenetBytes = facenetStandIn();
  userDir = mkdtempSync(join(tmpdir(), 'facegate-models-'));
  for (const f of readdirSync(MODELS_DIR).filter((f) => f.endsWith('.onnx'))) symlinkSync(join(MODELS_DIR, f), join(userDir, f));
  writeFileSync(join(userDir, 'facenet-user.onnx'), facenetBytes);
  const installed = readManifest(MODELS_DIR);
  writeManifest(userDir, { ...installed, models: [...installed.models, USER_ENTRY(facenetBytes)] });
});

test('a user-supplied FaceNet-shaped embedder runs from its manifest entry alone', async () => {
  const photos = await samplePhotos();
  const img = loadImage(photos.audrey!);
  const { detector } = await loadDetector({ modelsDir: userDir });
  const faces = (await detector.detect(img.mat)).faces;
  assert.equal(faces.length, 1);
  const { embedder } = await loadEmbedder({ modelsDir: userDir, embedderId: 'facenet-user' });
  const [vec] = await embedder.embed(img.mat, faces);
  assert.equal(vec!.length, 512);
  assert.ok(Math.abs(Math.hypot(...vec!) - 1) < 1e-5, 'L2-normalised');

  // Independent check of crop size, layout and prewhitening: redo them by hand on the crop.
  const crop = embedder.crop(img.mat, faces[0]!);
  assert.deepEqual([crop.cols, crop.rows], [160, 160]);
  const rgb = crop.getData();
  const n = 160 * 160 * 3;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += rgb[i]!;
  mean /= n;
  let sq = 0;
  for (let i = 0; i < n; i++) sq += (rgb[i]! - mean) ** 2;
  const std = Math.max(Math.sqrt(sq / n), 1 / Math.sqrt(n));
  const chw = new Float32Array(n);
  for (let p = 0; p < 160 * 160; p++) for (let c = 0; c < 3; c++) chw[c * 160 * 160 + p] = (rgb[p * 3 + c]! - mean) / std;
  const session = await ort.InferenceSession.create(Buffer.from(facenetBytes));
  const raw = (await session.run({ input: new ort.Tensor('float32', chw, [1, 3, 160, 160]) })).embeddings!.data as Float32Array;
  await session.release();
  const norm = Math.hypot(...raw);
  const cos = raw.reduce((acc, v, i) => acc + (v / norm) * vec![i]!, 0);
  assert.ok(cos > 0.99999, `cosine to the hand-made pipeline ${cos}`);
});

// The one full build in the suite (deploy/setup.sh made the installed set): into a folder that
// holds only a user's model and its entry, as after `facegate models build --force` on a fresh disk.
test('a build reproduces the installed float and weight-only files and keeps the user entry and file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'facegate-build-'));
  writeFileSync(join(dir, 'facenet-user.onnx'), facenetBytes);
  writeManifest(dir, { version: MANIFEST_VERSION, models: [USER_ENTRY(facenetBytes)] });
  const report = await buildModels({ modelsDir: dir, cacheDir: SOURCES_CACHE_DIR });
  assert.equal(report.upToDate, false);

  const fresh = readManifest(dir);
  const installed = readManifest(MODELS_DIR);
  const built = report.models.map((m) => m.id);
  for (const base of ['mtcnn-pnet', 'mtcnn-rnet', 'mtcnn-onet', 'mobilefacenet']) {
    for (const suffix of ['fp32', 'int8w', 'int8']) assert.ok(built.includes(`${base}-${suffix}`), `${base}-${suffix} built`);
  }
  for (const id of built) {
    const made = fresh.models.find((m) => m.id === id)!;
    const there = installed.models.find((m) => m.id === id);
    assert.ok(there, `${id} is in the installed set`);
    // Static int8 depends on calibration runs, reproducible only on the machine that built it.
    if (made.precision !== 'int8-static') assert.equal(made.sha256, there.sha256, `${id} differs from the installed file`);
  }
  const entry = fresh.models.find((m) => m.id === 'facenet-user');
  assert.deepEqual(entry, USER_ENTRY(facenetBytes), 'user entry kept as it was');
  assert.equal(sha256Bytes(readFileSync(join(dir, entry.file))), entry.sha256, 'user file untouched');

  const again = await buildModels({ modelsDir: dir, cacheDir: SOURCES_CACHE_DIR });
  assert.deepEqual(again, { upToDate: true, models: [], notes: [] }, 'nothing changed: nothing rebuilt');
});

test('a broken manifest entry is named in the error', () => {
  const manifest = JSON.parse(readFileSync(join(userDir, 'manifest.json'), 'utf8')) as { models: Record<string, unknown>[] };
  const bad = mkdtempSync(join(tmpdir(), 'facegate-badmanifest-'));
  manifest.models.push({ ...manifest.models.find((m) => m.id === 'facenet-user'), id: 'facenet-broken', embeddingDim: undefined });
  writeFileSync(join(bad, 'manifest.json'), JSON.stringify(manifest));
  assert.throws(() => readManifest(bad), /facenet-broken.*embeddingDim|embeddingDim.*facenet-broken/);
});

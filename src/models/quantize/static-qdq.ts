// Static int8 in QDQ form: uint8 asymmetric activations (ranges from calibration runs), int8
// symmetric per-channel weights, int32 biases. The graph stays a float graph with
// QuantizeLinear/DequantizeLinear pairs around every quantised Conv/Gemm; ORT recognises
// DQ -> Conv -> Q (and DQ -> Gemm -> Q) at load and replaces each with QLinearConv (QGemm),
// i.e. integer kernels. It only does so when the op's activation input, weight, bias AND output
// are all wrapped, so every quantised node gets all four. Ops in between (PRelu, MaxPool,
// Softmax, Add, Transpose, Flatten) stay float and sit between a DQ and the next Q.
import * as ort from 'onnxruntime-node';
import { DataType, decodeModel, encodeModel, initializerFloats, tensorProto, type NodeProto, type TensorProto } from '../onnx/graph.js';
import {
  WEIGHTED_OPS,
  assertFresh,
  attrFloat,
  clamp,
  dequantizeNode,
  dequantizedWeight,
  floatWeight,
  loadFloatModel,
  pruneInitializers,
  setMetadata,
  tensorNames,
  weightedNodeInfo,
  type Graph,
  type WeightedNodeInfo,
} from './common.js';

export type Feeds = Record<string, ort.Tensor>;

export interface StaticOptions {
  /** Return true to keep a Conv/Gemm in float (e.g. depthwise convs: `n.group > 1`). */
  skipNode?: (n: WeightedNodeInfo) => boolean;
  /**
   * 'minmax' (default) uses the observed extremes. `{ percentile: p }` clips each activation to
   * its [100 - p, p] percentiles over all calibration values, which trades a few saturated
   * outliers for finer steps everywhere else.
   */
  activationRange?: 'minmax' | { percentile: number };
  /**
   * Weights on [-64, 64] instead of [-127, 127] (default true). On x86 CPUs without VNNI (AVX2,
   * plain AVX-512) ORT's uint8 x int8 kernels sum pairs of products in int16 with saturation
   * (VPMADDUBSW), and 2 * 255 * 127 does not fit: measured here on the MTCNN nets, the fused
   * model's outputs were ~10x further from float than the same QDQ graph run unfused (R-Net prob
   * max error 0.29 vs 0.03). 2 * 255 * 64 fits, after which fused and unfused agree exactly and
   * the error is the 0.03 of 8-bit weights. ARM and VNNI kernels do not saturate, but the same
   * file must behave the same on the build machine and on the device.
   */
  reduceRange?: boolean;
}

export interface StaticReport {
  /** Conv/Gemm nodes that ORT can run as integer kernels, in graph order. */
  quantizedNodes: string[];
  /** Conv/Gemm nodes left in float: by `skipNode`, or because they are not in a form we quantise. */
  skippedNodes: string[];
}

interface ActivationParams {
  scale: number;
  zeroPoint: number;
}

export async function quantizeStatic(
  bytes: Uint8Array,
  calibration: Iterable<Feeds>,
  opts: StaticOptions = {},
): Promise<{ bytes: Uint8Array; report: StaticReport }> {
  const { model, graph, initializers } = loadFloatModel(bytes);
  const report: StaticReport = { quantizedNodes: [], skippedNodes: [] };
  const targets: NodeProto[] = [];
  for (const node of graph.node) {
    if (!WEIGHTED_OPS.has(node.opType ?? '')) continue;
    const weight = floatWeight(node, initializers);
    const eligible = weight !== null && biasFits(node, initializers, weight) && !opts.skipNode?.(weightedNodeInfo(node, weight));
    if (eligible) targets.push(node);
    (eligible ? report.quantizedNodes : report.skippedNodes).push(node.name ?? '');
  }

  // Tensors to wrap in Q/DQ: each quantised node's activation input and output, once each.
  const activations = [...new Set(targets.flatMap((n) => [n.input![0]!, n.output![0]!]))];
  const ranges = await calibrate(bytes, activations, [...calibration], opts.activationRange ?? 'minmax');
  const params = new Map(activations.map((t) => [t, activationParams(ranges.get(t)!)] as const));

  rewrite(graph, initializers, targets, params, opts.reduceRange === false ? 127 : 64);
  pruneInitializers(graph);
  const method = opts.activationRange === undefined || opts.activationRange === 'minmax' ? 'minmax' : `percentile ${opts.activationRange.percentile}`;
  const weights = opts.reduceRange === false ? 'int8' : '7-bit (+-64)';
  setMetadata(model, 'facegate.quantization', `static QDQ: uint8 asymmetric activations (${method}), ${weights} symmetric per-channel weights, int32 bias`);
  return { bytes: encodeModel(model), report };
}

/** A bias we can turn into int32 must be a float [outChannels] initializer, and Gemm must not rescale it. */
function biasFits(node: NodeProto, initializers: Map<string, TensorProto>, weight: { tensor: TensorProto; axis: number }): boolean {
  if (node.opType === 'Gemm' && (attrFloat(node, 'alpha', 1) !== 1 || attrFloat(node, 'beta', 1) !== 1)) return false;
  const biasName = node.input?.[2];
  if (!biasName) return true;
  const bias = initializers.get(biasName);
  const outChannels = Number(weight.tensor.dims?.[weight.axis]);
  return bias?.dataType === DataType.FLOAT && bias.dims?.length === 1 && Number(bias.dims[0]) === outChannels;
}

type Range = { min: number; max: number };

/**
 * Runs the float model with the wanted tensors exposed as extra graph outputs and returns the
 * range of each over all feeds, widened to include 0 so that zero (padding, PRelu's kink) is exact.
 */
async function calibrate(
  bytes: Uint8Array,
  tensors: string[],
  feeds: Feeds[],
  method: NonNullable<StaticOptions['activationRange']>,
): Promise<Map<string, Range>> {
  if (feeds.length === 0) throw new Error('quantizeStatic: calibration set is empty');
  const probe = decodeModel(bytes);
  const graph = probe.graph as Graph;
  const graphInputs = new Set(graph.input.map((v) => v.name ?? ''));
  const outputs = new Set(graph.output.map((v) => v.name ?? ''));
  for (const t of tensors) {
    if (graphInputs.has(t) || outputs.has(t)) continue;
    graph.output.push({ name: t, type: { tensorType: { elemType: DataType.FLOAT } } });
  }
  const session = await ort.InferenceSession.create(encodeModel(probe), { graphOptimizationLevel: 'basic', logSeverityLevel: 3 });
  const fetches = tensors.filter((t) => !graphInputs.has(t));
  // One pass, or two for percentiles: the histogram bins need each tensor's full range first.
  const valuesOf = async function* (): AsyncGenerator<[string, Float32Array]> {
    for (const feed of feeds) {
      const result = await session.run(feed, fetches);
      for (const t of tensors) {
        const tensor = graphInputs.has(t) ? feed[t] : result[t];
        if (!tensor || tensor.type !== 'float32') throw new Error(`quantizeStatic: calibration did not produce float tensor ${t}`);
        yield [t, tensor.data as Float32Array];
      }
    }
  };
  try {
    const extremes = new Map<string, Range>(tensors.map((t) => [t, { min: 0, max: 0 }]));
    for await (const [t, data] of valuesOf()) {
      const r = extremes.get(t)!;
      for (let i = 0; i < data.length; i++) {
        const v = data[i]!;
        if (v < r.min) r.min = v;
        if (v > r.max) r.max = v;
      }
    }
    if (method === 'minmax') return extremes;
    const histograms = new Map(tensors.map((t) => [t, new Float64Array(HISTOGRAM_BINS)] as const));
    for await (const [t, data] of valuesOf()) addToHistogram(histograms.get(t)!, extremes.get(t)!, data);
    return new Map(tensors.map((t) => [t, percentileRange(histograms.get(t)!, extremes.get(t)!, method.percentile)] as const));
  } finally {
    await session.release();
  }
}

const HISTOGRAM_BINS = 4096;

function binOf(v: number, r: Range): number {
  return clamp(Math.floor(((v - r.min) / (r.max - r.min)) * HISTOGRAM_BINS), 0, HISTOGRAM_BINS - 1);
}

function addToHistogram(hist: Float64Array, r: Range, data: Float32Array): void {
  if (r.max === r.min) return;
  for (let i = 0; i < data.length; i++) hist[binOf(data[i]!, r)]! += 1;
}

/** [lower, upper] edges of the bins holding the (100 - p)th and pth percentile, still containing 0. */
export function percentileRange(hist: Float64Array, r: Range, percentile: number): Range {
  if (!(percentile > 50 && percentile <= 100)) throw new Error(`quantizeStatic: percentile must be in (50, 100], got ${percentile}`);
  const total = hist.reduce((a, b) => a + b, 0);
  if (total === 0) return r;
  const tail = (total * (100 - percentile)) / 100;
  const width = (r.max - r.min) / hist.length;
  let lo = 0;
  for (let seen = hist[0]!; seen <= tail && lo < hist.length - 1; seen += hist[++lo]!);
  let hi = hist.length - 1;
  for (let seen = hist[hi]!; seen <= tail && hi > 0; seen += hist[--hi]!);
  return { min: Math.min(0, r.min + lo * width), max: Math.max(0, r.min + (hi + 1) * width) };
}

/** uint8 asymmetric parameters for a range that contains 0. */
function activationParams(r: Range): ActivationParams {
  // A tensor that is 0 on every calibration input: any scale represents it exactly.
  if (r.max === r.min) return { scale: 1, zeroPoint: 0 };
  const scale = Math.fround((r.max - r.min) / 255);
  return { scale, zeroPoint: clamp(Math.round(-r.min / scale), 0, 255) };
}

/** Inserts the Q/DQ pairs, int8 weights and int32 biases; mutates `graph`. */
function rewrite(
  graph: Graph,
  initializers: Map<string, TensorProto>,
  targets: NodeProto[],
  params: Map<string, ActivationParams>,
  weightQmax: number,
): void {
  const names = tensorNames(graph);
  const graphInputs = new Set(graph.input.map((v) => v.name ?? ''));
  const graphOutputs = new Set(graph.output.map((v) => v.name ?? ''));
  const front: NodeProto[] = [];
  const added: TensorProto[] = [];

  const weights = new Map<string, ReturnType<typeof dequantizedWeight>>();
  const biases = new Map<string, { output: string; scales: Float32Array }>();
  for (const node of targets) {
    const weightName = node.input![1]!;
    let w = weights.get(weightName);
    if (!w) {
      w = dequantizedWeight(initializers.get(weightName)!, floatWeight(node, initializers)!.axis, weightQmax);
      assertFresh(names, [...w.initializers.map((t) => t.name ?? ''), w.output]);
      weights.set(weightName, w);
      front.push(w.node);
      added.push(...w.initializers);
    }
    node.input![1] = w.output;

    const biasName = node.input![2];
    if (!biasName) continue;
    // The integer kernel adds the int32 bias straight to the int32 accumulator of x_q * w_q,
    // so its scale has to be exactly x_scale * w_scale[c].
    const xScale = params.get(node.input![0]!)!.scale;
    const scales = w.scales.map((s) => Math.fround(xScale * s));
    const shared = biases.get(biasName);
    if (shared) {
      if (!shared.scales.every((s, i) => s === scales[i])) {
        throw new Error(`quantizeStatic: bias ${biasName} is shared by nodes with different input scales`);
      }
      node.input![2] = shared.output;
      continue;
    }
    const b = initializerFloats(initializers.get(biasName)!);
    const q = Int32Array.from(b, (v, c) => clamp(Math.round(v / scales[c]!), -2147483647, 2147483647));
    const output = `${biasName}_dequantized`;
    const inits = [
      tensorProto(`${biasName}_quantized`, q, [q.length]),
      tensorProto(`${biasName}_scale`, scales, [q.length]),
      tensorProto(`${biasName}_zero_point`, new Int32Array(q.length), [q.length]),
    ];
    assertFresh(names, [...inits.map((t) => t.name ?? ''), output]);
    front.push(dequantizeNode(biasName, inits.map((t) => t.name ?? ''), output, 0));
    added.push(...inits);
    biases.set(biasName, { output, scales });
    node.input![2] = output;
  }

  // One Q/DQ pair per activation tensor; every reader, quantised or not, reads the DQ output so
  // that the producer's only consumer is the Q node (a fusion requirement). A graph output keeps
  // its name on the DQ side and the producer writes a renamed float tensor instead.
  const pairs = new Map<string, NodeProto[]>();
  const readAs = new Map<string, string>();
  const writeAs = new Map<string, string>();
  for (const [t, p] of params) {
    const isOutput = graphOutputs.has(t);
    const source = isOutput ? `${t}_float` : t;
    const result = isOutput ? t : `${t}_dequantized`;
    const inits = [tensorProto(`${t}_scale`, Float32Array.of(p.scale), []), tensorProto(`${t}_zero_point`, Uint8Array.of(p.zeroPoint), [])];
    assertFresh(names, [...inits.map((i) => i.name ?? ''), `${t}_quantized`, isOutput ? source : result]);
    added.push(...inits);
    pairs.set(t, [
      { name: `${t}_QuantizeLinear`, opType: 'QuantizeLinear', input: [source, `${t}_scale`, `${t}_zero_point`], output: [`${t}_quantized`] },
      dequantizeNode(t, [`${t}_quantized`, `${t}_scale`, `${t}_zero_point`], result),
    ]);
    if (isOutput) writeAs.set(t, source);
    else readAs.set(t, result);
  }

  // Each pair goes right after its producer (graph inputs: up front), which keeps the order topological.
  const nodes: NodeProto[] = [...front];
  for (const t of params.keys()) if (graphInputs.has(t)) nodes.push(...pairs.get(t)!);
  for (const node of graph.node) {
    const produced = node.output ?? [];
    node.input = (node.input ?? []).map((t) => readAs.get(t) ?? t);
    node.output = produced.map((t) => writeAs.get(t) ?? t);
    nodes.push(node, ...produced.flatMap((t) => pairs.get(t) ?? []));
  }
  graph.node = nodes;
  graph.initializer = [...graph.initializer, ...added];
}

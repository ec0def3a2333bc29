// Weight-only int8: Conv/Gemm weights are stored as int8 (symmetric, per output channel) and a
// DequantizeLinear restores them to float in the graph; activations and biases stay float.
// This buys a ~4x smaller file, not speed.
//
// Loading: by default ORT keeps DequantizeLinear(constant) in the graph (its constant folding
// skips DQ nodes so that QDQ fusion can see them) and then runs it on every inference, which made
// these models slower than float here. With the session config entry `session.disable_quant_qdq`
// = '1' ORT folds the DQ into a float initializer at load and runs exactly the float kernels.
// onnxruntime-node 1.30 does pass it through although its typings say `extra` is wasm-only:
//   InferenceSession.create(bytes, { extra: { session: { disable_quant_qdq: '1' } } })
// Verified with inspect.ts: the optimised graph then has no DequantizeLinear left and is op for op
// the float model's (without it, one DQ per weight stays: 5-8 in the MTCNN nets);
// test/models/quantize.test.ts checks both.
import { encodeModel } from '../onnx/graph.js';
import {
  assertFresh,
  dequantizedWeight,
  floatWeight,
  loadFloatModel,
  pruneInitializers,
  setMetadata,
  tensorNames,
  weightedNodeInfo,
  type WeightedNodeInfo,
} from './common.js';

export interface WeightOnlyOptions {
  /** Return true to keep a node's weight in float. */
  skipNode?: (n: WeightedNodeInfo) => boolean;
}

/** Session options under which a weight-only model runs the float kernels (see the file comment). */
export const WEIGHT_ONLY_SESSION_EXTRA = { session: { disable_quant_qdq: '1' } } as const;

export function quantizeWeightsOnly(bytes: Uint8Array, opts: WeightOnlyOptions = {}): Uint8Array {
  const { model, graph, initializers } = loadFloatModel(bytes);
  const names = tensorNames(graph);
  // Keyed by weight name: a weight shared by several nodes gets one int8 copy and one DQ.
  const dequantized = new Map<string, ReturnType<typeof dequantizedWeight>>();

  for (const node of graph.node) {
    const weight = floatWeight(node, initializers);
    if (!weight || opts.skipNode?.(weightedNodeInfo(node, weight))) continue;
    const name = weight.tensor.name ?? '';
    let dq = dequantized.get(name);
    if (!dq) {
      dq = dequantizedWeight(weight.tensor, weight.axis);
      assertFresh(names, [...dq.initializers.map((t) => t.name ?? ''), dq.output]);
      dequantized.set(name, dq);
    }
    node.input![1] = dq.output;
  }

  const dqs = [...dequantized.values()];
  // DQ nodes read only initializers, so putting them first keeps the node list topologically sorted.
  graph.node = [...dqs.map((d) => d.node), ...graph.node];
  graph.initializer = [...graph.initializer, ...dqs.flatMap((d) => d.initializers)];
  pruneInitializers(graph);
  setMetadata(model, 'facegate.quantization', 'int8 weight-only, symmetric per-channel');
  return encodeModel(model);
}

// Pieces shared by the weight-only and the static (QDQ) quantisers: int8 weight maths and the
// small amount of graph bookkeeping both need. Nothing here reads clocks or randomness and all
// iteration follows graph order, so the quantised bytes depend only on the float model (and, for
// static, the calibration).
import {
  DataType,
  attr,
  attributeProto,
  OPSET,
  decodeModel,
  dimsOf,
  initializerFloats,
  tensorProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from '../onnx/graph.js';

/** Conv and Gemm are the only ops with weights worth quantising in our nets. */
export const WEIGHTED_OPS = new Set(['Conv', 'Gemm']);

/**
 * Symmetric int8 (zero-point 0) per-channel quantisation of `data` along `axis` onto
 * [-qmax, qmax]. A symmetric grid (no -128) means w and -w quantise to opposite values.
 */
export function quantizePerChannel(
  data: Float32Array,
  dims: number[],
  axis: number,
  qmax = 127,
): { q: Int8Array; scales: Float32Array } {
  const channels = dims[axis]!;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const maxAbs = new Float32Array(channels);
  for (let i = 0; i < data.length; i++) {
    const c = Math.floor(i / inner) % channels;
    maxAbs[c] = Math.max(maxAbs[c]!, Math.abs(data[i]!));
  }
  // An all-zero channel would give scale 0, which DequantizeLinear accepts but is a division
  // hazard for the bias scale; any positive scale represents zeros exactly.
  const scales = maxAbs.map((m) => (m > 0 ? Math.fround(m / qmax) : 1));
  const q = new Int8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const c = Math.floor(i / inner) % channels;
    q[i] = clamp(Math.round(data[i]! / scales[c]!), -qmax, qmax);
  }
  return { q, scales };
}

export function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

export function attrInt(node: NodeProto, name: string, fallback: number): number {
  const a = node.attribute?.find((x) => x.name === name);
  return a?.i === undefined || a.i === null ? fallback : Number(a.i);
}

export function attrFloat(node: NodeProto, name: string, fallback: number): number {
  const a = node.attribute?.find((x) => x.name === name);
  return a?.f === undefined || a.f === null ? fallback : a.f;
}

/** Per-channel axis of a weight, or null when the op is not one we quantise in that form. */
export function weightAxis(node: NodeProto): number | null {
  if (node.opType === 'Conv') return 0;
  // ORT's QGemm wants A untransposed; B's per-channel axis is its output (N) dimension.
  if (node.opType === 'Gemm' && attrInt(node, 'transA', 0) === 0) return attrInt(node, 'transB', 0) === 1 ? 0 : 1;
  return null;
}

export type ValueInfo = import('onnx-proto').onnx.IValueInfoProto;

/** The graph of a decoded model: protobufjs always materialises repeated fields as arrays. */
export interface Graph {
  node: NodeProto[];
  initializer: TensorProto[];
  input: ValueInfo[];
  output: ValueInfo[];
}

export interface LoadedModel {
  model: ModelProto;
  graph: Graph;
  initializers: Map<string, TensorProto>;
}

export function loadFloatModel(bytes: Uint8Array): LoadedModel {
  const model = decodeModel(bytes);
  if (!model.graph) throw new Error('quantize: model has no graph');
  const graph = model.graph as Graph;
  const opset = model.opsetImport?.find((o) => !o.domain || o.domain === 'ai.onnx');
  // Per-axis DequantizeLinear needs opset 13.
  if (!opset || Number(opset.version) < OPSET) {
    throw new Error(`quantize: default-domain opset ${Number(opset?.version ?? 0)} is older than ${OPSET}`);
  }
  const initializers = new Map(graph.initializer.map((t) => [t.name ?? '', t] as const));
  return { model, graph, initializers };
}

/** The float weight of a Conv/Gemm that can be quantised per channel, with its axis. */
export function floatWeight(node: NodeProto, initializers: Map<string, TensorProto>): { tensor: TensorProto; axis: number } | null {
  if (!WEIGHTED_OPS.has(node.opType ?? '')) return null;
  const axis = weightAxis(node);
  const tensor = initializers.get(node.input?.[1] ?? '');
  if (axis === null || !tensor || tensor.dataType !== DataType.FLOAT || dimsOf(tensor).length < 2) return null;
  return { tensor, axis };
}

export interface DequantizedWeight {
  initializers: TensorProto[];
  node: NodeProto;
  output: string;
  scales: Float32Array;
}

/** int8 weight + scale + zero-point initializers and the per-axis DequantizeLinear that restores it. */
export function dequantizedWeight(tensor: TensorProto, axis: number, qmax = 127): DequantizedWeight {
  const name = tensor.name ?? '';
  const dims = dimsOf(tensor);
  const { q, scales } = quantizePerChannel(initializerFloats(tensor), dims, axis, qmax);
  const output = `${name}_dequantized`;
  return {
    initializers: [
      tensorProto(`${name}_quantized`, q, dims),
      tensorProto(`${name}_scale`, scales, [scales.length]),
      // The zero-point's type is what tells DequantizeLinear (and ORT's fusion) the weight is int8.
      tensorProto(`${name}_zero_point`, new Int8Array(scales.length), [scales.length]),
    ],
    node: dequantizeNode(name, [`${name}_quantized`, `${name}_scale`, `${name}_zero_point`], output, axis),
    output,
    scales,
  };
}

export function dequantizeNode(base: string, inputs: string[], output: string, axis?: number): NodeProto {
  return {
    name: `${base}_DequantizeLinear`,
    opType: 'DequantizeLinear',
    input: inputs,
    output: [output],
    attribute: axis === undefined ? [] : [attributeProto('axis', attr.int(axis))],
  };
}

/** Every tensor name used in the graph, to refuse generated names that would collide. */
export function tensorNames(g: Graph): Set<string> {
  const names = new Set<string>();
  for (const t of g.initializer) names.add(t.name ?? '');
  for (const v of [...g.input, ...g.output]) names.add(v.name ?? '');
  for (const n of g.node) for (const x of [...(n.input ?? []), ...(n.output ?? [])]) names.add(x);
  return names;
}

export function assertFresh(existing: Set<string>, generated: Iterable<string>): void {
  for (const n of generated) {
    if (existing.has(n)) throw new Error(`quantize: generated tensor name ${n} already exists in the model`);
    existing.add(n);
  }
}

export function setMetadata(model: ModelProto, key: string, value: string): void {
  model.metadataProps = [...(model.metadataProps ?? []).filter((p) => p.key !== key), { key, value }] as ModelProto['metadataProps'];
}

/** What a caller sees of a Conv/Gemm when deciding whether to leave it in float. */
export interface WeightedNodeInfo {
  name: string;
  opType: string;
  /** Conv `group` (1 for Gemm): group == channels marks a depthwise conv. */
  group: number;
  outChannels: number;
}

export function weightedNodeInfo(node: NodeProto, weight: { tensor: TensorProto; axis: number }): WeightedNodeInfo {
  return {
    name: node.name ?? '',
    opType: node.opType ?? '',
    group: node.opType === 'Conv' ? attrInt(node, 'group', 1) : 1,
    outChannels: dimsOf(weight.tensor)[weight.axis]!,
  };
}

/** Drops initializers (and their legacy graph-input entries) that no node reads any more. */
export function pruneInitializers(g: Graph): void {
  const used = new Set<string>();
  for (const n of g.node) for (const x of n.input ?? []) used.add(x);
  for (const o of g.output) used.add(o.name ?? '');
  const dropped = new Set(g.initializer.filter((t) => !used.has(t.name ?? '')).map((t) => t.name ?? ''));
  g.initializer = g.initializer.filter((t) => !dropped.has(t.name ?? ''));
  g.input = g.input.filter((v) => !dropped.has(v.name ?? ''));
}

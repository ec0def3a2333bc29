// A hand-written reader for the parts of a TFLite flatbuffer (tensorflow/lite/schema/schema.fbs)
// that a float32 CNN converter needs. Generated flatc bindings would drag in hundreds of tables
// we never read; here each table is read by its vtable field index, as numbered in schema.fbs
// (a union field takes two indices: its `_type` byte first, then the table).
import { ByteBuffer } from 'flatbuffers';

export type TfliteTensorType = 'float32' | 'float16' | 'int32' | 'uint8' | 'int64' | 'string' | 'bool' | 'int16' | 'complex64' | 'int8' | 'float64';

const TENSOR_TYPES: readonly TfliteTensorType[] = ['float32', 'float16', 'int32', 'uint8', 'int64', 'string', 'bool', 'int16', 'complex64', 'int8', 'float64'];

export type TensorData = Float32Array | Float64Array | Int32Array | BigInt64Array | Int16Array | Int8Array | Uint8Array;

export interface TfliteTensor {
  index: number;
  name: string;
  shape: number[];
  type: TfliteTensorType;
  /** Constant contents; null for activations and graph inputs (TFLite buffer 0 or an empty buffer). */
  data: TensorData | null;
}

export type Padding = 'SAME' | 'VALID';
export type FusedActivation = 'NONE' | 'RELU' | 'RELU_N1_TO_1' | 'RELU6' | 'TANH' | 'SIGN_BIT';

const PADDINGS: readonly Padding[] = ['SAME', 'VALID'];
const ACTIVATIONS: readonly FusedActivation[] = ['NONE', 'RELU', 'RELU_N1_TO_1', 'RELU6', 'TANH', 'SIGN_BIT'];

export type TfliteOptions =
  | { kind: 'none' }
  | { kind: 'conv2d'; padding: Padding; strideW: number; strideH: number; dilationW: number; dilationH: number; activation: FusedActivation }
  | {
      kind: 'depthwise';
      padding: Padding;
      strideW: number;
      strideH: number;
      depthMultiplier: number;
      dilationW: number;
      dilationH: number;
      activation: FusedActivation;
    }
  | { kind: 'pool2d'; padding: Padding; strideW: number; strideH: number; filterW: number; filterH: number; activation: FusedActivation }
  | { kind: 'fullyConnected'; activation: FusedActivation; weightsFormat: number; keepNumDims: boolean }
  | { kind: 'reshape'; newShape: number[] | null }
  | { kind: 'concatenation'; axis: number; activation: FusedActivation }
  | { kind: 'stridedSlice'; beginMask: number; endMask: number; ellipsisMask: number; newAxisMask: number; shrinkAxisMask: number }
  | { kind: 'leakyRelu'; alpha: number }
  /** ADD, SUB, MUL: only a fused activation. */
  | { kind: 'elementwise'; activation: FusedActivation }
  /** Options this reader does not decode; converters must reject the op rather than guess. */
  | { kind: 'unparsed'; unionType: number };

export interface TfliteOperator {
  index: number;
  /** BuiltinOperator name (e.g. `CONV_2D`), `CUSTOM:<code>` for custom ops, `BUILTIN_<n>` for codes not named here. */
  opcode: string;
  /** Tensor indices; -1 marks an omitted optional input (e.g. a conv without bias). */
  inputs: number[];
  outputs: number[];
  options: TfliteOptions;
}

export interface TfliteModel {
  schemaVersion: number;
  description: string;
  /** Number of subgraphs in the file; only subgraph 0 (the main graph) is read. */
  subgraphCount: number;
  tensors: TfliteTensor[];
  operators: TfliteOperator[];
  inputs: number[];
  outputs: number[];
}

// BuiltinOperator values from schema.fbs. Codes above this list still read; they are named BUILTIN_<n>.
const BUILTIN_NAMES: Readonly<Record<number, string>> = {
  0: 'ADD', 1: 'AVERAGE_POOL_2D', 2: 'CONCATENATION', 3: 'CONV_2D', 4: 'DEPTHWISE_CONV_2D', 5: 'DEPTH_TO_SPACE',
  6: 'DEQUANTIZE', 7: 'EMBEDDING_LOOKUP', 8: 'FLOOR', 9: 'FULLY_CONNECTED', 10: 'HASHTABLE_LOOKUP',
  11: 'L2_NORMALIZATION', 12: 'L2_POOL_2D', 13: 'LOCAL_RESPONSE_NORMALIZATION', 14: 'LOGISTIC',
  15: 'LSH_PROJECTION', 16: 'LSTM', 17: 'MAX_POOL_2D', 18: 'MUL', 19: 'RELU', 20: 'RELU_N1_TO_1', 21: 'RELU6',
  22: 'RESHAPE', 23: 'RESIZE_BILINEAR', 24: 'RNN', 25: 'SOFTMAX', 26: 'SPACE_TO_DEPTH', 27: 'SVDF', 28: 'TANH',
  29: 'CONCAT_EMBEDDINGS', 30: 'SKIP_GRAM', 31: 'CALL', 32: 'CUSTOM', 33: 'EMBEDDING_LOOKUP_SPARSE', 34: 'PAD',
  35: 'UNIDIRECTIONAL_SEQUENCE_RNN', 36: 'GATHER', 37: 'BATCH_TO_SPACE_ND', 38: 'SPACE_TO_BATCH_ND',
  39: 'TRANSPOSE', 40: 'MEAN', 41: 'SUB', 42: 'DIV', 43: 'SQUEEZE', 44: 'UNIDIRECTIONAL_SEQUENCE_LSTM',
  45: 'STRIDED_SLICE', 46: 'BIDIRECTIONAL_SEQUENCE_RNN', 47: 'EXP', 48: 'TOPK_V2', 49: 'SPLIT', 50: 'LOG_SOFTMAX',
  51: 'DELEGATE', 52: 'BIDIRECTIONAL_SEQUENCE_LSTM', 53: 'CAST', 54: 'PRELU', 55: 'MAXIMUM', 56: 'ARG_MAX',
  57: 'MINIMUM', 58: 'LESS', 59: 'NEG', 60: 'PADV2', 61: 'GREATER', 62: 'GREATER_EQUAL', 63: 'LESS_EQUAL',
  64: 'SELECT', 65: 'SLICE', 66: 'SIN', 67: 'TRANSPOSE_CONV', 68: 'SPARSE_TO_DENSE', 69: 'TILE', 70: 'EXPAND_DIMS',
  71: 'EQUAL', 72: 'NOT_EQUAL', 73: 'LOG', 74: 'SUM', 75: 'SQRT', 76: 'RSQRT', 77: 'SHAPE', 78: 'POW',
  79: 'ARG_MIN', 80: 'FAKE_QUANT', 81: 'REDUCE_PROD', 82: 'REDUCE_MAX', 83: 'PACK', 84: 'LOGICAL_OR',
  85: 'ONE_HOT', 86: 'LOGICAL_AND', 87: 'LOGICAL_NOT', 88: 'UNPACK', 89: 'REDUCE_MIN', 90: 'FLOOR_DIV',
  91: 'REDUCE_ANY', 92: 'SQUARE', 93: 'ZEROS_LIKE', 94: 'FILL', 95: 'FLOOR_MOD', 96: 'RANGE',
  97: 'RESIZE_NEAREST_NEIGHBOR', 98: 'LEAKY_RELU', 99: 'SQUARED_DIFFERENCE', 100: 'MIRROR_PAD', 101: 'ABS',
  102: 'SPLIT_V', 103: 'UNIQUE', 104: 'CEIL', 105: 'REVERSE_V2', 106: 'ADD_N', 107: 'GATHER_ND', 108: 'COS',
  109: 'WHERE', 110: 'RANK', 111: 'ELU', 112: 'REVERSE_SEQUENCE', 113: 'MATRIX_DIAG', 114: 'QUANTIZE',
  115: 'MATRIX_SET_DIAG', 116: 'ROUND', 117: 'HARD_SWISH', 118: 'IF', 119: 'WHILE', 120: 'NON_MAX_SUPPRESSION_V4',
  121: 'NON_MAX_SUPPRESSION_V5', 122: 'SCATTER_ND', 123: 'SELECT_V2', 124: 'DENSIFY', 125: 'SEGMENT_SUM',
  126: 'BATCH_MATMUL',
};

// BuiltinOptions union member numbers (1-based position in schema.fbs `union BuiltinOptions`).
const OPTIONS = {
  Conv2D: 1,
  DepthwiseConv2D: 2,
  Pool2D: 5,
  FullyConnected: 8,
  Concatenation: 10,
  Add: 11,
  Reshape: 17,
  Mul: 21,
  Sub: 28,
  StridedSlice: 32,
  LeakyRelu: 75,
} as const;

/** A flatbuffer table position plus typed field accessors by schema field index. */
class Table {
  constructor(
    private readonly bb: ByteBuffer,
    private readonly pos: number,
  ) {}

  /** Absolute position of field `index`, or 0 when the writer omitted it (it holds the default). */
  private field(index: number): number {
    const rel = this.bb.__offset(this.pos, 4 + 2 * index);
    return rel === 0 ? 0 : this.pos + rel;
  }

  int8(index: number, def = 0): number {
    const at = this.field(index);
    return at === 0 ? def : this.bb.readInt8(at);
  }

  uint8(index: number, def = 0): number {
    const at = this.field(index);
    return at === 0 ? def : this.bb.readUint8(at);
  }

  int32(index: number, def = 0): number {
    const at = this.field(index);
    return at === 0 ? def : this.bb.readInt32(at);
  }

  uint32(index: number, def = 0): number {
    const at = this.field(index);
    return at === 0 ? def : this.bb.readUint32(at);
  }

  float32(index: number, def = 0): number {
    const at = this.field(index);
    return at === 0 ? def : this.bb.readFloat32(at);
  }

  uint64(index: number): bigint {
    const at = this.field(index);
    return at === 0 ? 0n : this.bb.readUint64(at);
  }

  bool(index: number, def = false): boolean {
    const at = this.field(index);
    return at === 0 ? def : this.bb.readUint8(at) !== 0;
  }

  string(index: number): string | null {
    const at = this.field(index);
    return at === 0 ? null : (this.bb.__string(at) as string);
  }

  table(index: number): Table | null {
    const at = this.field(index);
    return at === 0 ? null : new Table(this.bb, this.bb.__indirect(at));
  }

  tables(index: number): Table[] {
    const at = this.field(index);
    if (at === 0) return [];
    const start = this.bb.__vector(at);
    return Array.from({ length: this.bb.__vector_len(at) }, (_, i) => new Table(this.bb, this.bb.__indirect(start + 4 * i)));
  }

  int32s(index: number): number[] | null {
    const at = this.field(index);
    if (at === 0) return null;
    const start = this.bb.__vector(at);
    return Array.from({ length: this.bb.__vector_len(at) }, (_, i) => this.bb.readInt32(start + 4 * i));
  }

  /** A [ubyte] vector as a view into the file bytes (not copied). */
  bytes(index: number): Uint8Array | null {
    const at = this.field(index);
    if (at === 0) return null;
    const start = this.bb.__vector(at);
    return this.bb.bytes().subarray(start, start + this.bb.__vector_len(at));
  }
}

function enumName<T>(names: readonly T[], value: number, what: string): T {
  const name = names[value];
  if (name === undefined) throw new Error(`TFLite: unknown ${what} value ${value}`);
  return name;
}

/**
 * Copies a tensor's bytes into a typed array of its own: inside the file they need not be aligned for a
 * Float32Array view. TFLite data is little-endian, as is every platform this project runs on.
 */
function typedData(raw: Uint8Array, type: TfliteTensorType, tensorName: string): TensorData {
  const copy = new Uint8Array(raw);
  const ab = copy.buffer;
  switch (type) {
    case 'float32':
      return new Float32Array(ab, 0, copy.byteLength / 4);
    case 'float64':
      return new Float64Array(ab, 0, copy.byteLength / 8);
    case 'int32':
      return new Int32Array(ab, 0, copy.byteLength / 4);
    case 'int64':
      return new BigInt64Array(ab, 0, copy.byteLength / 8);
    case 'int16':
      return new Int16Array(ab, 0, copy.byteLength / 2);
    case 'int8':
      return new Int8Array(ab);
    case 'uint8':
    case 'bool':
      return copy;
    case 'float16':
      // Widened once here: half-precision weights are dequantised by the graph's DEQUANTIZE ops anyway.
      return halfToFloat(new Uint16Array(ab, 0, copy.byteLength / 2));
    default:
      throw new Error(`TFLite: constant tensor ${tensorName} has type ${type}, which this reader does not decode`);
  }
}

/** IEEE 754 binary16 -> float32, exactly (every half value is representable as a float). */
function halfToFloat(half: Uint16Array): Float32Array {
  const out = new Float32Array(half.length);
  for (let i = 0; i < half.length; i++) {
    const h = half[i]!;
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) out[i] = sign * frac * 2 ** -24;
    else if (exp === 31) out[i] = frac === 0 ? sign * Infinity : NaN;
    else out[i] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return out;
}

function readBuffer(buffer: Table | undefined, bufferIndex: number): Uint8Array | null {
  if (!buffer) throw new Error(`TFLite: buffer index ${bufferIndex} out of range`);
  // Buffer fields: 0 data, 1 offset, 2 size. offset/size are used by files over 2 GB, where weights
  // live after the flatbuffer; a MobileFaceNet-sized model never needs that, so say so rather than misread.
  if (buffer.uint64(1) > 1n) throw new Error(`TFLite: buffer ${bufferIndex} is stored outside the flatbuffer (offset/size); not supported`);
  const data = buffer.bytes(0);
  return data && data.length > 0 ? data : null;
}

function readTensor(t: Table, index: number, buffers: Table[]): TfliteTensor {
  // Tensor fields: 0 shape, 1 type, 2 buffer, 3 name.
  const type = enumName(TENSOR_TYPES, t.int8(1), 'TensorType');
  const name = t.string(3) ?? `tensor_${index}`;
  const bufferIndex = t.uint32(2);
  const raw = bufferIndex === 0 ? null : readBuffer(buffers[bufferIndex], bufferIndex);
  return { index, name, shape: t.int32s(0) ?? [], type, data: raw ? typedData(raw, type, name) : null };
}

function readOpcode(code: Table): string {
  // OperatorCode fields: 0 deprecated_builtin_code (byte), 1 custom_code, 2 version, 3 builtin_code (int).
  // Old writers fill only the byte field, new ones fill both, and codes >= 127 live only in the int:
  // the larger of the two is the real code (as TFLite's own GetBuiltinCode does).
  const builtin = Math.max(code.int8(0), code.int32(3));
  if (builtin === 32) return `CUSTOM:${code.string(1) ?? ''}`;
  return BUILTIN_NAMES[builtin] ?? `BUILTIN_${builtin}`;
}

function activationAt(t: Table, index: number): FusedActivation {
  return enumName(ACTIVATIONS, t.int8(index), 'ActivationFunctionType');
}

function paddingAt(t: Table, index: number): Padding {
  return enumName(PADDINGS, t.int8(index), 'Padding');
}

function readOptions(unionType: number, t: Table | null): TfliteOptions {
  if (unionType === 0 || !t) return { kind: 'none' };
  switch (unionType) {
    case OPTIONS.Conv2D:
      // padding, stride_w, stride_h, fused_activation_function, dilation_w_factor, dilation_h_factor
      return {
        kind: 'conv2d',
        padding: paddingAt(t, 0),
        strideW: t.int32(1),
        strideH: t.int32(2),
        activation: activationAt(t, 3),
        dilationW: t.int32(4, 1),
        dilationH: t.int32(5, 1),
      };
    case OPTIONS.DepthwiseConv2D:
      // padding, stride_w, stride_h, depth_multiplier, fused_activation_function, dilation_w, dilation_h
      return {
        kind: 'depthwise',
        padding: paddingAt(t, 0),
        strideW: t.int32(1),
        strideH: t.int32(2),
        depthMultiplier: t.int32(3),
        activation: activationAt(t, 4),
        dilationW: t.int32(5, 1),
        dilationH: t.int32(6, 1),
      };
    case OPTIONS.Pool2D:
      // padding, stride_w, stride_h, filter_width, filter_height, fused_activation_function
      return {
        kind: 'pool2d',
        padding: paddingAt(t, 0),
        strideW: t.int32(1),
        strideH: t.int32(2),
        filterW: t.int32(3),
        filterH: t.int32(4),
        activation: activationAt(t, 5),
      };
    case OPTIONS.FullyConnected:
      // fused_activation_function, weights_format, keep_num_dims, asymmetric_quantize_inputs
      return { kind: 'fullyConnected', activation: activationAt(t, 0), weightsFormat: t.int8(1), keepNumDims: t.bool(2) };
    case OPTIONS.Reshape:
      return { kind: 'reshape', newShape: t.int32s(0) };
    case OPTIONS.Concatenation:
      // axis, fused_activation_function
      return { kind: 'concatenation', axis: t.int32(0), activation: activationAt(t, 1) };
    case OPTIONS.StridedSlice:
      // begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_axis_mask
      return { kind: 'stridedSlice', beginMask: t.int32(0), endMask: t.int32(1), ellipsisMask: t.int32(2), newAxisMask: t.int32(3), shrinkAxisMask: t.int32(4) };
    case OPTIONS.LeakyRelu:
      return { kind: 'leakyRelu', alpha: t.float32(0) };
    case OPTIONS.Add:
    case OPTIONS.Mul:
    case OPTIONS.Sub:
      return { kind: 'elementwise', activation: activationAt(t, 0) };
    default:
      return { kind: 'unparsed', unionType };
  }
}

function readOperator(op: Table, index: number, opcodes: string[]): TfliteOperator {
  // Operator fields: 0 opcode_index, 1 inputs, 2 outputs, 3 builtin_options_type, 4 builtin_options.
  const opcodeIndex = op.uint32(0);
  const opcode = opcodes[opcodeIndex];
  if (opcode === undefined) throw new Error(`TFLite: operator ${index} has opcode index ${opcodeIndex} out of range`);
  return {
    index,
    opcode,
    inputs: op.int32s(1) ?? [],
    outputs: op.int32s(2) ?? [],
    options: readOptions(op.uint8(3), op.table(4)),
  };
}

/** Parses a .tflite file's main subgraph. Throws on anything that is not a TFLite flatbuffer. */
export function readTfliteModel(bytes: Uint8Array): TfliteModel {
  // A plain Uint8Array view, so that a Node Buffer's pooled backing store and view-returning slice() cannot leak in.
  const bb = new ByteBuffer(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  if (bytes.length < 8 || !bb.__has_identifier('TFL3')) {
    throw new Error('not a TFLite model: file identifier "TFL3" missing');
  }
  const model = new Table(bb, bb.readInt32(0));
  // Model fields: 0 version, 1 operator_codes, 2 subgraphs, 3 description, 4 buffers.
  const opcodes = model.tables(1).map(readOpcode);
  const subgraphs = model.tables(2);
  const buffers = model.tables(4);
  const main = subgraphs[0];
  if (!main) throw new Error('TFLite model has no subgraphs');
  // SubGraph fields: 0 tensors, 1 inputs, 2 outputs, 3 operators, 4 name.
  return {
    schemaVersion: model.uint32(0),
    description: model.string(3) ?? '',
    subgraphCount: subgraphs.length,
    tensors: main.tables(0).map((t, i) => readTensor(t, i, buffers)),
    operators: main.tables(3).map((op, i) => readOperator(op, i, opcodes)),
    inputs: main.int32s(1) ?? [],
    outputs: main.int32s(2) ?? [],
  };
}

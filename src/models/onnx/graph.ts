// A small builder for ONNX graphs, written with onnx-proto's protobuf encoder.
// Every converter and the quantiser go through it so that the bytes we write are a
// pure function of the nodes and weights we add: no timestamps, no random names.
import onnxProto from 'onnx-proto';

export const { onnx } = onnxProto as unknown as { onnx: typeof import('onnx-proto').onnx };
export type ModelProto = import('onnx-proto').onnx.ModelProto;
export type TensorProto = import('onnx-proto').onnx.ITensorProto;
export type NodeProto = import('onnx-proto').onnx.INodeProto;

export const OPSET = 13;
export const IR_VERSION = 7;

/** ONNX TensorProto.DataType codes that this project writes. */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7 } as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

export type TypedData = Float32Array | Int8Array | Uint8Array | Int32Array | BigInt64Array;

export type Dim = number | string;

/** Tagged attribute values, because a JS number cannot say whether it is an int or a float. */
export type AttrValue =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: number[] }
  | { kind: 'floats'; value: number[] }
  | { kind: 'string'; value: string };

export const attr = {
  int: (value: number): AttrValue => ({ kind: 'int', value }),
  float: (value: number): AttrValue => ({ kind: 'float', value }),
  ints: (value: number[]): AttrValue => ({ kind: 'ints', value }),
  floats: (value: number[]): AttrValue => ({ kind: 'floats', value }),
  string: (value: string): AttrValue => ({ kind: 'string', value }),
};

function dataTypeOf(data: TypedData): DataTypeCode {
  if (data instanceof Float32Array) return DataType.FLOAT;
  if (data instanceof Int8Array) return DataType.INT8;
  if (data instanceof Uint8Array) return DataType.UINT8;
  if (data instanceof Int32Array) return DataType.INT32;
  return DataType.INT64;
}

export function tensorProto(name: string, data: TypedData, dims: number[]): TensorProto {
  const expected = dims.reduce((a, b) => a * b, 1);
  if (expected !== data.length) {
    throw new Error(`tensor ${name}: ${data.length} values do not fill shape [${dims.join(', ')}]`);
  }
  return {
    name,
    dataType: dataTypeOf(data),
    dims,
    // Little-endian raw bytes; every platform this runs on (x86_64, aarch64) is little-endian.
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice(),
  };
}

export function attributeProto(name: string, value: AttrValue): import('onnx-proto').onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (value.kind) {
    case 'int':
      return { name, type: T.INT, i: value.value };
    case 'float':
      return { name, type: T.FLOAT, f: value.value };
    case 'ints':
      return { name, type: T.INTS, ints: value.value };
    case 'floats':
      return { name, type: T.FLOATS, floats: value.value };
    case 'string':
      return { name, type: T.STRING, s: new TextEncoder().encode(value.value) };
  }
}

function valueInfo(name: string, elemType: DataTypeCode, dims: Dim[]): import('onnx-proto').onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export interface ModelMetadata {
  producer?: string;
  docString?: string;
  metadata?: Record<string, string>;
}

export class OnnxGraphBuilder {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly inputs: import('onnx-proto').onnx.IValueInfoProto[] = [];
  private readonly outputs: import('onnx-proto').onnx.IValueInfoProto[] = [];
  private readonly names = new Set<string>();
  private counter = 0;

  constructor(private readonly graphName: string) {}

  input(name: string, dims: Dim[], elemType: DataTypeCode = DataType.FLOAT): string {
    this.claim(name);
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  output(name: string, dims: Dim[], elemType: DataTypeCode = DataType.FLOAT): string {
    this.outputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  initializer(name: string, data: TypedData, dims: number[]): string {
    this.claim(name);
    this.initializers.push(tensorProto(name, data, dims));
    return name;
  }

  /** Adds a node; returns its output names (generated from the node name when not given). */
  node(
    opType: string,
    inputs: string[],
    options: { name?: string; outputs?: string[] | number; attrs?: Record<string, AttrValue> } = {},
  ): string[] {
    const name = options.name ?? `${opType.toLowerCase()}_${this.counter++}`;
    const outputs =
      typeof options.outputs === 'number' || options.outputs === undefined
        ? Array.from({ length: (options.outputs as number | undefined) ?? 1 }, (_, i) => (i === 0 ? `${name}:out` : `${name}:out${i}`))
        : options.outputs;
    for (const o of outputs) this.claim(o);
    this.nodes.push({
      name,
      opType,
      input: inputs,
      output: outputs,
      attribute: Object.entries(options.attrs ?? {}).map(([k, v]) => attributeProto(k, v)),
    });
    return outputs;
  }

  /** Convenience for the common single-output case. */
  op(opType: string, inputs: string[], attrs?: Record<string, AttrValue>, name?: string): string {
    return this.node(opType, inputs, { attrs, name })[0]!;
  }

  build(meta: ModelMetadata = {}): Uint8Array {
    const model: import('onnx-proto').onnx.IModelProto = {
      irVersion: IR_VERSION,
      producerName: meta.producer ?? 'facegate',
      docString: meta.docString ?? '',
      opsetImport: [{ domain: '', version: OPSET }],
      metadataProps: Object.entries(meta.metadata ?? {}).map(([key, value]) => ({ key, value })),
      graph: {
        name: this.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    };
    return onnx.ModelProto.encode(model).finish();
  }

  private claim(name: string): void {
    if (this.names.has(name)) throw new Error(`duplicate tensor name in graph ${this.graphName}: ${name}`);
    this.names.add(name);
  }
}

export function decodeModel(bytes: Uint8Array): ModelProto {
  return onnx.ModelProto.decode(bytes);
}

export function encodeModel(model: import('onnx-proto').onnx.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

/** Reads a float32 initializer back into a Float32Array (raw_data or float_data). */
export function initializerFloats(t: TensorProto): Float32Array {
  if (t.rawData && t.rawData.length > 0) {
    const copy = new Uint8Array(t.rawData);
    return new Float32Array(copy.buffer, copy.byteOffset, copy.byteLength / 4);
  }
  return Float32Array.from(t.floatData ?? []);
}

export function dimsOf(t: TensorProto): number[] {
  return (t.dims ?? []).map((d) => Number(d));
}

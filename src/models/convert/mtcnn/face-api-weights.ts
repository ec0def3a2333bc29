// Reads a face-api.js weight manifest + shard: a flat float32 buffer cut into tensors in
// manifest order. The layout is TensorFlow's: conv kernels HWIO, dense weights [in, out].
import { readFileSync } from 'node:fs';

export interface WeightTensor {
  shape: number[];
  data: Float32Array;
}

interface ManifestGroup {
  paths: string[];
  weights: { name: string; shape: number[]; dtype: string }[];
}

export function readFaceApiWeights(manifestPath: string, shardPaths: string[]): Map<string, WeightTensor> {
  const groups = JSON.parse(readFileSync(manifestPath, 'utf8')) as ManifestGroup[];
  const shard = Buffer.concat(shardPaths.map((p) => readFileSync(p)));
  const floats = new Float32Array(shard.buffer.slice(shard.byteOffset, shard.byteOffset + shard.byteLength));
  const out = new Map<string, WeightTensor>();
  let offset = 0;
  for (const group of groups) {
    for (const w of group.weights) {
      if (w.dtype !== 'float32') throw new Error(`${w.name}: dtype ${w.dtype} is not supported (float32 expected)`);
      const size = w.shape.reduce((a, b) => a * b, 1);
      if (offset + size > floats.length) throw new Error(`weight shard is too short for ${w.name}`);
      out.set(w.name, { shape: w.shape, data: floats.slice(offset, offset + size) });
      offset += size;
    }
  }
  if (offset !== floats.length) throw new Error(`weight shard has ${floats.length - offset} unused values`);
  return out;
}

/** TF conv kernel HWIO -> ONNX OIHW. */
export function hwioToOihw(t: WeightTensor): WeightTensor {
  const [h, w, i, o] = t.shape as [number, number, number, number];
  const data = new Float32Array(t.data.length);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let ci = 0; ci < i; ci++)
        for (let co = 0; co < o; co++) data[((co * i + ci) * h + y) * w + x] = t.data[((y * w + x) * i + ci) * o + co]!;
  return { shape: [o, i, h, w], data };
}

/** TF dense [in, out] -> [out, in] for Gemm with transB=1 (the layout ORT's QDQ fusion expects). */
export function denseToOutIn(t: WeightTensor): WeightTensor {
  const [i, o] = t.shape as [number, number];
  const data = new Float32Array(t.data.length);
  for (let a = 0; a < i; a++) for (let b = 0; b < o; b++) data[b * i + a] = t.data[a * o + b]!;
  return { shape: [o, i], data };
}

// Face embedder driven by its manifest entry: how to crop (5-point similarity alignment or a
// margin box), how to normalise (linear or prewhiten), which layout. Output is L2-normalised.
import { cv, type Mat } from './opencv.js';
import { matToChw } from './image.js';
import { ort } from '../runtime/onnx-session.js';
import type { ModelEntry } from '../models/manifest.js';
import type { DetectedFace } from './detection/face-detector.js';
import { marginCropRect, scaledTemplate, similarityTransform } from './align/similarity.js';

export class Embedder {
  readonly width: number;
  readonly height: number;
  readonly dim: number;

  constructor(
    private readonly session: ort.InferenceSession,
    readonly entry: ModelEntry,
  ) {
    const s = entry.input.shape;
    const [h, w] = entry.input.layout === 'NCHW' ? [s[2], s[3]] : [s[1], s[2]];
    if (typeof h !== 'number' || typeof w !== 'number') throw new Error(`embedder ${entry.id}: input height/width must be fixed numbers`);
    this.width = w;
    this.height = h;
    this.dim = entry.embeddingDim!;
  }

  async release(): Promise<void> {
    await this.session.release();
  }

  /** The crop the model was trained on, as RGB uint8 of the model's input size. */
  crop(image: Mat, face: DetectedFace): Mat {
    const c = this.entry.input.crop;
    if (c.method === 'similarity-5pt') {
      if (this.width !== this.height) throw new Error(`embedder ${this.entry.id}: 5-point alignment needs a square input`);
      const m = similarityTransform(face.landmarks, scaledTemplate(this.width));
      const mat = new cv.Mat([m.slice(0, 3), m.slice(3, 6)], cv.CV_64F);
      return image.warpAffine(mat, new cv.Size(this.width, this.height), cv.INTER_LINEAR, cv.BORDER_CONSTANT, new cv.Vec3(0, 0, 0));
    }
    if (c.method === 'margin-box') {
      const r = marginCropRect(face.box, c.margin, image.cols, image.rows);
      return image.getRegion(new cv.Rect(r.x, r.y, r.width, r.height)).resize(this.height, this.width, 0, 0, cv.INTER_LINEAR);
    }
    return image.resize(this.height, this.width, 0, 0, cv.INTER_LINEAR);
  }

  /** Model input tensor for a batch of crops (already of the model's size). */
  tensor(crops: Mat[]): ort.Tensor {
    const plane = 3 * this.width * this.height;
    const data = new Float32Array(crops.length * plane);
    crops.forEach((crop, i) => {
      const { mean, scale } = this.normalisationFor(crop);
      if (this.entry.input.layout === 'NCHW') {
        matToChw(crop, mean, scale, data, i * plane);
      } else {
        const f = crop.convertTo(cv.CV_32FC3, scale, -mean * scale).getData();
        data.set(new Float32Array(f.buffer.slice(f.byteOffset, f.byteOffset + f.byteLength)), i * plane);
      }
    });
    const dims = this.entry.input.layout === 'NCHW' ? [crops.length, 3, this.height, this.width] : [crops.length, this.height, this.width, 3];
    return new ort.Tensor('float32', data, dims);
  }

  private normalisationFor(crop: Mat): { mean: number; scale: number } {
    const n = this.entry.input.normalisation;
    if (n.kind === 'linear') return { mean: n.mean, scale: n.scale };
    // Prewhiten (FaceNet): standardise over all pixels and channels of this crop. OpenCV gives
    // per-channel moments; channels have equal counts, so they combine exactly.
    const { mean, stddev } = crop.meanStdDev();
    const means = [0, 1, 2].map((c) => mean.at(c, 0) as number);
    const sds = [0, 1, 2].map((c) => stddev.at(c, 0) as number);
    const m = (means[0]! + means[1]! + means[2]!) / 3;
    const secondMoment = means.reduce((acc, mu, c) => acc + sds[c]! * sds[c]! + mu * mu, 0) / 3;
    const s = Math.sqrt(Math.max(0, secondMoment - m * m));
    const adjusted = Math.max(s, 1 / Math.sqrt(crop.rows * crop.cols * 3));
    return { mean: m, scale: 1 / adjusted };
  }

  /** Embeds pre-cropped faces; one L2-normalised vector per crop. */
  async embedCrops(crops: Mat[]): Promise<Float32Array[]> {
    if (crops.length === 0) return [];
    const input = this.tensor(crops);
    const out = await this.session.run({ [this.entry.input.name]: input });
    const outName = this.entry.outputs[0]!.name;
    const raw = out[outName];
    if (!raw) throw new Error(`embedder ${this.entry.id}: output "${outName}" not produced (have ${Object.keys(out).join(', ')})`);
    const data = raw.data as Float32Array;
    const result: Float32Array[] = [];
    for (let i = 0; i < crops.length; i++) result.push(l2Normalise(data.slice(i * this.dim, (i + 1) * this.dim)));
    return result;
  }

  async embed(image: Mat, faces: DetectedFace[]): Promise<Float32Array[]> {
    return this.embedCrops(faces.map((f) => this.crop(image, f)));
  }
}

export function l2Normalise(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  for (let i = 0; i < v.length; i++) v[i] = v[i]! * inv;
  return v;
}

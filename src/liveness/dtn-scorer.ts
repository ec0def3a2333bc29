// The Deep Tree Network passive anti-spoofing model (converted by src/models/convert/dtn/) on ONNX
// Runtime: 256x256 RGB crops of the squared face box, x / 255, one spoof score per crop.
import { ort } from '../runtime/onnx-session.js';
import { matToChw } from '../vision/image.js';
import type { Mat } from '../vision/opencv.js';

export const DTN_INPUT_SIZE = 256;

export class DtnScorer {
  constructor(private readonly session: ort.InferenceSession) {}

  /** Spoof score per crop (sum |clss_pred| x leaf mask): higher is more likely an attack; the package's own cut is 0.2. */
  async spoofScores(crops: Mat[]): Promise<number[]> {
    if (crops.length === 0) return [];
    const plane = 3 * DTN_INPUT_SIZE * DTN_INPUT_SIZE;
    const input = new Float32Array(crops.length * plane);
    crops.forEach((c, i) => {
      if (c.rows !== DTN_INPUT_SIZE || c.cols !== DTN_INPUT_SIZE) throw new Error(`DTN needs ${DTN_INPUT_SIZE}x${DTN_INPUT_SIZE} crops, got ${c.cols}x${c.rows}`);
      matToChw(c, 0, 1 / 255, input, i * plane);
    });
    const out = await this.session.run({ input: new ort.Tensor('float32', input, [crops.length, 3, DTN_INPUT_SIZE, DTN_INPUT_SIZE]) });
    return Array.from(out.spoof_score!.data as Float32Array);
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

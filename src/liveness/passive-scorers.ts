// Passive scorers: cues from one face in one frame. Each scorer names the cues it gives; the
// fusion model says which of them it reads.
import type { Mat } from '../vision/opencv.js';
import type { DetectedFace } from '../vision/detection/face-detector.js';
import { squareFaceCrop } from './face-crop.js';
import { DTN_INPUT_SIZE, type DtnScorer } from './dtn-scorer.js';
import { TEXTURE_CUE_NAMES, textureCues } from './texture-cues.js';

export interface PassiveScorer {
  readonly name: string;
  readonly cueNames: readonly string[];
  /** Cues of one face; `crop` is the 256x256 squared-box RGB crop of `face` in `frame`. */
  score(input: { frame: Mat; face: DetectedFace; crop: Mat }): Promise<Record<string, number>>;
}

export class DtnPassiveScorer implements PassiveScorer {
  readonly name = 'dtn';
  readonly cueNames = ['dtn'] as const;
  constructor(private readonly dtn: DtnScorer) {}

  async score({ crop }: { crop: Mat }): Promise<Record<string, number>> {
    const [s] = await this.dtn.spoofScores([crop]);
    return { dtn: s! };
  }
}

export class TexturePassiveScorer implements PassiveScorer {
  readonly name = 'texture';
  readonly cueNames = TEXTURE_CUE_NAMES;

  async score({ crop }: { crop: Mat }): Promise<Record<string, number>> {
    return { ...textureCues(crop) };
  }
}

/** All cues of one face from every scorer, sharing one crop. */
export async function passiveCues(scorers: readonly PassiveScorer[], frame: Mat, face: DetectedFace): Promise<Record<string, number>> {
  const crop = squareFaceCrop(frame, face.box, DTN_INPUT_SIZE);
  const out: Record<string, number> = {};
  for (const s of scorers) Object.assign(out, await s.score({ frame, face, crop }));
  return out;
}

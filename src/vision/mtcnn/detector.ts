// MTCNN face detector on ONNX Runtime: the stages wired together, image in, faces out.
import type { Mat } from '../opencv.js';
import type { ort } from '../../runtime/onnx-session.js';
import { DEFAULT_MTCNN_OPTIONS, type MtcnnOptions } from './options.js';
import { stage1, stage2, stage3, type Normalisation, type StageTimings } from './stages.js';

export type Point = [number, number];

export interface DetectedFace {
  /** [x, y, width, height] in pixels, clipped to the image. */
  box: [number, number, number, number];
  /** O-Net face probability. */
  score: number;
  /** Left eye, right eye, nose, left mouth corner, right mouth corner (as seen in the image). */
  landmarks: [Point, Point, Point, Point, Point];
}

export interface DetectionResult {
  faces: DetectedFace[];
  timings: StageTimings;
}

export interface MtcnnSessions {
  pnet: ort.InferenceSession;
  rnet: ort.InferenceSession;
  onet: ort.InferenceSession;
}

export class MtcnnDetector {
  readonly options: MtcnnOptions;

  constructor(
    private readonly sessions: MtcnnSessions,
    private readonly normalisation: Normalisation,
    options: Partial<MtcnnOptions> = {},
  ) {
    this.options = { ...DEFAULT_MTCNN_OPTIONS, ...options };
  }

  /** Frees the ONNX sessions; ORT can crash tearing down live sessions at process exit. */
  async release(): Promise<void> {
    await Promise.all([this.sessions.pnet.release(), this.sessions.rnet.release(), this.sessions.onet.release()]);
  }

  async detect(image: Mat): Promise<DetectionResult> {
    const t: StageTimings = { pyramidMs: 0, pnetMs: 0, rnetMs: 0, onetMs: 0 };
    const opts = this.options;
    let boxes = await stage1(this.sessions.pnet, image, opts, this.normalisation, t);
    boxes = await stage2(this.sessions.rnet, image, boxes, opts, this.normalisation, t);
    boxes = await stage3(this.sessions.onet, image, boxes, opts, this.normalisation, t);
    const faces = boxes.map((b): DetectedFace => {
      const x1 = Math.max(0, b.x1);
      const y1 = Math.max(0, b.y1);
      const x2 = Math.min(image.cols - 1, b.x2);
      const y2 = Math.min(image.rows - 1, b.y2);
      const lm = b.landmarks!;
      return {
        box: [round2(x1), round2(y1), round2(x2 - x1 + 1), round2(y2 - y1 + 1)],
        score: b.score,
        landmarks: [0, 1, 2, 3, 4].map((k) => [round2(lm[k]!), round2(lm[k + 5]!)] as Point) as DetectedFace['landmarks'],
      };
    });
    return { faces, timings: t };
  }
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}

// MTCNN face detector on ONNX Runtime: the stages wired together, image in, faces out.
import { cv, type Mat } from '../opencv.js';
import type { ort } from '../../runtime/onnx-session.js';
import type { DetectedFace, DetectionResult, DetectOptions, FaceDetector, Point } from '../detection/face-detector.js';
import { DEFAULT_MTCNN_OPTIONS, type MtcnnOptions } from './options.js';
import { stage1, stage2, stage3, type Normalisation, type StageTimings } from './stages.js';
import type { CandidateBox } from './boxes.js';

export interface MtcnnSessions {
  pnet: ort.InferenceSession;
  rnet: ort.InferenceSession;
  onet: ort.InferenceSession;
}

export class MtcnnDetector implements FaceDetector {
  readonly family = 'mtcnn';
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

  /**
   * With a region of interest only P-Net's pyramid is built over the region; R-Net and O-Net
   * crop from the whole image, so a face cut by the region's edge still gets its real pixels.
   */
  async detect(image: Mat, options: DetectOptions = {}): Promise<DetectionResult> {
    const t: StageTimings = { pyramidMs: 0, pnetMs: 0, rnetMs: 0, onetMs: 0 };
    const opts = options.minSize !== undefined ? { ...this.options, minSize: Math.max(12, options.minSize) } : this.options;
    const roi = options.roi ? clipRect(options.roi, image.cols, image.rows) : null;
    let boxes: CandidateBox[];
    if (roi) {
      if (roi[2] < 12 || roi[3] < 12) return { faces: [], timings: named(t) };
      const region = image.getRegion(new cv.Rect(roi[0], roi[1], roi[2], roi[3]));
      boxes = (await stage1(this.sessions.pnet, region, opts, this.normalisation, t)).map((b) => ({ ...b, x1: b.x1 + roi[0], y1: b.y1 + roi[1], x2: b.x2 + roi[0], y2: b.y2 + roi[1] }));
    } else {
      boxes = await stage1(this.sessions.pnet, image, opts, this.normalisation, t);
    }
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
    return { faces, timings: named(t) };
  }
}

function named(t: StageTimings): Record<string, number> {
  return { pyramid: t.pyramidMs, pnet: t.pnetMs, rnet: t.rnetMs, onet: t.onetMs };
}

function clipRect([x, y, w, h]: [number, number, number, number], width: number, height: number): [number, number, number, number] {
  const x1 = Math.max(0, Math.floor(x));
  const y1 = Math.max(0, Math.floor(y));
  const x2 = Math.min(width, Math.ceil(x + w));
  const y2 = Math.min(height, Math.ceil(y + h));
  return [x1, y1, Math.max(0, x2 - x1), Math.max(0, y2 - y1)];
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}

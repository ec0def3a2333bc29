// A simulated camera behind the daemon's FrameSource interface: it hands out a scripted list of
// frames (real photos, grey "empty doorway" frames) as fast as recognition takes them, each with
// the capture time the script gives it, then ends like a video file without loop. Tests get the
// same frames in the same order on every run, without waiting on a frame rate.
import { EventEmitter } from 'node:events';
import type { Frame, FrameSource, FrameSourceEvents, FrameSourceStats, SourceState } from '../../src/camera/frame-source.js';
import { loadImage } from '../../src/vision/image.js';
import { cv, type Mat } from '../../src/vision/opencv.js';
import type { ManualClock } from '../../src/util/manual-clock.js';

export interface ScriptedFrame {
  /** A photo file, or 'empty' for a grey 640x480 frame. */
  image: string;
  /** Capture time, ms from the script's start. */
  atMs: number;
}

/** `photos` at `stepMs` apart starting at `fromMs` (one visit). */
export function visit(photos: string[], fromMs: number, stepMs = 100): ScriptedFrame[] {
  return photos.map((image, i) => ({ image, atMs: fromMs + i * stepMs }));
}

export class ScriptedCamera extends EventEmitter<FrameSourceEvents> implements FrameSource {
  readonly description = 'scripted test camera';
  private index = 0;
  private state: SourceState = 'starting';
  private readonly mats = new Map<string, Mat>();
  private release: () => void = () => undefined;
  private readonly held: Promise<void>;

  /**
   * `hold`: stream nothing until play() (so a test can enroll people first). `clock`: the daemon's
   * manual clock, moved to each frame's capture time as the frame is handed over, so relay pulses
   * and timeouts run on the script's time.
   */
  constructor(
    private readonly script: ScriptedFrame[],
    opts: { hold?: boolean; startMs?: number; clock?: ManualClock } = {},
  ) {
    super();
    this.clock = opts.clock;
    this.startMs = opts.startMs ?? this.clock?.now() ?? Date.now();
    this.held = opts.hold ? new Promise((r) => (this.release = r)) : Promise.resolve();
  }

  private startMs: number;
  private readonly clock: ManualClock | undefined;

  play(): void {
    this.release();
  }

  start(): Promise<void> {
    this.setState('streaming', 'scripted');
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    this.setState('stopped', 'stopped');
    this.release();
  }

  async next(): Promise<Frame | null> {
    // One turn of the event loop per frame, as a real camera's callback would give.
    await this.held;
    await new Promise((r) => setImmediate(r));
    if (this.state !== 'streaming') return null;
    const step = this.script[this.index];
    if (!step) {
      this.setState('ended', 'end of script');
      return null;
    }
    this.index++;
    this.clock?.advanceTo(this.startMs + step.atMs);
    return { mat: this.mat(step.image), seq: this.index, capturedAtMs: this.startMs + step.atMs, source: this.description };
  }

  stats(): FrameSourceStats {
    return { state: this.state, captured: this.index, delivered: this.index, dropped: 0, reconnects: 0, lastError: null, captureFps: 0 };
  }

  private mat(image: string): Mat {
    let m = this.mats.get(image);
    if (!m) {
      m = image === 'empty' ? new cv.Mat(480, 640, cv.CV_8UC3, [128, 128, 128]) : letterbox(loadImage(image).mat);
      this.mats.set(image, m);
    }
    return m;
  }

  private setState(state: SourceState, detail: string): void {
    this.state = state;
    this.emit('state', state, detail);
  }
}

/** Photos of any size as 640x480 camera frames (scaled to fit, grey borders). */
function letterbox(img: Mat): Mat {
  const scale = Math.min(640 / img.cols, 480 / img.rows, 1);
  const w = Math.round(img.cols * scale);
  const h = Math.round(img.rows * scale);
  const resized = scale < 1 ? img.resize(h, w) : img;
  const left = Math.floor((640 - w) / 2);
  const top = Math.floor((480 - h) / 2);
  return resized.copyMakeBorder(top, 480 - h - top, left, 640 - w - left, cv.BORDER_CONSTANT, new cv.Vec3(128, 128, 128));
}

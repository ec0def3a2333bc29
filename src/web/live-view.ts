// The live view: subscribes to 'frame.analysed' only while someone watches (the recognition loop
// skips building frame payloads when nobody listens), passes on at most `fps` frames a second,
// and JPEG-encodes a frame only when a viewer wants pictures; face lists alone cost nothing.
import type { EventBus, FaceInView, FrameAnalysed } from '../core/event-bus.js';
import type { Clock } from '../util/clock.js';
import { renderLiveFrame, type RenderOptions } from './frame-render.js';

export interface LiveFrame {
  seq: number;
  capturedAtMs: number;
  width: number;
  height: number;
  faces: FaceInView[];
  /** The frame with the faces drawn, when a viewer of this frame wants images. */
  jpeg?: Buffer;
}

export interface LiveViewer {
  /** false: the faces only (a text list, a canvas overlay), no JPEG encoding for this viewer. */
  wantsImage: boolean;
  push(frame: LiveFrame): void;
}

export interface LiveViewOptions extends RenderOptions {
  fps: number;
}

export class LiveView {
  private readonly viewers = new Set<LiveViewer>();
  private unsubscribe: (() => void) | undefined;
  private nextDueMs = 0;
  /** Frames encoded since start (bench and tests read it). */
  encoded = 0;

  constructor(
    private readonly bus: EventBus,
    private readonly clock: Clock,
    private readonly options: LiveViewOptions,
    private readonly onError: (err: Error) => void = () => undefined,
  ) {}

  get viewerCount(): number {
    return this.viewers.size;
  }

  /** Returns the function that removes the viewer; the last one leaving unsubscribes from the bus. */
  addViewer(viewer: LiveViewer): () => void {
    this.viewers.add(viewer);
    this.unsubscribe ??= this.bus.on('frame.analysed', (frame) => this.onFrame(frame));
    return () => {
      this.viewers.delete(viewer);
      if (this.viewers.size === 0) this.close();
    };
  }

  /** Drops every viewer (daemon stop). */
  close(): void {
    this.viewers.clear();
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  private onFrame(frame: FrameAnalysed): void {
    const now = this.clock.now();
    if (now < this.nextDueMs) return;
    // Due times advance by the interval, so the average rate is the cap despite camera jitter
    // (up to half an interval); after a pause it restarts near now instead of bursting to catch up.
    const interval = 1000 / this.options.fps;
    this.nextDueMs = Math.max(this.nextDueMs, now - interval / 2) + interval;
    const out: LiveFrame = { seq: frame.seq, capturedAtMs: frame.capturedAtMs, width: frame.width, height: frame.height, faces: frame.faces };
    if ([...this.viewers].some((v) => v.wantsImage)) {
      try {
        // The image is only valid inside this handler: encode now, never keep the Mat.
        out.jpeg = renderLiveFrame(frame.image, frame.faces, this.options);
        this.encoded++;
      } catch (err) {
        this.onError(err as Error);
      }
    }
    for (const viewer of [...this.viewers]) {
      if (viewer.wantsImage && !out.jpeg) continue;
      try {
        viewer.push(out);
      } catch (err) {
        this.onError(err as Error);
      }
    }
  }
}

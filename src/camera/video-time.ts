// A recorded video (or image folder) played on its own timeline instead of the wall clock: frames
// come as fast as recognition takes them, each one frame period after the last, and the daemon's
// manual clock is moved to that time before the frame is handed over. Relay pulses, track
// timeouts, watchdog ticks and enrollment windows then last as long in video time as they would
// live, and a run takes as long as the inference does, not as long as the video.
import { EventEmitter } from 'node:events';
import { createFrameSource, type Frame, type FrameSource, type FrameSourceEvents, type FrameSourceStats, type ReaderFrameSource } from './frame-source.js';
import type { CameraConfig } from './camera-config.js';
import type { ManualClock } from '../util/manual-clock.js';

/** The daemon's camera in video time on `clock` (the daemon must run on the same clock). */
export function videoTimeSources(clock: ManualClock): (cfg: CameraConfig, log: (line: string) => void) => VideoTimeSource {
  // Unpaced: the source reads a frame only once the last one was taken; the clock does the pacing.
  return (cfg, log) => new VideoTimeSource(createFrameSource({ ...cfg, realtime: false }, log, clock), clock);
}

export class VideoTimeSource extends EventEmitter<FrameSourceEvents> implements FrameSource {
  private lastAtMs: number | undefined;

  constructor(
    private readonly inner: ReaderFrameSource,
    private readonly clock: ManualClock,
  ) {
    super();
    inner.on('state', (state, detail) => this.emit('state', state, detail));
  }

  get description(): string {
    return `${this.inner.description} (video time)`;
  }

  start(): Promise<void> {
    return this.inner.start();
  }

  stop(): Promise<void> {
    return this.inner.stop();
  }

  async next(): Promise<Frame | null> {
    const frame = await this.inner.next();
    if (!frame) return null;
    // One period after the last frame, whatever the wall clock did meanwhile; from the clock's
    // time if something else moved it further (a reconnect waited on it).
    const atMs = Math.max(this.lastAtMs === undefined ? 0 : this.lastAtMs + 1000 / this.inner.playbackFps, this.clock.now());
    this.lastAtMs = atMs;
    this.clock.advanceTo(atMs);
    return { ...frame, capturedAtMs: atMs };
  }

  stats(): FrameSourceStats {
    return this.inner.stats();
  }
}

// Frames reach the daemon through one FrameSource, whatever the camera is. The policy lives here,
// once: latest frame wins (the daemon never works through a backlog of stale frames), a lost
// source is reopened with backoff and reported rather than ending the process, and files and
// folders are paced like a live camera. The device-specific parts are small FrameReaders
// (capture-source.ts, folder-source.ts).
import { EventEmitter } from 'node:events';
import { systemClock, type Clock } from '../util/clock.js';
import type { Mat } from '../vision/opencv.js';
import type { CameraConfig } from './camera-config.js';
import { VideoCaptureReader } from './capture-source.js';
import { ImageFolderReader } from './folder-source.js';

export interface Frame {
  /** RGB, 8 bits per channel. */
  mat: Mat;
  /** 1 for the first frame captured, then +1 per captured frame: gaps are frames dropped. */
  seq: number;
  /** clock.now() when the frame was captured (epoch ms on the system clock). */
  capturedAtMs: number;
  /** The source's description. */
  source: string;
}

export type SourceState = 'starting' | 'streaming' | 'reconnecting' | 'ended' | 'stopped';

export interface FrameSourceStats {
  state: SourceState;
  captured: number;
  delivered: number;
  /** Frames replaced by a newer one before anyone took them. */
  dropped: number;
  /** Times the source was lost and came back. */
  reconnects: number;
  lastError: string | null;
  /** Frames captured per second over the last few seconds; 0 while nothing arrives. */
  captureFps: number;
}

export type FrameSourceEvents = { state: [state: SourceState, detail: string] };

export interface FrameSource extends EventEmitter<FrameSourceEvents> {
  readonly description: string;
  /** Opens the source; resolves once the first frame has been captured, rejects with a clear error if it cannot be opened within `openTimeoutMs`. */
  start(): Promise<void>;
  /** Stops capturing at once (a read in flight is abandoned, not awaited); pending next() calls resolve null. */
  stop(): Promise<void>;
  /** The newest frame not yet taken; waits for the next one if none is pending; resolves null once stopped or ended. */
  next(): Promise<Frame | null>;
  stats(): FrameSourceStats;
}

// Reasons are predicates of the reader's description ("not found", "read failed"), so that
// `${description} ${reason}` is the sentence shown to the user.
export type OpenResult = { ok: true } | { ok: false; reason: string; /** Retrying cannot help (missing file, not a video): start() fails at once. */ permanent: boolean };
export type ReadResult = { kind: 'frame'; mat: Mat } | { kind: 'end' } | { kind: 'lost'; reason: string };

/** The device-specific part of a frame source. Reports outcomes instead of throwing, so the policy above decides what each means. */
export interface FrameReader {
  /** "camera /dev/video0", "video file door.mp4": the subject of every log line and error. */
  readonly description: string;
  /** A live source delivers at its own rate (and blocks in read until then); others are paced here. */
  readonly live: boolean;
  /** Opens (or reopens) the source at its first frame. */
  open(): Promise<OpenResult>;
  /** The next RGB frame. */
  read(): Promise<ReadResult>;
  /** Playback rate for sources that are paced here; set once opened. */
  fps(): number;
  close(): void;
}

export interface FrameSourceOptions {
  loop: boolean;
  realtime: boolean;
  reconnect: { initialMs: number; maxMs: number };
  openTimeoutMs: number;
}

// Long enough to smooth out jitter, short enough that a stalled source shows as 0 fps soon.
const FPS_WINDOW_MS = 3000;

export class ReaderFrameSource extends EventEmitter<FrameSourceEvents> implements FrameSource {
  private state: SourceState = 'stopped';
  private started = false;
  private halted = false;
  private pending: Frame | null = null;
  private waiters: ((frame: Frame | null) => void)[] = [];
  private onTaken: (() => void) | null = null;
  private counts = { captured: 0, delivered: 0, dropped: 0, reconnects: 0 };
  private lastError: string | null = null;
  private captureTimes: number[] = [];
  private nextDueAt = 0;
  private startAttempt: { resolve: () => void; reject: (err: Error) => void } | null = null;
  private wakeSleeper: (() => void) | null = null;

  constructor(
    private readonly reader: FrameReader,
    private readonly opts: FrameSourceOptions,
    private readonly log: (line: string) => void = () => {},
    /** Paces playback, times reconnects and the open timeout, dates frames; default the system clock. */
    private readonly clock: Clock = systemClock,
  ) {
    super();
  }

  get description(): string {
    return this.reader.description;
  }

  /** The rate a file or folder plays at (camera.fps, else the file's own); known once started. */
  get playbackFps(): number {
    return this.reader.fps();
  }

  start(): Promise<void> {
    if (this.started || this.halted) return Promise.reject(new Error(`${this.description} was already started; create a new source instead`));
    this.started = true;
    this.setState('starting', `opening ${this.description}`);
    return new Promise<void>((resolve, reject) => {
      // A timer rather than a deadline check in the loop: a read can hang (a camera that opens
      // but never sends a frame) and only a timer can give up on it.
      const timer = this.clock.setTimeout(() => {
        const seconds = (this.opts.openTimeoutMs / 1000).toFixed(1);
        this.failStart(this.lastError ? `${this.lastError} (gave up after ${seconds} s)` : `${this.description} opened but sent no frame within ${seconds} s`);
      }, this.opts.openTimeoutMs);
      this.startAttempt = {
        resolve: () => (this.clock.clearTimeout(timer), resolve()),
        reject: (err) => (this.clock.clearTimeout(timer), reject(err)),
      };
      this.run().catch((err: unknown) => {
        // Only a bug (e.g. a throwing 'state' listener) gets here: report it like any other stop.
        const reason = `${this.description} capture loop failed: ${(err as Error).message}`;
        this.log(reason);
        this.lastError = reason;
        if (this.startAttempt) this.failStart(reason);
        else this.halt('stopped', reason);
      });
    });
  }

  async stop(): Promise<void> {
    if (this.halted) return;
    this.startAttempt?.reject(new Error(`${this.description} was stopped before its first frame`));
    this.startAttempt = null;
    this.halt('stopped', 'stopped');
  }

  next(): Promise<Frame | null> {
    const frame = this.pending;
    if (frame) {
      this.pending = null;
      this.counts.delivered++;
      this.onTaken?.();
      return Promise.resolve(frame);
    }
    if (this.halted || this.state === 'ended') return Promise.resolve(null);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  stats(): FrameSourceStats {
    return { state: this.state, ...this.counts, lastError: this.lastError, captureFps: this.captureFps() };
  }

  private async run(): Promise<void> {
    let delay = this.opts.reconnect.initialMs;
    for (;;) {
      const r = await this.attempt();
      if (this.halted) return;
      if (r.kind === 'frame') {
        this.setState('streaming', `${this.description} streaming`);
        this.publish(r.mat);
        this.startAttempt?.resolve();
        this.startAttempt = null;
        break;
      }
      this.lastError = `${this.description} ${r.reason}`;
      if (r.permanent) return this.failStart(this.lastError);
      this.log(`${this.lastError}; retrying in ${seconds(delay)}`);
      await this.sleep(delay);
      if (this.halted) return;
      delay = Math.min(delay * 2, this.opts.reconnect.maxMs);
    }
    await this.stream();
  }

  /** Delivers frames until the source ends or the source is stopped, reconnecting on the way. */
  private async stream(): Promise<void> {
    const paced = !this.reader.live && this.opts.realtime;
    while (!this.halted) {
      if (!this.reader.live && !this.opts.realtime) await this.untilTaken();
      if (this.halted) return;
      const r = await this.reader.read();
      if (this.halted) return;
      if (r.kind === 'frame') {
        if (paced) {
          await this.sleep(this.nextDueAt - this.clock.now());
          if (this.halted) return;
        }
        this.publish(r.mat);
      } else if (r.kind === 'end') {
        if (!this.opts.loop) return this.end();
        this.reader.close();
        const reopened = await this.reader.open();
        if (!reopened.ok && !(await this.reconnect(reopened.reason))) return;
      } else if (!(await this.reconnect(r.reason))) {
        return;
      }
    }
  }

  /** Reopens a lost source with exponential backoff; false if the source was stopped meanwhile. */
  private async reconnect(reason: string): Promise<boolean> {
    this.reader.close();
    this.lastError = `${this.description} ${reason}`;
    this.setState('reconnecting', `${this.description} lost (${reason})`);
    let delay = this.opts.reconnect.initialMs;
    this.log(`${this.description} lost (${reason}); retrying in ${seconds(delay)}`);
    for (let attempts = 1; ; attempts++) {
      await this.sleep(delay);
      if (this.halted) return false;
      const r = await this.attempt();
      if (this.halted) return false;
      if (r.kind === 'frame') {
        this.counts.reconnects++;
        this.log(`${this.description} back after ${attempts} ${attempts === 1 ? 'attempt' : 'attempts'}`);
        this.setState('streaming', `${this.description} back`);
        this.publish(r.mat);
        return true;
      }
      this.lastError = `${this.description} ${r.reason}`;
      delay = Math.min(delay * 2, this.opts.reconnect.maxMs);
      this.log(`${this.description} still unavailable (${r.reason}); retrying in ${seconds(delay)}`);
    }
  }

  /** An open counts as a success only once a frame arrives: some cameras open fine and then fail every read. */
  private async attempt(): Promise<{ kind: 'frame'; mat: Mat } | { kind: 'failed'; reason: string; permanent: boolean }> {
    const opened = await this.reader.open();
    if (this.halted) {
      this.reader.close();
      return { kind: 'failed', reason: 'stopped', permanent: true };
    }
    if (!opened.ok) return { kind: 'failed', reason: opened.reason, permanent: opened.permanent };
    const r = await this.reader.read();
    if (r.kind === 'frame') return r;
    this.reader.close();
    // A file that opens but holds no frame will not grow one by retrying.
    return r.kind === 'end' ? { kind: 'failed', reason: 'has no frames', permanent: true } : { kind: 'failed', reason: r.reason, permanent: false };
  }

  private publish(mat: Mat): void {
    const now = this.clock.now();
    const frame: Frame = { mat, seq: ++this.counts.captured, capturedAtMs: now, source: this.description };
    this.noteCapture(now);
    // Paced sources keep a fixed schedule (frames are read ahead, so decode time does not slow
    // playback), restarted from now after a stall such as a reconnect rather than caught up with
    // a burst of frames. Also restarted when the clock stepped back (NTP on a board without a
    // real-time clock), which would otherwise hold the next frame for as long as the step.
    const periodMs = 1000 / this.reader.fps();
    const lateMs = now - this.nextDueAt;
    this.nextDueAt = (lateMs > periodMs || lateMs < -periodMs ? now : this.nextDueAt) + periodMs;
    const waiter = this.waiters.shift();
    if (waiter) {
      this.counts.delivered++;
      waiter(frame);
      return;
    }
    if (this.pending) {
      this.counts.dropped++;
      // Nobody else has seen this frame: free its pixels now rather than at the next GC.
      this.pending.mat.release();
    }
    this.pending = frame;
  }

  private untilTaken(): Promise<void> {
    if (!this.pending) return Promise.resolve();
    return new Promise((resolve) => {
      this.onTaken = () => {
        this.onTaken = null;
        resolve();
      };
    });
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(done, ms);
      const clock = this.clock;
      function done(): void {
        clock.clearTimeout(timer);
        resolve();
      }
      this.wakeSleeper = done;
    });
  }

  private end(): void {
    this.reader.close();
    this.setState('ended', `end of ${this.description}`);
    // The pending frame, if any, is still handed out; only waiters learn that nothing more comes.
    for (const waiter of this.waiters.splice(0)) waiter(null);
  }

  private failStart(reason: string): void {
    this.lastError = reason;
    this.startAttempt?.reject(new Error(reason));
    this.startAttempt = null;
    this.halt('stopped', reason);
  }

  /** Ends everything at once: an in-flight read is not waited for (a hung camera must not hang shutdown). */
  private halt(state: SourceState, detail: string): void {
    this.halted = true;
    this.reader.close();
    this.pending?.mat.release();
    this.pending = null;
    this.wakeSleeper?.();
    this.onTaken?.();
    for (const waiter of this.waiters.splice(0)) waiter(null);
    this.setState(state, detail);
  }

  private setState(state: SourceState, detail: string): void {
    if (state === this.state) return;
    this.state = state;
    this.emit('state', state, detail);
  }

  private noteCapture(now: number): void {
    // A clock that stepped back starts the window over, rather than keeping "future" times in it.
    if (this.captureTimes.length > 0 && this.captureTimes.at(-1)! > now) this.captureTimes = [];
    this.captureTimes.push(now);
    while (this.captureTimes[0]! < now - FPS_WINDOW_MS) this.captureTimes.shift();
  }

  private captureFps(): number {
    const now = this.clock.now();
    const recent = this.captureTimes.filter((t) => t >= now - FPS_WINDOW_MS);
    if (recent.length < 2) return 0;
    return ((recent.length - 1) * 1000) / (now - recent[0]!);
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export function createFrameSource(cfg: CameraConfig, log?: (line: string) => void, clock: Clock = systemClock): ReaderFrameSource {
  const readerLog = log ?? (() => {});
  return new ReaderFrameSource(createReader(cfg, readerLog), cfg, readerLog, clock);
}

function createReader(cfg: CameraConfig, log: (line: string) => void): FrameReader {
  switch (cfg.type) {
    case 'v4l2':
      return new VideoCaptureReader({ type: 'v4l2', device: cfg.device, width: cfg.width, height: cfg.height, fps: cfg.fps }, log);
    case 'rtsp':
      return new VideoCaptureReader({ type: 'rtsp', url: required(cfg.url, 'url', cfg.type), openTimeoutMs: cfg.openTimeoutMs }, log);
    case 'file':
      return new VideoCaptureReader({ type: 'file', path: required(cfg.path, 'path', cfg.type), fps: cfg.fps }, log);
    case 'folder':
      return new ImageFolderReader(required(cfg.path, 'path', cfg.type), cfg.fps, log);
  }
}

/** The schema already checks this; a config built by hand in code may not have gone through it. */
function required(value: string | undefined, key: string, type: string): string {
  if (value === undefined) throw new Error(`camera.${key} is required when camera.type is ${type}`);
  return value;
}

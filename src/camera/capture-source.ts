// OpenCV VideoCapture behind the FrameReader interface: USB/CSI cameras through V4L2, IP cameras
// and video files through FFmpeg. Frames are read with readAsync (a libuv worker thread) so a slow
// camera never blocks the event loop; opening is synchronous in the binding, which is quick for
// devices and files and bounded by a socket timeout for RTSP.
import { accessSync, constants, statSync, type Stats } from 'node:fs';
import { cv } from '../vision/opencv.js';
import type { FrameReader, OpenResult, ReadResult } from './frame-source.js';

type VideoCapture = InstanceType<typeof cv.VideoCapture>;

export type CaptureTarget =
  | { type: 'v4l2'; device: string | number; width: number; height: number; fps?: number | undefined }
  | { type: 'rtsp'; url: string; openTimeoutMs: number }
  | { type: 'file'; path: string; fps?: number | undefined };

// When a source reports no usable rate (some containers store 0 or a timebase like 90000).
const FALLBACK_FPS = 10;
const MAX_PLAUSIBLE_FPS = 240;

export class VideoCaptureReader implements FrameReader {
  private cap: VideoCapture | null = null;
  private openedFile: Stats | null = null;
  private playbackFps = FALLBACK_FPS;

  constructor(
    private readonly target: CaptureTarget,
    private readonly log: (line: string) => void,
  ) {}

  get description(): string {
    switch (this.target.type) {
      case 'v4l2':
        return `camera ${devicePath(this.target.device)}`;
      case 'rtsp':
        return `camera ${redactPassword(this.target.url)}`;
      case 'file':
        return `video file ${this.target.path}`;
    }
  }

  get live(): boolean {
    return this.target.type !== 'file';
  }

  async open(): Promise<OpenResult> {
    this.close();
    switch (this.target.type) {
      case 'v4l2':
        return this.openCamera(this.target);
      case 'rtsp':
        return this.openStream(this.target);
      case 'file':
        return this.openFile(this.target);
    }
  }

  async read(): Promise<ReadResult> {
    const cap = this.cap;
    if (!cap) return { kind: 'lost', reason: 'is not open' };
    try {
      const bgr = await cap.readAsync();
      if (bgr.empty) return this.endOfStream();
      const rgb = await bgr.cvtColorAsync(cv.COLOR_BGR2RGB);
      bgr.release();
      return { kind: 'frame', mat: rgb };
    } catch (err) {
      return { kind: 'lost', reason: `read failed (${String(err)})` };
    }
  }

  fps(): number {
    return this.playbackFps;
  }

  close(): void {
    // Safe with a read in flight: the binding's worker holds its own reference to the capture,
    // which is freed once that read returns.
    this.cap?.release();
    this.cap = null;
  }

  private openCamera(t: Extract<CaptureTarget, { type: 'v4l2' }>): OpenResult {
    const path = devicePath(t.device);
    try {
      accessSync(path, constants.R_OK | constants.W_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { ok: false, permanent: false, reason: 'not found: check that it is plugged in and `v4l2-ctl --list-devices`' };
      if (code === 'EACCES') return { ok: false, permanent: true, reason: 'permission denied: add the user running facegate to the `video` group' };
      return { ok: false, permanent: false, reason: `cannot be accessed (${code})` };
    }
    let cap: VideoCapture;
    try {
      cap = new cv.VideoCapture(t.device, cv.CAP_V4L2);
    } catch {
      return { ok: false, permanent: false, reason: `could not be opened: is another program using it? (\`fuser ${path}\`)` };
    }
    cap.set(cv.CAP_PROP_FRAME_WIDTH, t.width);
    cap.set(cv.CAP_PROP_FRAME_HEIGHT, t.height);
    if (t.fps !== undefined) cap.set(cv.CAP_PROP_FPS, t.fps);
    // Drivers round to the nearest mode they support; say so rather than let the numbers surprise.
    const width = cap.get(cv.CAP_PROP_FRAME_WIDTH);
    const height = cap.get(cv.CAP_PROP_FRAME_HEIGHT);
    const fps = cap.get(cv.CAP_PROP_FPS);
    if (width !== t.width || height !== t.height || (t.fps !== undefined && Math.abs(fps - t.fps) > 0.5)) {
      this.log(`${this.description} delivers ${width}x${height} at ${fps} fps (asked for ${t.width}x${t.height}${t.fps !== undefined ? ` at ${t.fps} fps` : ''})`);
    }
    this.playbackFps = plausibleFps(fps) ?? t.fps ?? FALLBACK_FPS;
    this.cap = cap;
    return { ok: true };
  }

  private openStream(t: Extract<CaptureTarget, { type: 'rtsp' }>): OpenResult {
    // OpenCV's FFmpeg backend takes its options from this variable at every open. TCP avoids the
    // smeared frames lost UDP packets cause; the socket timeout bounds how long the (synchronous)
    // open and each later read can hang on an unreachable camera. A value set by the user wins.
    const userOptions = process.env.OPENCV_FFMPEG_CAPTURE_OPTIONS;
    if (userOptions === undefined) process.env.OPENCV_FFMPEG_CAPTURE_OPTIONS = `rtsp_transport;tcp|timeout;${t.openTimeoutMs * 1000}`;
    try {
      this.cap = new cv.VideoCapture(t.url, cv.CAP_FFMPEG);
    } catch {
      return { ok: false, permanent: false, reason: 'could not be opened: check the URL, the credentials and that the camera is reachable' };
    } finally {
      if (userOptions === undefined) delete process.env.OPENCV_FFMPEG_CAPTURE_OPTIONS;
    }
    this.playbackFps = plausibleFps(this.cap.get(cv.CAP_PROP_FPS)) ?? FALLBACK_FPS;
    return { ok: true };
  }

  private openFile(t: Extract<CaptureTarget, { type: 'file' }>): OpenResult {
    let stats: Stats;
    try {
      stats = statSync(t.path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return { ok: false, permanent: true, reason: code === 'ENOENT' ? 'not found' : `cannot be read (${code})` };
    }
    if (stats.isDirectory()) return { ok: false, permanent: true, reason: 'is a folder: use `type: folder` to play a folder of images' };
    try {
      this.cap = new cv.VideoCapture(t.path, cv.CAP_FFMPEG);
    } catch {
      return { ok: false, permanent: true, reason: 'could not be opened: not a video FFmpeg can read' };
    }
    this.openedFile = stats;
    this.playbackFps = t.fps ?? plausibleFps(this.cap.get(cv.CAP_PROP_FPS)) ?? FALLBACK_FPS;
    return { ok: true };
  }

  private endOfStream(): ReadResult {
    if (this.target.type !== 'file') return { kind: 'lost', reason: 'read failed' };
    // FFmpeg reports a truncated, replaced or deleted file as a plain end of stream: tell them
    // apart by looking at the file again, so a changed file is reopened rather than ending playback.
    let now: Stats;
    try {
      now = statSync(this.target.path);
    } catch {
      return { kind: 'lost', reason: 'changed or was removed' };
    }
    const was = this.openedFile;
    const changed = !was || now.size !== was.size || now.mtimeMs !== was.mtimeMs || now.ino !== was.ino;
    return changed ? { kind: 'lost', reason: 'changed or was removed' } : { kind: 'end' };
  }
}

function plausibleFps(fps: number): number | null {
  return Number.isFinite(fps) && fps > 0 && fps <= MAX_PLAUSIBLE_FPS ? fps : null;
}

function devicePath(device: string | number): string {
  return typeof device === 'number' ? `/dev/video${device}` : device;
}

/** rtsp://user:secret@host/... -> rtsp://user:***@host/...: descriptions end up in logs and MQTT. */
function redactPassword(url: string): string {
  return url.replace(/^(rtsps?:\/\/[^:@/]*):[^@/]*@/, '$1:***@');
}

// Builds a door-camera video from still photos, for tests, the demo and benchmarks: each still is
// letterboxed into the frame and slowly zoomed in (someone walking up to the door), with grey
// frames between stills for an empty doorway. The same inputs always give the same file.
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { cv, type Mat } from '../vision/opencv.js';
import { loadImage } from '../vision/image.js';

export interface StillSegment {
  /** Path of a photo. */
  image: string;
  seconds: number;
}

export interface VideoBuildOptions {
  /** Default 640. */
  width?: number;
  /** Default 480. */
  height?: number;
  /** Default 10. */
  fps?: number;
  /** Grey frames between segments (nobody at the door), in seconds; default 0. */
  gapSeconds?: number;
  /** How much larger a still is at the end of its segment than at the start; default 1.15, 1 = no motion. */
  zoom?: number;
}

// Codecs every FFmpeg build has (no libx264 needed, which Raspberry Pi OpenCV builds often lack).
const FOURCC_BY_EXTENSION: Record<string, string> = { '.mp4': 'mp4v', '.avi': 'MJPG' };
const GREY = 128;

export async function buildVideoFromStills(segments: StillSegment[], out: string, opts: VideoBuildOptions = {}): Promise<void> {
  const width = opts.width ?? 640;
  const height = opts.height ?? 480;
  const fps = opts.fps ?? 10;
  const gapSeconds = opts.gapSeconds ?? 0;
  const zoom = opts.zoom ?? 1.15;
  const ext = extname(out).toLowerCase();
  const fourcc = FOURCC_BY_EXTENSION[ext];
  if (!fourcc) throw new Error(`${out}: unsupported video container "${ext}"; use .mp4 or .avi`);
  if (segments.length === 0) throw new Error(`${out}: no segments to build a video from`);
  if (!(fps > 0) || !(gapSeconds >= 0) || !(zoom >= 1)) throw new Error(`${out}: need fps > 0, gapSeconds >= 0 and zoom >= 1`);
  for (const s of segments) if (!(s.seconds > 0)) throw new Error(`${s.image}: segment length must be positive, got ${s.seconds} s`);

  // Decode every still before writing anything, so a bad photo fails fast with its own name.
  const stills = segments.map((s) => fitForZoom(toBgr(loadImage(s.image).mat), width, height, zoom));
  const blank = new cv.Mat(height, width, cv.CV_8UC3).setTo(new cv.Vec3(GREY, GREY, GREY));
  const gapFrames = Math.round(gapSeconds * fps);

  mkdirSync(dirname(out), { recursive: true });
  // Written under another name and renamed at the end, so an interrupted build never leaves a
  // truncated video where a cached one is expected. FFmpeg picks the container from the extension.
  const partial = join(dirname(out), `.${basename(out, ext)}.partial${ext}`);
  let writer: InstanceType<typeof cv.VideoWriter>;
  try {
    writer = new cv.VideoWriter(partial, cv.VideoWriter.fourcc(fourcc), fps, new cv.Size(width, height), true);
  } catch (err) {
    throw new Error(`${out}: cannot write a video here (${String(err)})`);
  }
  // Synchronous writes, yielding to the event loop between frames: a writeAsync worker keeps its
  // own reference to the writer, so release() after it would finish the file only a moment later,
  // after this function has returned and the file been renamed.
  const write = async (frame: Mat): Promise<void> => {
    writer.write(frame);
    await new Promise((resolve) => setImmediate(resolve));
  };
  try {
    for (const [i, still] of stills.entries()) {
      if (i > 0) for (let k = 0; k < gapFrames; k++) await write(blank);
      const n = Math.max(1, Math.round(segments[i]!.seconds * fps));
      for (let k = 0; k < n; k++) await write(zoomedFrame(still, width, height, zoom, n > 1 ? k / (n - 1) : 0));
    }
    writer.release();
    renameSync(partial, out);
  } catch (err) {
    writer.release();
    rmSync(partial, { force: true });
    throw err;
  }
}

function toBgr(rgb: Mat): Mat {
  return rgb.cvtColor(cv.COLOR_RGB2BGR);
}

/** The still at its largest on-screen size (fitted, then zoomed), so later frames only shrink it a little and stay sharp. */
function fitForZoom(img: Mat, width: number, height: number, zoom: number): Mat {
  const scale = Math.min(width / img.cols, height / img.rows) * zoom;
  const w = Math.max(1, Math.round(img.cols * scale));
  const h = Math.max(1, Math.round(img.rows * scale));
  return img.resize(h, w, 0, 0, scale < 1 ? cv.INTER_AREA : cv.INTER_CUBIC);
}

/** Frame at progress t (0..1) of a segment: the still centred, growing from 1/zoom to full size; overflow cropped, the rest grey. */
function zoomedFrame(still: Mat, width: number, height: number, zoom: number, t: number): Mat {
  const s = (1 + (zoom - 1) * t) / zoom;
  const tx = (width - s * still.cols) / 2;
  const ty = (height - s * still.rows) / 2;
  const m = new cv.Mat([[s, 0, tx], [0, s, ty]], cv.CV_64F);
  return still.warpAffine(m, new cv.Size(width, height), cv.INTER_LINEAR, cv.BORDER_CONSTANT, new cv.Vec3(GREY, GREY, GREY));
}

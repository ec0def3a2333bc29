// Decoding of photos and frames into RGB uint8 matrices, with a clear error per bad file so a
// batch run reports it and goes on.
import { readFileSync, statSync } from 'node:fs';
import { cv, type Mat } from './opencv.js';

export class ImageDecodeError extends Error {
  override name = 'ImageDecodeError';
  constructor(
    readonly source: string,
    readonly reason: string,
  ) {
    super(`${source}: ${reason}`);
  }
}

/** The error text without the file name, for reports that print the file name themselves. */
export function errorReason(err: unknown): string {
  return err instanceof ImageDecodeError ? err.reason : (err as Error).message;
}

export interface RgbImage {
  /** 8-bit, 3 channels, RGB order. */
  mat: Mat;
  width: number;
  height: number;
  source: string;
}

export interface DecodeOptions {
  /** Refuse images with more pixels than this before decoding them (a 20000x20000 photo is 1.2 GB of RGB). */
  maxPixels?: number;
}

export const DEFAULT_MAX_PIXELS = 40_000_000;

/** Width and height from a JPEG SOF or PNG IHDR header, without decoding the image. */
export function sniffDimensions(bytes: Uint8Array): { width: number; height: number; format: 'jpeg' | 'png' } | null {
  if (bytes.length > 24 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return { width: dv.getUint32(16), height: dv.getUint32(20), format: 'png' };
  }
  if (bytes.length > 4 && bytes[0] === 0xff && bytes[1] === 0xd8) {
    let i = 2;
    while (i + 9 < bytes.length) {
      if (bytes[i] !== 0xff) return null;
      const marker = bytes[i + 1]!;
      const len = (bytes[i + 2]! << 8) | bytes[i + 3]!;
      // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return { height: (bytes[i + 5]! << 8) | bytes[i + 6]!, width: (bytes[i + 7]! << 8) | bytes[i + 8]!, format: 'jpeg' };
      }
      i += 2 + len;
    }
    return null;
  }
  return null;
}

function hasJpegEnd(bytes: Uint8Array): boolean {
  // Some encoders pad after EOI, so look at the last few bytes rather than exactly the end.
  for (let i = bytes.length - 2; i >= Math.max(0, bytes.length - 64); i--) {
    if (bytes[i] === 0xff && bytes[i + 1] === 0xd9) return true;
  }
  return false;
}

export function decodeImage(bytes: Buffer, source: string, opts: DecodeOptions = {}): RgbImage {
  if (bytes.length === 0) throw new ImageDecodeError(source, 'empty file');
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  const dims = sniffDimensions(bytes);
  if (dims) {
    if (dims.width * dims.height > maxPixels) {
      throw new ImageDecodeError(
        source,
        `image is ${dims.width}x${dims.height} (${((dims.width * dims.height) / 1e6).toFixed(0)} MP), over the ${(maxPixels / 1e6).toFixed(0)} MP limit; downscale it first`,
      );
    }
    if (dims.format === 'jpeg' && !hasJpegEnd(bytes)) throw new ImageDecodeError(source, 'truncated JPEG (no end-of-image marker)');
  }
  let decoded: Mat;
  try {
    // IMREAD_COLOR turns greyscale into 3 channels and drops an alpha channel.
    decoded = cv.imdecode(bytes, cv.IMREAD_COLOR);
  } catch (err) {
    throw new ImageDecodeError(source, `not a readable image (${(err as Error).message})`);
  }
  if (!decoded || decoded.empty || decoded.rows === 0 || decoded.cols === 0) {
    throw new ImageDecodeError(source, 'not a readable image (unknown format or corrupt data)');
  }
  if (decoded.rows * decoded.cols > maxPixels) {
    throw new ImageDecodeError(source, `image is ${decoded.cols}x${decoded.rows}, over the ${(maxPixels / 1e6).toFixed(0)} MP limit`);
  }
  const mat = decoded.cvtColor(cv.COLOR_BGR2RGB);
  return { mat, width: mat.cols, height: mat.rows, source };
}

export function loadImage(path: string, opts: DecodeOptions = {}): RgbImage {
  let bytes: Buffer;
  try {
    if (statSync(path).isDirectory()) throw new ImageDecodeError(path, 'is a directory, not an image');
    bytes = readFileSync(path);
  } catch (err) {
    if (err instanceof ImageDecodeError) throw err;
    throw new ImageDecodeError(path, (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message);
  }
  return decodeImage(bytes, path, opts);
}

/** RGB uint8 mat -> planar CHW float32 `(x - mean) * scale`, computed by OpenCV. */
export function matToChw(mat: Mat, mean: number, scale: number, out?: Float32Array, offset = 0): Float32Array {
  const plane = mat.rows * mat.cols;
  const target = out ?? new Float32Array(3 * plane);
  const f = mat.convertTo(cv.CV_32FC3, scale, -mean * scale);
  const channels = f.splitChannels();
  channels.forEach((c, i) => {
    const buf = c.getData();
    // getData copies into a fresh Buffer; view it in place when it is 4-byte aligned (it is for
    // anything but tiny planes) instead of copying it once more.
    const view = buf.byteOffset % 4 === 0 ? new Float32Array(buf.buffer, buf.byteOffset, plane) : new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    target.set(view, offset + i * plane);
  });
  return target;
}

// Deterministic camera-sized test frames for the benchmark, built from the pinned sample photos:
// stage times depend on image size and face count, so both are fixed here rather than left to
// whichever photos happen to be at hand.
import { cv, type Mat } from '../vision/opencv.js';
import { decodeImage, loadImage } from '../vision/image.js';
import type { FaceDetector } from '../vision/detection/face-detector.js';
import type { SamplePhotos } from '../fixtures/sample-photos.js';

export const FRAME_WIDTH = 640;
export const FRAME_HEIGHT = 480;

/** One video frame of one man: the door camera's usual case. */
const ONE_FACE_SOURCE = 'franck_02045';
/** Five different people, so the 5-face frame is not one face repeated. */
const COLLAGE_SOURCES = ['audrey', 'cage', 'bieber_small', 'SeanConnery', 'kim1_crop'] as const;

// Mid grey: no edges or texture for P-Net to propose boxes on.
const BACKGROUND = [128, 128, 128];
// Camera-like quality, so decode time is what a real MJPEG frame costs.
const JPEG_QUALITY = 90;
// Keeps neighbouring portraits apart, so no candidate box spans two faces.
const TILE_GAP = 8;

export interface BenchFrame {
  name: string;
  /** Faces the float32 detector finds in the decoded JPEG. */
  faces: number;
  width: number;
  height: number;
  /** What the benchmark decodes on every iteration. */
  jpeg: Buffer;
  sources: string[];
}

interface FrameSpec {
  name: string;
  faces: number;
  sources: string[];
  /** RGB, FRAME_WIDTH x FRAME_HEIGHT. */
  compose: (images: Mat[]) => Mat;
}

const FRAME_SPECS: FrameSpec[] = [
  { name: '1-face', faces: 1, sources: [ONE_FACE_SOURCE], compose: ([img]) => coverCrop(img!, FRAME_WIDTH, FRAME_HEIGHT) },
  { name: '5-face', faces: 5, sources: [...COLLAGE_SOURCES], compose: (imgs) => collage(imgs, FRAME_WIDTH, FRAME_HEIGHT) },
];

/** Scales to cover width x height and cuts the overflow evenly from both sides. */
function coverCrop(img: Mat, width: number, height: number): Mat {
  const scale = Math.max(width / img.cols, height / img.rows);
  const w = Math.max(width, Math.round(img.cols * scale));
  const h = Math.max(height, Math.round(img.rows * scale));
  const scaled = img.resize(h, w, 0, 0, cv.INTER_AREA);
  return scaled.getRegion(new cv.Rect(Math.floor((w - width) / 2), Math.floor((h - height) / 2), width, height)).copy();
}

/** Tiles as [x, y, width, height]: ceil(n/2) on the top row, the rest centred below. */
function collageTiles(n: number, width: number, height: number): [number, number, number, number][] {
  const perRow = Math.ceil(n / 2);
  const tileW = Math.floor(width / perRow);
  const tileH = Math.floor(height / 2);
  const tiles: [number, number, number, number][] = [];
  for (let i = 0; i < n; i++) {
    const row = i < perRow ? 0 : 1;
    const inRow = row === 0 ? perRow : n - perRow;
    const col = row === 0 ? i : i - perRow;
    const offset = Math.floor((width - inRow * tileW) / 2);
    tiles.push([offset + col * tileW, row * tileH, tileW, tileH]);
  }
  return tiles;
}

/** Each image scaled to fit its tile (aspect kept, centred) on a grey canvas. */
function collage(images: Mat[], width: number, height: number): Mat {
  const canvas = new cv.Mat(height, width, cv.CV_8UC3, BACKGROUND);
  collageTiles(images.length, width, height).forEach(([x, y, w, h], i) => {
    const img = images[i]!;
    const scale = Math.min((w - TILE_GAP) / img.cols, (h - TILE_GAP) / img.rows);
    const fw = Math.round(img.cols * scale);
    const fh = Math.round(img.rows * scale);
    const fitted = img.resize(fh, fw, 0, 0, cv.INTER_AREA);
    // A region shares the canvas's pixels, so copying into it paints the canvas.
    fitted.copyTo(canvas.getRegion(new cv.Rect(x + Math.floor((w - fw) / 2), y + Math.floor((h - fh) / 2), fw, fh)));
  });
  return canvas;
}

function encodeJpeg(rgb: Mat): Buffer {
  return cv.imencode('.jpg', rgb.cvtColor(cv.COLOR_RGB2BGR), [cv.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]);
}

/**
 * The 1-face and 5-face frames as JPEG bytes. Each is checked with the float32 detector (on
 * the decoded JPEG, which is what the benchmark runs) so a changed photo or detector cannot
 * silently turn "5-face" timings into 4-face ones.
 */
export async function buildBenchFrames(photos: SamplePhotos, floatDetector: FaceDetector): Promise<BenchFrame[]> {
  const frames: BenchFrame[] = [];
  for (const spec of FRAME_SPECS) {
    const images = spec.sources.map((key) => {
      const path = photos[key];
      if (!path) throw new Error(`bench frame "${spec.name}": sample photo "${key}" is missing from the fetched sample packages`);
      return loadImage(path).mat;
    });
    const jpeg = encodeJpeg(spec.compose(images));
    const decoded = decodeImage(jpeg, spec.name);
    if (decoded.width !== FRAME_WIDTH || decoded.height !== FRAME_HEIGHT) {
      throw new Error(`bench frame "${spec.name}" is ${decoded.width}x${decoded.height}, expected ${FRAME_WIDTH}x${FRAME_HEIGHT}`);
    }
    const found = (await floatDetector.detect(decoded.mat)).faces.length;
    if (found !== spec.faces) {
      throw new Error(
        `bench frame "${spec.name}" (from ${spec.sources.join(', ')}): the float32 detector finds ${found} face(s), expected ${spec.faces}`,
      );
    }
    frames.push({ name: spec.name, faces: spec.faces, width: decoded.width, height: decoded.height, jpeg, sources: spec.sources });
  }
  return frames;
}

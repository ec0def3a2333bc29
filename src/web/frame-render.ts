// Draws what recognition saw onto a live-view frame and encodes it as JPEG: per face the box,
// track id, name (or unknown / undecided), quality and liveness. Works on a scaled-down copy,
// so the frame the recognition loop owns is never touched.
import type { FaceInView } from '../core/event-bus.js';
import { cv, type Mat } from '../vision/opencv.js';

export interface RenderOptions {
  maxWidth: number;
  jpegQuality: number;
}

type Bgr = [number, number, number];
/** BGR. Named faces green, unknown red, undecided amber; a spoof verdict is magenta whatever the name. */
export const BOX_COLOURS: Record<'named' | 'unknown' | 'undecided' | 'spoof', Bgr> = {
  named: [0, 255, 0],
  unknown: [0, 0, 255],
  undecided: [0, 200, 255],
  spoof: [255, 0, 255],
};

export function faceColour(face: FaceInView): Bgr {
  if (face.liveness?.state === 'spoof') return BOX_COLOURS.spoof;
  if (face.label === null) return BOX_COLOURS.undecided;
  return face.label === 'unknown' ? BOX_COLOURS.unknown : BOX_COLOURS.named;
}

export function faceCaption(face: FaceInView): string {
  const who = face.label === null ? '...' : face.label;
  const score = face.label !== null && face.label !== 'unknown' ? ` ${face.score.toFixed(2)}` : '';
  const quality = face.usable ? '' : ' low quality';
  const live = face.liveness ? ` ${face.liveness.state}` : '';
  // Hershey fonts draw ASCII only: other letters of a name become '?'.
  return `#${face.trackId} ${who}${score}${quality}${live}`.replace(/[^\x20-\x7e]/g, '?');
}

/** JPEG of an RGB frame with the faces drawn; `image` is read, never modified. */
export function renderLiveFrame(image: Mat, faces: readonly FaceInView[], opts: RenderOptions): Buffer {
  const scale = image.cols > opts.maxWidth ? opts.maxWidth / image.cols : 1;
  const bgr = image.cvtColor(cv.COLOR_RGB2BGR);
  const canvas = scale < 1 ? bgr.resize(Math.round(image.rows * scale), Math.round(image.cols * scale), 0, 0, cv.INTER_AREA) : bgr;
  if (canvas !== bgr) bgr.release();
  try {
    const thickness = Math.max(2, Math.round(canvas.cols / 320));
    const fontScale = 0.45 * Math.max(1, canvas.cols / 640);
    for (const face of faces) {
      const [x, y, w, h] = face.box.map((v) => Math.round(v * scale)) as [number, number, number, number];
      const colour = new cv.Vec3(...faceColour(face));
      canvas.drawRectangle(new cv.Rect(x, y, Math.max(1, w), Math.max(1, h)), colour, thickness);
      const text = faceCaption(face);
      const { size } = cv.getTextSize(text, cv.FONT_HERSHEY_SIMPLEX, fontScale, 1);
      const top = y - size.height - 8 >= 0 ? y - size.height - 8 : y + h;
      canvas.drawRectangle(new cv.Rect(Math.max(0, x - thickness / 2), top, size.width + 8, size.height + 8), colour, -1);
      canvas.putText(text, new cv.Point2(Math.max(0, x) + 4, top + size.height + 3), cv.FONT_HERSHEY_SIMPLEX, fontScale, new cv.Vec3(0, 0, 0), 1, cv.LINE_AA);
    }
    return cv.imencode('.jpg', canvas, [cv.IMWRITE_JPEG_QUALITY, opts.jpegQuality]);
  } finally {
    canvas.release();
  }
}

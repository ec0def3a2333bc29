// Texture, frequency and colour cues of a face crop: what a print or a screen changes in the
// picture. A recaptured face has lost fine detail (print dots, screen pixels, a second lens, focus
// on a surface), carries a narrower colour gamut and, on screens, moire peaks in its spectrum.
// Every cue is computed by OpenCV on the whole crop; none is a per-pixel JS loop.
//
// None of these alone separates attacks from live faces on other cameras (a sharp monitor replay
// is sharper than most live webcam frames): they are inputs to the fused score, never a gate.
import { cv, type Mat } from '../vision/opencv.js';

export interface TextureCues {
  /** Variance of the Laplacian of the grey crop: overall sharpness. */
  laplacianVar: number;
  /** Share of the grey crop's variance above about a quarter of Nyquist (crop minus its Gaussian blur). */
  hfShare: number;
  /**
   * Laplacian variance of the crop at 128 px over that at 64 px: how much detail lives at the finer
   * scale. Recapture (print dots, a second lens, a screen's blur) removes fine detail first. A ratio
   * of two scales of one face, it depends less on the camera than the Laplacian variance itself:
   * it was the one cue above 0.5 AUC in every source of the development set.
   */
  detailRatio: number;
  /** Mean HSV saturation (0..1). */
  saturationMean: number;
  /** Spread of the chroma channels (std of Cr and Cb, 0..1 scale). */
  chromaSpread: number;
  /** Share of near-white, unsaturated pixels: glare on glass or glossy paper. */
  specularShare: number;
  /** Strongest peak of the mid/high band of the spectrum over that band's mean: moire and screen-pixel grids. */
  spectralPeak: number;
}

export const TEXTURE_CUE_NAMES = ['laplacianVar', 'hfShare', 'detailRatio', 'saturationMean', 'chromaSpread', 'specularShare', 'spectralPeak'] as const;

/** Side of the grey image the spectrum is taken on (a power of two for a fast DFT). */
const SPECTRUM_SIDE = 128;

let bandMask: Mat | undefined;
/** Annulus between 1/4 and 3/4 of Nyquist in a centred spectrum, computed once. */
function spectrumBandMask(): Mat {
  if (bandMask) return bandMask;
  const c = SPECTRUM_SIDE / 2;
  const outer = new cv.Mat(SPECTRUM_SIDE, SPECTRUM_SIDE, cv.CV_8UC1, 0);
  outer.drawCircle(new cv.Point2(c, c), Math.round(c * 0.75), new cv.Vec3(255, 255, 255), -1);
  const inner = new cv.Mat(SPECTRUM_SIDE, SPECTRUM_SIDE, cv.CV_8UC1, 0);
  inner.drawCircle(new cv.Point2(c, c), Math.round(c * 0.25), new cv.Vec3(255, 255, 255), -1);
  bandMask = outer.sub(inner);
  return bandMask;
}

/** Swaps quadrants so the zero frequency sits in the centre. */
function centreSpectrum(m: Mat): Mat {
  const h = m.rows / 2;
  const w = m.cols / 2;
  const out = new cv.Mat(m.rows, m.cols, m.type, 0);
  const quads: [number, number, number, number][] = [
    [0, 0, w, h],
    [w, 0, 0, h],
    [0, h, w, 0],
    [w, h, 0, 0],
  ];
  for (const [sx, sy, dx, dy] of quads) m.getRegion(new cv.Rect(sx, sy, w, h)).copyTo(out.getRegion(new cv.Rect(dx, dy, w, h)));
  return out;
}

function spectralPeak(grey: Mat): number {
  const small = grey.resize(SPECTRUM_SIDE, SPECTRUM_SIDE, 0, 0, cv.INTER_AREA).convertTo(cv.CV_32F);
  // Remove the mean so the DC term does not dominate, then take the log magnitude.
  const mean = small.mean().w;
  const zeroMean = small.sub(new cv.Mat(SPECTRUM_SIDE, SPECTRUM_SIDE, cv.CV_32F, mean));
  const spectrum = zeroMean.dft(cv.DFT_COMPLEX_OUTPUT);
  const [re, im] = spectrum.splitChannels() as [Mat, Mat];
  const magnitude = re.hMul(re).add(im.hMul(im)).sqrt();
  const logMag = centreSpectrum(magnitude.add(new cv.Mat(SPECTRUM_SIDE, SPECTRUM_SIDE, cv.CV_32F, 1)).log());
  const mask = spectrumBandMask();
  const { maxVal } = logMag.minMaxLoc(mask);
  const inBand = logMag.meanStdDev(mask).mean.at(0, 0) as number;
  return maxVal - inBand;
}

function laplacianVariance(grey: Mat): number {
  const sd = grey.laplacian(cv.CV_64F).meanStdDev().stddev.at(0, 0) as number;
  return sd * sd;
}

/** Cues of an RGB face crop (the squared box, see face-crop.ts). */
export function textureCues(rgb: Mat): TextureCues {
  const grey = rgb.cvtColor(cv.COLOR_RGB2GRAY);
  const lap = laplacianVariance(grey);
  const lap128 = laplacianVariance(grey.resize(128, 128, 0, 0, cv.INTER_AREA));
  const lap64 = laplacianVariance(grey.resize(64, 64, 0, 0, cv.INTER_AREA));
  const greyF = grey.convertTo(cv.CV_32F);
  const total = greyF.meanStdDev().stddev.at(0, 0) as number;
  const high = greyF.sub(greyF.gaussianBlur(new cv.Size(0, 0), 2)).meanStdDev().stddev.at(0, 0) as number;

  const hsv = rgb.cvtColor(cv.COLOR_RGB2HSV);
  const [, s, v] = hsv.splitChannels() as [Mat, Mat, Mat];
  const saturationMean = (s.mean().w as number) / 255;
  // Glare: bright (V > 235) and nearly grey (S < 40).
  const bright = v.threshold(235, 255, cv.THRESH_BINARY);
  const grey40 = s.threshold(40, 255, cv.THRESH_BINARY_INV);
  const specularShare = bright.bitwiseAnd(grey40).countNonZero() / (rgb.rows * rgb.cols);

  const ycc = rgb.cvtColor(cv.COLOR_RGB2YCrCb);
  const { stddev } = ycc.meanStdDev();
  const chromaSpread = ((stddev.at(1, 0) as number) + (stddev.at(2, 0) as number)) / 2 / 255;

  return {
    laplacianVar: lap,
    hfShare: total > 0 ? (high * high) / (total * total) : 0,
    detailRatio: lap64 > 0 ? lap128 / lap64 : 0,
    saturationMean,
    chromaSpread,
    specularShare,
    spectralPeak: spectralPeak(grey),
  };
}

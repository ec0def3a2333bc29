// What a night-time door camera delivers, applied to an aligned face crop: an IR image (grey), a
// face only a few dozen sensor pixels wide, optical blur and sensor noise at that resolution,
// then scaled back up to the embedder's input size as the pipeline would. Applied after
// alignment so that detection and landmarks stay those of the clean photo and only the
// embedder sees the degraded face. Noise is seeded per image: the same photo and seed always
// give the same pixels.
import { cv, type Mat } from '../vision/opencv.js';
import { createRng, seedFrom } from '../util/rng.js';

export interface DegradePreset {
  name: string;
  description: string;
  /** Side of the face crop on the sensor, in pixels. */
  sensorSize: number;
  /** Gaussian blur sigma in sensor pixels (0: none). */
  blurSigma: number;
  /** Gaussian sensor noise, standard deviation in grey levels (0: none). */
  noiseSigma: number;
}

export const DEGRADE_PRESETS: readonly DegradePreset[] = [
  { name: 'ir-night', description: 'IR night camera: grey, face ~28 px, blur, sensor noise', sensorSize: 28, blurSigma: 0.6, noiseSigma: 6 },
  { name: 'ir-far', description: 'IR camera, person further away: grey, face ~24 px, more blur and noise', sensorSize: 24, blurSigma: 0.7, noiseSigma: 8 },
  { name: 'grey-lowres', description: 'grey, face ~32 px, no blur or noise', sensorSize: 32, blurSigma: 0, noiseSigma: 0 },
];

export function degradePreset(name: string): DegradePreset {
  const preset = DEGRADE_PRESETS.find((p) => p.name === name);
  if (!preset) throw new Error(`unknown degrade preset "${name}" (have: ${DEGRADE_PRESETS.map((p) => p.name).join(', ')})`);
  return preset;
}

/** One line per preset, for --help. */
export function describePresets(): string {
  return DEGRADE_PRESETS.map((p) => `${p.name}: ${p.description}`).join('; ');
}

/**
 * The key that seeds an image's noise: its person folder and file name, so that `tune` and
 * `eval --degrade` degrade the same photo identically wherever the data set lies.
 */
export function imageKey(file: string): string {
  return file.split(/[\\/]/).slice(-2).join('/');
}

/** A degraded copy of an RGB uint8 crop, same size, still 3-channel RGB (the embedder's input). */
export function degradeCrop(crop: Mat, preset: DegradePreset, noiseSeed: number): Mat {
  const size = preset.sensorSize;
  let sensor = crop.cvtColor(cv.COLOR_RGB2GRAY).resize(size, size, 0, 0, cv.INTER_AREA);
  if (preset.blurSigma > 0) sensor = sensor.gaussianBlur(new cv.Size(0, 0), preset.blurSigma, preset.blurSigma, cv.BORDER_REFLECT);
  if (preset.noiseSigma > 0) sensor = withNoise(sensor, preset.noiseSigma, noiseSeed);
  return sensor.resize(crop.rows, crop.cols, 0, 0, cv.INTER_LINEAR).cvtColor(cv.COLOR_GRAY2RGB);
}

function withNoise(grey: Mat, sigma: number, seed: number): Mat {
  const rng = createRng(seed);
  const pixels = new Uint8Array(grey.getData());
  for (let i = 0; i < pixels.length; i++) pixels[i] = Math.min(255, Math.max(0, Math.round(pixels[i]! + sigma * rng.normal())));
  return new cv.Mat(Buffer.from(pixels.buffer), grey.rows, grey.cols, cv.CV_8UC1);
}

/** The crop transform for one image file: what `eval --degrade` and `tune` both use. */
export function degradeFor(preset: DegradePreset, seed: number, file: string, variant = 0): (crop: Mat) => Mat {
  return (crop) => degradeCrop(crop, preset, seedFrom('degrade', seed, imageKey(file), variant));
}

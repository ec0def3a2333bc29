// Shared test setup: the model set that deploy/setup.sh builds, and the pinned sample photos.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_MODELS_DIR, SOURCES_CACHE_DIR } from '../../src/paths.js';
import { fetchSamplePhotos, type SamplePhotos } from '../../src/fixtures/sample-photos.js';

export const MODELS_DIR = DEFAULT_MODELS_DIR;

export function requireModels(): void {
  if (!existsSync(join(MODELS_DIR, 'manifest.json'))) {
    throw new Error(`${MODELS_DIR}/manifest.json is missing: run deploy/setup.sh (or facegate models build) first`);
  }
}

let photos: Promise<SamplePhotos> | undefined;
export function samplePhotos(): Promise<SamplePhotos> {
  photos ??= fetchSamplePhotos({ cacheDir: SOURCES_CACHE_DIR });
  return photos;
}

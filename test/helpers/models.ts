// Shared test setup: the model set that deploy/setup.sh builds, the pinned sample photos, and
// one analyzer per test process. node:test runs each file in a process of its own, so a file that
// needs the default models loads them once here instead of once per test.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_MODELS_DIR, SOURCES_CACHE_DIR } from '../../src/paths.js';
import { fetchSamplePhotos, type SamplePhotos } from '../../src/fixtures/sample-photos.js';
import type { FaceAnalyzer } from '../../src/vision/face-analyzer.js';
import { loadAnalyzer } from '../../src/vision/load-analyzer.js';

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

let analyzer: Promise<FaceAnalyzer> | undefined;
/**
 * The default float32 detector and embedder of the installed set, loaded on first use and shared
 * by every test in the process. Tests must not change it (options, thresholds) or release it.
 */
export function sharedAnalyzer(): Promise<FaceAnalyzer> {
  requireModels();
  analyzer ??= loadAnalyzer({ modelsDir: MODELS_DIR }).then((r) => r.analyzer);
  return analyzer;
}

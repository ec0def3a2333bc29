// End-to-end throughput of the daemon's recognition loop: a 640x480 video of people walking up
// (built from the npm sample photos) played unpaced, every frame through detect, quality gate,
// embed, identify, tracking and fusion, against a gallery with two enrolled people.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildVideoFromStills } from '../camera/video-builder.js';
import { createFrameSource } from '../camera/frame-source.js';
import { CameraConfig } from '../camera/camera-config.js';
import { fetchSamplePhotos, FRANCK_FRAMES } from '../fixtures/sample-photos.js';
import { SOURCES_CACHE_DIR } from '../paths.js';
import { loadAnalyzer } from '../vision/load-analyzer.js';
import { findModel, readManifest } from '../models/manifest.js';
import { defaultEmbedderId, type PrecisionChoice } from '../vision/face-pipeline.js';
import { GalleryStore } from '../gallery/gallery-store.js';
import { commitEnrollment, prepareCandidates } from '../gallery/enrollment.js';
import { ConfigSchema } from '../config/schema.js';
import { loadSnapshot } from '../daemon/gallery-snapshot.js';
import { DoorPolicy } from '../recognition/door-policy.js';
import { RecognitionLoop } from '../recognition/recognition-loop.js';

export interface DaemonBenchResult {
  precision: PrecisionChoice;
  threads: number;
  frames: number;
  seconds: number;
  fps: number;
  facesPerFrame: number;
  decisions: number;
}

export async function runDaemonBench(opts: { modelsDir: string; precision: PrecisionChoice; threads: number }): Promise<DaemonBenchResult> {
  const work = mkdtempSync(join(tmpdir(), 'facegate-bench-'));
  try {
    const photos = await fetchSamplePhotos({ cacheDir: SOURCES_CACHE_DIR });
    const video = join(work, 'door.mp4');
    const stills = [...FRANCK_FRAMES.slice(8, 10), 'cage', 'audrey', 'SeanConnery'];
    await buildVideoFromStills(stills.map((k) => ({ image: photos[k]!, seconds: 1.5 })), video, { width: 640, height: 480, fps: 10, gapSeconds: 1 });

    const defaults = ConfigSchema.parse({});
    const pipeline = { modelsDir: opts.modelsDir, precision: opts.precision, threads: opts.threads };
    const { analyzer } = await loadAnalyzer(pipeline);
    const entry = findModel(readManifest(opts.modelsDir), defaultEmbedderId(opts.precision));
    const model = { id: entry.id, sha256: entry.sha256 };
    const store = GalleryStore.open(join(work, 'gallery.db'));
    const settings = { gate: defaults.quality, dedupeSimilarity: defaults.gallery.dedupeSimilarity, keepCrops: false };
    for (const [name, keys] of [['franck', FRANCK_FRAMES.slice(0, 5)], ['audrey', ['audrey']]] as const) {
      commitEnrollment(store, name, model, (await prepareCandidates(analyzer, keys.map((k) => photos[k]!), settings)).accepted, 'folder');
    }
    const snapshot = await loadSnapshot(store, model);
    // Unpaced: frames as fast as the loop takes them, so the figure is the loop's own throughput.
    const source = createFrameSource(CameraConfig.parse({ type: 'file', path: video, realtime: false }));
    await source.start();
    let frames = 0, faces = 0, decisions = 0;
    const loop = new RecognitionLoop(
      source,
      analyzer,
      () => snapshot,
      new DoorPolicy([{ name: 'front', allow: { everyone: true, people: [], groups: [] }, cooldownMs: 10_000, unknown: 'deny', multipleFaces: 'deny-if-stranger' }]),
      {
        gate: defaults.quality,
        match: defaults.matching,
        tracker: { minIou: defaults.recognition.trackMinIou, maxGapMs: defaults.recognition.trackMaxGapMs },
        fusion: { n: defaults.recognition.fusionN, m: defaults.recognition.fusionM },
      },
      {
        onEvent: () => decisions++,
        onFrame: (r) => {
          frames++;
          faces += r.faces;
        },
      },
    );
    const start = performance.now();
    loop.start();
    await loop.finished();
    const seconds = (performance.now() - start) / 1000;
    await source.stop();
    store.close();
    return { precision: opts.precision, threads: opts.threads, frames, seconds, fps: frames / seconds, facesPerFrame: faces / Math.max(1, frames), decisions };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

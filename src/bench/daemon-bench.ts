// End to end through the daemon's recognition loop (detect, quality, liveness slot, embed,
// identify, track, fuse, decide) against a gallery with two enrolled people, on 640x480 videos
// built from the pinned sample photos:
// - one face in every frame, and five faces in every frame, played unpaced (the loop's own
//   throughput), with ROI tracking on and off;
// - door visits (enrolled people and strangers, empty doorway between) played at 15 fps like a
//   camera: first sighting to decision latency.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
import type { FaceAnalyzer } from '../vision/face-analyzer.js';
import { GalleryStore } from '../gallery/gallery-store.js';
import { commitEnrollment, prepareCandidates } from '../gallery/enrollment.js';
import { ConfigSchema } from '../config/schema.js';
import { loadSnapshot } from '../daemon/gallery-snapshot.js';
import { DoorPolicy } from '../recognition/door-policy.js';
import { RecognitionLoop, type GallerySnapshot, type LoopFrame } from '../recognition/recognition-loop.js';
import { trackSettings } from '../recognition/loop-settings.js';
import { buildBenchFrames } from './frames.js';
import { summarize, type Summary } from './stage-bench.js';

export const CAMERA_FPS = 15;

export interface LoopRun {
  video: string;
  roi: boolean;
  paced: boolean;
  frames: number;
  seconds: number;
  fps: number;
  facesPerFrame: number;
  /** Share of frames searched in full (the rest only around the tracks). */
  fullFrameShare: number;
  decisions: number;
  /** Per frame, ms: the loop's own time (detector, align, embed, identify...). */
  frameMs: Summary;
  /** First sighting of a track to its decision leaving the loop (capture-time difference plus the deciding frame's processing), ms. */
  latencyMs?: Summary;
}

export interface DaemonBenchResult {
  precision: PrecisionChoice;
  threads: number;
  /** Loading the models and the gallery until the loop could take its first frame, ms (in-process, without Node start-up). */
  coldStartMs: number;
  runs: LoopRun[];
  /** Resident set size after the runs, MiB. */
  rssMiB: number;
}

export async function runDaemonBench(opts: { modelsDir: string; precision: PrecisionChoice; threads: number; log?: (line: string) => void }): Promise<DaemonBenchResult> {
  const work = mkdtempSync(join(tmpdir(), 'facegate-bench-'));
  try {
    const photos = await fetchSamplePhotos({ cacheDir: SOURCES_CACHE_DIR });
    const defaults = ConfigSchema.parse({});
    const coldStart = performance.now();
    const { analyzer } = await loadAnalyzer({ modelsDir: opts.modelsDir, precision: opts.precision, threads: opts.threads });
    const entry = findModel(readManifest(opts.modelsDir), defaultEmbedderId(opts.precision));
    const model = { id: entry.id, sha256: entry.sha256 };
    const store = GalleryStore.open(join(work, 'gallery.db'));
    const settings = { gate: defaults.quality, dedupeSimilarity: defaults.gallery.dedupeSimilarity, keepCrops: false };
    for (const [name, keys] of [['franck', FRANCK_FRAMES.slice(0, 5)], ['audrey', ['audrey']]] as const) {
      commitEnrollment(store, name, model, (await prepareCandidates(analyzer, keys.map((k) => photos[k]!), settings)).accepted, 'folder');
    }
    const snapshot = await loadSnapshot(store, model);
    // Includes enrolling the two people from their photos (a few analyses), which a daemon start does not do.
    const coldStartMs = performance.now() - coldStart;

    const [oneFace, fiveFace] = await buildBenchFrames(photos, analyzer.detector);
    const still = (name: string, jpeg: Buffer) => {
      const path = join(work, `${name}.jpg`);
      writeFileSync(path, jpeg);
      return path;
    };
    const videos = {
      '1-face': join(work, 'one-face.mp4'),
      '5-face': join(work, 'five-face.mp4'),
      visits: join(work, 'visits.mp4'),
    };
    opts.log?.('bench: building the videos');
    // Slow zoom (the builder's default) so boxes move a little every frame, as a real face does.
    await buildVideoFromStills([{ image: still('one', oneFace!.jpeg), seconds: 8 }], videos['1-face'], { fps: CAMERA_FPS });
    await buildVideoFromStills([{ image: still('five', fiveFace!.jpeg), seconds: 6 }], videos['5-face'], { fps: CAMERA_FPS, zoom: 1.05 });
    const visitStills = [FRANCK_FRAMES[8]!, 'cage', FRANCK_FRAMES[6]!, 'audrey', 'SeanConnery', FRANCK_FRAMES[9]!, 'obama4_crop', FRANCK_FRAMES[7]!];
    await buildVideoFromStills(
      visitStills.map((k) => ({ image: photos[k]!, seconds: 1.5 })),
      videos.visits,
      { fps: CAMERA_FPS, gapSeconds: 1 },
    );

    const runs: LoopRun[] = [];
    for (const video of ['1-face', '5-face'] as const) {
      for (const roi of [true, false]) {
        opts.log?.(`bench: ${video} video, ROI tracking ${roi ? 'on' : 'off'}, unpaced`);
        runs.push(await playVideo(analyzer, snapshot, videos[video], video, { roi, paced: false, defaults }));
      }
    }
    opts.log?.(`bench: door visits at ${CAMERA_FPS} fps, paced like a camera`);
    runs.push(await playVideo(analyzer, snapshot, videos.visits, 'visits', { roi: true, paced: true, defaults }));
    store.close();
    await analyzer.release();
    return { precision: opts.precision, threads: opts.threads, coldStartMs, runs, rssMiB: process.memoryUsage().rss / 1024 / 1024 };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function playVideo(
  analyzer: FaceAnalyzer,
  snapshot: GallerySnapshot,
  path: string,
  name: string,
  o: { roi: boolean; paced: boolean; defaults: ReturnType<typeof ConfigSchema.parse> },
): Promise<LoopRun> {
  const source = createFrameSource(CameraConfig.parse({ type: 'file', path, realtime: o.paced }));
  await source.start();
  // The loop's frames, remembered by sequence number, to time a decision from its frame's capture.
  const capturedAt = new Map<number, number>();
  const port = {
    next: async (): Promise<LoopFrame | null> => {
      const f = await source.next();
      if (f) capturedAt.set(f.seq, f.capturedAtMs);
      return f;
    },
  };
  let frames = 0, faces = 0, full = 0;
  const frameMs: number[] = [];
  const latency: number[] = [];
  const seenTracks = new Set<number>();
  const base = trackSettings(o.defaults.recognition);
  const loop = new RecognitionLoop(
    port,
    analyzer,
    () => snapshot,
    new DoorPolicy([{ name: 'front', allow: { everyone: true, people: [], groups: [] }, cooldownMs: 10_000, unknown: 'deny', multipleFaces: 'grant-allowed' }]),
    { gate: o.defaults.quality, match: o.defaults.matching, ...base, regions: { ...base.regions, enabled: o.roi } },
    {
      onEvent: (e) => {
        if (seenTracks.has(e.trackId)) return;
        seenTracks.add(e.trackId);
        const at = capturedAt.get(e.frameSeq);
        if (at !== undefined) latency.push(e.latencyMs + (Date.now() - at));
      },
      onFrame: (r, f) => {
        frames++;
        faces += r.faces.length;
        if (r.fullFrame) full++;
        frameMs.push(r.totalMs);
        capturedAt.delete(f.seq - 1000);
        f.mat.release();
      },
    },
  );
  const start = performance.now();
  loop.start();
  await loop.finished();
  const seconds = (performance.now() - start) / 1000;
  await source.stop();
  return {
    video: name,
    roi: o.roi,
    paced: o.paced,
    frames,
    seconds,
    fps: frames / seconds,
    facesPerFrame: faces / Math.max(1, frames),
    fullFrameShare: full / Math.max(1, frames),
    decisions: seenTracks.size,
    frameMs: summarize(frameMs.length ? frameMs : [0]),
    ...(latency.length ? { latencyMs: summarizeWithP99(latency) } : {}),
  };
}

function summarizeWithP99(samples: number[]): Summary & { p99: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = 0.99 * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return { ...summarize(samples), p99: sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo), max: sorted.at(-1)! };
}

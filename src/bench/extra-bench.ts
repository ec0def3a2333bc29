// The benchmarks of the parts around recognition, each runnable alone from `facegate bench`:
// presentation-attack cost per face, recognition fps with a live-view viewer, fleet resync.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { writeFileSync } from 'node:fs';
import { fetchSamplePhotos, FRANCK_FRAMES } from '../fixtures/sample-photos.js';
import { SOURCES_CACHE_DIR } from '../paths.js';
import { loadAnalyzer } from '../vision/load-analyzer.js';
import { loadImage } from '../vision/image.js';
import { benchLiveness, type LivenessBenchResult } from '../liveness/bench.js';
import { loadDtnScorer, readFusionModel } from '../liveness/load-liveness.js';
import { measureLiveViewOverhead, type LiveViewOverhead } from '../web/live-view-bench.js';
import { runFleetBench, type FleetBenchResult } from '../fleet/fleet-bench.js';
import { loadConfig } from '../config/load.js';
import { Daemon } from '../daemon/daemon.js';
import { SimulatedGpio } from '../hardware/gpio/simulated-gpio.js';

/** ms per face of each liveness scorer, on the franck frames (a real face moving between frames). */
export async function livenessBench(modelsDir: string, log: (l: string) => void): Promise<LivenessBenchResult> {
  const photos = await fetchSamplePhotos({ cacheDir: SOURCES_CACHE_DIR });
  const { analyzer } = await loadAnalyzer({ modelsDir });
  const frames = [];
  for (const key of FRANCK_FRAMES.slice(0, 6)) {
    const { mat } = loadImage(photos[key]!);
    const a = await analyzer.analyze(mat, 'none');
    if (a.primary >= 0) frames.push({ frame: mat, face: a.faces[a.primary]! });
  }
  await analyzer.release();
  log(`bench: liveness scorers on ${frames.length} faces`);
  const dtn = await loadDtnScorer({ modelsDir, modelId: 'dtn-antispoof-fp32' });
  try {
    return await benchLiveness({ frames, dtn, fusion: readFusionModel(), iterations: 5 });
  } finally {
    await dtn.release();
  }
}

/** Recognition fps of the real daemon on an unpaced one-face camera, with and without a live-view viewer. */
export async function liveViewBench(modelsDir: string, log: (l: string) => void): Promise<LiveViewOverhead> {
  const photos = await fetchSamplePhotos({ cacheDir: SOURCES_CACHE_DIR });
  const work = mkdtempSync(join(tmpdir(), 'facegate-bench-live-'));
  mkdirSync(join(work, 'camera'));
  FRANCK_FRAMES.slice(0, 4).forEach((k, i) => copyFileSync(photos[k]!, join(work, 'camera', `f${i}.jpg`)));
  const config = join(work, 'facegate.yaml');
  writeFileSync(
    config,
    stringify({
      models: { dir: modelsDir },
      gallery: { path: 'gallery.db' },
      // 200 fps asked of a folder: recognition, not the camera, sets the pace.
      camera: { type: 'folder', path: 'camera', fps: 200, loop: true },
      doors: [{ name: 'front', relay: { pin: 17 } }],
      gpio: { backend: 'simulated' },
      health: { enabled: false },
      logging: { level: 'warn' },
    }),
  );
  const daemon = new Daemon(loadConfig(config), { log: pino({ level: 'warn' }), gpio: new SimulatedGpio() });
  await daemon.start();
  try {
    log('bench: live view, 3 rounds of 5 s with and without a viewer, alternating');
    return await measureLiveViewOverhead(daemon.bus, { rounds: 3, seconds: 5 });
  } finally {
    await daemon.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

export async function fleetBench(opts: { controllers: number; people: number }, log: (l: string) => void): Promise<FleetBenchResult> {
  log(`bench: fleet resync, ${opts.controllers} controllers and ${opts.people} people on one local mosquitto`);
  return runFleetBench({ controllers: opts.controllers, people: opts.people, log });
}

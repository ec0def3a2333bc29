// The main job on a machine with no camera, GPIO or broker: the real daemon, fed a video built
// from real photos (pinned npm packages), with a simulated relay whose edges are printed live and
// an in-process MQTT broker whose messages are printed too.
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { fetchSamplePhotos, FRANCK_FRAMES } from '../fixtures/sample-photos.js';
import { SOURCES_CACHE_DIR, DEFAULT_MODELS_DIR } from '../paths.js';
import { loadConfig } from '../config/load.js';
import { openGalleryContext, analyzerFor } from '../app/gallery-context.js';
import { commitEnrollment, prepareCandidates } from '../gallery/enrollment.js';
import { buildVideoFromStills } from '../camera/video-builder.js';
import { videoTimeSources } from '../camera/video-time.js';
import { ManualClock } from '../util/manual-clock.js';
import { SimulatedGpio } from '../hardware/gpio/simulated-gpio.js';
import { Daemon } from '../daemon/daemon.js';
import { createLogger } from '../daemon/logger.js';
import type { RecognitionEvent } from '../recognition/events.js';
import { loadDetector } from '../vision/face-pipeline.js';
import { loadImage } from '../vision/image.js';
import { formatFaces } from '../vision/describe-faces.js';
import { startDemoBroker, type DemoBroker } from './demo-broker.js';

export const DEMO_RELAY_PIN = 17;

export interface DemoResult {
  events: RecognitionEvent[];
  pulses: { atMs: number; durationMs: number }[];
  visits: { who: string; enrolled: boolean }[];
  /** What the daemon published over MQTT. */
  mqtt: DemoBroker['messages'];
}

export const DEMO_DEVICE = 'demo';
const DEMO_FPS = 10;

export interface DemoOptions {
  print: (line: string) => void;
  /**
   * Play the video on its own timeline as fast as the models run (VideoTimeSource), instead of
   * at its frame rate on the wall clock: the same decisions and pulses, in the time inference takes.
   */
  videoTime?: boolean;
}

export async function runDemo(outDir: string, opts: DemoOptions): Promise<DemoResult> {
  const print = opts.print;
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const photos = await fetchSamplePhotos({ cacheDir: SOURCES_CACHE_DIR });

  const broker = await startDemoBroker((topic, payload) => {
    // Discovery configs are long and say little to a person; the rest is the contract in action.
    if (!topic.startsWith('homeassistant/')) print(`MQTT ${topic} ${payload.length > 320 ? `${payload.slice(0, 317)}...` : payload}`);
  });
  try {
    writeFileSync(join(outDir, 'mqtt-hmac.key'), `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    const configPath = join(outDir, 'facegate.yaml');
    const config = {
      models: { dir: DEFAULT_MODELS_DIR },
      gallery: { path: 'gallery.db' },
      camera: { type: 'file', path: 'door.mp4', fps: DEMO_FPS, loop: false },
      doors: [{ name: 'front', relay: { pin: DEMO_RELAY_PIN, activeLow: true, pulseMs: 1500 }, allow: { everyone: true } }],
      gpio: { backend: 'simulated' },
      health: { enabled: true, port: 0 },
      logging: { level: 'info', pretty: true },
      mqtt: { url: broker.url, deviceId: DEMO_DEVICE, commands: { hmacKeyFile: 'mqtt-hmac.key' } },
    };
    writeFileSync(configPath, `# written by facegate demo\n${stringify(config)}`);

    // First what the detector sees in one real photo (several people, five landmarks each).
    const { detector } = await loadDetector({ modelsDir: DEFAULT_MODELS_DIR });
    const group = loadImage(photos.sample1!);
    print('demo: detecting faces in a sample photo');
    for (const line of formatFaces(photos.sample1!, group.width, group.height, (await detector.detect(group.mat)).faces)) print(line);

    print('demo: enrolling franck (5 video frames) and audrey (1 portrait) from npm sample photos');
    const ctx = openGalleryContext(configPath);
    try {
      const analyzer = await analyzerFor(ctx);
      for (const [name, keys] of [['franck', FRANCK_FRAMES.slice(0, 5)], ['audrey', ['audrey']]] as const) {
        const { accepted, rejected } = await prepareCandidates(analyzer, keys.map((k) => photos[k]!), ctx.settings);
        const n = commitEnrollment(ctx.store, name, ctx.model, accepted, 'folder');
        print(`  ${name}: ${n} templates${rejected.length ? ` (${rejected.map((r) => r.reason).join('; ')})` : ''}`);
      }
    } finally {
      ctx.close();
    }

    // Visits: two enrolled people (franck with frames the gallery has not seen) and three strangers,
    // with empty doorway between them.
    const visits = [
      { who: 'franck', enrolled: true, stills: FRANCK_FRAMES.slice(8, 10) },
      { who: 'cage', enrolled: false, stills: ['cage'] },
      { who: 'audrey', enrolled: true, stills: ['audrey'] },
      { who: 'SeanConnery', enrolled: false, stills: ['SeanConnery'] },
      { who: 'bieber_small', enrolled: false, stills: ['bieber_small'] },
    ];
    const segments = visits.flatMap((v) => v.stills.map((k) => ({ image: photos[k]!, seconds: 2.5 / v.stills.length })));
    print(`demo: building door.mp4 (${visits.length} visits: ${visits.map((v) => `${v.who}${v.enrolled ? '' : ' (stranger)'}`).join(', ')})`);
    await buildVideoFromStills(segments, join(outDir, 'door.mp4'), { width: 640, height: 480, fps: DEMO_FPS, gapSeconds: 2 });

    // Video time: one manual clock for the daemon and the relay, moved by the video's frames.
    const videoClock = opts.videoTime ? new ManualClock(Date.now()) : undefined;
    const gpio = new SimulatedGpio({
      ...(videoClock ? { clock: videoClock } : {}),
      onEdge: (e) => {
        if (e.pin !== DEMO_RELAY_PIN) return;
        // Active-low relay: level 0 energises it.
        print(e.level === 0 ? `RELAY front ENERGISED (door unlocked)` : `RELAY front released (door locked)`);
      },
    });
    const loaded = loadConfig(configPath);
    const events: RecognitionEvent[] = [];
    const daemon = new Daemon(loaded, {
      log: createLogger(loaded.config.logging),
      gpio,
      onEvent: (e) => events.push(e),
      ...(videoClock ? { clock: videoClock, frameSource: videoTimeSources(videoClock) } : {}),
    });
    await daemon.start();
    await daemon.finished();
    await daemon.stop();

    const edges = gpio.edgesFor(DEMO_RELAY_PIN);
    const pulses: DemoResult['pulses'] = [];
    edges.forEach((e, i) => {
      const next = edges[i + 1];
      if (e.level === 0 && next && next.level === 1) pulses.push({ atMs: e.atMs, durationMs: next.atMs - e.atMs });
    });
    print(`demo: ${events.length} decisions, ${pulses.length} relay pulses (expected ${visits.filter((v) => v.enrolled).length}: one per enrolled visitor, none for strangers)`);
    const published = broker.messages.filter((m) => m.topic === `facegate/${DEMO_DEVICE}/event/recognition`).length;
    print(`demo: ${published} recognition events published over MQTT (topic facegate/${DEMO_DEVICE}/event/recognition; README: MQTT)`);
    return { events, pulses, visits, mqtt: broker.messages };
  } finally {
    await broker.close();
  }
}

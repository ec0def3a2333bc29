// Running the daemon in tests: a config for an image-folder camera with the simulated GPIO,
// `facegate run` as a child process whose log lines can be awaited (for what only a process can
// show: signals, exit codes, systemd), and the daemon in-process on a scripted camera.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { REPO_ROOT } from '../../src/paths.js';
import { waitUntil } from './wait.js';
import { MODELS_DIR } from './models.js';
import { ScriptedCamera, type ScriptedFrame } from './scripted-camera.js';
import { createFrameSource } from '../../src/camera/frame-source.js';
import { videoTimeSources } from '../../src/camera/video-time.js';
import type { SourceFactory } from '../../src/daemon/camera.js';
import type { ManualClock } from '../../src/util/manual-clock.js';
import type { RecognitionEvent } from '../../src/recognition/events.js';

export function folderConfig(dir: string, extra: Record<string, unknown> = {}): string {
  const path = join(dir, 'facegate.yaml');
  writeFileSync(
    path,
    stringify({
      models: { dir: MODELS_DIR },
      gallery: { path: 'gallery.db' },
      camera: { type: 'folder', path: 'camera', fps: 5, loop: true, reconnect: { initialMs: 200, maxMs: 1000 } },
      doors: [{ name: 'front', relay: { pin: 17 } }],
      gpio: { backend: 'simulated' },
      health: { enabled: true, port: 0 },
      logging: { level: 'info' },
      ...extra,
    }),
  );
  return path;
}

export function spawnDaemon(config: string, env: Record<string, string> = {}) {
  const child = spawn('node', ['bin/facegate.js', 'run', '--config', config], { cwd: REPO_ROOT, env: { ...process.env, ...env } });
  const logs: { atMs: number; line: string }[] = [];
  let buf = '';
  const collect = (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    for (const line of parts) logs.push({ atMs: Date.now(), line });
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const waitFor = async (re: RegExp, timeoutMs: number) => {
    let hit: { atMs: number; line: string } | undefined;
    await waitUntil(`a log line matching ${re}`, () => (hit = logs.find((l) => re.test(l.line))) !== undefined, timeoutMs, () => logs.map((l) => l.line).join('\n'));
    return hit!;
  };
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, logs, waitFor, exited };
}

export interface StartOptions {
  extra?: Record<string, unknown>;
  /** A scripted camera instead of the config's folder. */
  script?: ScriptedFrame[];
  hold?: boolean;
  /**
   * Run the daemon (timers, relay, button, GPIO) on this clock, with the camera in video time:
   * each frame moves the clock one frame period as recognition takes it (a scripted camera moves
   * it to each frame's time), so a frame takes no time in the daemon's eyes however slow this
   * machine is. While no frames come (camera lost), `advance` moves it, between frames only.
   */
  clock?: ManualClock;
  /** Sees each log line as it is written (before the call that logged it returns). */
  onLog?: (line: string) => void;
}

/**
 * The daemon in this process: the real components on a config from `folderConfig`, the
 * simulated GPIO, and a scripted camera instead of the folder when `script` is given. Log lines
 * are kept for assertions. Share one per test file where the tests allow it: each start loads the
 * models (about a second).
 */
export async function startDaemon(dir: string, opts: StartOptions = {}) {
  const { loadConfig } = await import('../../src/config/load.js');
  const { Daemon } = await import('../../src/daemon/daemon.js');
  const { SimulatedGpio } = await import('../../src/hardware/gpio/simulated-gpio.js');
  const { pino } = await import('pino');
  const config = folderConfig(dir, { health: { enabled: false }, ...opts.extra });
  const loaded = loadConfig(config);
  const lines: string[] = [];
  // Frames handed to recognition and frames it finished (or failed): equal when the loop is idle.
  let handed = 0;
  let done = 0;
  const log = pino(
    { level: 'debug', base: undefined },
    {
      write: (l: string) => {
        const line = l.trimEnd();
        lines.push(line);
        // A frame that failed is done too (it emits no 'frame.analysed').
        if (line.includes('"msg":"frame failed')) done++;
        opts.onLog?.(line);
      },
    },
  );
  const clock = opts.clock;
  const gpio = new SimulatedGpio(clock ? { clock } : {});
  const events: RecognitionEvent[] = [];
  const camera = opts.script ? new ScriptedCamera(opts.script, { hold: opts.hold ?? false, ...(clock ? { clock } : {}) }) : undefined;
  // The folder camera is wrapped only where a test needs the count: any frameSource makes the
  // daemon's preflight skip its camera checks.
  const counting: SourceFactory = (cfg, l, c) => {
    const source = camera ?? (clock ? videoTimeSources(clock)(cfg, l) : createFrameSource(cfg, l, c));
    const next = source.next.bind(source);
    source.next = async () => {
      const frame = await next();
      if (frame) handed++;
      return frame;
    };
    return source;
  };
  const daemon = new Daemon(loaded, { log, gpio, onEvent: (e) => events.push(e), ...(camera || clock ? { frameSource: counting } : {}), ...(clock ? { clock } : {}) });
  daemon.bus.on('frame.analysed', () => void done++);
  await daemon.start();
  const waitFor = (what: string, ok: () => boolean, timeoutMs = 30_000) => waitUntil(what, ok, timeoutMs, () => lines.join('\n'));
  const idle = () => waitFor('the frame in recognition to be analysed', () => done >= handed);
  /** Moves the manual clock `ms` forward in `stepMs` steps, letting recognition finish each frame it took first. */
  const advance = async (ms: number, stepMs = 10) => {
    if (!clock) throw new Error('advance() needs the daemon started with a clock');
    for (let left = ms; left > 0; left -= stepMs) {
      await idle();
      await clock.advanceAsync(Math.min(stepMs, left), stepMs);
    }
    await idle();
  };
  /** advance() until `ok` holds, for at most `maxMs` of daemon time; real I/O (files, sockets) gets its turn between steps. */
  const advanceUntil = async (what: string, ok: () => boolean, maxMs = 30_000, stepMs = 50) => {
    for (let t = 0; !ok(); t += stepMs) {
      if (t >= maxMs) throw new Error(`no ${what} within ${maxMs} ms of daemon time:\n${lines.join('\n')}`);
      await advance(stepMs, Math.min(stepMs, 10));
      await sleep(1);
    }
  };
  const frames = () => done;
  return { daemon, gpio, camera, lines, events, config, waitFor, advance, advanceUntil, frames, messages: () => lines.map((l) => (JSON.parse(l) as { msg: string }).msg) };
}

/** Enrolls `name` from photo files into the gallery of `config`, as `facegate enroll` does. */
export async function enrollPhotos(config: string, name: string, files: string[]): Promise<void> {
  const { openGalleryContext, analyzerFor } = await import('../../src/app/gallery-context.js');
  const { prepareCandidates, commitEnrollment } = await import('../../src/gallery/enrollment.js');
  const ctx = openGalleryContext(config);
  try {
    const analyzer = await analyzerFor(ctx);
    const { accepted } = await prepareCandidates(analyzer, files, ctx.settings);
    commitEnrollment(ctx.store, name, ctx.model, accepted, 'folder');
    await analyzer.release();
  } finally {
    ctx.close();
  }
}

// Running the daemon in tests: a config for an image-folder camera with the simulated GPIO,
// `facegate run` as a child process whose log lines can be awaited (for what only a process can
// show: signals, exit codes, systemd), and the daemon in-process on a scripted camera.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { REPO_ROOT } from '../../src/paths.js';
import { MODELS_DIR } from './models.js';
import { ScriptedCamera, type ScriptedFrame } from './scripted-camera.js';
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
    const start = Date.now();
    while (Date.now() - start < timeoutMs) {
      const hit = logs.find((l) => re.test(l.line));
      if (hit) return hit;
      await sleep(50);
    }
    throw new Error(`no log line matching ${re} within ${timeoutMs} ms:\n${logs.map((l) => l.line).join('\n')}`);
  };
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, logs, waitFor, exited };
}

/**
 * The daemon in this process: the real components on a config from `folderConfig`, the
 * simulated GPIO, and a scripted camera instead of the folder when `script` is given. Log lines
 * are kept for assertions. Share one per test file where the tests allow it: each start loads the
 * models (about a second).
 */
export async function startDaemon(dir: string, opts: { extra?: Record<string, unknown>; script?: ScriptedFrame[]; hold?: boolean } = {}) {
  const { loadConfig } = await import('../../src/config/load.js');
  const { Daemon } = await import('../../src/daemon/daemon.js');
  const { SimulatedGpio } = await import('../../src/hardware/gpio/simulated-gpio.js');
  const { pino } = await import('pino');
  const config = folderConfig(dir, { health: { enabled: false }, ...opts.extra });
  const loaded = loadConfig(config);
  const lines: string[] = [];
  const log = pino({ level: 'debug', base: undefined }, { write: (l: string) => void lines.push(l.trimEnd()) });
  const gpio = new SimulatedGpio();
  const events: RecognitionEvent[] = [];
  const camera = opts.script ? new ScriptedCamera(opts.script, { hold: opts.hold ?? false }) : undefined;
  const daemon = new Daemon(loaded, { log, gpio, onEvent: (e) => events.push(e), ...(camera ? { frameSource: () => camera } : {}) });
  await daemon.start();
  const waitFor = async (what: string, ok: () => boolean, timeoutMs = 30_000) => {
    const start = Date.now();
    while (!ok()) {
      if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}:\n${lines.join('\n')}`);
      await sleep(20);
    }
  };
  return { daemon, gpio, camera, lines, events, config, waitFor, messages: () => lines.map((l) => (JSON.parse(l) as { msg: string }).msg) };
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

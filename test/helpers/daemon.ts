// Running the daemon in tests: a config for an image-folder camera with the simulated GPIO, and
// `facegate run` as a child process whose log lines can be awaited.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { REPO_ROOT } from '../../src/paths.js';
import { MODELS_DIR } from './models.js';

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

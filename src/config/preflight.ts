// Everything the daemon needs before it starts, checked without starting anything: the models
// and their hashes, the camera's file, folder or device node, GPIO, the gallery's folder, the
// MQTT secret files. `facegate config check` prints every problem; the daemon runs the same
// checks before it touches GPIO. Read-only by design: nothing here creates, opens for writing,
// binds or energises anything, so it is safe to run next to a running daemon.
import { constants, accessSync, existsSync, openSync, readSync, closeSync, readdirSync, readFileSync, statSync, type Stats } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { ConfigSchema } from './schema.js';
import { ConfigError, keyLocator, loadConfig, type ConfigProblem, type LoadedConfig } from './load.js';
import { pipelineOptions } from '../app/gallery-context.js';
import { readManifest, mtcnnIds, type Manifest, type ModelEntry } from '../models/manifest.js';
import { defaultEmbedderId } from '../vision/face-pipeline.js';

/** What a finding is about: the daemon can start degraded on a camera problem but on nothing else. */
export type PreflightArea = 'config' | 'models' | 'camera' | 'gpio' | 'gallery' | 'mqtt';

export interface PreflightFinding {
  area: PreflightArea;
  /** One line: "FILE:LINE: key: what is wrong and what to do". */
  text: string;
}

export interface PreflightResult {
  /** Every finding's text, in the order found. Empty: the daemon can start. */
  problems: string[];
  findings: PreflightFinding[];
}

export interface PreflightOptions {
  /** Sections whose values did not validate: their checks are skipped (the schema problem is reported). */
  skipSections?: ReadonlySet<string>;
  /** File system probes; tests swap in a fake tree. */
  fs?: PreflightFs;
}

/** The few read-only file system calls the checks make. */
export interface PreflightFs {
  stat(path: string): Stats | undefined;
  canRead(path: string): boolean;
  canWrite(path: string): boolean;
  readDir(path: string): string[];
  /** First bytes of a file (a SQLite header check). */
  head(path: string, bytes: number): Buffer;
  sha256(path: string): Promise<string>;
}

const can = (path: string, mode: number) => {
  try {
    accessSync(path, mode);
    return true;
  } catch {
    return false;
  }
};

export const realFs: PreflightFs = {
  stat: (p) => statSync(p, { throwIfNoEntry: false }),
  canRead: (p) => can(p, constants.R_OK),
  canWrite: (p) => can(p, constants.W_OK),
  readDir: (p) => readdirSync(p),
  head: (p, bytes) => {
    const fd = openSync(p, 'r');
    try {
      const buf = Buffer.alloc(bytes);
      const n = readSync(fd, buf, 0, bytes, 0);
      return buf.subarray(0, n);
    } finally {
      closeSync(fd);
    }
  },
  sha256: async (p) => {
    const { createReadStream } = await import('node:fs');
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(p)) hash.update(chunk as Buffer);
    return hash.digest('hex');
  },
};

const IMAGE_FILE = /\.(jpe?g|png|bmp|webp)$/i;
const SQLITE_HEADER = 'SQLite format 3\0';
/** Virtual file systems: nothing a config points at belongs there, and a mkdir -p there never ends. */
const VIRTUAL_FS = /^\/(proc|sys)(\/|$)/;

export async function preflight(loaded: LoadedConfig, opts: PreflightOptions = {}): Promise<PreflightResult> {
  const fs = opts.fs ?? realFs;
  const skip = opts.skipSections ?? new Set<string>();
  const c = loaded.config;
  const findings: PreflightFinding[] = [];
  const text = loaded.path !== null && existsSync(loaded.path) ? readFileSync(loaded.path, 'utf8') : '';
  const locate = loaded.path !== null ? keyLocator(text, loaded.path) : (p: (string | number)[]) => `built-in defaults: ${p.join('.')}`;
  const add = (area: PreflightArea, key: (string | number)[], message: string) => findings.push({ area, text: `${locate(key)}: ${message}` });

  if (!skip.has('models')) await checkModels(loaded, fs, add);
  if (!skip.has('camera')) checkCamera(loaded, fs, add);
  if (!skip.has('gpio') && !skip.has('doors')) checkGpio(c, fs, add);
  if (!skip.has('gallery')) checkWritableFile(loaded.resolvePath(c.gallery.path), fs, (m) => add('gallery', ['gallery', 'path'], m), 'gallery');
  if (c.mqtt && !skip.has('mqtt')) checkMqtt(loaded, fs, add);
  return { problems: findings.map((f) => f.text), findings };
}

type Add = (area: PreflightArea, key: (string | number)[], message: string) => void;

async function checkModels(loaded: LoadedConfig, fs: PreflightFs, add: Add): Promise<void> {
  const c = loaded.config;
  const dir = pipelineOptions(loaded).modelsDir;
  const st = fs.stat(dir);
  if (!st) return add('models', ['models', 'dir'], `models folder ${dir} does not exist: run \`facegate models build\` (deploy/setup.sh does) or fix models.dir`);
  if (!st.isDirectory()) return add('models', ['models', 'dir'], `${dir} is not a folder (models.dir names the folder with manifest.json)`);
  let manifest: Manifest;
  try {
    manifest = readManifest(dir);
  } catch (err) {
    return add('models', ['models', 'dir'], (err as Error).message);
  }
  const embedderId = c.models.embedder ?? defaultEmbedderId(c.models.precision);
  const wanted: { entry: ModelEntry | undefined; id: string; key: string[] }[] = [];
  const embedder = manifest.models.find((m) => m.id === embedderId);
  if (!embedder) add('models', ['models', c.models.embedder ? 'embedder' : 'precision'], `embedder "${embedderId}" is not in ${join(dir, 'manifest.json')} (embedders there: ${manifest.models.filter((m) => m.role === 'embedder').map((m) => m.id).join(', ') || 'none'})`);
  else if (embedder.role !== 'embedder') add('models', ['models', 'embedder'], `model "${embedderId}" is a ${embedder.role}, not an embedder`);
  else wanted.push({ entry: embedder, id: embedderId, key: ['models', c.models.embedder ? 'embedder' : 'precision'] });
  const precision = c.models.precision === 'int8' ? 'int8-static' : c.models.precision === 'int8-weights' ? 'int8-weights' : 'float32';
  for (const id of Object.values(mtcnnIds(precision))) {
    const entry = manifest.models.find((m) => m.id === id);
    if (!entry) add('models', ['models', 'precision'], `detector "${id}" (precision ${c.models.precision}) is not in ${join(dir, 'manifest.json')}: run \`facegate models build\``);
    else wanted.push({ entry, id, key: ['models', 'precision'] });
  }
  for (const w of wanted) {
    const file = join(dir, w.entry!.file);
    if (!fs.stat(file)?.isFile()) {
      add('models', w.key, `model file ${file} (model "${w.id}") is missing: run \`facegate models build\``);
      continue;
    }
    if (!fs.canRead(file)) {
      add('models', w.key, `model file ${file} (model "${w.id}") is not readable by this user`);
      continue;
    }
    const got = await fs.sha256(file);
    if (got !== w.entry!.sha256) add('models', w.key, `model file ${file} (model "${w.id}") has sha256 ${got.slice(0, 12)}..., the manifest says ${w.entry!.sha256.slice(0, 12)}...: rebuild it (\`facegate models build\`) or fix the entry`);
  }
}

function checkCamera(loaded: LoadedConfig, fs: PreflightFs, add: Add): void {
  const cam = loaded.config.camera;
  if (cam.type === 'file' || cam.type === 'folder') {
    if (cam.path === undefined) return;
    const path = loaded.resolvePath(cam.path);
    const st = fs.stat(path);
    if (!st) return add('camera', ['camera', 'path'], `${path} does not exist (camera.type is ${cam.type})`);
    if (cam.type === 'file') {
      if (!st.isFile()) return add('camera', ['camera', 'path'], `${path} is ${st.isDirectory() ? 'a folder' : 'not a regular file'}, expected a video file (for a folder of images use type: folder)`);
      if (!fs.canRead(path)) add('camera', ['camera', 'path'], `${path} is not readable by this user`);
      return;
    }
    if (!st.isDirectory()) return add('camera', ['camera', 'path'], `${path} is a file, expected a folder of images (for a video use type: file)`);
    let images: string[];
    try {
      images = fs.readDir(path).filter((f) => IMAGE_FILE.test(f));
    } catch {
      return add('camera', ['camera', 'path'], `${path}: cannot list the folder (permissions?)`);
    }
    if (images.length === 0) add('camera', ['camera', 'path'], `${path} holds no .jpg/.png/.bmp/.webp images`);
    return;
  }
  if (cam.type === 'v4l2') {
    const device = typeof cam.device === 'number' ? `/dev/video${cam.device}` : cam.device;
    const st = fs.stat(device);
    const hint = 'list the cameras with `v4l2-ctl --list-devices`; a Pi CSI camera needs the libcamera V4L2 layer (README: Cameras on a Pi)';
    if (!st) return add('camera', ['camera', 'device'], `camera ${device} does not exist: ${hint}`);
    if (!st.isCharacterDevice()) return add('camera', ['camera', 'device'], `${device} is not a device node (${hint})`);
    if (!fs.canRead(device) || !fs.canWrite(device)) add('camera', ['camera', 'device'], `${device} is not usable by this user: the service user must be in group video`);
  }
  // rtsp: only the network can tell; the daemon reports a camera it cannot reach.
}

function checkGpio(c: LoadedConfig['config'], fs: PreflightFs, add: Add): void {
  const pins: { pin: number; key: (string | number)[] }[] = [];
  c.doors.forEach((d, i) => pins.push({ pin: d.relay.pin, key: ['doors', i, 'relay', 'pin'] }));
  for (const led of ['ready', 'granted', 'denied', 'enrollment'] as const) {
    const pin = c.gpio.leds[led];
    if (pin !== undefined) pins.push({ pin, key: ['gpio', 'leds', led] });
  }
  if (c.gpio.button) pins.push({ pin: c.gpio.button.pin, key: ['gpio', 'button', 'pin'] });
  if (pins.length === 0 || c.gpio.backend === 'simulated') return;
  // Unique pins are a schema rule (reported with the schema problems); here: can the backend run?
  const chipsPresent = safeList(fs, '/dev').some((f) => f.startsWith('gpiochip'));
  if (c.gpio.backend === 'rpio') {
    // rpio drives the Pi's own header through /dev/gpiomem: BCM 0-27 are on the 40-pin header.
    for (const p of pins) if (p.pin > 27) add('gpio', p.key, `GPIO ${p.pin} is not on the Raspberry Pi's 40-pin header (BCM 0-27) that the rpio backend drives`);
    if (!fs.stat('/dev/gpiomem') && !safeList(fs, '/dev').some((f) => f.startsWith('gpiomem'))) add('gpio', ['gpio', 'backend'], 'backend rpio needs /dev/gpiomem (a Raspberry Pi up to 4); use libgpiod on a Pi 5 or a Jetson');
    return;
  }
  if (c.gpio.backend === 'libgpiod' || (c.gpio.backend === 'auto' && chipsPresent)) {
    const chip = c.gpio.chip;
    // Names and /dev paths can be checked here; a label (pinctrl-rp1) or number is looked up by libgpiod itself.
    const node = chip.startsWith('/dev/') ? chip : /^gpiochip\d+$/.test(chip) ? `/dev/${chip}` : undefined;
    if (node && !fs.stat(node)) {
      const have = safeList(fs, '/dev').filter((f) => f.startsWith('gpiochip'));
      return add('gpio', ['gpio', 'chip'], `GPIO chip ${node} does not exist (present: ${have.length ? have.join(', ') : 'none'}; \`gpiodetect\` lists them)`);
    }
    if (node && (!fs.canRead(node) || !fs.canWrite(node))) add('gpio', ['gpio', 'chip'], `${node} is not usable by this user: the service user must be in group gpio`);
    return;
  }
  // auto without a chip: the daemon falls back to rpio on a Pi or to the simulated backend and says which.
}

function safeList(fs: PreflightFs, dir: string): string[] {
  try {
    return fs.readDir(dir);
  } catch {
    return [];
  }
}

/** A file the daemon opens for writing (gallery, event log): the folder must be creatable or writable. */
function checkWritableFile(path: string, fs: PreflightFs, problem: (m: string) => void, what: 'gallery' | 'event log'): void {
  if (VIRTUAL_FS.test(resolve(path))) return problem(`${path} is under ${resolve(path).split('/')[1] === 'proc' ? '/proc' : '/sys'}, a virtual file system: put the ${what} on a real disk (e.g. /var/lib/facegate)`);
  const st = fs.stat(path);
  if (st) {
    if (st.isDirectory()) return problem(`${path} is a folder, expected the ${what} file`);
    if (!fs.canRead(path) || !fs.canWrite(path)) return problem(`${path} is not readable and writable by this user (the service runs as user facegate)`);
    if (what === 'gallery' && st.size > 0) {
      let head: Buffer;
      try {
        head = fs.head(path, 16);
      } catch {
        return problem(`${path} cannot be read`);
      }
      if (head.toString('latin1') !== SQLITE_HEADER) problem(`${path} is not a facegate gallery (SQLite) file`);
    }
    if (!fs.canWrite(dirname(path))) problem(`the folder ${dirname(path)} is not writable by this user: SQLite keeps its journal (-wal, -shm) next to the ${what}`);
    return;
  }
  // Missing: the daemon creates it, and any missing folders, in the nearest folder that exists.
  let dir = dirname(path);
  while (!fs.stat(dir) && dirname(dir) !== dir) dir = dirname(dir);
  const top = fs.stat(dir);
  if (!top?.isDirectory()) return problem(`${dir} is not a folder, so ${path} cannot be created`);
  if (!fs.canWrite(dir)) problem(`${path} does not exist and ${dir} is not writable by this user, so the ${what} cannot be created`);
}

function checkMqtt(loaded: LoadedConfig, fs: PreflightFs, add: Add): void {
  const m = loaded.config.mqtt!;
  const files: { key: (string | number)[]; path: string | undefined; what: string }[] = [
    { key: ['mqtt', 'passwordFile'], path: m.passwordFile, what: 'broker password' },
    { key: ['mqtt', 'commands', 'hmacKeyFile'], path: m.commands.hmacKeyFile, what: 'HMAC key' },
    { key: ['mqtt', 'tls', 'ca'], path: m.tls?.ca, what: 'TLS CA' },
    { key: ['mqtt', 'tls', 'cert'], path: m.tls?.cert, what: 'TLS client certificate' },
    { key: ['mqtt', 'tls', 'key'], path: m.tls?.key, what: 'TLS client key' },
  ];
  for (const f of files) {
    if (f.path === undefined) continue;
    const path = loaded.resolvePath(f.path);
    const st = fs.stat(path);
    if (!st) add('mqtt', f.key, `${f.what} file ${path} does not exist`);
    else if (!st.isFile()) add('mqtt', f.key, `${path} is ${st.isDirectory() ? 'a folder' : 'not a regular file'}, expected the ${f.what} file`);
    else if (!fs.canRead(path)) add('mqtt', f.key, `${f.what} file ${path} is not readable by this user (the service reads it as user facegate: chgrp facegate, chmod 640)`);
    else if (f.what === 'HMAC key') {
      const key = readFileSync(path, 'utf8').trim();
      if (key.length < 32) add('mqtt', f.key, `the HMAC key in ${path} has ${key.length} characters; at least 32 are needed (openssl rand -hex 32)`);
    }
  }
  const outbox = m.outbox.path !== undefined ? loaded.resolvePath(m.outbox.path) : join(dirname(loaded.resolvePath(loaded.config.gallery.path)), 'events.db');
  checkWritableFile(outbox, fs, (msg) => add('mqtt', ['mqtt', 'outbox', 'path'], msg), 'event log');
}

/**
 * `facegate config check FILE`: the schema problems (all of them) and the preflight problems of
 * every section that did validate. A broken section is left out of the file checks instead of
 * being checked with its defaults, which would report problems the file does not have.
 */
export async function checkConfigFile(path: string, opts: Omit<PreflightOptions, 'skipSections'> = {}): Promise<PreflightResult> {
  let loaded: LoadedConfig;
  try {
    loaded = loadConfig(path);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const schema: PreflightFinding[] = err.problems.map((p) => ({ area: 'config', text: p.text }));
    const partial = validSectionsOnly(path, err.problems);
    if (!partial) return { problems: schema.map((f) => f.text), findings: schema };
    const rest = await preflight(partial.loaded, { ...opts, skipSections: partial.skipped });
    const findings = [...schema, ...rest.findings];
    return { problems: findings.map((f) => f.text), findings };
  }
  return preflight(loaded, opts);
}

/** The config with the sections that have problems replaced by their defaults, if that validates. */
function validSectionsOnly(path: string, problems: ConfigProblem[]): { loaded: LoadedConfig; skipped: Set<string> } | undefined {
  if (problems.some((p) => p.key === '' || p.key === '(top level)')) return undefined;
  const doc = parseDocument(readFileSync(path, 'utf8'));
  const raw = doc.toJS() as Record<string, unknown> | null;
  if (!raw || typeof raw !== 'object') return undefined;
  const skipped = new Set(problems.map((p) => p.key.split(/[.[]/)[0]!));
  // A cross-section rule (a pin used by a door and an LED) may still fail: drop those sections too.
  for (let round = 0; round < 4; round++) {
    const kept = Object.fromEntries(Object.entries(raw).filter(([k]) => !skipped.has(k)));
    const parsed = ConfigSchema.safeParse(kept);
    if (parsed.success) {
      const base = dirname(resolve(path));
      return { loaded: { config: parsed.data, path, resolvePath: (p) => (isAbsolute(p) ? p : resolve(base, p)) }, skipped };
    }
    for (const issue of parsed.error.issues) skipped.add(String(issue.path[0] ?? ''));
  }
  return undefined;
}

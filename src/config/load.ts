// Reads and validates the YAML config: one clear line per problem, with the file, line and key.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, isMap, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { ConfigSchema, type Config } from './schema.js';

/** One problem of a config file; `text` is the line printed for it. */
export interface ConfigProblem {
  line?: number;
  /** Dotted key path, e.g. doors[1].relay.pin; '(top level)' or '' for the file as a whole. */
  key: string;
  message: string;
  text: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  /** Every problem found (the message has one line each). */
  readonly problems: ConfigProblem[];
  constructor(messageOrProblems: string | ConfigProblem[]) {
    const problems = typeof messageOrProblems === 'string' ? [{ key: '', message: messageOrProblems, text: messageOrProblems }] : messageOrProblems;
    super(problems.map((p) => p.text).join('\n'));
    this.problems = problems;
  }
}

export interface LoadedConfig {
  config: Config;
  /** The file it came from, or null for built-in defaults. */
  path: string | null;
  /** How the file was chosen (see locateConfig), for diagnostics; absent when a caller named the file. */
  foundBy?: string;
  /** Resolves a path option relative to the config file's folder. */
  resolvePath: (p: string) => string;
}

function keyPath(path: PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[');
}

function lineOf(doc: Document, counter: LineCounter, path: PropertyKey[]): number | undefined {
  // Walk down as far as the path exists; report the deepest node found (the key for unknown keys).
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n) as (string | number)[], true) as { range?: [number, number, number] } | undefined;
    if (node && node.range) return counter.linePos(node.range[0]).line;
  }
  return undefined;
}

/** One entry per problem: an issue about several unknown keys becomes one line per key. */
function describeIssue(issue: z.core.$ZodIssue): { path: PropertyKey[]; message: string }[] {
  if (issue.code === 'unrecognized_keys') return issue.keys.map((k) => ({ path: [...issue.path, k], message: `unknown key "${k}"` }));
  return [{ path: issue.path, message: issue.message }];
}

/** "FILE:LINE: key" for a key of a config file (the line of the deepest part of the key that exists). */
export function keyLocator(text: string, source: string): (path: (string | number)[]) => string {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false });
  return (path) => {
    if (doc.errors.length > 0) return `${source}: ${keyPath(path)}`;
    // A key the file does not set is at its default: point at the nearest section that is there.
    const set = doc.hasIn(path);
    let n = path.length;
    while (n > 0 && !doc.hasIn(path.slice(0, n))) n--;
    const line = n > 0 ? lineOf(doc, counter, path.slice(0, n)) : undefined;
    return `${source}${line ? `:${line}` : ''}: ${keyPath(path)}${set ? '' : ' (not set: the default)'}`;
  };
}

export function parseConfig(text: string, source: string): Config {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const line = counter.linePos(e.pos[0]).line;
        const message = `YAML syntax error: ${e.message.split('\n')[0]}`;
        return { line, key: '', message, text: `${source}:${line}: ${message}` };
      }),
    );
  }
  const raw = doc.toJS() ?? {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${source}: the top level must be a mapping of sections (models:, gallery:, ...)`);
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    // In file order, so the list reads top to bottom like the file.
    const problems = parsed.error.issues.flatMap(describeIssue).map(({ path, message }) => ({ line: lineOf(doc, counter, path), key: keyPath(path) || '(top level)', message }));
    problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
    throw new ConfigError(problems.map((p) => ({ ...(p.line ? { line: p.line } : {}), key: p.key, message: p.message, text: `${source}${p.line ? `:${p.line}` : ''}: ${p.key}: ${p.message}` })));
  }
  return parsed.data;
}

/** The system-wide config that deploy/install.sh writes and the service reads. */
export const SYSTEM_CONFIG_FILE = '/etc/facegate/facegate.yaml';
/** Looked for in the current folder. */
export const LOCAL_CONFIG_FILE = 'facegate.yaml';

export interface ConfigLocation {
  /** The file to read, or null: no file anywhere, built-in defaults. */
  path: string | null;
  /** Which rule chose it, in words (printed by commands so nobody wonders which file they changed). */
  foundBy: string;
}

/**
 * Which config a command uses: --config, else $FACEGATE_CONFIG, else ./facegate.yaml, else
 * /etc/facegate/facegate.yaml, else built-in defaults. A file named by --config or the variable
 * must exist (loadConfig says so); the two fixed places are only used when they exist.
 */
export function locateConfig(option: string | undefined, env: NodeJS.ProcessEnv = process.env, exists: (p: string) => boolean = existsSync): ConfigLocation {
  if (option) return { path: option, foundBy: '--config' };
  const fromEnv = env.FACEGATE_CONFIG;
  if (fromEnv) return { path: fromEnv, foundBy: '$FACEGATE_CONFIG' };
  if (exists(LOCAL_CONFIG_FILE)) return { path: LOCAL_CONFIG_FILE, foundBy: `./${LOCAL_CONFIG_FILE} in the current folder` };
  if (exists(SYSTEM_CONFIG_FILE)) return { path: SYSTEM_CONFIG_FILE, foundBy: 'the system config' };
  return { path: null, foundBy: `built-in defaults: no --config, no $FACEGATE_CONFIG, no ./${LOCAL_CONFIG_FILE}, no ${SYSTEM_CONFIG_FILE}` };
}

/** One line for diagnostics: "config: /etc/facegate/facegate.yaml (the system config)". */
export function describeConfigSource(loaded: LoadedConfig): string {
  return loaded.path ? `config: ${loaded.path}${loaded.foundBy ? ` (${loaded.foundBy})` : ''}` : `config: ${loaded.foundBy ?? 'built-in defaults'}`;
}

export function loadConfig(path: string | null | undefined, foundBy?: string): LoadedConfig {
  const extra = foundBy !== undefined ? { foundBy } : {};
  if (!path) {
    const base = process.cwd();
    return { config: ConfigSchema.parse({}), path: null, ...extra, resolvePath: (p) => (isAbsolute(p) ? p : resolve(base, p)) };
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'config file not found' : code === 'EISDIR' ? 'is a folder, expected a YAML config file' : code === 'EACCES' ? 'permission denied (the config is readable by root and the facegate group: use sudo, or the facegate command installed by deploy/install.sh)' : (err as Error).message;
    throw new ConfigError(`${path}: ${why}${foundBy && foundBy !== '--config' ? ` (named by ${foundBy})` : ''}`);
  }
  const config = parseConfig(text, path);
  const base = dirname(resolve(path));
  return { config, path, ...extra, resolvePath: (p) => (isAbsolute(p) ? p : resolve(base, p)) };
}

/** locateConfig + loadConfig: what every command that takes --config calls. */
export function loadConfigFor(option: string | undefined): LoadedConfig {
  const where = locateConfig(option);
  return loadConfig(where.path, where.foundBy);
}

/** Sets one value in a config file, keeping its comments and layout; creates the file if needed. */
export function updateConfigValue(path: string, keys: string[], value: unknown): void {
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const doc = parseDocument(text);
  if (!isMap(doc.contents) && doc.contents !== null) throw new ConfigError(`${path}: the top level must be a mapping`);
  doc.setIn(keys, value);
  const out = doc.toString();
  parseConfig(out, path);
  writeFileSync(path, out);
}

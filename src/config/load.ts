// Reads and validates the YAML config: one clear line per problem, with the file, line and key.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, isMap, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { ConfigSchema, type Config } from './schema.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface LoadedConfig {
  config: Config;
  /** The file it came from, or null for built-in defaults. */
  path: string | null;
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

function describeIssue(issue: z.core.$ZodIssue): { path: PropertyKey[]; message: string } {
  if (issue.code === 'unrecognized_keys') {
    return { path: [...issue.path, issue.keys[0]!], message: `unknown key "${issue.keys[0]}"` };
  }
  return { path: issue.path, message: issue.message };
}

export function parseConfig(text: string, source: string): Config {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = counter.linePos(e.pos[0]).line;
    throw new ConfigError(`${source}:${line}: YAML syntax error: ${e.message.split('\n')[0]}`);
  }
  const raw = doc.toJS() ?? {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${source}: the top level must be a mapping of sections (models:, gallery:, ...)`);
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const { path, message } = describeIssue(issue);
      const line = lineOf(doc, counter, path);
      return `${source}${line ? `:${line}` : ''}: ${keyPath(path) || '(top level)'}: ${message}`;
    });
    throw new ConfigError(lines.join('\n'));
  }
  return parsed.data;
}

export function loadConfig(path: string | undefined): LoadedConfig {
  if (!path) {
    const base = process.cwd();
    return { config: ConfigSchema.parse({}), path: null, resolvePath: (p) => (isAbsolute(p) ? p : resolve(base, p)) };
  }
  if (!existsSync(path)) throw new ConfigError(`${path}: config file not found`);
  const config = parseConfig(readFileSync(path, 'utf8'), path);
  const base = dirname(resolve(path));
  return { config, path, resolvePath: (p) => (isAbsolute(p) ? p : resolve(base, p)) };
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

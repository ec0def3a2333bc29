// Labelled live / attack image sets: a folder pair (`--live DIR --spoof DIR`) or a manifest with
// attack types (the TSV layout of ../shared/spoof: file, label, attack_type, ...).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';

export interface SpoofSample {
  path: string;
  label: 'live' | 'spoof';
  /** 'none' for live samples; print, replay, unknown, ... for attacks. */
  attackType: string;
  /** What frames are correlated within: a source, or a person inside a multi-person source. */
  group: string;
  /** The wider source (file prefix before `__`), for per-source reports. */
  source: string;
}

const IMAGE_EXT = new Set(['.jpg', '.jpeg', '.png', '.bmp']);

/**
 * Pure: the correlation group of a file named `<source>__<name>`. NUAA names start with the
 * subject id (`0001_00_00_01_25.jpg`), so each NUAA person is a group of their own; other
 * sources are one group each (one or two people, one camera).
 */
export function groupOf(fileName: string): { source: string; group: string } {
  const name = basename(fileName);
  const cut = name.indexOf('__');
  if (cut < 0) return { source: 'default', group: 'default' };
  const source = name.slice(0, cut);
  const rest = name.slice(cut + 2);
  const subject = source === 'nuaa' ? /^(\d{4})_/.exec(rest)?.[1] : undefined;
  return { source, group: subject ? `${source}-${subject}` : source };
}

/** Pure: rows of a manifest TSV with a header naming at least `file` and `label` (and optionally `attack_type`). */
export function parseSpoofManifest(text: string, baseDir: string, source = 'manifest'): SpoofSample[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = (lines.shift() ?? '').split('\t');
  const col = (name: string) => header.indexOf(name);
  const [fileCol, labelCol, attackCol] = [col('file'), col('label'), col('attack_type')];
  if (fileCol < 0 || labelCol < 0) throw new Error(`${source}: the header must name the columns "file" and "label" (tab-separated), got: ${header.join(', ')}`);
  return lines.map((line, i) => {
    const cells = line.split('\t');
    const file = cells[fileCol];
    const label = cells[labelCol];
    if (!file || (label !== 'live' && label !== 'spoof')) throw new Error(`${source}:${i + 2}: expected a file and the label live or spoof, got "${file ?? ''}" "${label ?? ''}"`);
    const attackType = label === 'live' ? 'none' : cells[attackCol] || 'unknown';
    return { path: resolve(baseDir, file), label, attackType, ...groupOf(file) };
  });
}

export function readSpoofManifest(path: string): SpoofSample[] {
  if (!existsSync(path)) throw new Error(`${path}: manifest not found`);
  return parseSpoofManifest(readFileSync(path, 'utf8'), dirname(resolve(path)), path);
}

function imagesIn(dir: string, what: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`${what} folder ${dir} not found`);
  const files = readdirSync(dir)
    .filter((f) => IMAGE_EXT.has(extname(f).toLowerCase()))
    .sort()
    .map((f) => join(dir, f));
  if (files.length === 0) throw new Error(`${what} folder ${dir} holds no .jpg/.png images`);
  return files;
}

/** A live folder and a spoof folder; attacks in a folder pair have no known type ('unknown'). */
export function readSpoofFolders(liveDir: string, spoofDir: string, attackType = 'unknown'): SpoofSample[] {
  return [
    ...imagesIn(liveDir, 'live').map((path): SpoofSample => ({ path, label: 'live', attackType: 'none', ...groupOf(path) })),
    ...imagesIn(spoofDir, 'spoof').map((path): SpoofSample => ({ path, label: 'spoof', attackType, ...groupOf(path) })),
  ];
}

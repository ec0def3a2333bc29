// Verification pairs files: tab-separated with a header; `file_a file_b same` required, any
// other columns (identity, subset, ...) kept for --by.
import { readFileSync } from 'node:fs';

export interface Pair {
  fileA: string;
  fileB: string;
  same: boolean;
  columns: Record<string, string>;
}

export function parsePairs(text: string, source: string): Pair[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '' && !l.startsWith('#'));
  if (lines.length === 0) throw new Error(`${source}: empty pairs file`);
  const header = lines[0]!.split('\t').map((h) => h.trim());
  const ia = header.indexOf('file_a'), ib = header.indexOf('file_b'), is = header.indexOf('same');
  if (ia < 0 || ib < 0 || is < 0) throw new Error(`${source}: header must name the columns file_a, file_b and same (tab-separated); got: ${header.join(', ')}`);
  return lines.slice(1).map((line, n) => {
    const cells = line.split('\t');
    if (cells.length !== header.length) throw new Error(`${source}:${n + 2}: ${cells.length} columns, header has ${header.length}`);
    const same = cells[is]!.trim();
    if (same !== '0' && same !== '1') throw new Error(`${source}:${n + 2}: column "same" must be 0 or 1, got "${same}"`);
    return {
      fileA: cells[ia]!.trim(),
      fileB: cells[ib]!.trim(),
      same: same === '1',
      columns: Object.fromEntries(header.map((h, i) => [h, cells[i]!.trim()])),
    };
  });
}

export function readPairs(path: string): Pair[] {
  return parsePairs(readFileSync(path, 'utf8'), path);
}

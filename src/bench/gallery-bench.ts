// 1:N search time over synthetic galleries: random unit vectors stand in for templates (search
// cost does not depend on what the vectors mean), five templates per person.
import { SearchIndex, type Aggregation, type PackedTemplates } from '../matching/search-index.js';
import { ORT_SCORER_MIN_ROWS, rowScorerFor } from '../matching/ort-row-scorer.js';
import { summarize, type Summary } from './stage-bench.js';
import { createRng } from '../util/rng.js';

export const GALLERY_SIZES = [1_000, 10_000, 100_000];
const TEMPLATES_PER_PERSON = 5;

/** Uniform in [-0.5, 0.5), seeded. */
const rng = (seed: number) => {
  const r = createRng(seed);
  return () => r.next() - 0.5;
};

function randomUnitRows(n: number, dim: number, next: () => number): Float32Array {
  const v = new Float32Array(n * dim);
  for (let r = 0; r < n; r++) {
    let s = 0;
    for (let k = 0; k < dim; k++) {
      const x = next();
      v[r * dim + k] = x;
      s += x * x;
    }
    const inv = 1 / Math.sqrt(s);
    for (let k = 0; k < dim; k++) v[r * dim + k]! *= inv;
  }
  return v;
}

export function syntheticGallery(templates: number, dim: number, seed = 1): PackedTemplates {
  const next = rng(seed);
  const personIds = Int32Array.from({ length: templates }, (_, i) => Math.floor(i / TEMPLATES_PER_PERSON) + 1);
  const names = new Map<number, string>();
  for (const id of personIds) names.set(id, `person-${id}`);
  return { modelSha: 'synthetic', dim, vectors: randomUnitRows(templates, dim, next), personIds, names };
}

export interface GalleryBenchRow {
  templates: number;
  scorer: string;
  people: number;
  dim: number;
  aggregation: Aggregation;
  /** Full open-set decision (scores, aggregation, ranking, threshold/margin). */
  identifyMs: Summary;
}

export async function runGalleryBench(opts: { sizes?: number[]; dim?: number; queries?: number; aggregations?: Aggregation[] }): Promise<GalleryBenchRow[]> {
  const dim = opts.dim ?? 192;
  const queries = randomUnitRows(opts.queries ?? 100, dim, rng(99));
  const rows: GalleryBenchRow[] = [];
  for (const size of opts.sizes ?? GALLERY_SIZES) {
    const gallery = syntheticGallery(size, dim);
    // The same scorer choice as the daemon and `identify`: ONNX Runtime MatMul for large galleries.
    const index = new SearchIndex(gallery, undefined, await rowScorerFor(gallery.vectors, dim));
    for (const aggregation of opts.aggregations ?? (['max', 'centroid'] as Aggregation[])) {
      const policy = { threshold: 0.5, margin: 0.05, aggregation, negativeMargin: 0 };
      const samples: number[] = [];
      const n = queries.length / dim;
      for (let q = -3; q < n; q++) {
        const query = queries.subarray(Math.max(0, q) * dim, (Math.max(0, q) + 1) * dim);
        const start = performance.now();
        await index.identify(query, 'synthetic', policy);
        if (q >= 0) samples.push(performance.now() - start);
      }
      rows.push({ templates: size, scorer: size >= ORT_SCORER_MIN_ROWS ? 'onnxruntime' : 'javascript', people: Math.ceil(size / TEMPLATES_PER_PERSON), dim, aggregation, identifyMs: summarize(samples) });
    }
  }
  return rows;
}

// Open-set 1:N identification over one model's templates. Pure: no I/O, so the decision policy
// is unit-tested on hand-made vectors. Scores are cosine similarities of L2-normalised vectors.

export type Aggregation = 'max' | 'mean-top2' | 'centroid';

export interface MatchPolicy {
  /** A face is identified only when its best person's score is strictly above this. */
  threshold: number;
  /** ...and that score leads the second-best person's by at least this. */
  margin: number;
  aggregation: Aggregation;
  /** A negative template of the best person vetoes when its score >= best score - negativeMargin. */
  negativeMargin: number;
}

export type UnknownReason = 'empty-gallery' | 'below-threshold' | 'margin-too-small' | 'negative-match';

export interface Identification {
  personId: number | null;
  name: string | null;
  /** Best person's aggregated score (also when the decision is unknown). */
  score: number;
  bestName: string | null;
  secondName: string | null;
  secondScore: number | null;
  /** Best minus second-best score (the best score itself when there is no second person). */
  margin: number;
  negativeScore: number | null;
  reason: 'matched' | UnknownReason;
}

export interface PackedTemplates {
  modelSha: string;
  dim: number;
  vectors: Float32Array;
  personIds: Int32Array;
  names: Map<number, string>;
}

export class ModelMismatchError extends Error {
  override name = 'ModelMismatchError';
}

/** Dot product of `query` with every row of `vectors` (n x dim, row-major). */
export function dotScores(query: Float32Array, vectors: Float32Array, dim: number, out: Float32Array = new Float32Array(vectors.length / dim)): Float32Array {
  const n = vectors.length / dim;
  for (let r = 0; r < n; r++) {
    const base = r * dim;
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    let k = 0;
    // Four accumulators let V8 pipeline the multiply-adds; dims are multiples of 4 in practice.
    for (; k + 3 < dim; k += 4) {
      s0 += query[k]! * vectors[base + k]!;
      s1 += query[k + 1]! * vectors[base + k + 1]!;
      s2 += query[k + 2]! * vectors[base + k + 2]!;
      s3 += query[k + 3]! * vectors[base + k + 3]!;
    }
    for (; k < dim; k++) s0 += query[k]! * vectors[base + k]!;
    out[r] = s0 + s1 + s2 + s3;
  }
  return out;
}

function normalised(v: Float32Array): Float32Array {
  let s = 0;
  for (const x of v) s += x * x;
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  return v.map((x) => x * inv);
}

export class SearchIndex {
  readonly size: number;
  private readonly people: number[];
  private readonly centroids: Float32Array;
  private readonly scratch: Float32Array;


  constructor(
    private readonly templates: PackedTemplates,
    private readonly negatives?: PackedTemplates,
  ) {
    if (negatives && negatives.vectors.length > 0 && negatives.modelSha !== templates.modelSha) {
      throw new ModelMismatchError('negative templates and templates come from different models');
    }
    this.size = templates.personIds.length;
    this.people = [...new Set(templates.personIds)];
    const dim = templates.dim;
    // Class means, re-normalised: the 'centroid' aggregation searches these instead of every template.
    this.centroids = new Float32Array(this.people.length * dim);
    this.people.forEach((pid, c) => {
      const sum = new Float32Array(dim);
      templates.personIds.forEach((p, r) => {
        if (p !== pid) return;
        for (let k = 0; k < dim; k++) sum[k]! += templates.vectors[r * dim + k]!;
      });
      this.centroids.set(normalised(sum), c * dim);
    });
    this.scratch = new Float32Array(this.size);
  }

  get modelSha(): string {
    return this.templates.modelSha;
  }

  /** Aggregated score per person, best first. */
  rank(query: Float32Array, aggregation: Aggregation): { personId: number; score: number }[] {
    const { dim, vectors, personIds } = this.templates;
    if (query.length !== dim && this.size > 0) throw new ModelMismatchError(`query has ${query.length} dimensions, the gallery's templates ${dim}`);
    const perPerson = new Map<number, number[]>();
    if (aggregation === 'centroid') {
      const s = dotScores(query, this.centroids, dim);
      this.people.forEach((pid, c) => perPerson.set(pid, [s[c]!]));
    } else {
      const s = dotScores(query, vectors, dim, this.scratch);
      for (let r = 0; r < this.size; r++) {
        const list = perPerson.get(personIds[r]!);
        if (list) list.push(s[r]!);
        else perPerson.set(personIds[r]!, [s[r]!]);
      }
    }
    const ranked = [...perPerson].map(([personId, scores]) => {
      scores.sort((a, b) => b - a);
      const score = aggregation === 'mean-top2' && scores.length > 1 ? (scores[0]! + scores[1]!) / 2 : scores[0]!;
      return { personId, score };
    });
    return ranked.sort((a, b) => b.score - a.score || a.personId - b.personId);
  }

  identify(query: Float32Array, queryModelSha: string, policy: MatchPolicy): Identification {
    if (queryModelSha !== this.templates.modelSha) {
      throw new ModelMismatchError(`refusing to compare an embedding of model ${queryModelSha.slice(0, 12)} with templates of model ${this.templates.modelSha.slice(0, 12)}`);
    }
    const ranked = this.rank(query, policy.aggregation);
    const best = ranked[0];
    const second = ranked[1];
    const base = {
      personId: null,
      name: null,
      score: best?.score ?? -1,
      bestName: best ? this.templates.names.get(best.personId)! : null,
      secondName: second ? this.templates.names.get(second.personId)! : null,
      secondScore: second?.score ?? null,
      margin: best ? best.score - (second?.score ?? 0) : 0,
      negativeScore: null,
    } satisfies Omit<Identification, 'reason'>;
    if (!best) return { ...base, reason: 'empty-gallery' };
    if (!(best.score > policy.threshold)) return { ...base, reason: 'below-threshold' };
    if (second && best.score - second.score < policy.margin) return { ...base, reason: 'margin-too-small' };
    const negativeScore = this.bestNegative(query, best.personId);
    if (negativeScore !== null && negativeScore >= best.score - policy.negativeMargin) return { ...base, negativeScore, reason: 'negative-match' };
    return { ...base, negativeScore, personId: best.personId, name: base.bestName, reason: 'matched' };
  }

  private bestNegative(query: Float32Array, personId: number): number | null {
    const neg = this.negatives;
    if (!neg || neg.personIds.length === 0) return null;
    const s = dotScores(query, neg.vectors, neg.dim);
    let best: number | null = null;
    neg.personIds.forEach((p, i) => {
      if (p === personId && (best === null || s[i]! > best)) best = s[i]!;
    });
    return best;
  }
}

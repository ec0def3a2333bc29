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

/** Scores a query against every template row; the pure JavaScript one is the default. */
export interface RowScorer {
  scores(query: Float32Array): Float32Array | Promise<Float32Array>;
}

export class JsRowScorer implements RowScorer {
  private readonly out: Float32Array;
  constructor(
    private readonly vectors: Float32Array,
    private readonly dim: number,
  ) {
    this.out = new Float32Array(vectors.length / dim);
  }
  scores(query: Float32Array): Float32Array {
    return dotScores(query, this.vectors, this.dim, this.out);
  }
}

export class SearchIndex {
  readonly size: number;
  /** Person id of each dense person slot. */
  private readonly people: Int32Array;
  /** Dense person slot of each template row. */
  private readonly slotOfRow: Int32Array;
  private readonly slotOfPerson: Map<number, number>;
  private readonly centroids: Float32Array;
  private readonly scorer: RowScorer;
  private readonly best1: Float32Array;
  private readonly best2: Float32Array;

  constructor(
    private readonly templates: PackedTemplates,
    private readonly negatives?: PackedTemplates,
    scorer?: RowScorer,
  ) {
    if (negatives && negatives.vectors.length > 0 && negatives.modelSha !== templates.modelSha) {
      throw new ModelMismatchError('negative templates and templates come from different models');
    }
    const { dim, personIds, vectors } = templates;
    this.size = personIds.length;
    this.slotOfPerson = new Map();
    for (const p of personIds) if (!this.slotOfPerson.has(p)) this.slotOfPerson.set(p, this.slotOfPerson.size);
    this.people = Int32Array.from(this.slotOfPerson.keys());
    this.slotOfRow = Int32Array.from(personIds, (p) => this.slotOfPerson.get(p)!);
    // Class means, re-normalised: the 'centroid' aggregation searches these instead of every template.
    const persons = this.people.length;
    this.centroids = new Float32Array(persons * dim);
    for (let r = 0; r < this.size; r++) {
      const base = this.slotOfRow[r]! * dim;
      for (let k = 0; k < dim; k++) this.centroids[base + k] = this.centroids[base + k]! + vectors[r * dim + k]!;
    }
    for (let c = 0; c < persons; c++) this.centroids.set(normalised(this.centroids.subarray(c * dim, (c + 1) * dim)), c * dim);
    this.scorer = scorer ?? new JsRowScorer(vectors, dim);
    this.best1 = new Float32Array(persons);
    this.best2 = new Float32Array(persons);
  }

  get modelSha(): string {
    return this.templates.modelSha;
  }

  /** One aggregated score per dense person slot (a view into scratch memory: copy to keep it). */
  private async aggregated(query: Float32Array, aggregation: Aggregation): Promise<Float32Array> {
    const { dim } = this.templates;
    if (query.length !== dim && this.size > 0) throw new ModelMismatchError(`query has ${query.length} dimensions, the gallery's templates ${dim}`);
    if (aggregation === 'centroid') return dotScores(query, this.centroids, dim, this.best1);
    const s = await this.scorer.scores(query);
    const b1 = this.best1.fill(-Infinity);
    const b2 = this.best2.fill(-Infinity);
    for (let r = 0; r < this.size; r++) {
      const slot = this.slotOfRow[r]!;
      const v = s[r]!;
      if (v > b1[slot]!) {
        b2[slot] = b1[slot]!;
        b1[slot] = v;
      } else if (v > b2[slot]!) b2[slot] = v;
    }
    if (aggregation === 'mean-top2') for (let c = 0; c < b1.length; c++) if (b2[c]! > -Infinity) b1[c] = (b1[c]! + b2[c]!) / 2;
    return b1;
  }

  /** Aggregated score per person, best first. */
  async rank(query: Float32Array, aggregation: Aggregation): Promise<{ personId: number; score: number }[]> {
    const scores = await this.aggregated(query, aggregation);
    return Array.from(this.people, (personId, c) => ({ personId, score: scores[c]! })).sort((a, b) => b.score - a.score || a.personId - b.personId);
  }

  /** Best and second-best person without sorting everyone: what a decision needs. */
  private async topTwo(query: Float32Array, aggregation: Aggregation): Promise<{ best?: { personId: number; score: number }; second?: { personId: number; score: number } }> {
    const scores = await this.aggregated(query, aggregation);
    let i1 = -1, i2 = -1;
    for (let c = 0; c < scores.length; c++) {
      if (i1 < 0 || scores[c]! > scores[i1]!) {
        i2 = i1;
        i1 = c;
      } else if (i2 < 0 || scores[c]! > scores[i2]!) i2 = c;
    }
    const at = (c: number) => (c < 0 ? undefined : { personId: this.people[c]!, score: scores[c]! });
    return { best: at(i1), second: at(i2) };
  }

  async identify(query: Float32Array, queryModelSha: string, policy: MatchPolicy): Promise<Identification> {
    if (queryModelSha !== this.templates.modelSha) {
      throw new ModelMismatchError(`refusing to compare an embedding of model ${queryModelSha.slice(0, 12)} with templates of model ${this.templates.modelSha.slice(0, 12)}`);
    }
    const { best, second } = await this.topTwo(query, policy.aggregation);
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

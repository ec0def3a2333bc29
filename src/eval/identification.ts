// Open-set identification benchmark: enroll the first K photos of each identity, then probe with
// the rest (should be identified) and with strangers (should be unknown).
import { SearchIndex, type Aggregation, type MatchPolicy, type PackedTemplates } from '../matching/search-index.js';

export interface Probe {
  file: string;
  /** Identity for enrolled people's photos; null for strangers. */
  identity: string | null;
  embedding: Float32Array;
}

export interface IdentificationReport {
  aggregation: Aggregation;
  threshold: number;
  enrolledPeople: number;
  templates: number;
  genuineProbes: number;
  strangerProbes: number;
  /** Top-ranked person is the right one, ignoring the threshold. */
  rank1: number;
  /** Identified as the right person at the threshold and margin. */
  correct: number;
  /** Identified as somebody else. */
  misidentified: number;
  /** Enrolled person called unknown. */
  missed: number;
  /** Strangers called unknown. */
  strangerRejection: number;
  strangerFalseAccepts: string[];
}

export function packGallery(enrolled: { identity: string; embedding: Float32Array }[], modelSha: string): PackedTemplates {
  const ids = new Map<string, number>();
  enrolled.forEach((e) => ids.has(e.identity) || ids.set(e.identity, ids.size + 1));
  const dim = enrolled[0]?.embedding.length ?? 0;
  const vectors = new Float32Array(enrolled.length * dim);
  enrolled.forEach((e, i) => vectors.set(e.embedding, i * dim));
  return {
    modelSha,
    dim,
    vectors,
    personIds: Int32Array.from(enrolled.map((e) => ids.get(e.identity)!)),
    names: new Map([...ids].map(([name, id]) => [id, name])),
  };
}

export async function evaluateIdentification(gallery: PackedTemplates, probes: Probe[], policy: MatchPolicy): Promise<IdentificationReport> {
  const index = new SearchIndex(gallery);
  const genuine = probes.filter((p) => p.identity !== null);
  const strangers = probes.filter((p) => p.identity === null);
  let rank1 = 0, correct = 0, misidentified = 0, missed = 0, rejected = 0;
  const falseAccepts: string[] = [];
  for (const p of genuine) {
    const ranked = await index.rank(p.embedding, policy.aggregation);
    if (gallery.names.get(ranked[0]!.personId) === p.identity) rank1++;
    const id = await index.identify(p.embedding, gallery.modelSha, policy);
    if (id.name === p.identity) correct++;
    else if (id.name === null) missed++;
    else misidentified++;
  }
  for (const p of strangers) {
    const id = await index.identify(p.embedding, gallery.modelSha, policy);
    if (id.name === null) rejected++;
    else falseAccepts.push(`${p.file} -> ${id.name} (${id.score.toFixed(3)})`);
  }
  const frac = (n: number, d: number) => (d > 0 ? n / d : NaN);
  return {
    aggregation: policy.aggregation,
    threshold: policy.threshold,
    enrolledPeople: gallery.names.size,
    templates: gallery.personIds.length,
    genuineProbes: genuine.length,
    strangerProbes: strangers.length,
    rank1: frac(rank1, genuine.length),
    correct: frac(correct, genuine.length),
    misidentified: frac(misidentified, genuine.length),
    missed: frac(missed, genuine.length),
    strangerRejection: frac(rejected, strangers.length),
    strangerFalseAccepts: falseAccepts,
  };
}

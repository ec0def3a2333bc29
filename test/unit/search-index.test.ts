import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ModelMismatchError, SearchIndex, dotScores, type MatchPolicy, type PackedTemplates } from '../../src/matching/search-index.js';

const unit = (...v: number[]) => {
  const n = Math.hypot(...v);
  return Float32Array.from(v.map((x) => x / n));
};

function pack(rows: [number, Float32Array][], names: Record<number, string>, modelSha = 'a'.repeat(64)): PackedTemplates {
  const dim = rows[0]?.[1].length ?? 3;
  const vectors = new Float32Array(rows.length * dim);
  rows.forEach(([, v], i) => vectors.set(v, i * dim));
  return { modelSha, dim, vectors, personIds: Int32Array.from(rows.map(([p]) => p)), names: new Map(Object.entries(names).map(([k, v]) => [Number(k), v])) };
}

const policy: MatchPolicy = { threshold: 0.5, margin: 0.1, aggregation: 'max', negativeMargin: 0 };
const SHA = 'a'.repeat(64);

test('dot products over packed rows', async () => {
  const s = dotScores(Float32Array.from([1, 2, 3, 4, 5]), Float32Array.from([1, 0, 0, 0, 1, 0, 1, 0, 1, 0]), 5);
  assert.deepEqual([...s], [6, 6]);
});

test('best person wins with score and margin to the second', async () => {
  const idx = new SearchIndex(pack([[1, unit(1, 0, 0)], [1, unit(1, 0.2, 0)], [2, unit(0, 1, 0)]], { 1: 'alice', 2: 'bob' }));
  const r = await idx.identify(unit(1, 0.1, 0), SHA, policy);
  assert.equal(r.reason, 'matched');
  assert.equal(r.name, 'alice');
  assert.equal(r.secondName, 'bob');
  assert.ok(r.score > 0.99 && Math.abs(r.margin - (r.score - r.secondScore!)) < 1e-6);
});

test('unknown reasons: below threshold, too close to the second best, empty gallery', async () => {
  const idx = new SearchIndex(pack([[1, unit(1, 0, 0)], [2, unit(0, 1, 0)]], { 1: 'alice', 2: 'bob' }));
  const far = await idx.identify(unit(0, 0, 1), SHA, policy);
  assert.equal(far.reason, 'below-threshold');
  assert.equal(far.name, null);
  assert.equal(far.bestName !== null, true);
  const between = await idx.identify(unit(1, 1, 0), SHA, policy);
  assert.equal(between.reason, 'margin-too-small');
  const empty = new SearchIndex(pack([], {}));
  assert.equal((await empty.identify(unit(1, 0, 0), SHA, policy)).reason, 'empty-gallery');
});

test('a negative template ("this is not alice") vetoes a match it is closer to', async () => {
  const templates = pack([[1, unit(1, 0, 0)], [2, unit(0, 1, 0)]], { 1: 'alice', 2: 'bob' });
  const negatives = pack([[1, unit(1, 0, 0.5)]], { 1: 'alice' });
  const idx = new SearchIndex(templates, negatives);
  const lookalike = await idx.identify(unit(1, 0, 0.45), SHA, policy);
  assert.equal(lookalike.reason, 'negative-match');
  assert.equal((await idx.identify(unit(1, 0, 0.01), SHA, policy)).reason, 'matched');
});

test('aggregations: max, mean of the top two, class centroid', async () => {
  const idx = new SearchIndex(pack([[1, unit(1, 0, 0)], [1, unit(0, 0, 1)], [2, unit(0.8, 0.6, 0)], [2, unit(0.8, 0.6, 0)]], { 1: 'alice', 2: 'bob' }));
  const q = unit(1, 0, 0);
  assert.equal((await idx.rank(q, 'max'))[0]!.personId, 1);
  // Alice's second template is orthogonal: her mean of two drops to 0.5, below Bob's 0.8.
  assert.equal((await idx.rank(q, 'mean-top2'))[0]!.personId, 2);
  assert.ok(Math.abs((await idx.rank(q, 'mean-top2'))[0]!.score - 0.8) < 1e-6);
  assert.equal((await idx.rank(q, 'centroid'))[0]!.personId, 2);
});

test('embeddings of another model are refused, not compared', async () => {
  const idx = new SearchIndex(pack([[1, unit(1, 0, 0)]], { 1: 'alice' }));
  await assert.rejects(idx.identify(unit(1, 0, 0), 'b'.repeat(64), policy), ModelMismatchError);
  await assert.rejects(idx.rank(unit(1, 0, 0, 0), 'max'), /dimensions/);
});

test('the ONNX Runtime scorer gives the same decisions as the JavaScript one', async () => {
  const { OrtRowScorer } = await import('../../src/matching/ort-row-scorer.js');
  const rows: [number, Float32Array][] = Array.from({ length: 300 }, (_, i) => [1 + (i % 60), unit(Math.sin(i), Math.cos(i * 1.3), Math.sin(i * 0.7 + 1))]);
  const names = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [i + 1, `p${i + 1}`]));
  const packed = pack(rows, names);
  const js = new SearchIndex(packed);
  const viaOrt = new SearchIndex(packed, undefined, await OrtRowScorer.create(packed.vectors, packed.dim));
  for (let i = 0; i < 20; i++) {
    const q = unit(Math.cos(i), Math.sin(i * 2), 0.3);
    const a = await js.identify(q, SHA, { ...policy, margin: 0 });
    const b = await viaOrt.identify(q, SHA, { ...policy, margin: 0 });
    assert.equal(b.bestName, a.bestName);
    assert.ok(Math.abs(a.score - b.score) < 1e-5);
  }
});

import { test } from 'node:test';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeLivenessPlot } from '../../src/eval/liveness-plot.js';
import assert from 'node:assert/strict';
import { bpcerAtApcer, livenessReport, operatingPoint, rocAuc, type ScoredSample } from '../../src/eval/liveness-metrics.js';
import { crossValidatedScores, fuse, groupBalancedWeights, rankOf, trainFusion, type TrainingSample } from '../../src/liveness/fusion.js';
import { groupOf, parseSpoofManifest } from '../../src/liveness/spoof-set.js';
import { squareBox } from '../../src/liveness/face-crop.js';
import { judgePair, DEFAULT_PLANARITY_OPTIONS } from '../../src/liveness/planarity.js';
import { trackVerdict } from '../../src/liveness/liveness-check.js';
import { DoorPolicy, livenessGate, type DoorRule } from '../../src/recognition/door-policy.js';
import type { LivenessVerdict } from '../../src/recognition/liveness-slot.js';
import { createRng } from '../../src/util/rng.js';

const s = (score: number, live: boolean, attackType = live ? 'none' : 'print', source = 'a'): ScoredSample => ({ score, live, attackType, source });

test('ROC AUC: perfect, reversed, ties count half', () => {
  assert.equal(rocAuc([3, 4], [1, 2]), 1);
  assert.equal(rocAuc([1, 2], [3, 4]), 0);
  assert.equal(rocAuc([1], [1]), 0.5);
  assert.equal(rocAuc([2, 1], [1, 0]), (1 + 1 + 0.5 + 1) / 4);
});

test('APCER is the worst attack type, BPCER the live share rejected, ACER their mean', () => {
  const samples = [s(0.9, true), s(0.8, true), s(0.3, true), s(0.1, true), s(0.6, false, 'print'), s(0.2, false, 'print'), s(0.7, false, 'replay'), s(0.75, false, 'replay')];
  const p = operatingPoint(samples, 0.5);
  assert.deepEqual(p.apcerByType, { print: 0.5, replay: 1 });
  assert.equal(p.apcer, 1);
  assert.equal(p.bpcer, 0.5);
  assert.equal(p.acer, 0.75);
  // Every attack type must be at or below the target: here only a threshold above 0.75 does it.
  const at = bpcerAtApcer(samples, 0.05);
  assert.ok(at.threshold > 0.75 && at.threshold <= 0.8);
  assert.equal(at.bpcer, 0.5);
  // Pooled, one of the four attacks may pass at 25%: the cut can sit between 0.7 and 0.75.
  const pooled = bpcerAtApcer(samples, 0.25, { pooled: true });
  assert.ok(pooled.threshold > 0.7 && pooled.threshold <= 0.75);
  const r = livenessReport(samples, 0.5);
  assert.equal(r.live, 4);
  assert.deepEqual(r.attackTypes, { print: 2, replay: 2 });
  assert.ok(r.eer.rate >= 0 && r.eer.rate <= 1);
});

test('spoof manifest: labels, attack types, NUAA people as their own groups; bad rows are refused', () => {
  const tsv = 'file\tlabel\tattack_type\textra\nlive/nuaa__0003_00_00_01_25.jpg\tlive\tnone\tx\nspoof/pis-vishal__fake_1.png\tspoof\treplay\tx\nspoof/other.png\tspoof\t\tx\n';
  const rows = parseSpoofManifest(tsv, '/data');
  assert.deepEqual(rows.map((r) => [r.path, r.label, r.attackType, r.source, r.group]), [
    ['/data/live/nuaa__0003_00_00_01_25.jpg', 'live', 'none', 'nuaa', 'nuaa-0003'],
    ['/data/spoof/pis-vishal__fake_1.png', 'spoof', 'replay', 'pis-vishal', 'pis-vishal'],
    ['/data/spoof/other.png', 'spoof', 'unknown', 'default', 'default'],
  ]);
  assert.throws(() => parseSpoofManifest('file\tlabel\na.jpg\tfake\n', '/d', 'm.tsv'), /m\.tsv:2: .*live or spoof/);
  assert.throws(() => parseSpoofManifest('path\tclass\n', '/d', 'm.tsv'), /must name the columns/);
  assert.deepEqual(groupOf('silentface__image_T1.jpg'), { source: 'silentface', group: 'silentface' });
});

test('square crop box: squared around the centre and shifted (not clipped) into the frame', () => {
  assert.deepEqual(squareBox([100, 100, 40, 60], 640, 480), [90, 100, 60]);
  assert.deepEqual(squareBox([-10, 450, 50, 50], 640, 480), [0, 430, 50]);
  assert.deepEqual(squareBox([0, 0, 900, 900], 640, 480), [160, 0, 480]);
});

test('rank transform: 0 below, 1 above, interpolated between quantiles', () => {
  const q = [0, 10, 20];
  assert.equal(rankOf(q, -5), 0);
  assert.equal(rankOf(q, 25), 1);
  assert.equal(rankOf(q, 15), 0.75);
  assert.equal(rankOf(q, Number.NaN), 0.5);
});

function synthetic(seed: number): TrainingSample[] {
  const rng = createRng(seed);
  const out: TrainingSample[] = [];
  for (const group of ['g1', 'g2', 'g3', 'g4']) {
    for (let i = 0; i < 40; i++) {
      const live = i % 2 === 0;
      // 'good' separates the classes; 'noise' does not; 'bias' is a per-group offset only.
      out.push({ live, group, cues: { good: (live ? 1 : -1) + rng.next() * 1.2, noise: rng.next(), bias: group === 'g1' ? 10 : 0 } });
    }
  }
  return out;
}

test('fusion: learns the informative cue, not the noise; held-out scores separate the classes', () => {
  const data = synthetic(7);
  const m = trainFusion(data, ['good', 'noise']);
  assert.ok(m.weights[0]! > 2 * Math.abs(m.weights[1]!), `weights ${m.weights}`);
  assert.ok(fuse(m, { good: 2, noise: 0.5 }) > 0.5 && fuse(m, { good: -2, noise: 0.5 }) < 0.5);
  assert.deepEqual(trainFusion(data, ['good', 'noise']), m, 'deterministic');
  const held = crossValidatedScores(data, ['good', 'noise'], (i) => data[i]!.group);
  assert.ok(rocAuc(held.filter((_, i) => data[i]!.live), held.filter((_, i) => !data[i]!.live)) > 0.9);
  assert.throws(() => fuse(m, { good: 1 }), /cue "noise" missing/);
  assert.throws(() => trainFusion(data.filter((d) => d.live), ['good']), /both live and spoof/);
});

test('fusion weights: each group counts once, split equally between its classes', () => {
  const w = groupBalancedWeights([
    { live: true, group: 'big', cues: {} },
    { live: true, group: 'big', cues: {} },
    { live: true, group: 'big', cues: {} },
    { live: false, group: 'big', cues: {} },
    { live: false, group: 'small', cues: {} },
  ]);
  assert.deepEqual(w, [1 / 6, 1 / 6, 1 / 6, 0.5, 1]);
});

test('planarity pair judgement: too little motion or too few matches says nothing', () => {
  const o = DEFAULT_PLANARITY_OPTIONS;
  const e = { matches: 100, motion: 0.1, homographyInliers: 50, fundamentalInliers: 90, nonPlanar: 0.44, parallax: 0.05 };
  assert.equal(judgePair(e, o), 'non-planar');
  assert.equal(judgePair({ ...e, nonPlanar: 0.01 }, o), 'planar');
  assert.equal(judgePair({ ...e, motion: 0.001 }, o), 'no-evidence');
  assert.equal(judgePair({ ...e, matches: 5 }, o), 'no-evidence');
});

test('track verdict: median of the passive scores against the threshold; no frames is pending', () => {
  const planar = { bestNonPlanar: 0.01, pairsJudged: 3, proven: false };
  assert.equal(trackVerdict([], {}, planar, 0.5).state, 'pending');
  const v = trackVerdict([0.9, 0.1, 0.8], { dtn: 0.1 }, planar, 0.5);
  assert.equal(v.state, 'live');
  assert.equal(v.score, 0.8);
  assert.equal(v.cues.planarityPairs, 3);
  assert.equal(trackVerdict([0.2, 0.3], {}, { ...planar, proven: true }, 0.5).state, 'spoof');
  assert.equal(trackVerdict([0.2, 0.3], {}, { ...planar, proven: true }, 0.5).temporalProof, true);
});

const verdict = (state: LivenessVerdict['state'], temporalProof = false): LivenessVerdict => ({ state, score: state === 'live' ? 0.9 : 0.1, cues: {}, temporalProof });

test('liveness gate per door mode', () => {
  assert.equal(livenessGate('off', undefined), 'pass');
  assert.equal(livenessGate('off', verdict('spoof')), 'pass');
  assert.equal(livenessGate('passive', undefined), 'wait');
  assert.equal(livenessGate('passive', verdict('pending')), 'wait');
  assert.equal(livenessGate('passive', verdict('live')), 'pass');
  assert.equal(livenessGate('passive', verdict('spoof', true)), 'deny');
  assert.equal(livenessGate('strict', verdict('live')), 'wait');
  assert.equal(livenessGate('strict', verdict('live', true)), 'pass');
  assert.equal(livenessGate('strict', verdict('spoof', true)), 'deny');
});

const door = (over: Partial<DoorRule> = {}): DoorRule => ({ name: 'front', allow: { everyone: true, people: [], groups: [] }, cooldownMs: 10_000, unknown: 'deny', multipleFaces: 'deny-if-stranger', ...over });
const alice = { kind: 'person' as const, name: 'alice', votes: 3, share: 1 };

test('door policy with liveness: spoof denied per door, strict waits for the temporal proof, off unchanged', () => {
  const p = new DoorPolicy([door({ name: 'front', liveness: 'strict' }), door({ name: 'side', liveness: 'passive' }), door({ name: 'shed' })]);
  const base = { fused: alice, groups: [], strangerInView: false };
  assert.deepEqual(p.decide({ ...base, nowMs: 0, liveness: verdict('spoof') }), [
    { door: 'front', granted: false, reason: 'denied-spoof', relay: 'none' },
    { door: 'side', granted: false, reason: 'denied-spoof', relay: 'none' },
    { door: 'shed', granted: true, reason: 'granted', relay: 'pulse' },
  ]);
  // Live but no proof yet: the strict door makes no decision (and so does not open).
  assert.deepEqual(p.decide({ ...base, nowMs: 20_000, liveness: verdict('live') }).map((d) => [d.door, d.reason, d.relay]), [
    ['side', 'granted', 'pulse'],
    ['shed', 'granted', 'pulse'],
  ]);
  assert.deepEqual(p.decide({ ...base, nowMs: 40_000, liveness: verdict('live', true) })[0], { door: 'front', granted: true, reason: 'granted', relay: 'pulse' });
  // A person who is not allowed is told so without waiting for liveness evidence.
  const q = new DoorPolicy([door({ liveness: 'strict', allow: { everyone: false, people: ['bob'], groups: [] } })]);
  assert.equal(q.decide({ ...base, nowMs: 0 })[0]!.reason, 'denied-not-allowed');
});

test('liveness plot: ROC and histograms labelled in PAD terms', () => {
  const dir = mkdtempSync(join(tmpdir(), 'facegate-lplot-'));
  const samples = [s(0.9, true), s(0.7, true), s(0.4, true), s(0.2, false), s(0.5, false, 'replay')];
  writeLivenessPlot(join(dir, 'p.svg'), samples, 'test set', 0.5);
  const svg = readFileSync(join(dir, 'p.svg'), 'utf8');
  assert.match(svg, /APCER \(attacks accepted/);
  assert.match(svg, /live \(n=3\)/);
  assert.match(svg, /attacks \(n=2\)/);
  assert.doesNotMatch(svg, /cosine|impostor|FAR \(/);
});

// The track-centric loop with a scripted scene instead of models: where it looks for faces, when
// it embeds, and when (and how often) it decides. Time is the frames' capture time: no clocks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IouTracker, planRegions, predictBox, snapMinSize, type Box } from '../../src/recognition/tracker.js';
import { RecognitionLoop, type FrameReport, type LoopSettings } from '../../src/recognition/recognition-loop.js';
import { SearchIndex } from '../../src/matching/search-index.js';
import { DoorPolicy, type DecisionInput, type DoorRule } from '../../src/recognition/door-policy.js';
import type { DetectedFace, DetectOptions } from '../../src/vision/detection/face-detector.js';
import type { FaceQuality } from '../../src/vision/quality.js';
import type { RecognitionEvent } from '../../src/recognition/events.js';
import type { LivenessCheck, LivenessVerdict } from '../../src/recognition/liveness-slot.js';
import { DEFAULT_REGIONS, DEFAULT_VISIT } from '../../src/recognition/loop-defaults.js';

test('tracker predicts a moving face with constant velocity and matches it there', () => {
  const t = new IouTracker({ minIou: 0.3, maxGapMs: 1000 });
  const [id] = t.update([[100, 100, 50, 50]], 0).trackIds;
  assert.equal(t.update([[115, 100, 50, 50]], 100).trackIds[0], id);
  assert.equal(t.update([[130, 100, 50, 50]], 200).trackIds[0], id);
  const p = predictBox(t.get(id!)!, 300);
  // Smoothed velocity: 0.5 * (0.5 * 0.15) + 0.5 * 0.15 = 0.1125 px/ms after two steps of 0.15.
  assert.ok(Math.abs(p[0] - (130 + 11.25)) < 1e-9, `predicted x ${p[0]}`);
  // 35 px further does not overlap the last box enough (IoU 0.18), but does overlap the prediction (0.36).
  assert.equal(t.update([[165, 100, 50, 50]], 300).trackIds[0], id);
  // Prediction is capped: a track unseen for long does not fly off.
  assert.deepEqual(predictBox(t.get(id!)!, 10_000), predictBox(t.get(id!)!, 300 + 300));
});

test('region planning: full frame without tracks and when due, else merged regions with a size floor', () => {
  const opts = { margin: 0.5, minSizeRatio: 0.6, minSizeFloor: 20, fullFrameEveryMs: 200 };
  assert.deepEqual(planRegions([], 640, 480, { ms: 0, frames: 5 }, opts), { full: true });
  assert.deepEqual(planRegions([[100, 100, 100, 100]], 640, 480, { ms: 200, frames: 5 }, opts), { full: true });
  // Due by time, but only one region-only frame since the last full one (a slow loop): not yet.
  assert.equal(planRegions([[100, 100, 100, 100]], 640, 480, { ms: 900, frames: 1 }, opts).full, false);
  // A 100 px face: 200 px with the margins, rounded up to 224 around its centre; minimum size
  // 0.6 x 100 snapped down to the sqrt(2) grid over the floor (20 * 2 * sqrt(2) = 56.6).
  assert.deepEqual(planRegions([[100, 100, 100, 100]], 640, 480, { ms: 50, frames: 5 }, opts), { full: false, regions: [{ roi: [38, 38, 224, 224], minSize: 56.57 }] });
  // Clipped to the frame; a small face gets the floor.
  assert.deepEqual(planRegions([[600, 0, 20, 20]], 640, 480, { ms: 50, frames: 5 }, opts), { full: false, regions: [{ roi: [578, 0, 62, 42], minSize: 20 }] });
  // Two overlapping regions become one covering both, with the smaller minimum size.
  const merged = planRegions([[100, 100, 100, 100], [220, 100, 50, 50]], 640, 480, { ms: 50, frames: 5 }, opts);
  assert.deepEqual(merged, { full: false, regions: [{ roi: [38, 38, 271, 224], minSize: 28.28 }] });
  assert.deepEqual([12, 20, 28, 29, 80].map((s) => snapMinSize(s, 20)), [20, 20, 20, 28.28, 80]);
  const apart = planRegions([[0, 0, 40, 40], [400, 300, 40, 40]], 640, 480, { ms: 50, frames: 5 }, opts);
  assert.equal(!apart.full && apart.regions.length, 2);
});

// --- a scripted scene -------------------------------------------------------------------------

interface Actor {
  box: Box;
  vector: Float32Array;
  quality?: Partial<FaceQuality>;
}

const unit = (...v: number[]) => Float32Array.from(v.map((x) => x / Math.hypot(...v)));
const ALICE = unit(1, 0, 0);
const BOB = unit(0, 1, 0);
const STRANGER = unit(0, 0, 1);
/** Matches alice at about 0.8: clearly her, as the poor frames were. */
const ALICE_AT_080 = unit(0.8, 0.1, 0.59);

const GOOD: FaceQuality = { rollDeg: 0, yaw: 0, pitch: 0.5, frontalness: 0.9, faceSize: 150, eyeDistance: 60, sharpness: 300, score: 0.999 };
const SMALL: Partial<FaceQuality> = { faceSize: 49, sharpness: 35 };

class Scene {
  actors: Actor[] = [];
  detectCalls: DetectOptions[] = [];
  embedded = 0;

  readonly detector = {
    options: { minSize: 20 },
    detect: async (_image: unknown, opts: DetectOptions = {}) => {
      this.detectCalls.push(opts);
      const faces = this.actors
        .filter((a) => {
          if (!opts.roi) return true;
          const [x, y, w, h] = opts.roi;
          const cx = a.box[0] + a.box[2] / 2, cy = a.box[1] + a.box[3] / 2;
          return cx >= x && cx <= x + w && cy >= y && cy <= y + h && a.box[2] >= (opts.minSize ?? 0);
        })
        .map((a) => ({ box: a.box, score: 0.999, landmarks: [[0, 0], [0, 0], [0, 0], [0, 0], [0, 0]] as never, actor: a }));
      return { faces, timings: { pnet: 1 } };
    },
  };

  prepare(_image: unknown, faces: readonly DetectedFace[]) {
    return faces.map((f) => {
      const { actor } = f as DetectedFace & { actor: Actor };
      return { face: f, crop: actor as never, quality: { ...GOOD, faceSize: f.box[2], ...actor.quality } };
    });
  }

  /** The "crops" are the actors themselves (see prepare). */
  async embedCrops(crops: unknown[]) {
    this.embedded += crops.length;
    return (crops as Actor[]).map((a) => a.vector);
  }
}

const FRAME_MS = 66;
const settings = (over: Partial<LoopSettings> = {}): LoopSettings => ({
  gate: { minFaceSize: 60, minSharpness: 40, minFrontalness: 0.35, minScore: 0.95 },
  match: { threshold: 0.5, margin: 0.05, aggregation: 'max', negativeMargin: 0 },
  tracker: { minIou: 0.3, maxGapMs: 1000 },
  fusion: { n: 3, m: 5 },
  regions: DEFAULT_REGIONS,
  visit: DEFAULT_VISIT,
  ...over,
});

function harness(over: Partial<LoopSettings> = {}, callbacks: { needEmbeddings?: () => boolean } = {}, rules: DoorRule[] = [{ name: 'front', allow: { everyone: true, people: [], groups: [] }, cooldownMs: 0, unknown: 'deny', multipleFaces: 'grant-allowed' }]) {
  const scene = new Scene();
  const index = new SearchIndex({ modelSha: 's', dim: 3, vectors: Float32Array.from([...ALICE, ...BOB]), personIds: Int32Array.from([1, 2]), names: new Map([[1, 'alice'], [2, 'bob']]) });
  const events: RecognitionEvent[] = [];
  const reports: FrameReport[] = [];
  const inputs: DecisionInput[] = [];
  const policy = new DoorPolicy(rules);
  const doors = { doors: policy.doors, decide: (input: DecisionInput) => (inputs.push(input), policy.decide(input)) } as DoorPolicy;
  const loop = new RecognitionLoop(
    { next: async () => null },
    scene,
    () => ({ index, modelId: 'm', modelSha: 's', groupsOf: () => [] }),
    doors,
    settings(over),
    { onEvent: (e) => events.push(e), onFrame: (r) => reports.push(r), ...callbacks },
  );
  let seq = 0;
  const frames = async (n: number, script?: (i: number) => void) => {
    for (let i = 0; i < n; i++) {
      script?.(i);
      seq++;
      await loop.processFrame({ mat: { cols: 640, rows: 480 } as never, seq, capturedAtMs: 10_000 + seq * FRAME_MS });
    }
  };
  const decided = () => events.map((e) => `${e.trackId}:${e.person?.name ?? e.reason}`);
  return { scene, events, reports, inputs, frames, decided, atMs: () => 10_000 + seq * FRAME_MS };
}

test('loop: after a full-frame sighting it searches only around the track, and the whole frame again when due', async () => {
  const h = harness();
  h.scene.actors = [{ box: [200, 150, 120, 120], vector: ALICE }];
  await h.frames(6, (i) => (h.scene.actors[0]!.box = [200 + 4 * i, 150, 120, 120]));
  const calls = h.scene.detectCalls;
  assert.equal(calls[0]!.roi, undefined, 'first frame: full');
  assert.ok(calls[1]!.roi && calls[1]!.minSize === 56.57, `second frame: region with minSize 0.6 x 120 snapped to 56.6, got ${JSON.stringify(calls[1])}`);
  const fullFrames = calls.map((c, i) => (c.roi ? -1 : i)).filter((i) => i >= 0);
  // 66 ms frames, a full frame at least every 200 ms: frames 0 and 4 (264 ms later; 198 < 200).
  assert.deepEqual(fullFrames, [0, 4]);
  assert.deepEqual(h.decided(), ['1:alice']);
  assert.deepEqual(h.reports.map((r) => r.fullFrame), [true, false, false, false, true, false]);
  assert.equal(h.reports[5]!.faces[0]!.label, 'alice');
});

test('loop: ROI tracking off searches every frame in full', async () => {
  const h = harness({ regions: { ...DEFAULT_REGIONS, enabled: false } });
  h.scene.actors = [{ box: [200, 150, 120, 120], vector: ALICE }];
  await h.frames(4);
  assert.ok(h.scene.detectCalls.every((c) => c.roi === undefined));
});

test('loop: a decided track is re-embedded only at the re-check rate (every face while enrollment needs them)', async () => {
  const h = harness();
  h.scene.actors = [{ box: [200, 150, 120, 120], vector: ALICE }];
  await h.frames(3);
  assert.equal(h.scene.embedded, 3);
  // 32 more frames: re-checks 16 frames (1056 ms) after the last embedding, at frames 19 and 35.
  await h.frames(32);
  assert.equal(h.scene.embedded, 5);
  assert.deepEqual(h.decided(), ['1:alice']);
  let capturing = true;
  const e = harness({}, { needEmbeddings: () => capturing });
  e.scene.actors = [{ box: [200, 150, 120, 120], vector: ALICE }, { box: [400, 150, 120, 120], vector: BOB }];
  await e.frames(10);
  assert.equal(e.scene.embedded, 20);
  assert.ok(e.reports.at(-1)!.analysis.faces.every((f) => f.embedding));
  capturing = false;
  await e.frames(2);
  assert.equal(e.scene.embedded, 20);
});

test('loop: a poor face waits for a usable one instead of being decided early', async () => {
  const h = harness();
  h.scene.actors = [{ box: [260, 200, 49, 49], vector: ALICE_AT_080, quality: SMALL }];
  // Within the quality wait (800 ms = 12 frames): nothing decided although every frame matches.
  await h.frames(8);
  assert.equal(h.events.length, 0);
  // The visitor steps closer: sharp, large faces decide at once.
  await h.frames(3, () => (h.scene.actors[0] = { box: [255, 195, 64, 64], vector: ALICE }));
  assert.deepEqual(h.decided(), ['1:alice']);
  assert.ok(h.events[0]!.latencyMs <= 11 * FRAME_MS);
});

test('loop: a visit that stays poor but clearly matches is granted after the wait, not denied for quality', async () => {
  const h = harness();
  h.scene.actors = [{ box: [260, 200, 49, 49], vector: ALICE_AT_080, quality: SMALL }];
  await h.frames(20);
  assert.deepEqual(h.decided(), ['1:alice']);
  assert.equal(h.events[0]!.decision, 'granted');
  assert.ok(h.events[0]!.latencyMs >= DEFAULT_VISIT.qualityWaitMs && h.events[0]!.latencyMs < DEFAULT_VISIT.qualityWaitMs + 2 * FRAME_MS);
});

test('loop: denied-quality only when the visit ends without a usable face', async () => {
  const h = harness();
  // Poor and matching nobody clearly (a stranger too far away): no vote, no decision.
  h.scene.actors = [{ box: [260, 200, 49, 49], vector: STRANGER, quality: SMALL }];
  await h.frames(30);
  assert.equal(h.events.length, 0, 'no decision while the visit lasts');
  h.scene.actors = [];
  await h.frames(20);
  assert.deepEqual(h.decided(), ['1:denied-quality']);
  assert.equal(h.events.length, 1);
});

test('loop: two people one after the other at the same spot are two tracks and two decisions', async () => {
  for (const gapFrames of [0, 10]) {
    const h = harness();
    const spot: Box = [240, 180, 120, 120];
    h.scene.actors = [{ box: spot, vector: ALICE }];
    await h.frames(15);
    h.scene.actors = [];
    await h.frames(gapFrames);
    h.scene.actors = [{ box: spot, vector: BOB }];
    await h.frames(30);
    const [a, b] = h.events;
    assert.equal(h.events.length, 2, `gap ${gapFrames}: ${h.decided().join(', ')}`);
    assert.equal(a!.person?.name, 'alice');
    assert.equal(b!.person?.name, 'bob');
    assert.notEqual(a!.trackId, b!.trackId);
    // Within the gap the re-check happens as soon as a face is back; without one within recheckMs + N frames.
    assert.ok(b!.latencyMs <= 4 * FRAME_MS, `bob decided ${b!.latencyMs} ms after his first sighting`);
  }
});

test('loop: a decided stranger who turns out to be enrolled is caught by the re-check', async () => {
  const h = harness();
  h.scene.actors = [{ box: [240, 180, 120, 120], vector: STRANGER }];
  await h.frames(5);
  h.scene.actors[0]!.vector = ALICE;
  await h.frames(25);
  assert.deepEqual(
    h.events.map((e) => e.person?.name ?? e.reason),
    ['denied-unknown', 'alice'],
  );
});

test('loop: liveness sees every usable face before embedding, and its verdict reaches the door policy', async () => {
  const observed: number[] = [];
  const forgotten: number[] = [];
  const liveness: LivenessCheck = {
    observe: (trackId) => void observed.push(trackId),
    verdict: () => ({ state: 'spoof', score: 0.1, cues: {}, temporalProof: false }),
    forget: (trackId) => void forgotten.push(trackId),
  };
  const h = harness({ liveness });
  h.scene.actors = [{ box: [240, 180, 120, 120], vector: ALICE }];
  await h.frames(3);
  assert.deepEqual(observed, [1, 1, 1]);
  assert.equal(h.inputs[0]!.liveness?.state, 'spoof');
  assert.deepEqual(h.reports.at(-1)!.faces[0]!.liveness, { state: 'spoof', score: 0.1 });
  h.scene.actors = [];
  await h.frames(20);
  assert.deepEqual(forgotten, [1]);
});

test('loop: a door waiting on the liveness check is asked again each frame and decides once; the other door at once', async () => {
  let proof = false;
  const liveness: LivenessCheck = {
    observe: () => undefined,
    verdict: (): LivenessVerdict => ({ state: 'live', score: 0.9, cues: proof ? { planarity: 0.8 } : {}, temporalProof: proof }),
    forget: () => undefined,
  };
  const everyone = { everyone: true, people: [], groups: [] };
  const h = harness({ liveness }, {}, [
    { name: 'front', allow: everyone, cooldownMs: 0, unknown: 'deny', multipleFaces: 'grant-allowed', liveness: 'strict' },
    { name: 'garage', allow: everyone, cooldownMs: 0, unknown: 'deny', multipleFaces: 'grant-allowed' },
  ]);
  h.scene.actors = [{ box: [240, 180, 120, 120], vector: ALICE }];
  await h.frames(8);
  assert.deepEqual(h.events.map((e) => `${e.door}:${e.reason}`), ['garage:granted'], 'strict door waits for a temporal proof');
  assert.equal(h.events[0]!.liveness, undefined, 'no liveness in events of a door without a check');
  proof = true;
  await h.frames(5);
  assert.deepEqual(h.events.map((e) => `${e.door}:${e.reason}`), ['garage:granted', 'front:granted']);
  assert.deepEqual(h.events[1]!.liveness, { state: 'live', score: 0.9, temporalProof: true, cues: { planarity: 0.8 } });
  assert.equal(h.scene.embedded, 3, 'waiting on liveness does not re-embed every frame');
});

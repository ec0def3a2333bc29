// The daemon's pure-ish parts without models: the event bus, the schema-driven reload plan, the
// status LEDs across two doors, the enrollment burst (bound to its request, silent after stop), and
// gallery reloads that release what the snapshot they replace holds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBus } from '../../src/core/event-bus.js';
import { reloadPlan } from '../../src/config/reload.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { StatusLights } from '../../src/daemon/status-lights.js';
import { SimulatedGpio } from '../../src/hardware/gpio/simulated-gpio.js';
import { ButtonEnrollment } from '../../src/recognition/button-enrollment.js';
import { GalleryStore } from '../../src/gallery/gallery-store.js';
import type { Analysis } from '../../src/vision/face-analyzer.js';
import type { Embedder } from '../../src/vision/embedder.js';
import { ManualClock } from '../../src/util/manual-clock.js';
import type { OrtRowScorer as RowScorerSession } from '../../src/matching/ort-row-scorer.js';

test('a throwing or rejecting subscriber reaches neither the publisher nor the other subscribers', async () => {
  const errors: string[] = [];
  const bus = new EventBus((err, event) => errors.push(`${event}: ${err.message}`));
  const seen: string[] = [];
  bus.on('door.state', () => {
    throw new Error('boom');
  });
  bus.on('door.state', async () => {
    throw new Error('async boom');
  });
  const off = bus.on('door.state', (d) => void seen.push(d.door));
  bus.emit('door.state', { door: 'front', state: 'unlocked', cause: 'test', atMs: 0 });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(seen, ['front']);
  assert.deepEqual(errors.sort(), ['door.state: async boom', 'door.state: boom']);
  off();
  bus.emit('door.state', { door: 'back', state: 'locked', cause: 'test', atMs: 0 });
  assert.deepEqual(seen, ['front'], 'unsubscribed handler still called');
  assert.ok(bus.has('door.state') && !bus.has('frame.analysed'));
});

test('reload plan: what is marked live in the schema applies, everything else needs a restart', () => {
  const door = { name: 'front', relay: { pin: 17 } };
  const running = ConfigSchema.parse({ doors: [door] });
  const next = ConfigSchema.parse({ matching: { threshold: 0.6 }, quality: { minFaceSize: 40 }, doors: [{ ...door, cooldownMs: 1, allow: { people: ['ann'] } }], logging: { level: 'debug' }, camera: { type: 'folder', path: 'x' } });
  const plan = reloadPlan(running, next);
  assert.deepEqual(plan.live.sort(), ['doors[front].allow', 'doors[front].cooldownMs', 'logging.level', 'matching', 'quality']);
  assert.deepEqual(plan.restart.sort(), ['camera.path', 'camera.type']);
  const rewired = reloadPlan(running, ConfigSchema.parse({ doors: [{ name: 'front', relay: { pin: 18 } }] }));
  assert.deepEqual(rewired, { live: [], restart: ['doors[front].relay.pin'] });
  assert.deepEqual(reloadPlan(running, ConfigSchema.parse({ doors: [door, { name: 'back', relay: { pin: 5 } }] })).restart, ['doors']);
  assert.deepEqual(reloadPlan(running, running), { live: [], restart: [] });
});

test('two doors, one granted LED: it stays lit while either door is open', () => {
  const gpio = new SimulatedGpio();
  const bus = new EventBus();
  const lights = new StatusLights({ granted: 22, activeLow: false }, () => gpio, bus);
  lights.start();
  const lit = () => gpio.edgesFor(22).at(-1)!.level === 1;
  const door = (name: string, state: 'locked' | 'unlocked') => bus.emit('door.state', { door: name, state, cause: 'test', atMs: 0 });
  door('front', 'unlocked');
  door('back', 'unlocked');
  door('front', 'locked');
  assert.ok(lit(), 'the LED went off while the back door was still open');
  door('back', 'locked');
  assert.ok(!lit());
  lights.stop();
});

function oneFace(): Analysis {
  const quality = { faceSize: 120, eyeDistance: 40, sharpness: 200, score: 0.999, rollDeg: 0, yaw: 0, pitch: 0.5, frontalness: 0.9 };
  const embedding = new Float32Array(4).fill(0.5);
  return { faces: [{ box: [10, 10, 120, 120], score: 0.999, landmarks: [[40, 50], [90, 50], [65, 80], [45, 100], [85, 100]], quality, embedding }], primary: 0, timings: {} as Analysis['timings'] };
}

function burstSetup() {
  const store = GalleryStore.open(':memory:');
  const clock = new ManualClock();
  const indicator = { capturing: () => undefined, succeeded: () => undefined, failed: () => undefined };
  const gate = { minFaceSize: 60, minSharpness: 40, minFrontalness: 0.35, minScore: 0.95 };
  const enrollment = new ButtonEnrollment(store, () => ({ id: 'm', sha256: 'm' }), {} as Embedder, { gate, dedupeSimilarity: 0.95, keepCrops: false }, { frames: 2, timeoutMs: 5000, keep: 1 }, indicator, clock);
  enrollment.start();
  return { store, clock, enrollment };
}

test('a burst enrolls under the name it was started for, even if another name is armed while it runs', async () => {
  const { store, enrollment } = burstSetup();
  const alice = enrollment.trigger('mqtt', 'alice');
  assert.equal(enrollment.capturingFor, 'alice');
  // The race: "bob" armed for the button while alice's capture runs.
  store.armEnrollment('bob', 60_000);
  assert.deepEqual(await enrollment.trigger('mqtt', 'bob'), { kind: 'busy', trigger: 'mqtt', capturingFor: 'alice' });
  enrollment.offer(oneFace(), undefined as never, 'f1');
  enrollment.offer(oneFace(), undefined as never, 'f2');
  const outcome = await alice;
  assert.deepEqual(outcome, { kind: 'enrolled', name: 'alice', templates: 1, trigger: 'mqtt' });
  assert.deepEqual(store.listPeople().map((p) => p.name), ['alice']);
  assert.equal(store.takeArmedEnrollment(), 'bob', "bob's arming is still waiting for the button");
});

test('stopping during a burst writes nothing, and no burst starts after stop', async () => {
  const { store, clock, enrollment } = burstSetup();
  store.armEnrollment('carol', 60_000);
  const burst = enrollment.trigger('button');
  enrollment.offer(oneFace(), undefined as never, 'f1');
  enrollment.stop();
  clock.advance(10_000);
  assert.deepEqual(await burst, { kind: 'cancelled', trigger: 'button' });
  assert.deepEqual(await enrollment.trigger('button'), { kind: 'cancelled', trigger: 'button' });
  assert.equal(store.listPeople().length, 0);
  assert.equal(store.listPending().length, 0);
});

test('a burst with no usable face times out on the clock, not on wall time', async () => {
  const { enrollment, clock } = burstSetup();
  const burst = enrollment.trigger('button');
  clock.advance(4999);
  assert.ok(enrollment.capturing);
  clock.advance(1);
  assert.deepEqual(await burst, { kind: 'timeout', trigger: 'button', usable: 0 });
});

test('gallery reloads release the scorer session each snapshot holds: ten reloads of a large gallery leave two', async () => {
  const { OrtRowScorer, ORT_SCORER_MIN_ROWS } = await import('../../src/matching/ort-row-scorer.js');
  const { GalleryService } = await import('../../src/daemon/gallery-service.js');
  const { createDaemonMetrics } = await import('../../src/daemon/daemon-metrics.js');
  const { pino } = await import('pino');
  const { createRng } = await import('../../src/util/rng.js');
  // Every ONNX scorer session made, until it is released.
  const live = new Set<object>();
  const create = OrtRowScorer.create.bind(OrtRowScorer);
  const release = OrtRowScorer.prototype.release;
  OrtRowScorer.create = async (vectors, dim) => {
    const scorer = await create(vectors, dim);
    live.add(scorer);
    return scorer;
  };
  OrtRowScorer.prototype.release = function (this: RowScorerSession) {
    live.delete(this);
    return release.call(this);
  };
  const path = join(mkdtempSync(join(tmpdir(), 'facegate-reload-')), 'gallery.db');
  const model = { id: 'mobilefacenet-fp32', sha256: 'a'.repeat(64) };
  const rng = createRng(7);
  const unit = () => {
    const v = Float32Array.from({ length: 192 }, () => rng.normal());
    const n = Math.hypot(...v);
    return v.map((x) => x / n);
  };
  const seeded = GalleryStore.open(path);
  seeded.transaction(() => {
    for (let p = 0; p * 100 < ORT_SCORER_MIN_ROWS + 100; p++) seeded.addTemplates(seeded.ensurePerson(`p${p}`), model, Array.from({ length: 100 }, () => ({ embedding: unit(), quality: {}, source: 'cli' as const })));
  });
  seeded.close();
  const service = new GalleryService(path, () => GalleryStore.open(path), () => model, new EventBus(), pino({ level: 'silent' }), createDaemonMetrics(), new ManualClock());
  try {
    await service.start();
    assert.ok(service.snapshot.templates >= ORT_SCORER_MIN_ROWS, 'the gallery is not large enough for an ONNX scorer');
    for (let i = 0; i < 10; i++) await service.reload('test');
    assert.equal(live.size, 2, 'sessions of replaced snapshots were kept: each reload would grow memory');
    await service.stop();
    assert.equal(live.size, 0, 'stop left a scorer session open');
  } finally {
    OrtRowScorer.create = create;
    OrtRowScorer.prototype.release = release;
  }
});

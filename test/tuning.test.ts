// Triplet fine-tuning: the pure core (mining, loss gradient, training loop), the degradation
// presets, the ONNX surgery, an end-to-end run on the npm sample photos, and the deployment gate.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FRANCK_FRAMES, PORTRAITS } from '../src/fixtures/sample-photos.js';
import { GalleryStore } from '../src/gallery/gallery-store.js';
import { readManifest, writeManifest, type ModelEntry } from '../src/models/manifest.js';
import { cv } from '../src/vision/opencv.js';
import { loadImage } from '../src/vision/image.js';
import { loadAnalyzer } from '../src/vision/load-analyzer.js';
import { createRng } from '../src/util/rng.js';
import { addDecayToward, createProjection, embed, mineTriplets, samplePeople, tripletLossAndGradient, type Triplet } from '../src/tuning/triplet.js';
import { trainProjection, validationScore } from '../src/tuning/train.js';
import { DEGRADE_PRESETS, degradeCrop } from '../src/tuning/degrade.js';
import { FeatureExtractor, findProjection } from '../src/tuning/features.js';
import { decodeModel } from '../src/models/onnx/graph.js';
import { compareHeldOut } from '../src/tuning/policy.js';
import { tune, TuneInputError, type TuneOptions } from '../src/tuning/tune.js';
import { galleryConsequence, useModel } from '../src/cli/commands/models-use.js';
import { registerTuneCommand } from '../src/cli/commands/tune.js';
import { Command } from 'commander';
import { cliInProcess } from './helpers/cli.js';
import { MODELS_DIR, requireModels, samplePhotos, sharedAnalyzer } from './helpers/models.js';


// ---------------------------------------------------------------------------------------------
// Pure core

/** A unit vector in the plane at `angle` radians. */
const at = (angle: number) => Float64Array.of(Math.cos(angle), Math.sin(angle));

test('mining picks the semi-hard negative, falls back to the mildest hard one, or skips', () => {
  // Anchor a0 and positive a1 are 0.5 rad apart: d(a,p) = 2 - 2cos(0.5) = 0.245.
  const a0 = at(0), a1 = at(0.5);
  const semiHard = at(0.65); // d = 0.408: beyond the positive, inside the 0.2 margin
  const hard = at(0.3); // d = 0.089: closer than the positive
  const harder = at(0.1); // d = 0.010: the hardest, which FaceNet warns against
  const easy = at(2); // d = 2.83: outside the margin
  const rng = createRng(1);
  const first = (m: ReturnType<typeof mineTriplets>) => m.find(([a, p]) => a === 0 && p === 1);

  const all = mineTriplets([a0, a1, semiHard, hard, harder, easy], [2, 4], 0.2, rng);
  assert.deepEqual(first(all), [0, 1, 2]);
  assert.equal(all.length, 1 + 6, 'every anchor-positive pair finds a negative: one pair of the first person, six of the second');

  const noBand = mineTriplets([a0, a1, hard, harder, easy], [2, 3], 0.2, rng);
  assert.deepEqual(first(noBand), [0, 1, 2], 'the hard negative nearest the band, not the hardest');
  assert.equal(first(mineTriplets([a0, a1, hard, harder, easy], [2, 3], 0.2, rng, 'skip')), undefined);
  assert.equal(first(mineTriplets([a0, a1, easy], [2, 1], 0.2, rng)), undefined, 'nothing to learn from an easy negative');

  // Several semi-hard negatives: each is picked some of the time.
  const picks = new Set<number>();
  for (let i = 0; i < 50; i++) picks.add(first(mineTriplets([a0, a1, at(0.55), at(0.6), at(0.65)], [2, 3], 0.2, rng))![2]);
  assert.deepEqual([...picks].sort(), [2, 3, 4]);
});

test('people sampling follows the seed: whole people, capped per person and per sample, seeded', () => {
  const people = [[0, 1, 2, 3, 4], [5, 6], [7, 8, 9], [10]];
  const s = samplePeople(people, 2, 3, createRng(7));
  assert.equal(s.images.length, 6);
  assert.equal(s.perPerson.reduce((a, b) => a + b, 0), 6);
  let start = 0;
  for (const n of s.perPerson) {
    const owner = people.findIndex((p) => p.includes(s.images[start]!));
    assert.ok(s.images.slice(start, start + n).every((i) => people[owner]!.includes(i)), 'a block holds one person');
    assert.ok(n <= 3);
    start += n;
  }
  assert.deepEqual(samplePeople(people, 2, 3, createRng(7)), s, 'same seed, same sample');
  assert.equal(samplePeople(people, 10, 40, createRng(1)).images.length, 11, 'stops when people run out');
});

test('triplet loss gradient matches central differences through the L2 normalisation', () => {
  const rng = createRng(3);
  const inDim = 6, outDim = 4;
  const p = createProjection(inDim, outDim, Array.from({ length: outDim * inDim + outDim }, () => rng.normal()));
  const features = Array.from({ length: 7 }, () => Float64Array.from({ length: inDim }, () => rng.normal()));
  const triplets: Triplet[] = [[0, 1, 2], [3, 4, 5], [0, 6, 4], [2, 5, 1]];
  // A wide margin keeps every triplet active, away from the hinge where the loss has no derivative.
  const alpha = 4;
  const f = (id: number) => features[id]!;
  const { loss, activeFraction, grad } = tripletLossAndGradient(p, f, triplets, alpha);
  assert.equal(activeFraction, 1);
  const h = 1e-6;
  let worst = 0;
  for (let i = 0; i < p.params.length; i++) {
    const plus = createProjection(inDim, outDim, p.params);
    plus.params[i]! += h;
    const minus = createProjection(inDim, outDim, p.params);
    minus.params[i]! -= h;
    const numeric = (tripletLossAndGradient(plus, f, triplets, alpha).loss - tripletLossAndGradient(minus, f, triplets, alpha).loss) / (2 * h);
    worst = Math.max(worst, Math.abs(numeric - grad[i]!) / Math.max(1e-3, Math.abs(numeric)));
  }
  assert.ok(worst < 1e-5, `relative gradient error ${worst}`);
  assert.ok(loss > 0);

  // Inactive triplets contribute neither loss nor gradient.
  const none = tripletLossAndGradient(p, f, triplets, -10);
  assert.equal(none.loss, 0);
  assert.equal(none.activeFraction, 0);
  assert.ok(none.grad.every((g) => g === 0));

  // The pull toward the pretrained weights is the gradient of its penalty.
  const anchor = Float64Array.from(p.params, (v) => v + 0.5);
  const g = new Float64Array(p.params.length);
  const penalty = addDecayToward(g, p.params, anchor, 0.3);
  assert.ok(Math.abs(penalty - (0.3 / 2) * 0.25 * p.params.length) < 1e-9);
  assert.ok(g.every((x) => Math.abs(x + 0.15) < 1e-12));
});

test('training separates synthetic identities that the initial projection mixes up, deterministically', () => {
  const rng = createRng(11);
  const inDim = 8, outDim = 3;
  // Each person is a point in feature space plus noise; the identity lives in dims 0-3, while a
  // large nuisance (lighting, say) lives in dims 4-7, which the initial projection reads.
  const centre = () => Float64Array.from({ length: inDim }, (_, k) => (k < 4 ? rng.normal() : 0));
  const people = Array.from({ length: 10 }, centre);
  const features: Float64Array[] = [];
  const labels: number[] = [];
  people.forEach((c, person) => {
    for (let j = 0; j < 6; j++) {
      features.push(Float64Array.from(c, (v, k) => v + (k < 4 ? 0.15 : 2) * rng.normal()));
      labels.push(person);
    }
  });
  const initial = createProjection(inDim, outDim, Array.from({ length: outDim * inDim + outDim }, (_, i) => (i < outDim * inDim && i % inDim >= 4 ? 1 : 0.1) * rng.normal()));
  const ids = (persons: number[]) => persons.map((q) => labels.flatMap((l, i) => (l === q ? [[i]] : [])));
  const val = labels.flatMap((l, i) => (l >= 7 ? [i] : []));
  const settings = { alpha: 0.2, peoplePerBatch: 7, imagesPerPerson: 6, batchSize: 30, epochSize: 20, maxEpochs: 15, patience: 15, learningRate: 0.02, weightDecay: 0, fallback: 'mildest-hard' as const, seed: 5 };
  const run = () =>
    trainProjection(initial, { features: (id) => features[id]!, people: ids([0, 1, 2, 3, 4, 5, 6]) }, settings, {
      validate: (p) => validationScore(p, val.map((i) => features[i]!), val.map((i) => labels[i]!)),
    });
  const r = run();
  const before = validationScore(initial, val.map((i) => features[i]!), val.map((i) => labels[i]!));
  const after = validationScore(r.projection, val.map((i) => features[i]!), val.map((i) => labels[i]!));
  assert.ok(after.eer < before.eer / 2, `validation EER ${before.eer} -> ${after.eer}`);
  assert.ok(r.bestEpoch > 0);
  assert.ok(r.epochs.every((e) => e.active >= 0 && e.active <= 1 && e.loss >= 0));
  assert.deepEqual(run().projection.params, r.projection.params, 'same seed, same weights');
});

test('deployment gate: lower EER and no lower TAR at FAR 1e-3, with the numbers in the reasons', () => {
  const r = (eer: number, tar: number, resolvable = true) => ({ auc: 0.9, eer, tarAtFar1e3: tar, tarAtFar1e3Resolvable: resolvable, genuine: 100, impostor: 5000 });
  assert.deepEqual(compareHeldOut(r(0.1, 0.5), r(0.08, 0.55)), { ok: true, reasons: [] });
  const worse = compareHeldOut(r(0.1, 0.5), r(0.12, 0.4));
  assert.equal(worse.ok, false);
  assert.match(worse.reasons.join(' | '), /EER 12\.00% is worse than the parent's 10\.00%.*TAR at FAR 1e-3 40\.00% is lower than the parent's 50\.00%/);
  assert.match(compareHeldOut(r(0.1, 0.5), r(0.1, 0.5)).reasons[0]!, /no better/);
  assert.equal(compareHeldOut(r(0.1, 0.5, false), r(0.08, 0.4, false)).ok, true, 'an unresolvable TAR does not decide');
});

test('gallery consequence of a model switch: ready, re-embeddable from crops, or re-enroll', () => {
  const g = galleryConsequence(
    [
      { name: 'ann', templates: [{ modelSha: 'new', hasCrop: false }, { modelSha: 'old', hasCrop: false }] },
      { name: 'bob', templates: [{ modelSha: 'old', hasCrop: true }, { modelSha: 'old', hasCrop: false }] },
      { name: 'cy', templates: [{ modelSha: 'old', hasCrop: false }] },
      { name: 'dee', templates: [] },
    ],
    'new',
  );
  assert.deepEqual(g, { ready: ['ann'], reembed: ['bob'], reenroll: ['cy'] });
});

// ---------------------------------------------------------------------------------------------
// With the real models and the npm sample photos

let photos: Record<string, string>;
let work: string;
let modelsDir: string;

before(async () => {
  requireModels();
  photos = await samplePhotos();
  work = mkdtempSync(join(tmpdir(), 'facegate-tune-'));
  // A models folder of our own: tune writes the manifest and models/tuned/, the real one stays untouched.
  modelsDir = join(work, 'models');
  mkdirSync(modelsDir);
  for (const f of readdirSync(MODELS_DIR).filter((f) => f.endsWith('.onnx'))) symlinkSync(join(MODELS_DIR, f), join(modelsDir, f));
  copyFileSync(join(MODELS_DIR, 'manifest.json'), join(modelsDir, 'manifest.json'));
});

test('degrade presets: grey, deterministic per seed, same size as the crop', () => {
  const crop = loadImage(photos.audrey!).mat.resize(112, 112);
  for (const preset of DEGRADE_PRESETS) {
    const a = degradeCrop(crop, preset, 1);
    assert.equal(a.rows, 112);
    assert.equal(a.cols, 112);
    assert.equal(a.channels, 3);
    const [r, g, b] = a.splitChannels();
    assert.equal(r!.absdiff(g!).countNonZero() + g!.absdiff(b!).countNonZero(), 0, `${preset.name} is grey`);
    assert.deepEqual(degradeCrop(crop, preset, 1).getData(), a.getData(), `${preset.name} is deterministic`);
    if (preset.noiseSigma > 0) assert.notDeepEqual(degradeCrop(crop, preset, 2).getData(), a.getData(), `${preset.name} noise follows the seed`);
  }
});

test('the graph cut at the projection gives features that the projection turns into the embedding', async () => {
  const manifest = readManifest(MODELS_DIR);
  const entry = manifest.models.find((m) => m.id === 'mobilefacenet-fp32')!;
  const analyzer = await sharedAnalyzer();
  const extractor = await FeatureExtractor.load(new Uint8Array(readFileSync(join(MODELS_DIR, entry.file))), entry);
  assert.equal(extractor.projection.inDim, 512);
  assert.equal(extractor.projection.outDim, entry.embeddingDim);
  const a = await analyzer.analyze(loadImage(photos.cage!).mat, 'primary');
  const crop = analyzer.embedder.crop(loadImage(photos.cage!).mat, a.faces[a.primary]!);
  const [features] = await extractor.features([crop]);
  const [full] = await analyzer.embedder.embedCrops([crop]);
  const l = extractor.projection;
  const fromFeatures = embed(createProjection(l.inDim, l.outDim, [...l.w, ...l.b]), features!).e;
  assert.ok(Math.max(...Array.from(full!, (v, i) => Math.abs(v - fromFeatures[i]!))) < 1e-5);
});

/** FaceDataSet of the sample photos: franck's 11 frames, and each portrait as itself, mirrored and reframed. */
function sampleDataSet(root: string, portraits = PORTRAITS): string {
  mkdirSync(root, { recursive: true });
  mkdirSync(join(root, 'franck'));
  for (const k of FRANCK_FRAMES) copyFileSync(photos[k]!, join(root, 'franck', `${k}.jpg`));
  for (const k of portraits) {
    mkdirSync(join(root, k));
    const img = cv.imread(photos[k]!);
    const m = Math.round(Math.min(img.rows, img.cols) * 0.06);
    const reframed = img.getRegion(new cv.Rect(m, m, img.cols - 2 * m, img.rows - m)).convertTo(cv.CV_8UC3, 0.85, 12);
    cv.imwrite(join(root, k, `${k}_0.jpg`), img);
    cv.imwrite(join(root, k, `${k}_1.jpg`), img.flip(1));
    cv.imwrite(join(root, k, `${k}_2.jpg`), reframed);
  }
  return root;
}

function tuneOptions(over: Partial<TuneOptions>): TuneOptions {
  return {
    dataDir: '',
    outName: 'tuned-test',
    pipeline: { modelsDir },
    degrade: 'ir-night',
    seed: 1,
    heldOut: 0.3,
    validation: 0.25,
    augment: 2,
    // A wide margin: these few, clean-ish photos leave few semi-hard triplets at 0.2.
    train: { alpha: 1, peoplePerBatch: 8, imagesPerPerson: 6, batchSize: 30, epochSize: 3, maxEpochs: 1, patience: 1, learningRate: 1e-3, weightDecay: 0.01, fallback: 'mildest-hard' },
    matrix: [],
    cacheDir: join(work, 'cache'),
    progress: false,
    log: () => {},
    ...over,
  };
}

test('tune end to end: model, manifest entry, loss curve, report; same data and seed give the same bytes', async () => {
  const data = sampleDataSet(join(work, 'faces'));
  writeFileSync(join(data, 'audrey', 'broken.jpg'), 'not a JPEG\n');
  // No validation split: the last epoch is kept, so the bytes compared are really trained weights.
  const a = await tune(tuneOptions({ dataDir: data, outName: 'tuned-a', validation: 0, cacheDir: join(work, 'cache-a'), matrix: [photos.franck_01829!, photos.franck_04117!, photos.cage!] }));
  // b starts from a's aligned crops (MTCNN and the alignment are deterministic and tested on their
  // own; detecting all 32 photos again costs 2 s) and computes its features and training afresh.
  cpSync(join(work, 'cache-a', 'aligned'), join(work, 'cache-b', 'aligned'), { recursive: true });
  const b = await tune(tuneOptions({ dataDir: data, outName: 'tuned-b', validation: 0, cacheDir: join(work, 'cache-b') }));
  const c = await tune(tuneOptions({ dataDir: data, outName: 'tuned-c', validation: 0, cacheDir: join(work, 'cache-a'), seed: 2 }));
  const bytes = (r: typeof a) => readFileSync(join(modelsDir, r.model.file));
  const weights = (buf: Uint8Array) => findProjection(decodeModel(buf)).w;
  assert.ok(bytes(a).equals(bytes(b)), 'same data and seed, fresh features: identical model bytes');
  assert.equal(a.model.sha256, b.model.sha256);
  assert.notDeepEqual(weights(bytes(a)), weights(readFileSync(join(MODELS_DIR, 'mobilefacenet.fp32.onnx'))), 'training changed the projection');
  assert.notDeepEqual(weights(bytes(a)), weights(bytes(c)), 'another seed, other weights');

  assert.match(a.data.skipped.map((s) => `${s.source}: ${s.reason}`).join('\n'), /audrey\/broken\.jpg: /);
  assert.equal(a.split.heldOut.length, 2);
  assert.equal(a.split.validation.length, 0);
  assert.equal(a.training.bestEpoch, a.training.epochs.length);
  assert.deepEqual([...a.split.train, ...a.split.validation, ...a.split.heldOut].sort(), ['franck', ...PORTRAITS].sort());
  assert.ok(a.heldOut.base.impostor > 0 && a.heldOut.base.genuine > 0);
  assert.ok(a.training.batches > 0);
  assert.ok(existsSync(a.lossCurve) && existsSync(a.reportFile));
  assert.equal(a.matrix!.base.length, 3);
  assert.ok(a.matrix!.base[0]![1]! < a.matrix!.base[0]![2]!, 'franck is nearer franck than cage');

  const entry = readManifest(modelsDir).models.find((m) => m.id === 'tuned-a')!;
  assert.equal(entry.role, 'embedder');
  assert.equal(entry.precision, 'float32');
  assert.deepEqual(entry.source, { kind: 'derived', parent: 'mobilefacenet-fp32', method: 'triplet fine-tune of the final projection (MobileFaceNet/Logits/LinearConv1x1)' });
  assert.equal(entry.tuning!.dataFingerprint, a.data.fingerprint);
  assert.equal(entry.tuning!.degrade, 'ir-night');
  assert.equal(entry.tuning!.heldOut.base.eer, a.heldOut.base.eer);
  // The tuned model drops in wherever the parent worked.
  const { analyzer } = await loadAnalyzer({ modelsDir, embedderId: 'tuned-a' });
  const r = await analyzer.analyze(loadImage(photos.audrey!).mat, 'primary');
  assert.equal(r.faces[r.primary]!.embedding!.length, 192);
});

test('tune refuses bad input with clear errors', async () => {
  const one = join(work, 'one-person');
  mkdirSync(join(one, 'franck'), { recursive: true });
  for (const k of FRANCK_FRAMES.slice(0, 3)) copyFileSync(photos[k]!, join(one, 'franck', `${k}.jpg`));
  await assert.rejects(tune(tuneOptions({ dataDir: one })), (e: Error) => e instanceof TuneInputError && /photos of one person only \(franck\).*at least 4 people/.test(e.message));

  const single = join(work, 'one-photo-each');
  for (const k of PORTRAITS.slice(0, 5)) {
    mkdirSync(join(single, k), { recursive: true });
    copyFileSync(photos[k]!, join(single, k, `${k}.jpg`));
  }
  writeFileSync(join(single, 'audrey', 'unreadable.jpg'), Buffer.alloc(0));
  await assert.rejects(tune(tuneOptions({ dataDir: single })), (e: Error) => /only 0 people have 2 or more usable photos.*at least 4.*unreadable\.jpg: empty file/s.test(e.message));

  await assert.rejects(tune(tuneOptions({ dataDir: join(work, 'nope') })), /no such folder/);
  await assert.rejects(tune(tuneOptions({ dataDir: one, outName: 'Bad Name' })), /--out Bad Name/);
  await assert.rejects(tune(tuneOptions({ dataDir: one, outName: 'mobilefacenet-fp32' })), /already has a model of that name/);
});

test('models use: refuses a tuned model worse than its parent unless forced; rollback to the parent', async () => {
  const manifest = readManifest(modelsDir);
  const tuned = manifest.models.find((m) => m.id === 'tuned-a')!;
  const result = (eer: number, tar: number) => ({ auc: 0.95, eer, tarAtFar1e3: tar, tarAtFar1e3Resolvable: true, genuine: 500, impostor: 9000 });
  const variant = (id: string, base: number, mine: number): ModelEntry => ({ ...tuned, id, tuning: { ...tuned.tuning!, heldOut: { base: result(base, 0.5), tuned: result(mine, 0.5) } } });
  writeManifest(modelsDir, { ...manifest, models: [...manifest.models, variant('tuned-worse', 0.1, 0.14), variant('tuned-better', 0.1, 0.07)] });

  const dir = mkdtempSync(join(work, 'use-'));
  const config = join(dir, 'facegate.yaml');
  writeFileSync(config, `# door config\nmodels:\n  dir: ${modelsDir}\ngallery:\n  path: gallery.db\n`);
  const parent = manifest.models.find((m) => m.id === 'mobilefacenet-fp32')!;
  const store = GalleryStore.open(join(dir, 'gallery.db'));
  store.transaction(() => {
    const tag = { id: parent.id, sha256: parent.sha256 };
    store.addTemplates(store.ensurePerson('ann'), tag, [{ embedding: new Float32Array(192).fill(0.1), quality: {}, source: 'cli', crop: cv.imencode('.png', new cv.Mat(112, 112, cv.CV_8UC3, [90, 90, 90])) }]);
    store.addTemplates(store.ensurePerson('bob'), tag, [{ embedding: new Float32Array(192).fill(0.1), quality: {}, source: 'cli' }]);
  });
  store.close();

  assert.throws(() => useModel({ id: 'tuned-worse', config }), /refusing to use tuned-worse: .*EER 14\.00% is worse than the parent's 10\.00%.*--force/);
  assert.doesNotMatch(readFileSync(config, 'utf8'), /embedder/, 'a refused model never becomes active');

  const forced = useModel({ id: 'tuned-worse', config, force: true });
  assert.equal(forced.forced, true);
  assert.match(readFileSync(config, 'utf8'), /embedder: tuned-worse/);
  assert.match(readFileSync(config, 'utf8'), /# door config/, 'comments kept');
  assert.deepEqual(forced.gallery && { reembed: forced.gallery.reembed, reenroll: forced.gallery.reenroll }, { reembed: ['ann'], reenroll: ['bob'] });

  const better = useModel({ id: 'tuned-better', config });
  assert.equal(better.forced, false);
  assert.equal(better.previous, 'tuned-worse');

  const back = useModel({ id: 'mobilefacenet-fp32', config });
  assert.equal(back.check, undefined);
  assert.match(readFileSync(config, 'utf8'), /embedder: mobilefacenet-fp32/);
  assert.deepEqual(back.gallery!.ready, ['ann', 'bob'], 'rolling back to the parent needs no re-enrollment');

  // The same through the CLI, as a user types it.
  const cli = await cliInProcess(['models', 'use', 'tuned-worse', '--config', config]);
  assert.equal(cli.code, 1);
  assert.match(cli.stderr, /refusing to use tuned-worse/);
});

test('tune --help lists the degrade presets', () => {
  // The help text commander prints for `facegate tune --help`, without spawning the CLI.
  const program = new Command('facegate');
  registerTuneCommand(program);
  const help = program.commands.find((c) => c.name() === 'tune')!.helpInformation();
  assert.match(help, /--degrade <preset>/);
  for (const p of DEGRADE_PRESETS) assert.match(help, new RegExp(p.name));
});

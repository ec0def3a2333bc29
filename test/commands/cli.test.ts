// The command line's own rules, tested as functions (fast), plus one spawned command for what only
// the real binary shows: a path under /proc fails at once, and --json errors are JSON.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { galleryProblem } from '../../src/app/gallery-context.js';
import { loadConfig } from '../../src/config/load.js';
import { formatMatrix, formatVerdicts, pairVerdicts } from '../../src/cli/commands/compare.js';
import { describeRejection, judgeFace } from '../../src/cli/commands/identify.js';
import { applyPipelineFlags } from '../../src/cli/commands/pipeline-options.js';
import { operatingPoint } from '../../src/cli/commands/eval.js';
import { progress } from '../../src/cli/progress.js';
import { secondsOption } from '../../src/cli/units.js';
import { reportError } from '../../src/cli/output.js';
import { explainFsError } from '../../src/util/fs-errors.js';
import { makeDirs } from '../../src/util/make-dirs.js';
import { writePrivateFile } from '../../src/util/private-file.js';
import { createLogger } from '../../src/daemon/logger.js';
import { tarAxisMin, renderSvg, verificationScene } from '../../src/eval/plot.js';
import { GalleryStore } from '../../src/gallery/gallery-store.js';
import { REPO_ROOT } from '../../src/paths.js';
import { ManualClock } from '../../src/util/manual-clock.js';
import type { FaceQuality } from '../../src/vision/quality.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'facegate-cli-'));
}

test('a gallery is never created where no config says so; reading a missing one says so', () => {
  const dir = tmp();
  try {
    const gallery = join(dir, 'data', 'gallery.db');
    const defaults = { ...loadConfig(null, 'built-in defaults: no --config, no $FACEGATE_CONFIG'), path: null };
    assert.match(galleryProblem(defaults, gallery, 'write')!, new RegExp(`^no gallery at ${gallery} and no config file says where it belongs .*pass --config FILE`));
    const cfg = join(dir, 'facegate.yaml');
    writeFileSync(cfg, 'gallery:\n  path: data/gallery.db\n');
    const loaded = loadConfig(cfg);
    assert.equal(galleryProblem(loaded, gallery, 'write'), null, 'a config that names the gallery may create it');
    assert.match(galleryProblem(loaded, gallery, 'read')!, new RegExp(`^no gallery at ${gallery} \\(gallery.path in ${cfg}\\): enroll people first`));
    mkdirSync(gallery, { recursive: true });
    assert.match(galleryProblem(loaded, gallery, 'write')!, /is a folder, expected the gallery file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('raw errno and SQLite errors become sentences with the path', () => {
  const dir = tmp();
  try {
    let caught: unknown;
    try {
      readFileSync(dir);
    } catch (err) {
      caught = err;
    }
    assert.equal(explainFsError(caught, dir).message, `${dir} is a folder, expected a file`);
    assert.match(explainFsError(caught).message, /^a folder was given where a file was expected \(EISDIR: /, 'without a path it still says what happened');
    const notDb = join(dir, 'photo.db');
    writeFileSync(notDb, 'x'.repeat(4096));
    try {
      GalleryStore.open(notDb).close();
      assert.fail('opened a text file as a gallery');
    } catch (err) {
      assert.match(explainFsError(err, notDb).message, new RegExp(`^${notDb} is not a facegate gallery \\(SQLite\\) file`));
    }
    const clear = new Error('already clear');
    assert.equal(explainFsError(clear), clear);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('makeDirs ends at once under /proc and /sys, and makes real nested folders', () => {
  assert.throws(() => makeDirs('/proc/nope/deeper'), /\/proc\/nope\/deeper is under \/proc, a virtual file system/);
  assert.throws(() => makeDirs('/sys/nope'), /under \/sys/);
  const dir = tmp();
  try {
    makeDirs(join(dir, 'a', 'b', 'c'));
    assert.ok(statSync(join(dir, 'a', 'b', 'c')).isDirectory());
    makeDirs(join(dir, 'a', 'b')); // exists: fine
    writeFileSync(join(dir, 'file'), '');
    assert.throws(() => makeDirs(join(dir, 'file', 'sub')), /is a file, so the folder .* cannot be made/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('detect --draw /proc/nope fails at once, as JSON with --json', () => {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'facegate.js'), 'detect', 'x.jpg', '--draw', '/proc/nope', '--json'], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, FACEGATE_CONFIG: '' } });
  assert.equal(r.signal, null, 'it did not have to be killed');
  assert.equal(r.status, 1);
  const out = JSON.parse(r.stdout) as { error: { message: string; code: string } };
  assert.match(out.error.message, /\/proc\/nope is under \/proc, a virtual file system/);
  assert.equal(out.error.code, 'EVIRTUAL');
});

test('--json errors are one JSON object on stdout; plain errors one line on stderr', () => {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = process.stdout.write.bind(process.stdout);
  const stderr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => (out.push(s), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => (err.push(s), true)) as typeof process.stderr.write;
  try {
    assert.equal(reportError(Object.assign(new Error('EISDIR: illegal operation on a directory, read'), { code: 'EISDIR', path: '/tmp/x' }), { json: true }), 1);
    assert.equal(reportError(new Error('plain'), { json: false }), 1);
  } finally {
    process.stdout.write = stdout;
    process.stderr.write = stderr;
  }
  assert.deepEqual(JSON.parse(out.join('')), { error: { message: '/tmp/x is a folder, expected a file', code: 'EISDIR' } });
  assert.deepEqual(err, ['facegate: plain\n']);
});

test('model flags override the config, the config overrides the defaults', () => {
  const base = { modelsDir: '/m', precision: 'float32' as const, embedderId: 'mobilefacenet-fp32', providers: ['cpu' as const], threads: 1, mtcnn: { minSize: 20, thresholds: [0.6, 0.7, 0.7] as [number, number, number], factor: 0.709 } };
  assert.deepEqual(applyPipelineFlags(base, {}), base);
  const p = applyPipelineFlags(base, { precision: 'int8', threads: '2', minsize: '40', thresholds: '0.5,0.6,0.7' });
  assert.equal(p.precision, 'int8');
  assert.equal(p.embedderId, undefined, 'a new precision picks its own embedder');
  assert.equal(p.threads, 2);
  assert.deepEqual(p.mtcnn, { minSize: 40, thresholds: [0.5, 0.6, 0.7], factor: 0.709 });
  assert.equal(base.mtcnn.minSize, 20, 'the base is not changed');
  assert.throws(() => applyPipelineFlags(base, { threads: '1.5' }), /--threads must be a whole number/);
  assert.throws(() => applyPipelineFlags(base, { factor: '1.2' }), /--factor must be between 0 and 1/);
});

test('durations on the command line are seconds', () => {
  assert.equal(secondsOption('--wait', '1.5'), 1.5);
  assert.throws(() => secondsOption('--timeout', '0'), /--timeout takes a duration in seconds/);
  assert.throws(() => secondsOption('--ttl', 'abc'), /got "abc"/);
  assert.throws(() => secondsOption('--ttl', '90000', { max: 86_400 }), /at most 86400 seconds/);
});

test('identify applies the quality gate before identifying', async () => {
  const quality: FaceQuality = { faceSize: 43, eyeDistance: 20, sharpness: 100, score: 0.99, rollDeg: 0, yaw: 0, pitch: 0.5, frontalness: 0.9 };
  const gate = { minFaceSize: 60, minSharpness: 40, minFrontalness: 0.35, minScore: 0.95 };
  let looked = 0;
  const identify = async () => {
    looked++;
    return { reason: 'matched' as const, name: 'al_pacino', score: 0.8, margin: 0.3 } as never;
  };
  const face = { box: [0, 0, 43, 50] as [number, number, number, number], score: 0.99, quality, embedding: new Float32Array(4) };
  const small = await judgeFace(face, gate, identify);
  assert.deepEqual(small.rejected, { reason: 'quality', problems: ['face too small (43 px < 60)'] });
  assert.equal(small.identity, undefined);
  assert.equal(looked, 0, 'a rejected face is not looked up');
  assert.equal(describeRejection(small.rejected!.problems), 'rejected: quality (face too small (43 px < 60))');
  const big = await judgeFace({ ...face, quality: { ...quality, faceSize: 80 } }, gate, identify);
  assert.equal(big.rejected, undefined);
  assert.equal(looked, 1);
  assert.ok((await judgeFace(face, null, identify)).identity, '--no-quality-gate identifies it');
});

test('compare: columns stay aligned with negative numbers; a verdict per pair at the threshold', () => {
  const cos = [
    [1, -0.1234, 0.6],
    [-0.1234, 1, 0.2],
    [0.6, 0.2, 1],
  ];
  const lines = formatMatrix('Cosine similarity matrix', cos).split('\n');
  const widths = new Set(lines.slice(1).map((l) => l.length));
  assert.equal(widths.size, 1, `every row as wide as the header:\n${lines.join('\n')}`);
  // Each number ends in the same column as its header index.
  const ends = (l: string) => [...l.matchAll(/\S+/g)].map((m) => m.index! + m[0].length);
  for (const l of lines.slice(2)) assert.deepEqual(ends(l).slice(1), ends(lines[1]!), 'numbers end under their index');
  const verdicts = pairVerdicts(cos, 0.5258);
  assert.deepEqual(verdicts.map((v) => [v.a, v.b, v.same]), [[0, 1, false], [0, 2, true], [1, 2, false]]);
  assert.match(formatVerdicts(verdicts, 0.5258)[1]!, /^0 vs 2: same person\s+cosine  0\.6000 > threshold 0\.5258$/);
  assert.match(formatVerdicts(verdicts, 0.5258)[0]!, /^0 vs 1: different people\s+cosine -0\.1234 <= threshold 0\.5258$/);
});

test('progress without a terminal: a plain line every N items or every few seconds', () => {
  const lines: string[] = [];
  const clock = new ManualClock();
  const p = progress(100, { label: 'embedding', unit: 'images', every: 25, seconds: 5, tty: false, write: (l) => lines.push(l), clock });
  for (let i = 0; i < 10; i++) p.tick();
  assert.equal(lines.length, 0);
  clock.advance(5000);
  p.tick();
  assert.equal(lines.join('|'), 'embedding: 11/100 images (11%)');
  for (let i = 0; i < 25; i++) p.tick();
  assert.equal(lines.at(-1), 'embedding: 36/100 images (36%)');
  for (let i = 0; i < 64; i++) p.tick();
  p.stop();
  assert.equal(lines.at(-1), 'embedding: 100/100 images (100%)');
  assert.equal(lines.filter((l) => l.startsWith('embedding: 100/')).length, 1);
});

test('journald: each JSON line carries the syslog priority of its level', () => {
  const lines: string[] = [];
  const log = createLogger({ level: 'info', pretty: false, journald: true, write: (l) => lines.push(l) });
  log.debug('not at info');
  log.info('started');
  log.warn('camera lost');
  log.error('gallery unreadable');
  assert.deepEqual(lines.map((l) => l.slice(0, 3)), ['<6>', '<4>', '<3>']);
  assert.equal(JSON.parse(lines[1]!.slice(3)).msg, 'camera lost');
  const plain: string[] = [];
  createLogger({ level: 'info', pretty: false, journald: false, write: (l) => plain.push(l) }).warn('x');
  assert.equal(JSON.parse(plain[0]!).msg, 'x');
});

test('ROC: the TAR axis zooms to the curves; the configured threshold is marked on both panels', () => {
  const roc = [{ far: [0, 1e-3, 1e-2, 1], tar: [0.9, 0.95, 0.97, 1], label: 'all' }];
  assert.equal(tarAxisMin(roc), 0.9);
  assert.equal(tarAxisMin([{ far: [1e-3, 1], tar: [0.31, 1], label: '' }]), 0.2);
  const genuine = [0.7, 0.8, 0.9, 0.4];
  const impostor = [0.1, 0.2, 0.6, 0.0];
  const op = operatingPoint(genuine, impostor, 0.5258);
  assert.deepEqual(op, { far: 0.25, tar: 0.75 });
  const svg = renderSvg(verificationScene({ roc, genuine, impostor, title: 't', configured: { value: 0.5258, label: 'matching.threshold 0.5258', points: [{ far: 1e-3, tar: 0.95 }] } }));
  assert.match(svg, /<g id="roc-threshold">\s*<rect /);
  assert.match(svg, />matching\.threshold 0\.5258<\/text>/);
  assert.match(svg, /<line [^>]*stroke="#aa3300" stroke-width="2"\/>/, 'the solid threshold line on the histograms');
  assert.match(svg, />0\.90<\/text>/, 'TAR ticks start at 0.9');
});

test('writePrivateFile: 0600 for a new file and for one that was 0644', () => {
  const dir = tmp();
  try {
    const path = join(dir, 'export.json');
    writePrivateFile(path, '{"people":[]}');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    writeFileSync(path, 'old', { mode: 0o644 });
    writePrivateFile(path, 'new');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(readFileSync(path, 'utf8'), 'new');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// `facegate config check` / the daemon's start-up checks: every problem at once, with file:line:key,
// and nothing created or changed on the way. Uses the real built models (models/) for the good case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, locateConfig, SYSTEM_CONFIG_FILE } from '../../src/config/load.js';
import { checkConfigFile, preflight } from '../../src/config/preflight.js';
import { DEFAULT_MODELS_DIR } from '../../src/paths.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'facegate-preflight-'));
}

/** A config in DIR with a camera folder holding one "image", a gallery path that does not exist yet. */
function goodSetup(dir: string, extra = '', modelsDir = DEFAULT_MODELS_DIR): string {
  mkdirSync(join(dir, 'frames'));
  writeFileSync(join(dir, 'frames', 'a.jpg'), 'not decoded by preflight');
  const path = join(dir, 'facegate.yaml');
  writeFileSync(path, `models:\n  dir: ${modelsDir}\ncamera:\n  type: folder\n  path: frames\ngallery:\n  path: state/gallery.db\ngpio:\n  backend: simulated\n${extra}`);
  return path;
}

test('a good config passes every check and preflight creates nothing', async () => {
  const dir = tmp();
  try {
    const path = goodSetup(dir, 'doors:\n  - name: front\n    relay: { pin: 17 }\n');
    const before = readdirSync(dir).sort();
    const r = await preflight(loadConfig(path));
    assert.deepEqual(r.problems, []);
    assert.deepEqual(readdirSync(dir).sort(), before, 'no gallery file or folder was made');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('missing models folder, unknown embedder, missing camera: each with file:line: key', async () => {
  const dir = tmp();
  try {
    const path = join(dir, 'facegate.yaml');
    writeFileSync(path, 'models:\n  dir: nowhere\ncamera:\n  type: file\n  path: door.mp4\n');
    let r = await preflight(loadConfig(path));
    assert.equal(r.problems.length, 2, r.problems.join('\n'));
    assert.match(r.problems[0]!, new RegExp(`^${path}:2: models\\.dir: models folder .*nowhere does not exist`));
    assert.match(r.problems[1]!, new RegExp(`^${path}:5: camera\\.path: .*door\\.mp4 does not exist`));
    assert.deepEqual(r.findings.map((f) => f.area), ['models', 'camera']);

    writeFileSync(path, `models:\n  dir: ${DEFAULT_MODELS_DIR}\n  embedder: facenet-512\ncamera:\n  type: v4l2\n  device: /dev/facegate-no-such-camera\ngpio:\n  backend: simulated\n`);
    r = await preflight(loadConfig(path));
    assert.equal(r.problems.length, 2, r.problems.join('\n'));
    assert.match(r.problems[0]!, /:3: models\.embedder: embedder "facenet-512" is not in .*manifest\.json \(embedders there: mobilefacenet-fp32/);
    assert.match(r.problems[1]!, /:6: camera\.device: camera \/dev\/facegate-no-such-camera does not exist: list the cameras/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('model files are checked against the manifest: a missing file and a changed file', async () => {
  const dir = tmp();
  try {
    const models = join(dir, 'models');
    mkdirSync(models);
    copyFileSync(join(DEFAULT_MODELS_DIR, 'manifest.json'), join(models, 'manifest.json'));
    for (const f of ['mtcnn-pnet.fp32.onnx', 'mtcnn-rnet.fp32.onnx']) copyFileSync(join(DEFAULT_MODELS_DIR, f), join(models, f));
    writeFileSync(join(models, 'mobilefacenet.fp32.onnx'), 'tampered');
    const path = goodSetup(dir, '', models);
    const r = await preflight(loadConfig(path));
    assert.equal(r.problems.length, 2, r.problems.join('\n'));
    assert.ok(r.problems.some((p) => /mobilefacenet\.fp32\.onnx \(model "mobilefacenet-fp32"\) has sha256 [0-9a-f]{12}\.\.\., the manifest says/.test(p)), r.problems.join('\n'));
    assert.ok(r.problems.some((p) => /mtcnn-onet\.fp32\.onnx \(model "mtcnn-onet-fp32"\) is missing/.test(p)), r.problems.join('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('gallery, camera and MQTT files: wrong kinds, virtual file systems, unreadable secrets', async () => {
  const dir = tmp();
  try {
    writeFileSync(join(dir, 'not-a-gallery.db'), 'hello, this is text');
    writeFileSync(join(dir, 'short.key'), 'abc\n');
    const path = goodSetup(dir);
    writeFileSync(
      path,
      `models:\n  dir: ${DEFAULT_MODELS_DIR}\ncamera:\n  type: folder\n  path: not-a-gallery.db\ngallery:\n  path: not-a-gallery.db\ngpio:\n  backend: simulated\nmqtt:\n  url: mqtt://localhost:1883\n  passwordFile: missing-password\n  commands:\n    hmacKeyFile: short.key\n  outbox:\n    path: /proc/facegate/events.db\n`,
    );
    const r = await preflight(loadConfig(path));
    const text = r.problems.join('\n');
    assert.equal(r.problems.length, 5, text);
    assert.match(text, /:5: camera\.path: .*not-a-gallery\.db is a file, expected a folder of images/);
    assert.match(text, /:7: gallery\.path: .*not-a-gallery\.db is not a facegate gallery \(SQLite\) file/);
    assert.match(text, /:12: mqtt\.passwordFile: broker password file .*missing-password does not exist/);
    assert.match(text, /:14: mqtt\.commands\.hmacKeyFile: the HMAC key in .*short\.key has 3 characters; at least 32/);
    assert.match(text, /:16: mqtt\.outbox\.path: \/proc\/facegate\/events\.db is under \/proc, a virtual file system/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('config check: schema problems and the file checks of the sections that did validate, in one report', async () => {
  const dir = tmp();
  try {
    const path = join(dir, 'facegate.yaml');
    writeFileSync(
      path,
      [
        'models:',
        '  dir: nowhere', // preflight: models folder missing
        'gallery:',
        '  keepCrops: maybe', // schema
        'doors:',
        '  - name: a',
        '    relay: { pin: 17 }',
        '  - name: b',
        '    relay: { pin: 17 }', // schema: pin used twice, reported although other keys are wrong
        'detector:',
        '  minsize: 20', // schema: unknown key
        '  fator: 0.7', // schema: unknown key, the second in the same section
        'gpio:',
        '  backend: simulated',
        '',
      ].join('\n'),
    );
    const r = await checkConfigFile(path);
    const text = r.problems.join('\n');
    assert.equal(r.problems.length, 6, text);
    assert.match(r.problems[5]!, /^[^:]+: camera\.device \(not set: the default\): camera \/dev\/video0 does not exist/);
    assert.match(r.problems[0]!, new RegExp(`^${path}:4: gallery\\.keepCrops: `));
    assert.match(r.problems[1]!, /:9: doors\[1\]\.relay\.pin: GPIO 17 is used twice: door a relay and door b relay/);
    assert.match(r.problems[2]!, /:11: detector\.minsize: unknown key "minsize"/);
    assert.match(r.problems[3]!, /:12: detector\.fator: unknown key "fator"/);
    assert.match(r.problems[4]!, /:2: models\.dir: models folder .*nowhere does not exist/);
    assert.equal(existsSync(join(dir, 'data')), false, 'the default gallery folder was not created');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('config discovery: --config, $FACEGATE_CONFIG, ./facegate.yaml, /etc/facegate/facegate.yaml, defaults', () => {
  const none = () => false;
  const all = () => true;
  const onlySystem = (p: string) => p === SYSTEM_CONFIG_FILE;
  assert.deepEqual(locateConfig('a.yaml', { FACEGATE_CONFIG: 'b.yaml' }, all), { path: 'a.yaml', foundBy: '--config' });
  assert.deepEqual(locateConfig(undefined, { FACEGATE_CONFIG: 'b.yaml' }, all), { path: 'b.yaml', foundBy: '$FACEGATE_CONFIG' });
  assert.equal(locateConfig(undefined, {}, all).path, 'facegate.yaml');
  assert.equal(locateConfig(undefined, {}, onlySystem).path, SYSTEM_CONFIG_FILE);
  const defaults = locateConfig(undefined, {}, none);
  assert.equal(defaults.path, null);
  assert.match(defaults.foundBy, /no --config, no \$FACEGATE_CONFIG, no \.\/facegate\.yaml, no \/etc\/facegate\/facegate\.yaml/);
  // A file named by the variable must exist: loading says so, naming who named it.
  assert.throws(() => loadConfig('/nonexistent/facegate.yaml', '$FACEGATE_CONFIG'), /\/nonexistent\/facegate\.yaml: config file not found \(named by \$FACEGATE_CONFIG\)/);
  const dir = tmp();
  try {
    assert.throws(() => loadConfig(dir), /is a folder, expected a YAML config file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

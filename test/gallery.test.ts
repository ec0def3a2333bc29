// The gallery end to end: real SQLite file, real models, the CLI's commands as a user runs them
// (in this process; the kill tests spawn the real launcher).
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { GalleryStore } from '../src/gallery/gallery-store.js';
import { REPO_ROOT } from '../src/paths.js';
import { FRANCK_FRAMES } from '../src/fixtures/sample-photos.js';
import { MODELS_DIR, requireModels, samplePhotos } from './helpers/models.js';
import { cliInProcess } from './helpers/cli.js';

let photos: Record<string, string>;
let work: string;

/** `facegate ARGS --config CONFIG`, in this process (tests that kill a command spawn the launcher). */
function cli(config: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return cliInProcess([...args, '--config', config]);
}

function newConfig(extra = ''): string {
  const dir = mkdtempSync(join(work, 'g-'));
  const path = join(dir, 'facegate.yaml');
  writeFileSync(path, `models:\n  dir: ${MODELS_DIR}\ngallery:\n  path: gallery.db\n${extra}`);
  return path;
}

before(async () => {
  requireModels();
  photos = await samplePhotos();
  work = mkdtempSync(join(tmpdir(), 'facegate-gallery-'));
});

test('schema migrations set a version; reopening is idempotent', () => {
  const path = join(work, 'm.db');
  const a = GalleryStore.open(path);
  assert.equal(a.schemaVersion, 3);
  a.close();
  const b = GalleryStore.open(path);
  assert.equal(b.schemaVersion, 3);
  assert.equal(b.db.pragma('journal_mode', { simple: true }), 'wal');
  b.close();
});

test('enroll, identify the same man in other frames, call a stranger unknown', async () => {
  const config = newConfig();
  const enrolled = await cli(config, 'enroll', 'franck', ...FRANCK_FRAMES.slice(0, 5).map((k) => photos[k]!), '--json');
  const e = JSON.parse(enrolled.stdout) as { added: number; rejected: { reason: string }[] };
  assert.ok(e.added >= 3, `only ${e.added} templates`);
  await cli(config, 'enroll', 'audrey', photos.audrey!);
  // Matching alone: the quality gate (which may reject the small stranger photo) is tested in test/commands/cli.test.ts.
  const res = await cli(config, 'identify', photos.franck_04117!, photos.franck_03979!, photos.cage!, '--no-quality-gate', '--json');
  const out = JSON.parse(res.stdout) as { results: { faces: { identity: { name: string | null; reason: string; score: number; margin: number } }[] }[] };
  assert.equal(out.results[0]!.faces[0]!.identity.name, 'franck');
  assert.equal(out.results[1]!.faces[0]!.identity.name, 'franck');
  assert.equal(out.results[2]!.faces[0]!.identity.name, null, 'stranger identified');
  assert.equal(out.results[2]!.faces[0]!.identity.reason, 'below-threshold');
});

test('remove deletes the person and every template, verifiably; audit records it', async () => {
  const config = newConfig();
  await cli(config, 'enroll', 'audrey', photos.audrey!);
  const dbPath = join(config, '..', 'gallery.db');
  const removed = await cli(config, 'gallery', 'remove', 'audrey', '--json');
  assert.equal((JSON.parse(removed.stdout) as { templates: number }).templates, 1);
  const db = new Database(dbPath, { readonly: true });
  assert.equal((db.prepare('SELECT count(*) AS n FROM templates').get() as { n: number }).n, 0);
  assert.equal((db.prepare('SELECT count(*) AS n FROM people').get() as { n: number }).n, 0);
  assert.deepEqual((db.prepare("SELECT action FROM audit ORDER BY id").all() as { action: string }[]).map((r) => r.action), ['person.add', 'templates.add', 'person.remove']);
  db.close();
  const again = await cli(config, 'gallery', 'remove', 'audrey');
  assert.equal(again.code, 1);
  assert.match(again.stderr, /no person named "audrey"/);
});

test('export and import move a gallery; a wrong dimension or another model is refused with nothing written', async () => {
  const a = newConfig();
  await cli(a, 'enroll', 'audrey', photos.audrey!);
  const file = join(work, 'export.json');
  await cli(a, 'gallery', 'export', file);
  const b = newConfig();
  const ok = await cli(b, 'gallery', 'import', file, '--json');
  assert.deepEqual(JSON.parse(ok.stdout), { people: 1, templates: 1, negatives: 0, duplicates: 0 });
  const exported = JSON.parse(readFileSync(file, 'utf8')) as { people: { name: string; templates: { dim: number; model: { sha256: string } }[] }[] };

  const wrongDim = structuredClone(exported);
  wrongDim.people.push({ ...structuredClone(exported.people[0]!), name: 'second' });
  wrongDim.people[1]!.templates[0]!.dim = 128;
  writeFileSync(join(work, 'dim.json'), JSON.stringify(wrongDim));
  const c = newConfig();
  const r1 = await cli(c, 'gallery', 'import', join(work, 'dim.json'));
  assert.equal(r1.code, 1);
  assert.match(r1.stderr, /dimension 128|128 values|values, dim says 128/);

  const otherModel = structuredClone(exported);
  otherModel.people[0]!.templates[0]!.model.sha256 = 'f'.repeat(64);
  writeFileSync(join(work, 'model.json'), JSON.stringify(otherModel));
  const r2 = await cli(c, 'gallery', 'import', join(work, 'model.json'));
  assert.match(r2.stderr, /different models cannot be compared/);
  const list = await cli(c, 'gallery', 'list', '--json');
  assert.deepEqual(JSON.parse(list.stdout), [], 'a refused import wrote something');
});

test('killing an import mid-way leaves whole people only and a sound database; running it again doubles nobody', async () => {
  const config = newConfig();
  const data = join(config, '..', 'FaceDataSet');
  const people: Record<string, string[]> = {
    a_franck: FRANCK_FRAMES.slice(0, 3),
    b_audrey: ['audrey'],
    c_cage: ['cage'],
    d_sean: ['SeanConnery'],
    e_bieber: ['bieber_small'],
    f_franck2: FRANCK_FRAMES.slice(6, 9),
  };
  for (const [name, keys] of Object.entries(people)) {
    mkdirSync(join(data, name), { recursive: true });
    keys.forEach((k, i) => copyFileSync(photos[k]!, join(data, name, `${name}_${i}.jpg`)));
  }
  const child = spawn('node', ['bin/facegate.js', 'gallery', 'import', data, '--config', config], { cwd: REPO_ROOT });
  const finished: Record<string, number> = {};
  await new Promise<void>((resolve) => {
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      for (const m of buf.matchAll(/^(\w+): (\d+) of \d+ photos enrolled$/gm)) finished[m[1]!] = Number(m[2]);
      // Kill while the later people are being analysed and written.
      if (Object.keys(finished).length >= 2) child.kill('SIGKILL');
    });
    child.on('exit', () => resolve());
  });
  assert.ok(Object.keys(finished).length >= 2 && Object.keys(finished).length < 6, `finished: ${JSON.stringify(finished)}`);
  const db = new Database(join(config, '..', 'gallery.db'));
  assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
  const rows = db.prepare('SELECT p.name, count(t.id) AS n FROM people p LEFT JOIN templates t ON t.person_id = p.id GROUP BY p.id').all() as { name: string; n: number }[];
  db.close();
  for (const r of rows) {
    // Everyone in the gallery is complete: a person printed as finished has exactly that many
    // templates. The kill lands within the single-photo people after the first two, so one that
    // committed before its line was read has its one template; none is partial.
    if (r.name in finished) assert.equal(r.n, finished[r.name], r.name);
    else {
      assert.equal(people[r.name]!.length, 1, `${r.name} committed unreported`);
      assert.equal(r.n, 1, r.name);
    }
  }
  for (const name of Object.keys(finished)) assert.ok(rows.some((r) => r.name === name), `${name} finished but missing`);

  // The user runs the import again: the people imported before the kill keep their templates once.
  const rerun = await cli(config, 'gallery', 'import', data, '--json');
  assert.equal(rerun.code, 0, rerun.stderr);
  const second = JSON.parse(rerun.stdout) as { people: { name: string; added: number; duplicates: number }[] };
  const db2 = new Database(join(config, '..', 'gallery.db'), { readonly: true });
  const after = new Map((db2.prepare('SELECT p.name, count(t.id) AS n FROM people p LEFT JOIN templates t ON t.person_id = p.id GROUP BY p.id').all() as { name: string; n: number }[]).map((r) => [r.name, r.n]));
  db2.close();
  for (const r of rows) {
    assert.equal(after.get(r.name), r.n, `${r.name}: templates doubled by the second import`);
    const s = second.people.find((p) => p.name === r.name)!;
    assert.deepEqual([s.added, s.duplicates], [0, r.n], r.name);
  }
  assert.equal(after.size, Object.keys(people).length, 'the second import did not finish the others');
});

test('door groups from the CLI; re-importing an export with groups sets them and adds no template; exports are 0600', async () => {
  const a = newConfig();
  await cli(a, 'enroll', 'audrey', photos.audrey!);
  assert.deepEqual(JSON.parse((await cli(a, 'gallery', 'groups', 'audrey', 'staff,night', '--json')).stdout), { name: 'audrey', groups: ['staff', 'night'] });
  assert.deepEqual(JSON.parse((await cli(a, 'gallery', 'groups', 'audrey', '--add', 'lobby', '--remove', 'night', '--json')).stdout).groups, ['staff', 'lobby']);
  assert.match((await cli(a, 'gallery', 'groups', 'audrey')).stdout, /audrey: groups staff,lobby/);
  const bad = await cli(a, 'gallery', 'groups', 'audrey', 'x', '--add', 'y');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /not both/);
  const file = join(work, 'groups-export.json');
  await cli(a, 'gallery', 'export', file);
  assert.equal(statSync(file).mode & 0o777, 0o600, 'export is readable by others');
  // Into a gallery that already has audrey (no groups): groups set, her template not doubled.
  const b = newConfig();
  await cli(b, 'enroll', 'audrey', photos.audrey!);
  const r = JSON.parse((await cli(b, 'gallery', 'import', file, '--json')).stdout) as { templates: number; duplicates: number };
  assert.deepEqual([r.templates, r.duplicates], [0, 1]);
  const list = JSON.parse((await cli(b, 'gallery', 'list', '--json')).stdout) as { name: string; groups: string[]; templates: number; uuid: string }[];
  assert.deepEqual(list.map((p) => [p.name, p.groups, p.templates]), [['audrey', ['staff', 'lobby'], 1]]);
  assert.match(list[0]!.uuid, /^[0-9a-f-]{36}$/);
  const dir = join(b, '..');
  for (const f of ['gallery.db', 'gallery.key']) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
});

test('bad input: empty folder, wrong model JSON, bad names give clear errors', async () => {
  const config = newConfig();
  const empty = mkdtempSync(join(work, 'empty-'));
  const r = await cli(config, 'gallery', 'import', empty);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /no person folders/);
  const notJson = join(work, 'x.json');
  writeFileSync(notJson, '{"format": "something else"}');
  assert.match((await cli(config, 'gallery', 'import', notJson)).stderr, /not a facegate gallery export/);
  assert.match((await cli(config, 'enroll', 'a/b', photos.audrey!)).stderr, /slash/);
  const notImage = join(work, 'notes.jpg');
  writeFileSync(notImage, 'text');
  const en = await cli(config, 'enroll', 'someone', notImage, '--json');
  assert.equal(en.code, 1);
  assert.match(en.stdout, /not a readable image/);
});

test('a model switch: templates of the old model are ignored, then re-embedded from kept crops', async () => {
  const config = newConfig('  keepCrops: true\n');
  await cli(config, 'enroll', 'audrey', photos.audrey!);
  writeFileSync(config, readFileSync(config, 'utf8').replace('models:\n', 'models:\n  precision: int8\n'));
  const before = await cli(config, 'identify', photos.audrey!, '--json');
  assert.equal(before.code, 1, 'identify against no templates of the model is an error');
  assert.match((JSON.parse(before.stdout) as { error: { message: string } }).error.message, /no templates of model mobilefacenet-int8: its 1 templates were made by mobilefacenet-fp32/);
  const list = await cli(config, 'gallery', 'list');
  assert.match(list.stdout, /made by model mobilefacenet-fp32, not the configured mobilefacenet-int8/);
  const re = JSON.parse((await cli(config, 'gallery', 'reembed', '--json')).stdout) as { reembedded: number };
  assert.equal(re.reembedded, 1);
  const after = JSON.parse((await cli(config, 'identify', photos.audrey!, '--json')).stdout) as { results: { faces: { identity: { name: string; score: number } }[] }[] };
  assert.equal(after.results[0]!.faces[0]!.identity.name, 'audrey');
  assert.ok(after.results[0]!.faces[0]!.identity.score > 0.9);
  assert.equal(JSON.parse((await cli(config, 'gallery', 'reembed', '--json')).stdout).reembedded, 0, 'reembed is not idempotent');
});

test('a negative template vetoes the person it names', async () => {
  const config = newConfig();
  await cli(config, 'enroll', 'franck', ...FRANCK_FRAMES.slice(0, 3).map((k) => photos[k]!));
  const probe = photos.franck_04117!;
  const first = JSON.parse((await cli(config, 'identify', probe, '--json')).stdout) as { results: { faces: { identity: { name: string | null; reason: string } }[] }[] };
  assert.equal(first.results[0]!.faces[0]!.identity.name, 'franck');
  await cli(config, 'gallery', 'negative', 'franck', probe, '--note', 'test');
  const second = JSON.parse((await cli(config, 'identify', probe, '--json')).stdout) as { results: { faces: { identity: { name: string | null; reason: string } }[] }[] };
  assert.equal(second.results[0]!.faces[0]!.identity.reason, 'negative-match');
});

test('calibrate writes a threshold into the config, keeping its other lines', async () => {
  const config = newConfig('# my door\n');
  const pairs = join(work, 'pairs.tsv');
  const same = FRANCK_FRAMES.flatMap((a, i) => FRANCK_FRAMES.slice(i + 1).map((b) => `${photos[a]}\t${photos[b]}\t1`));
  const others = ['audrey', 'cage', 'bieber_small', 'SeanConnery', 'kim1_crop', 'obama4_crop', 'chuck_crop'];
  const diff = [...FRANCK_FRAMES.map((f, i) => [f, others[i % others.length]!]), ...others.flatMap((a, i) => others.slice(i + 1).map((b) => [a, b]))].map(([a, b]) => `${photos[a!]}\t${photos[b!]}\t0`);
  writeFileSync(pairs, ['file_a\tfile_b\tsame', ...same, ...diff].join('\n'));
  const r = await cli(config, 'calibrate', '--pairs', pairs, '--far', '0.05', '--json');
  const out = JSON.parse(r.stdout) as { threshold: number; tar: number; measuredFar: number };
  assert.ok(out.measuredFar <= 0.05);
  const text = readFileSync(config, 'utf8');
  assert.match(text, /# my door/);
  assert.match(text, new RegExp(`threshold: ${out.threshold}`));
  const tooFew = await cli(config, 'calibrate', '--pairs', pairs, '--far', '1e-4');
  assert.equal(tooFew.code, 1);
  assert.match(tooFew.stderr, /cannot resolve a FAR/);
});

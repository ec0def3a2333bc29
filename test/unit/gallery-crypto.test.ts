// Biometric data at rest: encrypted in gallery.db and the device file, readable by the owner
// only, gone from the file when deleted, and a key rotation that never strands a row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { GalleryStore, keyFileFor } from '../../src/gallery/gallery-store.js';
import { devicePathFor } from '../../src/gallery/device-state.js';
import { MIGRATIONS } from '../../src/gallery/migrations.js';
import { createRng } from '../../src/util/rng.js';

const model = { id: 'test-model', sha256: 'a'.repeat(64) };

function unitVector(seed: number, dim = 192): Float32Array {
  const rng = createRng(seed);
  const v = Float32Array.from({ length: dim }, () => rng.normal());
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

const bytesOf = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

/** Every file SQLite may have written the gallery to. */
function rawBytes(dbPath: string): Buffer {
  return Buffer.concat([dbPath, `${dbPath}-wal`, `${dbPath}-shm`].filter((f) => existsSync(f)).map((f) => readFileSync(f)));
}

/** Any 32-byte run of the embedding (8 floats) anywhere in the files: a partial leak counts too. */
function leaks(haystack: Buffer, v: Float32Array): boolean {
  const b = bytesOf(v);
  for (let off = 0; off + 32 <= b.length; off += 32) if (haystack.includes(b.subarray(off, off + 32))) return true;
  return false;
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'facegate-crypto-'));
}

test('gallery.db holds no plaintext embedding: not in a column, not in the raw bytes of the file or its WAL', () => {
  const dir = tmp();
  const path = join(dir, 'gallery.db');
  const store = GalleryStore.open(path);
  const v = unitVector(1);
  const crop = Buffer.from('PNG-crop-bytes-that-must-not-show-'.repeat(4));
  store.addTemplates(store.ensurePerson('alice'), model, [{ embedding: v, quality: { faceSize: 120 }, source: 'cli', crop }]);
  store.addNegative(store.requirePerson('alice'), model, unitVector(2));
  // The search itself can fail: the same bytes are found in a plaintext copy.
  assert.ok(leaks(Buffer.concat([Buffer.from('x'), bytesOf(v)]), v));
  assert.ok(leaks(rawBytes(path), v) === false, 'embedding bytes in the WAL');
  assert.ok(!rawBytes(path).includes(crop.subarray(0, 32)), 'crop bytes in the WAL');
  // Read back through the API: the same values.
  assert.deepEqual(store.templatesOf(store.requirePerson('alice'))[0]!.embedding, v);
  assert.deepEqual(store.templatesOf(store.requirePerson('alice'))[0]!.crop, crop);
  store.close();
  assert.ok(!leaks(rawBytes(path), v), 'embedding bytes in the database file');
  assert.ok(!leaks(rawBytes(path), unitVector(2)), 'negative bytes in the database file');
  // Read it raw, as someone who copied the file would: the blob is not the float32 vector.
  const db = new Database(path, { readonly: true });
  const row = db.prepare('SELECT embedding, key_id, dim FROM templates').get() as { embedding: Buffer; key_id: string; dim: number };
  db.close();
  assert.notEqual(row.embedding.length, row.dim * 4);
  assert.match(row.key_id, /^[0-9a-f]{16}$/);
  // And with the sqlite3 command line: the hex of the blob does not contain the vector's hex.
  const hex = execFileSync('sqlite3', [path, 'SELECT hex(embedding) FROM templates; SELECT hex(embedding) FROM negatives;'], { encoding: 'utf8' });
  assert.ok(!hex.includes(bytesOf(v).subarray(0, 32).toString('hex').toUpperCase()));
});

test('gallery files, device file and key file are 0600 whatever the umask', () => {
  const dir = tmp();
  const path = join(dir, 'gallery.db');
  const old = process.umask(0o000);
  try {
    const store = GalleryStore.open(path);
    store.addTemplates(store.ensurePerson('bob'), model, [{ embedding: unitVector(3), quality: {}, source: 'cli' }]);
    store.device.addPending(model, [{ embedding: unitVector(4), quality: {}, source: 'camera' }], 'button');
    for (const f of [path, `${path}-wal`, `${path}-shm`, keyFileFor(path), devicePathFor(path), `${devicePathFor(path)}-wal`]) {
      assert.equal(statSync(f).mode & 0o777, 0o600, f);
    }
    store.close();
  } finally {
    process.umask(old);
  }
  assert.equal(keyFileFor(path), join(dir, 'gallery.key'));
  assert.equal(devicePathFor(path), join(dir, 'gallery.device.db'));
});

test('a deleted person is gone from the file: secure_delete overwrites the encrypted rows too', () => {
  const dir = tmp();
  const path = join(dir, 'gallery.db');
  const store = GalleryStore.open(path);
  store.addTemplates(store.ensurePerson('carol'), model, [{ embedding: unitVector(5), quality: {}, source: 'cli' }]);
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  const cipher = (store.db.prepare('SELECT embedding FROM templates').get() as { embedding: Buffer }).embedding;
  assert.ok(readFileSync(path).includes(cipher.subarray(0, 48)), 'the ciphertext should be in the file before the deletion');
  const uuid = store.requirePerson('carol').uuid;
  store.removePerson('carol');
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  assert.ok(!rawBytes(path).includes(cipher.subarray(0, 48)), 'deleted ciphertext still in the file');
  assert.deepEqual(store.tombstones().map((t) => t.uuid), [uuid]);
  store.close();
});

test('rekey re-encrypts every row (pending captures too) under a new key and drops the old one from the key file', () => {
  const dir = tmp();
  const path = join(dir, 'gallery.db');
  const store = GalleryStore.open(path);
  const v = unitVector(6);
  store.addTemplates(store.ensurePerson('dave'), model, [{ embedding: v, quality: {}, source: 'cli', crop: Buffer.from('crop') }]);
  store.addNegative(store.requirePerson('dave'), model, unitVector(7));
  const pendingId = store.device.addPending(model, [{ embedding: unitVector(8), quality: {}, source: 'camera' }], 'button');
  const oldKey = readFileSync(keyFileFor(path), 'utf8').trim();
  const oldId = store.keys.current().id;
  const r = store.rekey(store.device);
  assert.equal(r.rows, 3);
  assert.notEqual(r.keyId, oldId);
  const keyText = readFileSync(keyFileFor(path), 'utf8');
  assert.ok(!keyText.includes(oldKey), 'old key still in the key file');
  assert.equal(keyText.trim().split('\n').length, 1);
  assert.equal(statSync(keyFileFor(path)).mode & 0o777, 0o600);
  const ids = (store.db.prepare('SELECT key_id FROM templates UNION SELECT key_id FROM negatives').all() as { key_id: string }[]).map((x) => x.key_id);
  assert.deepEqual(ids, [r.keyId]);
  store.close();
  // A fresh process (new key ring from the file) reads everything back.
  const again = GalleryStore.open(path);
  assert.deepEqual(again.templatesOf(again.requirePerson('dave'))[0]!.embedding, v);
  assert.deepEqual(again.device.pendingTemplates(pendingId)[0]!.template.embedding, unitVector(8));
  assert.equal((again.device.db.prepare('SELECT key_id FROM pending_templates').get() as { key_id: string }).key_id, r.keyId);
  again.close();
});

test('a reader that holds the old key picks up a rotation made by another process', () => {
  const dir = tmp();
  const path = join(dir, 'gallery.db');
  const daemon = GalleryStore.open(path);
  daemon.addTemplates(daemon.ensurePerson('erin'), model, [{ embedding: unitVector(9), quality: {}, source: 'cli' }]);
  const cli = GalleryStore.open(path);
  cli.rekey(cli.device);
  cli.close();
  assert.deepEqual(daemon.matrixFor(model).vectors, unitVector(9));
  // Its next write uses the new key, not the one it started with.
  daemon.addTemplates(daemon.requirePerson('erin'), model, [{ embedding: unitVector(10), quality: {}, source: 'cli' }]);
  assert.equal(new Set((daemon.db.prepare('SELECT key_id FROM templates').all() as { key_id: string }[]).map((x) => x.key_id)).size, 1);
  daemon.close();
});

test('the wrong key file, a loose key file and a blob moved to another row are refused with what to do', () => {
  const dir = tmp();
  const path = join(dir, 'gallery.db');
  const store = GalleryStore.open(path);
  store.addTemplates(store.ensurePerson('fay'), model, [
    { embedding: unitVector(11), quality: {}, source: 'cli' },
    { embedding: unitVector(12), quality: {}, source: 'cli' },
  ]);
  const [a, b] = store.db.prepare('SELECT id, embedding FROM templates ORDER BY id').all() as { id: number; embedding: Buffer }[];
  store.db.prepare('UPDATE templates SET embedding = ? WHERE id = ?').run(b!.embedding, a!.id);
  assert.throws(() => store.matrixFor(model), /altered or belongs to another row/);
  store.close();
  const other = join(dir, 'other.key');
  writeFileSync(other, `${'ab'.repeat(32)}\n`, { mode: 0o600 });
  assert.throws(() => GalleryStore.open(path, { keyFile: other }).matrixFor(model), /no key [0-9a-f]{16} in .*other\.key/);
  writeFileSync(join(dir, 'loose.key'), `${'cd'.repeat(32)}\n`, { mode: 0o644 });
  assert.throws(() => GalleryStore.open(join(dir, 'g2.db'), { keyFile: join(dir, 'loose.key') }), /readable by others.*chmod 600/);
});

test('schema 2 galleries migrate: UUIDs and versions backfilled, plaintext encrypted, device rows moved out of gallery.db', () => {
  const dir = tmp();
  const path = join(dir, 'gallery.db');
  const v2 = new Database(path);
  for (const m of MIGRATIONS.filter((x) => x.version <= 2)) v2.exec(m.sql);
  v2.pragma('user_version = 2');
  const t = '2026-01-01T00:00:00.000Z';
  const v = unitVector(13);
  v2.prepare('INSERT INTO people (name, groups, created_at, updated_at) VALUES (?, ?, ?, ?)').run('gus', '["staff"]', t, t);
  v2.prepare("INSERT INTO templates (person_id, model_id, model_sha, dim, embedding, quality, source, created_at) VALUES (1, ?, ?, ?, ?, '{}', 'cli', ?)").run(model.id, model.sha256, v.length, bytesOf(v), t);
  v2.prepare('INSERT INTO pending (created_at, source) VALUES (?, ?)').run(t, 'button');
  v2.prepare("INSERT INTO pending_templates (pending_id, model_id, model_sha, dim, embedding, quality) VALUES (1, ?, ?, ?, ?, '{}')").run(model.id, model.sha256, v.length, bytesOf(unitVector(14)));
  v2.prepare("INSERT INTO settings (key, value, updated_at) VALUES ('armed_enrollment', ?, ?)").run(JSON.stringify({ name: 'hal', expiresAt: '2100-01-01T00:00:00.000Z' }), t);
  v2.close();
  assert.ok(leaks(rawBytes(path), v), 'the schema 2 file should hold the plaintext (else this test proves nothing)');

  const store = GalleryStore.open(path);
  assert.equal(store.schemaVersion, 3);
  const gus = store.requirePerson('gus');
  assert.match(gus.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.match(gus.version, new RegExp(`^${String(Date.parse(t)).padStart(15, '0')}-00000-${store.nodeId}$`));
  assert.deepEqual(gus.groups, ['staff']);
  assert.deepEqual(store.templatesOf(gus)[0]!.embedding, v);
  assert.match(store.templatesOf(gus)[0]!.uuid, /^[0-9a-f-]{36}$/);
  const pending = store.device.listPending();
  assert.equal(pending.length, 1);
  assert.deepEqual(store.device.pendingTemplates(pending[0]!.id)[0]!.template.embedding, unitVector(14));
  assert.equal(store.device.takeArmedEnrollment(), 'hal');
  assert.equal((store.db.prepare('SELECT count(*) AS n FROM pending').get() as { n: number }).n, 0);
  assert.equal((store.db.prepare("SELECT count(*) AS n FROM settings WHERE key = 'armed_enrollment'").get() as { n: number }).n, 0);
  store.close();
  assert.ok(!leaks(rawBytes(path), v), 'plaintext template left in gallery.db after the migration');
  assert.ok(!leaks(rawBytes(path), unitVector(14)), 'plaintext pending template left in gallery.db after the move');
  assert.ok(!leaks(rawBytes(devicePathFor(path)), unitVector(14)), 'plaintext pending template in the device file');
  // Opening again changes nothing (the move is not redone).
  const again = GalleryStore.open(path);
  assert.equal(again.device.listPending().length, 1);
  again.close();
});

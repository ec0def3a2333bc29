// Bad input never crashes a batch: every file gets a result or a clear error of its own.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cv } from '../../src/vision/opencv.js';
import { REPO_ROOT } from '../../src/paths.js';
import { requireModels, samplePhotos } from '../helpers/models.js';

const run = promisify(execFile);
let dir: string;
const files: Record<string, string> = {};

before(async () => {
  requireModels();
  const photos = await samplePhotos();
  dir = mkdtempSync(join(tmpdir(), 'facegate-bad-'));
  const jpeg = readFileSync(photos.audrey!);
  const bgr = cv.imread(photos.audrey!);
  const put = (name: string, bytes: Buffer | Uint8Array) => {
    files[name] = join(dir, name);
    writeFileSync(files[name]!, bytes);
  };
  put('good.jpg', jpeg);
  put('not-an-image.jpg', Buffer.from('this is a text file, not a JPEG\n'));
  put('empty.png', Buffer.alloc(0));
  put('truncated.jpg', jpeg.subarray(0, Math.floor(jpeg.length / 2)));
  put('one-pixel.png', cv.imencode('.png', new cv.Mat(1, 1, cv.CV_8UC3, [200, 100, 50])));
  put('grey.png', cv.imencode('.png', bgr.cvtColor(cv.COLOR_BGR2GRAY)));
  put('rgba.png', cv.imencode('.png', bgr.cvtColor(cv.COLOR_BGR2BGRA)));
  // A 20000x20000 JPEG header: the size is refused from the header, before anything is decoded.
  const huge = Buffer.from(jpeg);
  for (let i = 2; i + 9 < huge.length; ) {
    const marker = huge[i + 1]!;
    if (marker >= 0xc0 && marker <= 0xc2) {
      huge.writeUInt16BE(20000, i + 5);
      huge.writeUInt16BE(20000, i + 7);
      break;
    }
    i += 2 + huge.readUInt16BE(i + 2);
  }
  put('huge.jpg', huge);
});

test('detect over a batch of bad files: per-file errors, good files still detected, exit code 1', async () => {
  const order = ['good.jpg', 'not-an-image.jpg', 'empty.png', 'truncated.jpg', 'one-pixel.png', 'grey.png', 'rgba.png', 'huge.jpg', 'missing.jpg'];
  const args = ['bin/facegate.js', 'detect', '--json', ...order.map((n) => files[n] ?? join(dir, n))];
  const res = await run('node', args, { cwd: REPO_ROOT }).then(
    () => assert.fail('expected exit code 1'),
    (err: { code: number; stdout: string }) => err,
  );
  assert.equal(res.code, 1);
  const out = JSON.parse(res.stdout) as { file: string; faces?: unknown[]; error?: string }[];
  assert.equal(out.length, order.length);
  const by = Object.fromEntries(out.map((r, i) => [order[i]!, r]));
  assert.equal(by['good.jpg']!.faces!.length, 1);
  assert.match(by['not-an-image.jpg']!.error!, /not a readable image/);
  assert.match(by['empty.png']!.error!, /empty file/);
  assert.match(by['truncated.jpg']!.error!, /truncated JPEG/);
  assert.deepEqual(by['one-pixel.png']!.faces, []);
  // Greyscale is read as three channels and alpha is dropped: the same face is found.
  const [gx, gy, gw, gh] = (by['good.jpg']!.faces![0] as { box: number[] }).box as [number, number, number, number];
  for (const name of ['grey.png', 'rgba.png']) {
    const centres = (by[name]!.faces as { box: number[] }[]).map((f) => [f.box[0]! + f.box[2]! / 2, f.box[1]! + f.box[3]! / 2]);
    assert.ok(centres.some(([x, y]) => x! > gx && x! < gx + gw && y! > gy && y! < gy + gh), `${name}: face not found`);
  }
  assert.match(by['huge.jpg']!.error!, /20000x20000.*limit/);
  assert.match(by['missing.jpg']!.error!, /file not found/);
});

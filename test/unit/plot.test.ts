import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cv } from '../../src/vision/opencv.js';
import {
  ROC_COLOURS,
  density,
  farAxisMin,
  logTicks,
  rocPoints,
  verificationScene,
  writeVerificationPlot,
  type VerificationPlotData,
} from '../../src/eval/plot.js';

/** Deterministic scores: a genuine cluster near 0.6 and a large impostor cluster near 0.1. */
function syntheticData(): VerificationPlotData {
  let seed = 7;
  const uniform = () => (seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32;
  const normal = () => Math.sqrt(-2 * Math.log(uniform() + 1e-12)) * Math.cos(2 * Math.PI * uniform());
  const genuine = Array.from({ length: 200 }, () => Math.min(1, 0.6 + 0.12 * normal()));
  const impostor = Array.from({ length: 5000 }, () => 0.1 + 0.1 * normal());
  // 30 points spread over the log FAR axis, plus FAR = 0, which a log axis cannot show.
  const far = [0, ...Array.from({ length: 30 }, (_, i) => 10 ** (-4 + (4 * i) / 29))];
  const tar = far.map((f) => Math.min(1, 0.7 + 0.3 * Math.pow(f, 0.3)));
  return {
    roc: [
      { far, tar, label: 'fp32' },
      { far: far.slice(1), tar: tar.slice(1).map((t) => t * 0.9), label: 'int8' },
    ],
    genuine,
    impostor,
    title: 'Synthetic <wild> & co',
    thresholds: [{ value: 0.35, label: 't=0.35' }],
  };
}

/** Start/end tags must nest; self-closing tags and the text between them are ignored. */
function assertBalancedTags(xml: string): void {
  const stack: string[] = [];
  for (const m of xml.matchAll(/<(\/?)([a-zA-Z][\w-]*)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = m;
    if (selfClosing) continue;
    if (closing) assert.equal(stack.pop(), name, `</${name}> closes the wrong element`);
    else stack.push(name!);
  }
  assert.deepEqual(stack, [], 'unclosed elements');
}

test('SVG: well-formed, escaped title, one ROC polyline per curve with every FAR > 0 point', () => {
  const dir = mkdtempSync(join(tmpdir(), 'facegate-plot-'));
  try {
    const data = syntheticData();
    const path = join(dir, 'nested', 'plot.svg');
    writeVerificationPlot(path, data);
    const svg = readFileSync(path, 'utf8');
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assertBalancedTags(svg);
    assert.ok(svg.includes('Synthetic &lt;wild&gt; &amp; co'), 'title text, escaped');
    assert.doesNotMatch(svg.replace(/&(lt|gt|amp|quot|apos);/g, ''), /&/, 'no raw ampersands');

    const curves = /<g id="roc-curves">([\s\S]*?)<\/g>/.exec(svg)?.[1] ?? '';
    const polylines = [...curves.matchAll(/<polyline points="([^"]*)"[^>]*stroke="([^"]*)"/g)];
    assert.equal(polylines.length, 2);
    for (const [i, curve] of data.roc.entries()) {
      const pts = polylines[i]![1]!.split(' ');
      assert.equal(pts.length, curve.far.filter((f) => f > 0).length, `points of ${curve.label}`);
      for (const p of pts) assert.match(p, /^-?[\d.]+,-?[\d.]+$/);
    }
    assert.equal(polylines[0]![2], '#0072b2');
    assert.match(svg, /<text[^>]*>t=0\.35<\/text>/);
    assert.match(svg, /<polygon points="[^"]+" fill="#009e73"/, 'genuine histogram');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('PNG: loads back at the scene size, not blank, ROC colour in the left panel', () => {
  const dir = mkdtempSync(join(tmpdir(), 'facegate-plot-'));
  try {
    const data = syntheticData();
    const path = join(dir, 'plot.png');
    writeVerificationPlot(path, data);
    const img = cv.imread(path);
    const scene = verificationScene(data);
    assert.equal(img.cols, scene.width);
    assert.equal(img.rows, scene.height);
    assert.equal(img.channels, 3);
    const grey = img.cvtColor(cv.COLOR_BGR2GRAY);
    const sd = grey.meanStdDev().stddev.at(0, 0);
    assert.ok(sd > 0, 'pixel variance');

    // imread gives BGR; the ROC's first colour is RGB (0, 114, 178). Anti-aliasing blurs edges only.
    const [r, g, b] = ROC_COLOURS[0]!;
    const tol = 12;
    const mask = img.inRange(new cv.Vec3(b - tol, g - tol, r - tol), new cv.Vec3(b + tol, g + tol, r + tol));
    const left = mask.getRegion(new cv.Rect(0, 0, img.cols / 2, img.rows)).countNonZero();
    const right = mask.getRegion(new cv.Rect(img.cols / 2, 0, img.cols / 2, img.rows)).countNonZero();
    assert.ok(left > 200, `${left} ROC-coloured pixels in the left panel`);
    assert.equal(right, 0, 'the ROC colour is not used in the histogram panel');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('unknown extensions are refused before anything is written', () => {
  const data = syntheticData();
  assert.throws(() => writeVerificationPlot('/nonexistent/plot.jpg', data), /must end in \.svg or \.png/);
  assert.throws(() => writeVerificationPlot('/nonexistent/plot', data), /must end in \.svg or \.png/);
});

test('axis and histogram helpers', () => {
  assert.deepEqual(
    logTicks(1e-4, 1).filter((t) => t.label).map((t) => t.label),
    ['1e-4', '1e-3', '0.01', '0.1', '1'],
  );
  assert.equal(farAxisMin([{ far: [0, 0.01, 1], tar: [0, 0.5, 1], label: '' }]), 1e-4);
  assert.equal(farAxisMin([{ far: [0, 3e-6, 1], tar: [0, 0.5, 1], label: '' }]), 1e-6);
  // Densities integrate to one whatever the sample size.
  for (const n of [3, 1000]) {
    const d = density(Array.from({ length: n }, (_, i) => -0.5 + i / n), -1, 1, 40);
    assert.ok(Math.abs(d.reduce((a, b) => a + b, 0) * (2 / 40) - 1) < 1e-9);
  }
  assert.deepEqual(rocPoints([0.5, 0, 0.1], [0.9, 0.2, 0.6]), [[0.1, 0.6], [0.5, 0.9]]);
  assert.throws(() => rocPoints([0.1], []), /1 FAR values but 0 TAR/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { landmarkPose, primaryFace, sharpness } from '../../src/vision/quality.js';
import { ARCFACE_112_TEMPLATE, type Point } from '../../src/vision/align/similarity.js';
import type { DetectedFace } from '../../src/vision/detection/face-detector.js';
import { cv } from '../../src/vision/opencv.js';
import { loadImage } from '../../src/vision/image.js';
import { samplePhotos } from '../helpers/models.js';

const rotate = (pts: Point[], deg: number): Point[] => {
  const a = (deg * Math.PI) / 180;
  return pts.map(([x, y]) => [x * Math.cos(a) - y * Math.sin(a), x * Math.sin(a) + y * Math.cos(a)]);
};

test('the alignment template is frontal: no roll, no yaw, nose half-way down', () => {
  const p = landmarkPose(ARCFACE_112_TEMPLATE);
  assert.ok(Math.abs(p.rollDeg) < 0.5);
  assert.ok(Math.abs(p.yaw) < 0.02);
  assert.ok(Math.abs(p.pitch - 0.5) < 0.1);
  assert.ok(p.frontalness > 0.8);
});

test('roll is measured and does not change yaw or frontalness', () => {
  const p = landmarkPose(rotate(ARCFACE_112_TEMPLATE, 25));
  assert.ok(Math.abs(p.rollDeg - landmarkPose(ARCFACE_112_TEMPLATE).rollDeg - 25) < 1e-6);
  assert.ok(Math.abs(p.frontalness - landmarkPose(ARCFACE_112_TEMPLATE).frontalness) < 1e-9);
});

test('a nose moved toward one eye reads as yaw and lowers frontalness to 0 at profile', () => {
  const turned = ARCFACE_112_TEMPLATE.map((p, i): Point => (i === 2 ? [p[0] + 14, p[1]] : p));
  const profile = ARCFACE_112_TEMPLATE.map((p, i): Point => (i === 2 ? [p[0] + 30, p[1]] : p));
  const a = landmarkPose(turned), b = landmarkPose(profile);
  assert.ok(a.yaw > 0.3 && a.frontalness < 0.5 && a.frontalness > 0);
  assert.equal(b.frontalness, 0);
});

test('sharpness drops when the same face is blurred', async () => {
  const img = loadImage((await samplePhotos()).audrey!);
  const crop = img.mat.getRegion(new cv.Rect(160, 140, 250, 250)).resize(112, 112);
  const blurred = crop.gaussianBlur(new cv.Size(7, 7), 2.5);
  assert.ok(sharpness(crop) > 3 * sharpness(blurred), `${sharpness(crop)} vs ${sharpness(blurred)}`);
});

const face = (x: number, y: number, w: number): DetectedFace => ({ box: [x, y, w, w], score: 1, landmarks: [[0, 0], [0, 0], [0, 0], [0, 0], [0, 0]] });

test('primary face: most central among faces at least half the largest area', () => {
  // A small central false positive loses to the subject; a large off-centre bystander loses to a central subject of similar size.
  assert.equal(primaryFace([face(10, 10, 100), face(195, 195, 10)], 400, 400), 0);
  assert.equal(primaryFace([face(0, 0, 120), face(150, 150, 100)], 400, 400), 1);
  assert.equal(primaryFace([], 400, 400), -1);
});

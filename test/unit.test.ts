// The light tests, one process for all: each file in test/unit/ tests one component (a pure core,
// or a shell with no broker, browser, daemon or heavy model work) and also runs alone
// (`node --import tsx --test test/unit/gpio.test.ts`). Together they save a process start each:
// about 0.8 s of CPU for Node, tsx, OpenCV and ONNX Runtime, which was a fifth of the suite.
// Static imports, so every file's tests and hooks are registered before the first one runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import './unit/alignment.test.js';
import './unit/bench.test.js';
import './unit/config.test.js';
import './unit/daemon-core.test.js';
import './unit/detection-eval.test.js';
import './unit/enrollment.test.js';
import './unit/event-log.test.js';
import './unit/fake-clock.test.js';
import './unit/fleet-merge.test.js';
import './unit/frame-source.test.js';
import './unit/gallery-crypto.test.js';
import './unit/gpio.test.js';
import './unit/health-server.test.js';
import './unit/liveness-core.test.js';
import './unit/model-set.test.js';
import './unit/model-sources.test.js';
import './unit/mqtt.test.js';
import './unit/mtcnn-geometry.test.js';
import './unit/onnx-session.test.js';
import './unit/plot.test.js';
import './unit/preflight.test.js';
import './unit/quality.test.js';
import './unit/recognition-core.test.js';
import './unit/search-index.test.js';
import './unit/track-loop.test.js';
import './unit/verification-metrics.test.js';
import './unit/web-api.test.js';

const IMPORTED = [
  'alignment',
  'bench',
  'config',
  'daemon-core',
  'detection-eval',
  'enrollment',
  'event-log',
  'fake-clock',
  'fleet-merge',
  'frame-source',
  'gallery-crypto',
  'gpio',
  'health-server',
  'liveness-core',
  'model-set',
  'model-sources',
  'mqtt',
  'mtcnn-geometry',
  'onnx-session',
  'plot',
  'preflight',
  'quality',
  'recognition-core',
  'search-index',
  'track-loop',
  'verification-metrics',
  'web-api',
];

test('every file in test/unit/ is run by this one', () => {
  const files = readdirSync(new URL('./unit/', import.meta.url)).filter((f) => f.endsWith('.test.ts')).map((f) => f.replace(/\.test\.ts$/, ''));
  assert.deepEqual(files.sort(), [...IMPORTED].sort(), 'add the new file to the imports in test/unit.test.ts');
});

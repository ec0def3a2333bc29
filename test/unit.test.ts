// The light tests in one process (test/helpers/test-group.ts): each file in test/unit/ tests one
// component, a pure core or a shell with no broker, browser, daemon or heavy model work.
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
import './unit/web-live.test.js';
import { checkGroup } from './helpers/test-group.js';

checkGroup(new URL('./unit/', import.meta.url), ['alignment', 'bench', 'config', 'daemon-core', 'detection-eval', 'enrollment', 'event-log', 'fake-clock', 'fleet-merge', 'frame-source', 'gallery-crypto', 'gpio', 'health-server', 'liveness-core', 'model-set', 'model-sources', 'mqtt', 'mtcnn-geometry', 'onnx-session', 'plot', 'preflight', 'quality', 'recognition-core', 'search-index', 'track-loop', 'verification-metrics', 'web-api', 'web-live']);

// Door camera replays in one process (test/helpers/test-group.ts): the recognition loop and the
// liveness check on frames composed from the real photos in ../shared, with injected frame times.
import './replay/liveness-replay.test.js';
import './replay/replay.test.js';
import { checkGroup } from './helpers/test-group.js';

checkGroup(new URL('./replay/', import.meta.url), ['liveness-replay', 'replay']);

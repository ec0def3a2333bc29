// The command line in one process (test/helpers/test-group.ts): facegate's commands as a user runs
// them, mostly in-process (test/helpers/cli.ts), on real models and files.
import './commands/bad-images.test.js';
import './commands/cli.test.js';
import './commands/liveness-cli.test.js';
import './commands/web-cli.test.js';
import { checkGroup } from './helpers/test-group.js';

checkGroup(new URL('./commands/', import.meta.url), ['bad-images', 'cli', 'liveness-cli', 'web-cli']);

// The daemon in this process, in one process (test/helpers/test-group.ts): the real components on
// a manual clock or a scripted camera, systemd's socket, button enrollment, fleet sync between two.
import './daemon/daemon.test.js';
import './daemon/daemon-inprocess.test.js';
import './daemon/fleet-daemons.test.js';
import { checkGroup } from './helpers/test-group.js';

checkGroup(new URL('./daemon/', import.meta.url), ['daemon', 'daemon-inprocess', 'fleet-daemons']);

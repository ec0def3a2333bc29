// What the system does to the daemon, in one process (test/helpers/test-group.ts): signals to a
// spawned daemon, systemd's notify socket, SIGKILLs and broker restarts against the event log.
import './system/daemon-signals.test.js';
import './system/mqtt-delivery.test.js';
import './system/systemd-notifier.test.js';
import { checkGroup } from './helpers/test-group.js';

checkGroup(new URL('./system/', import.meta.url), ['daemon-signals', 'mqtt-delivery', 'systemd-notifier']);

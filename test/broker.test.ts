// The MQTT bridge and fleet sync on real mosquittos, in one process (test/helpers/test-group.ts):
// fuzzed requests, Home Assistant, partitions and forged records.
import './broker/fleet.test.js';
import './broker/home-assistant.test.js';
import './broker/mqtt-fuzz.test.js';
import { checkGroup } from './helpers/test-group.js';

checkGroup(new URL('./broker/', import.meta.url), ['fleet', 'home-assistant', 'mqtt-fuzz']);

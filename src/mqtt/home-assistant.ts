// Home Assistant MQTT discovery: one device per facegate with a lock per door, a sensor for the
// last recognised person and a camera connectivity sensor, all unavailable while the daemon is
// offline. Removing an entity is an empty retained config on its topic.
// Home Assistant cannot sign requests, so the lock's unlock button sends an unsigned `unlock`,
// which the daemon refuses like any other: the lock shows the door's state, and opening a door
// takes a signed request (README: MQTT, Home Assistant).
import type { Topics } from './contract.js';

export interface DiscoveryInput {
  prefix: string;
  device: string;
  doors: string[];
  software: string;
  topics: Topics;
}

export interface DiscoveryMessage {
  topic: string;
  config: Record<string, unknown>;
}

export function nodeId(device: string): string {
  return `facegate_${device}`;
}

/** Every config topic of this device, whatever entities it has now: what a removal sweeps. */
export function discoveryFilter(prefix: string, device: string): string {
  return `${prefix}/+/${nodeId(device)}/+/config`;
}

export function discoveryMessages(input: DiscoveryInput): DiscoveryMessage[] {
  const node = nodeId(input.device);
  const common = {
    availability_topic: input.topics.status,
    payload_available: 'online',
    payload_not_available: 'offline',
    device: { identifiers: [node], name: `facegate ${input.device}`, manufacturer: 'facegate', model: 'face-recognition door controller', sw_version: input.software },
    origin: { name: 'facegate', sw_version: input.software },
  };
  const topic = (component: string, object: string) => `${input.prefix}/${component}/${node}/${object}/config`;
  return [
    ...input.doors.map((door) => ({
      topic: topic('lock', `door_${door}`),
      config: {
        ...common,
        name: `Door ${door}`,
        unique_id: `${node}_door_${door}`,
        state_topic: input.topics.door(door),
        state_locked: 'locked',
        state_unlocked: 'unlocked',
        command_topic: input.topics.request('unlock'),
        // Refused (unsigned): see the top of this file.
        payload_unlock: JSON.stringify({ door, transaction: 'home-assistant' }),
        payload_lock: 'LOCK',
        optimistic: false,
        qos: 1,
      },
    })),
    {
      topic: topic('sensor', 'last_person'),
      config: {
        ...common,
        name: 'Last person',
        unique_id: `${node}_last_person`,
        state_topic: input.topics.lastPerson,
        value_template: '{{ value_json.name }}',
        json_attributes_topic: input.topics.lastPerson,
        icon: 'mdi:face-recognition',
      },
    },
    {
      topic: topic('binary_sensor', 'camera'),
      config: {
        ...common,
        name: 'Camera',
        unique_id: `${node}_camera`,
        device_class: 'connectivity',
        entity_category: 'diagnostic',
        state_topic: input.topics.state,
        value_template: "{{ 'ON' if value_json.camera.state == 'streaming' else 'OFF' }}",
        payload_on: 'ON',
        payload_off: 'OFF',
      },
    },
  ];
}

// Home Assistant MQTT discovery: one device per facegate, all entities unavailable while the daemon
// is offline. Removing an entity is an empty retained config on its topic.
// - a lock per door: Home Assistant cannot sign requests, so its lock has a topic of its own
//   (`ha/door/<door>/set`) and sends the code typed into its keypad (code_format, command_template);
//   Unlock and Open pulse the strike when the code matches the hash in the config (ha-code.ts);
//   Lock changes nothing (the strike locks itself) and re-sends the door state.
// - an event entity for recognitions, an image of the last recognised face, sensors for the last
//   person, the last unknown visitor and the last time anyone was seen, a camera connectivity
//   sensor, diagnostics (fps, gallery size, outbox), and a button that captures a *pending* face
//   (nobody's: it opens nothing until an admin names it).
import type { DecisionReason } from '../recognition/door-policy.js';
import { HaLockCommandPayload, type Topics } from './contract.js';
import { jsonNestingDepth } from './commands.js';

export interface DiscoveryInput {
  prefix: string;
  device: string;
  doors: string[];
  software: string;
  topics: Topics;
  /** Home Assistant's code_format for the lock keypad. */
  codeFormat: string;
  /** Announce the pending-capture button (the daemon handles presses). */
  capturePending: boolean;
  /** The device page's "Visit" link (the web console). */
  webUrl?: string;
}

export interface DiscoveryMessage {
  topic: string;
  config: Record<string, unknown>;
}

/** Every decision reason, in the event entity's event_types: a new reason must be added here. */
const EVENT_TYPES: Record<DecisionReason, true> = { granted: true, 'denied-unknown': true, 'denied-not-allowed': true, 'denied-quality': true, 'denied-stranger-present': true, 'denied-spoof': true };

export const LOCK_PAYLOADS = { lock: 'LOCK', unlock: 'UNLOCK', open: 'OPEN' } as const;

/** Jinja for Home Assistant: `code` is None without a keypad entry, and tojson quotes it safely. */
export const LOCK_COMMAND_TEMPLATE = '{"action": "{{ value }}", "code": {{ code | tojson }}}';

export function nodeId(device: string): string {
  return `facegate_${device}`;
}

/** Every config topic of this device, whatever entities it has now: what a removal sweeps. */
export function discoveryFilter(prefix: string, device: string): string {
  return `${prefix}/+/${nodeId(device)}/+/config`;
}

/** Home Assistant's birth and last-will topic: `online` there means it (re)started and wants discovery again. */
export function birthTopic(prefix: string): string {
  return `${prefix}/status`;
}

export function discoveryMessages(input: DiscoveryInput): DiscoveryMessage[] {
  const node = nodeId(input.device);
  const t = input.topics;
  const common = {
    availability_topic: t.status,
    payload_available: 'online',
    payload_not_available: 'offline',
    device: {
      identifiers: [node],
      name: `facegate ${input.device}`,
      manufacturer: 'facegate',
      model: 'face-recognition door controller',
      sw_version: input.software,
      ...(input.webUrl ? { configuration_url: input.webUrl } : {}),
    },
    origin: { name: 'facegate', sw_version: input.software },
  };
  const topic = (component: string, object: string) => `${input.prefix}/${component}/${node}/${object}/config`;
  const entity = (component: string, object: string, config: Record<string, unknown>): DiscoveryMessage => ({ topic: topic(component, object), config: { ...common, unique_id: `${node}_${object}`, ...config } });
  const diagnostic = (object: string, name: string, valueTemplate: string, extra: Record<string, unknown>) =>
    entity('sensor', object, { name, state_topic: t.state, value_template: valueTemplate, entity_category: 'diagnostic', state_class: 'measurement', ...extra });
  return [
    ...input.doors.map((door) =>
      entity('lock', `door_${door}`, {
        name: `Door ${door}`,
        state_topic: t.door(door),
        state_locked: 'locked',
        state_unlocked: 'unlocked',
        command_topic: t.ha.lockCommand(door),
        command_template: LOCK_COMMAND_TEMPLATE,
        code_format: input.codeFormat,
        payload_lock: LOCK_PAYLOADS.lock,
        payload_unlock: LOCK_PAYLOADS.unlock,
        payload_open: LOCK_PAYLOADS.open,
        optimistic: false,
        retain: false,
        qos: 1,
      }),
    ),
    entity('event', 'recognition', {
      name: 'Recognition',
      state_topic: t.ha.recognition,
      event_types: Object.keys(EVENT_TYPES),
      icon: 'mdi:face-recognition',
    }),
    entity('image', 'last_face', { name: 'Last face', image_topic: t.ha.lastFace, content_type: 'image/jpeg' }),
    entity('sensor', 'last_person', {
      name: 'Last person',
      state_topic: t.lastPerson,
      value_template: '{{ value_json.name }}',
      json_attributes_topic: t.lastPerson,
      icon: 'mdi:account-check',
    }),
    entity('sensor', 'last_seen', { name: 'Last seen', state_topic: t.lastPerson, value_template: '{{ value_json.time }}', device_class: 'timestamp' }),
    entity('sensor', 'last_unknown', {
      name: 'Last unknown visitor',
      state_topic: t.ha.lastUnknown,
      value_template: '{{ value_json.time }}',
      json_attributes_topic: t.ha.lastUnknown,
      device_class: 'timestamp',
      icon: 'mdi:account-question',
    }),
    entity('binary_sensor', 'camera', {
      name: 'Camera',
      device_class: 'connectivity',
      entity_category: 'diagnostic',
      state_topic: t.state,
      value_template: "{{ 'ON' if value_json.camera.state == 'streaming' else 'OFF' }}",
      payload_on: 'ON',
      payload_off: 'OFF',
    }),
    diagnostic('fps', 'Frames per second', '{{ value_json.camera.fps }}', { unit_of_measurement: 'fps', icon: 'mdi:speedometer' }),
    diagnostic('gallery_people', 'Enrolled people', '{{ value_json.gallery.people }}', { icon: 'mdi:account-group' }),
    diagnostic('outbox_pending', 'Events waiting for the broker', '{{ value_json.outbox.pending }}', { icon: 'mdi:tray-full' }),
    ...(input.capturePending
      ? [entity('button', 'capture_pending', { name: 'Capture a face (pending)', command_topic: t.ha.capturePending, payload_press: 'PRESS', icon: 'mdi:account-plus', retain: false, qos: 1 })]
      : []),
  ];
}

export type LockCommand = { action: 'LOCK' | 'UNLOCK' | 'OPEN'; code: string | null };

/**
 * What Home Assistant's lock sent: the command template's JSON, or a bare LOCK/UNLOCK/OPEN (a lock
 * configured by hand without the template: no code, so Unlock is refused). Null for anything else.
 */
export function parseLockCommand(payload: Buffer): LockCommand | null {
  if (payload.length > 1024) return null;
  const text = payload.toString('utf8').trim();
  if (text === 'LOCK' || text === 'UNLOCK' || text === 'OPEN') return { action: text, code: null };
  if (jsonNestingDepth(text, 2) > 1) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  const parsed = HaLockCommandPayload.safeParse(raw);
  return parsed.success ? { action: parsed.data.action, code: parsed.data.code } : null;
}

// Home Assistant: the discovery payloads (the keys Home Assistant's MQTT schemas require), the lock
// code (hash, lockout on an injected clock), and the bridge on a real mosquitto: the right code
// opens through the admin API as Home Assistant, a wrong one is refused and rate limited and
// nothing else happens; Lock changes nothing; the birth message re-announces; the button, the
// recognition event, the last unknown visitor and the last face.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { AdminApi } from '../../src/app/admin-api.js';
import { parseConfig } from '../../src/config/load.js';
import { HaRecognitionPayload, LastUnknownPayload, topicsFor } from '../../src/mqtt/contract.js';
import { openMqttQueue } from '../helpers/mqtt-queue.js';
import { CodeGuard, DEFAULT_CODE_FORMAT, haCodeMatches, hashHaCode } from '../../src/mqtt/ha-code.js';
import { discoveryMessages, LOCK_COMMAND_TEMPLATE, parseLockCommand } from '../../src/mqtt/home-assistant.js';
import { MqttBridge } from '../../src/mqtt/mqtt-bridge.js';
import type { MqttSettings } from '../../src/mqtt/settings.js';
import type { RecognitionEvent } from '../../src/recognition/events.js';
import { ManualClock } from '../../src/util/manual-clock.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { Recorder } from '../helpers/mqtt-recorder.js';

const CODE = '271828';
const PREFIX = 'facegate/door1/';
const topics = topicsFor('facegate', 'door1');

/** What Home Assistant's template engine makes of LOCK_COMMAND_TEMPLATE (value, code | tojson). */
function renderLockTemplate(value: string, code: string | null): string {
  return LOCK_COMMAND_TEMPLATE.replace('{{ value }}', value).replace('{{ code | tojson }}', JSON.stringify(code));
}

test('discovery: every entity has the keys Home Assistant requires, and the lock template is what the bridge reads', () => {
  const msgs = discoveryMessages({ prefix: 'homeassistant', device: 'door1', doors: ['front', 'garage'], software: '0.2.0', topics, codeFormat: DEFAULT_CODE_FORMAT, capturePending: true, webUrl: 'https://door1.local:8443/' });
  const byObject = new Map(msgs.map((m) => [m.topic.split('/')[3]!, m]));
  assert.deepEqual(msgs.map((m) => m.topic), [
    'homeassistant/lock/facegate_door1/door_front/config',
    'homeassistant/lock/facegate_door1/door_garage/config',
    'homeassistant/event/facegate_door1/recognition/config',
    'homeassistant/image/facegate_door1/last_face/config',
    'homeassistant/sensor/facegate_door1/last_person/config',
    'homeassistant/sensor/facegate_door1/last_seen/config',
    'homeassistant/sensor/facegate_door1/last_unknown/config',
    'homeassistant/binary_sensor/facegate_door1/camera/config',
    'homeassistant/sensor/facegate_door1/fps/config',
    'homeassistant/sensor/facegate_door1/gallery_people/config',
    'homeassistant/sensor/facegate_door1/outbox_pending/config',
    'homeassistant/button/facegate_door1/capture_pending/config',
  ]);
  const ids = new Set<string>();
  for (const { topic, config } of msgs) {
    assert.equal(config.availability_topic, 'facegate/door1/status', topic);
    assert.ok(typeof config.name === 'string' && typeof config.unique_id === 'string', topic);
    assert.ok(!ids.has(config.unique_id as string), `unique_id ${config.unique_id} twice`);
    ids.add(config.unique_id as string);
    const device = config.device as { identifiers: string[]; configuration_url?: string };
    assert.deepEqual(device.identifiers, ['facegate_door1']);
    assert.equal(device.configuration_url, 'https://door1.local:8443/');
    // Each component's required topic (Home Assistant's MQTT schemas).
    const component = topic.split('/')[1]!;
    const required = { lock: ['command_topic'], event: ['state_topic', 'event_types'], image: ['image_topic'], sensor: ['state_topic'], binary_sensor: ['state_topic'], button: ['command_topic'] }[component];
    assert.ok(required, `unexpected component ${component}`);
    for (const key of required) assert.ok(config[key] !== undefined, `${topic}: ${key}`);
  }
  const lock = byObject.get('door_front')!.config;
  assert.equal(lock.command_topic, 'facegate/door1/ha/door/front/set');
  assert.equal(lock.state_topic, 'facegate/door1/door/front/state');
  assert.deepEqual([lock.payload_lock, lock.payload_unlock, lock.payload_open, lock.code_format, lock.optimistic], ['LOCK', 'UNLOCK', 'OPEN', DEFAULT_CODE_FORMAT, false]);
  assert.ok(new RegExp(lock.code_format as string).test(CODE) && !new RegExp(lock.code_format as string).test('12a4'));
  // The template, rendered as Home Assistant does, is exactly what parseLockCommand accepts.
  assert.deepEqual(parseLockCommand(Buffer.from(renderLockTemplate('UNLOCK', CODE))), { action: 'UNLOCK', code: CODE });
  assert.deepEqual(parseLockCommand(Buffer.from(renderLockTemplate('OPEN', 'a"b\\c'))), { action: 'OPEN', code: 'a"b\\c' });
  assert.deepEqual(parseLockCommand(Buffer.from(renderLockTemplate('LOCK', null))), { action: 'LOCK', code: null });
  assert.deepEqual(parseLockCommand(Buffer.from('LOCK')), { action: 'LOCK', code: null });
  for (const bad of ['', 'unlock', '{"action":"UNLOCK"}', '{"action":"EXPLODE","code":null}', '{"action":"UNLOCK","code":1234}', '{"action":"UNLOCK","code":null,"door":"back"}', `{"action":"UNLOCK","code":${'['.repeat(5000)}}`, 'x'.repeat(5000)]) {
    assert.equal(parseLockCommand(Buffer.from(bad)), null, bad.slice(0, 60));
  }
  const event = byObject.get('recognition')!.config;
  assert.deepEqual(event.event_types, ['granted', 'denied-unknown', 'denied-not-allowed', 'denied-quality', 'denied-stranger-present', 'denied-spoof']);
  assert.deepEqual([byObject.get('last_face')!.config.image_topic, byObject.get('last_face')!.config.content_type], ['facegate/door1/ha/last_face', 'image/jpeg']);
  for (const o of ['last_seen', 'last_unknown']) assert.equal(byObject.get(o)!.config.device_class, 'timestamp', o);
  for (const o of ['fps', 'gallery_people', 'outbox_pending', 'camera']) assert.equal(byObject.get(o)!.config.entity_category, 'diagnostic', o);
  assert.equal(byObject.get('capture_pending')!.config.command_topic, 'facegate/door1/ha/capture_pending/set');

  // Without the button callback or a web console: no button, no link.
  const plain = discoveryMessages({ prefix: 'homeassistant', device: 'door1', doors: ['front'], software: '0.2.0', topics, codeFormat: DEFAULT_CODE_FORMAT, capturePending: false });
  assert.ok(!plain.some((m) => m.topic.includes('/button/')));
  assert.ok(plain.every((m) => !('configuration_url' in (m.config.device as object))));
});

test('lock code: scrypt hash, constant-time check, lockout after 5 wrong codes that doubles, reset by a right code', async () => {
  const hash = await hashHaCode(CODE);
  assert.match(hash, /^scrypt\$N=16384,r=8,p=1\$/);
  assert.notEqual(await hashHaCode(CODE), hash, 'salted');
  assert.ok(await haCodeMatches(hash, CODE));
  assert.ok(!(await haCodeMatches(hash, '271829')));
  await assert.rejects(hashHaCode('1234'), /at least 6/);
  await assert.rejects(haCodeMatches('sha1$abc', CODE), /facegate mqtt ha-code/);
  assert.equal(parseConfig(`mqtt:\n  url: mqtt://x\n  homeAssistant:\n    lock:\n      codeHash: ${hash}\n`, 'f.yaml').mqtt!.homeAssistant.lock.codeHash, hash);
  assert.throws(() => parseConfig('mqtt:\n  url: mqtt://x\n  homeAssistant:\n    lock:\n      codeHash: "1234"\n', 'f.yaml'), /codeHash: a hash made by facegate mqtt ha-code/);
  assert.throws(() => parseConfig('mqtt:\n  url: mqtt://x\n  homeAssistant:\n    lock:\n      codeFormat: "(["\n', 'f.yaml'), /codeFormat: not a regular expression/);

  const clock = new ManualClock();
  // The guard's own logic, with a plain comparison standing in for scrypt (checked above).
  const guard = new CodeGuard({ matches: async (code) => code === CODE, maxFailures: 5, lockoutMs: 300_000, clock });
  assert.deepEqual(await guard.check(CODE), { ok: true });
  for (let i = 1; i <= 4; i++) assert.deepEqual(await guard.check('000000'), { ok: false, reason: 'wrong', failuresLeft: 5 - i });
  assert.deepEqual(await guard.check(null), { ok: false, reason: 'missing', retryAtMs: clock.now() + 300_000, failuresLeft: 0 });
  // Locked out: even the right code is refused, until the lockout ends.
  assert.deepEqual(await guard.check(CODE), { ok: false, reason: 'locked-out', retryAtMs: clock.now() + 300_000 });
  clock.advance(299_999);
  assert.equal((await guard.check(CODE)).ok, false);
  clock.advance(1);
  // The next run of wrong codes locks out twice as long.
  for (let i = 0; i < 5; i++) await guard.check('999999');
  assert.deepEqual(await guard.check(CODE), { ok: false, reason: 'locked-out', retryAtMs: clock.now() + 600_000 });
  clock.advance(600_000);
  assert.deepEqual(await guard.check(CODE), { ok: true });
  // A right code resets both counters: five more wrong ones lock out for the first length again.
  for (let i = 0; i < 5; i++) await guard.check('999999');
  assert.deepEqual(await guard.check(CODE), { ok: false, reason: 'locked-out', retryAtMs: clock.now() + 300_000 });
});

function recordingAdmin(): { admin: AdminApi; calls: { method: string; args: unknown[] }[] } {
  const calls: { method: string; args: unknown[] }[] = [];
  const admin = new Proxy({} as AdminApi, {
    get: (_t, method: string) => (...args: unknown[]) => {
      calls.push({ method, args });
      if (method === 'unlock') return { eventId: `remote-${calls.length}`, pulsed: true };
      throw new Error(`unexpected ${method}`);
    },
  });
  return { admin, calls };
}

test('bridge on a real broker: the right code opens as Home Assistant, wrong codes are refused and locked out, nothing else happens', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'facegate-ha-'));
  const broker = new Mosquitto(dir);
  await broker.start();
  const events = openMqttQueue(join(dir, 'events.db'));
  const clock = new ManualClock();
  const { admin, calls } = recordingAdmin();
  let pendingCaptures = 0;
  const settings: MqttSettings = {
    url: broker.url,
    base: 'facegate',
    device: 'door1',
    clientId: 'facegate_door1',
    reconnect: { initialMs: 100, maxMs: 400 },
    commands: { enabled: true, key: null, maxSkewMs: 30_000, allowUnsigned: false },
    outbox: { maxEvents: 1000, whenFull: 'drop-oldest' },
    homeAssistant: { enabled: true, prefix: 'homeassistant', lock: { codeHash: await hashHaCode(CODE), codeFormat: DEFAULT_CODE_FORMAT, maxFailures: 5, lockoutMs: 300_000 } },
  };
  const logLines: string[] = [];
  const bridge = new MqttBridge({ settings, queue: events.queue, nonces: events.nonces, doors: ['front'], admin, log: pino({ level: 'info' }, { write: (l: string) => void logLines.push(l) }), clock, onCapturePending: () => pendingCaptures++, webUrl: 'https://door1.local/' });
  const rec = await Recorder.connect(broker.url, [`${PREFIX}#`, 'homeassistant/#']);
  t.after(async () => {
    await bridge.stop();
    await rec.end();
    events.close();
    await broker.stop();
  });
  bridge.start();
  await rec.waitFor('online', (m) => m.topic === `${PREFIX}status` && m.payload === 'online');
  const lockConfig = await rec.waitFor('lock discovery', (m) => m.topic === 'homeassistant/lock/facegate_door1/door_front/config');
  const lockTopic = JSON.parse(lockConfig.payload).command_topic as string;
  // Subscriptions are in place once the retained door state went out after them: the bridge sends
  // its SUBSCRIBEs first on the same connection, and the broker handles a client's packets in order.
  await rec.waitFor('door state', (m) => m.topic === `${PREFIX}door/front/state`);

  /** Sends what Home Assistant sends and waits until the bridge handled it (a door state re-sent, or a call). */
  const press = async (action: string, code: string | null) => {
    const from = rec.messages.length;
    const callsBefore = calls.length;
    await rec.client.publishAsync(lockTopic, renderLockTemplate(action, code), { qos: 1 });
    await rec.waitFor(`${action} handled`, (m) => m.topic === `${PREFIX}door/front/state` || calls.length > callsBefore, { from, timeoutMs: 10_000 });
    for (let i = 0; i < 50 && calls.length === callsBefore && !rec.messages.slice(from).some((m) => m.topic === `${PREFIX}door/front/state`); i++) await new Promise((r) => setTimeout(r, 20));
    return calls.slice(callsBefore);
  };
  const noEvents = () => rec.messages.filter((m) => m.topic.startsWith(`${PREFIX}event/`) || m.topic.startsWith(`${PREFIX}response/`));

  // The right code: one unlock through the admin API, audited as Home Assistant.
  assert.deepEqual(await press('UNLOCK', CODE), [{ method: 'unlock', args: ['front', { via: 'home-assistant', name: 'home assistant' }] }]);
  assert.deepEqual(await press('OPEN', CODE), [{ method: 'unlock', args: ['front', { via: 'home-assistant', name: 'home assistant' }] }]);
  // Lock: nothing to do; the state is re-sent.
  assert.deepEqual(await press('LOCK', null), []);
  // Wrong codes: refused, logged, nothing called; the fifth starts a lockout.
  for (let i = 0; i < 5; i++) assert.deepEqual(await press('UNLOCK', `00000${i}`), []);
  assert.ok(logLines.some((l) => l.includes('wrong code; 1 more before a lockout')));
  assert.deepEqual(await press('UNLOCK', CODE), [], 'the right code during the lockout');
  assert.ok(logLines.some((l) => l.includes('locked out after repeated wrong codes until')));
  clock.advance(300_000);
  assert.deepEqual(await press('UNLOCK', CODE), [{ method: 'unlock', args: ['front', { via: 'home-assistant', name: 'home assistant' }] }], 'after the lockout');
  assert.equal(calls.length, 3, 'three unlocks, nothing else');
  assert.deepEqual(noEvents(), [], 'the bridge itself published no event or response for Home Assistant');

  // Odd lock commands: ignored with a log line, nothing called.
  for (const payload of ['UNLOCK', '{"action":"UNLOCK"}', `{"action":"UNLOCK","code":${'['.repeat(3000)}}`]) {
    const from = rec.messages.length;
    await rec.client.publishAsync(lockTopic, payload, { qos: 1 });
    await rec.waitFor('state re-sent', (m) => m.topic === `${PREFIX}door/front/state`, { from });
  }
  await rec.client.publishAsync(`${PREFIX}ha/door/back/set`, renderLockTemplate('UNLOCK', CODE), { qos: 1 });
  await rec.client.publishAsync(lockTopic, renderLockTemplate('UNLOCK', CODE), { qos: 1, retain: true });
  await rec.client.publishAsync(lockTopic, '', { qos: 1, retain: true });
  // A Lock after them is handled after them (one connection, handled in order): once its state is
  // re-sent, whatever those three did has happened.
  const beforeLock = rec.messages.length;
  await rec.client.publishAsync(lockTopic, renderLockTemplate('LOCK', null), { qos: 1 });
  await rec.waitFor('state re-sent after the Lock', (m) => m.topic === `${PREFIX}door/front/state`, { from: beforeLock });
  // The retained one reached the live bridge without the retain flag: it is a command and counts (the right code).
  assert.deepEqual(calls.map((c) => [c.method, c.args[0]]), [['unlock', 'front'], ['unlock', 'front'], ['unlock', 'front'], ['unlock', 'front']]);
  assert.ok(logLines.some((l) => l.includes('back') && l.includes('which this device does not have')));

  // The button: a pending capture, nothing through the admin API.
  await rec.client.publishAsync(`${PREFIX}ha/capture_pending/set`, 'PRESS', { qos: 1 });
  for (let i = 0; i < 100 && pendingCaptures === 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(pendingCaptures, 1);

  // Home Assistant restarted (its birth message): every entity is announced again.
  const beforeBirth = rec.messages.length;
  await rec.client.publishAsync('homeassistant/status', 'online', { qos: 1 });
  await rec.waitFor('re-announced', (m) => m.topic === 'homeassistant/button/facegate_door1/capture_pending/config', { from: beforeBirth });
  assert.equal(rec.messages.slice(beforeBirth).filter((m) => m.topic.startsWith('homeassistant/') && m.topic.endsWith('/config')).length, 11, rec.messages.slice(beforeBirth).map((m) => m.topic).join(' '));

  // A recognition of a stranger: the event entity's payload and the last unknown visitor.
  const stranger: RecognitionEvent = {
    eventId: 'ev-1', time: '2026-12-02T06:00:00.000Z', door: 'front', decision: 'denied', reason: 'denied-unknown', relay: 'none', trackId: 3, person: null,
    score: 0.21, margin: 0.02, votes: 3, share: 1, quality: { faceSize: 120, sharpness: 50, frontalness: 0.9, detectorScore: 0.99 }, latencyMs: 400, modelId: 'm', frameSeq: 5, box: [1, 2, 100, 110],
  };
  events.recordDecision(stranger, 'door1');
  bridge.noteRecognition(stranger);
  const haEvent = HaRecognitionPayload.parse(JSON.parse((await rec.waitFor('ha event', (m) => m.topic === `${PREFIX}ha/recognition`)).payload));
  assert.deepEqual([haEvent.event_type, haEvent.person, haEvent.event_id], ['denied-unknown', null, 'ev-1']);
  const unknown = await rec.waitFor('last unknown', (m) => m.topic === `${PREFIX}ha/last_unknown`);
  assert.equal(LastUnknownPayload.parse(JSON.parse(unknown.payload)).time, stranger.time);
  const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 1, 2, 3, 0xff, 0xd9]);
  bridge.publishLastFace(jpeg);
  const face = await rec.waitFor('last face', (m) => m.topic === `${PREFIX}ha/last_face`);
  assert.equal(face.payload, jpeg.toString(), 'the JPEG bytes as they are');
  assert.equal(calls.length, 4);
});

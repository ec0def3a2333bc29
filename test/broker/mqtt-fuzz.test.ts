// A seeded, bounded fuzz campaign against the real MqttBridge on a real mosquitto: deep nesting,
// huge arrays, long strings, odd Unicode, number edge cases, wrong types for every parameter,
// unknown commands, odd topics, oversize and non-UTF-8 payloads. The bridge must stay up, answer
// every request on a `request/<command>` topic exactly once (and nothing else), and never reach
// the admin API; a valid request at the end is still answered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { AdminApi } from '../../src/app/admin-api.js';
import { COMMAND_NAMES, ResponsePayload } from '../../src/mqtt/contract.js';
import { MAX_REQUEST_BYTES } from '../../src/mqtt/commands.js';
import { openMqttQueue } from '../helpers/mqtt-queue.js';
import { MqttBridge } from '../../src/mqtt/mqtt-bridge.js';
import type { MqttSettings } from '../../src/mqtt/settings.js';
import { signature, signRequest } from '../../src/mqtt/signing.js';
import { createRng } from '../../src/util/rng.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { Recorder } from '../helpers/mqtt-recorder.js';

const KEY = Buffer.from('fuzz-key-0123456789abcdef-0123456789');
const DEVICE = 'door1';
const PREFIX = `facegate/${DEVICE}/`;

function settingsFor(url: string): MqttSettings {
  return {
    url,
    base: 'facegate',
    device: DEVICE,
    clientId: `facegate_${DEVICE}`,
    reconnect: { initialMs: 100, maxMs: 400 },
    commands: { enabled: true, key: KEY, maxSkewMs: 30_000, allowUnsigned: false },
    outbox: { maxEvents: 1000, whenFull: 'drop-oldest' },
    homeAssistant: { enabled: false, prefix: 'homeassistant' },
  };
}

/** An AdminApi that records every call and answers list_people (the final valid request). */
function recordingAdmin(): { admin: AdminApi; calls: string[] } {
  const calls: string[] = [];
  const admin = new Proxy({} as AdminApi, {
    get: (_t, name: string) => (...args: unknown[]) => {
      calls.push(`${name}(${JSON.stringify(args).slice(0, 80)})`);
      if (name === 'listPeople') return { people: [], pending: [] };
      throw new Error(`unexpected ${name}`);
    },
  });
  return { admin, calls };
}

/** Resolves when a response carrying `transaction` arrives: event-driven, not polled, so 400 round trips take a second or two. */
function answerTo(rec: Recorder, transaction: string, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      rec.client.off('message', onMessage);
      reject(new Error(`no answer with transaction ${transaction} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (topic: string, payload: Buffer) => {
      if (!topic.startsWith(`${PREFIX}response/`) || !payload.toString().includes(`"transaction":"${transaction}"`)) return;
      clearTimeout(timer);
      rec.client.off('message', onMessage);
      resolve();
    };
    rec.client.on('message', onMessage);
  });
}

/** A response to anything but setUp's readiness probes (one of which may be answered late). */
function isAnswer(m: { topic: string; payload: string }): boolean {
  return m.topic.startsWith(`${PREFIX}response/`) && !m.payload.includes('"transaction":"ready-');
}

async function setUp(t: { after: (fn: () => Promise<void>) => void }, beforeStart?: (rec: Recorder) => Promise<void>) {
  const dir = mkdtempSync(join(tmpdir(), 'facegate-fuzz-'));
  const broker = new Mosquitto(dir);
  await broker.start();
  const events = openMqttQueue(join(dir, 'events.db'));
  const { admin, calls } = recordingAdmin();
  const logLines: string[] = [];
  const bridge = new MqttBridge({ settings: settingsFor(broker.url), queue: events.queue, nonces: events.nonces, doors: ['front'], admin, log: pino({ level: 'warn' }, { write: (l: string) => void logLines.push(l) }) });
  const rec = await Recorder.connect(broker.url, [`${PREFIX}status`]);
  // QoS 0 to the test: no PUBACKs back, which would meet TCP delayed ACKs and cost ~40 ms a round trip.
  await rec.client.subscribeAsync(`${PREFIX}response/#`, { qos: 0 });
  await beforeStart?.(rec);
  bridge.start();
  await rec.waitFor('online', (m) => m.topic === `${PREFIX}status` && m.payload === 'online');
  // The bridge subscribes after announcing online: wait until a request is answered.
  for (let i = 0; ; i++) {
    const from = rec.messages.length;
    await rec.client.publishAsync(`${PREFIX}request/list_people`, JSON.stringify({ transaction: `ready-${i}` }), { qos: 1 });
    const ready = await rec.waitFor('ready', (m) => m.topic.startsWith(`${PREFIX}response/`), { from, timeoutMs: 200 }).catch(() => undefined);
    if (ready) break;
  }
  t.after(async () => {
    await bridge.stop();
    await rec.end();
    events.close();
    await broker.stop();
  });
  return { broker, nonces: events.nonces, bridge, rec, calls, logLines };
}

/** `code`: the refusal this case must get, where it is certain. */
type Case = { what: string; topic: string; payload: Buffer; answered: boolean; code?: string };

function campaign(seed: number, count: number): Case[] {
  const rng = createRng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)]!;
  const nowMs = Date.now();
  const deep = (n: number, open: string, close: string, inner = '1') => open.repeat(n) + inner + close.repeat(n);
  const strings = ['', 'front', 'alice', 'x'.repeat(5000), '\ud800', '\udfff', 'a\u0000b', '\u202egnp.exe', 'مرحبا', '👩‍👩‍👧‍👦🚪', '\ufeff', '../../etc/passwd', '%s%n', '${jndi:x}', '\n\r\t'];
  // JSON texts, not values: numbers that JavaScript's JSON.parse reads oddly.
  const numbers = ['1e309', '-1e309', '-0', '9007199254740993', '1e-400', '0.1e1', '1E2', '-9223372036854775809', '123456789012345678901234567890'];
  const values: string[] = [
    ...strings.map((s) => JSON.stringify(s)),
    ...numbers,
    '"NaN"', '"Infinity"', '"1e309"', 'null', 'true', 'false', '[]', '{}', '[1,"a",null]',
    deep(7, '[', ']'), deep(50, '[', ']'), deep(30, '{"a":', '}'),
    `[${'0,'.repeat(3000)}0]`,
    `{${Array.from({ length: 500 }, (_, i) => `"k${i}":${i}`).join(',')}}`,
  ];
  const keys = ['door', 'name', 'id', 'event_id', 'note', 'ttl_seconds', 'capture', 'transaction', 'ts', 'nonce', 'sig', '__proto__', 'constructor', 'zz', '', '\u0000', '🔑'];
  const commands = [...COMMAND_NAMES, 'nope', 'UNLOCK', '', 'x'.repeat(300), '__proto__', 'toString', 'ünlock', '🚪', 'unlock\u202e', 'list people'];
  const cases: Case[] = [];
  const add = (what: string, command: string, payload: Buffer | string, answered = true, code?: string) =>
    cases.push({ what, topic: `${PREFIX}request/${command}`, payload: typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload, answered, ...(code ? { code } : {}) });

  // The reported crash, on every command: 6,000 arrays and 2,700 objects with a well-formed sig.
  const sig = '0'.repeat(64);
  for (const command of [...COMMAND_NAMES, 'nope']) {
    add(`6000 arrays on ${command}`, command, `{"sig":"${sig}","a":${deep(6000, '[', ']', '')}}`, true, 'too_deep');
    add(`2700 objects on ${command}`, command, `{"sig":"${sig}","a":${deep(2700, '{"a":', '}')}}`, true, 'too_deep');
  }
  add('nesting up to the size limit', 'unlock', `{"a":${deep(MAX_REQUEST_BYTES / 2 - 10, '[', ']', '')}}`, true, 'too_deep');
  add('unbalanced brackets', 'unlock', `{"a":${'['.repeat(10_000)}`, true, 'too_deep');
  add('oversize', 'unlock', JSON.stringify({ door: 'x'.repeat(MAX_REQUEST_BYTES) }), true, 'too_large');
  add('1 MiB', 'list_people', Buffer.alloc(1 << 20, 0x5b), true, 'too_large');
  add('non-UTF-8', 'unlock', Buffer.from([0x7b, 0x22, 0x64, 0xff, 0xfe, 0x22, 0x3a, 0xc3, 0x28, 0x7d]));
  add('non-UTF-8 in a string', 'list_people', Buffer.concat([Buffer.from('{"transaction":"'), Buffer.from([0xed, 0xa0, 0x80, 0xf8]), Buffer.from('"}')]));
  add('UTF-16', 'list_people', Buffer.from('{"transaction":"t"}', 'utf16le'));
  add('NUL bytes', 'unlock', Buffer.alloc(64));
  add('BOM', 'list_people', '\ufeff{"transaction":"bom"}');

  // Wrong types for every parameter of every command, properly signed: bad_request, never a call.
  const wrong: Record<string, string[]> = { string: ['17', '[]', '{}', 'null', 'true', '1e309'], int: ['"1"', '1.5', '-0.5', '1e309', 'null', '[1]', '9007199254740993'] };
  const params: Record<string, Record<string, 'string' | 'int'>> = {
    unlock: { door: 'string' },
    arm_enrollment: { name: 'string', ttl_seconds: 'int', capture: 'string' },
    name_pending: { id: 'int', name: 'string' },
    delete_person: { name: 'string' },
    mark_wrong: { event_id: 'string', note: 'string' },
  };
  for (const [command, spec] of Object.entries(params)) {
    for (const [param, type] of Object.entries(spec)) {
      for (const text of wrong[type]!) {
        const body = signRequest(KEY, DEVICE, command, { ...(command === 'name_pending' ? { id: 1, name: 'bob' } : {}), [param]: JSON.parse(text.replace('1e309', '1e308')) as unknown }, nowMs);
        const json = JSON.stringify(body).replace('1e+308', text === '1e309' ? '1e309' : '1e+308');
        add(`${command}.${param} = ${text}`, command, json);
      }
    }
  }
  // Signed, then one field changed: the signature must catch it.
  for (const command of COMMAND_NAMES) add(`${command} altered after signing`, command, JSON.stringify({ ...signRequest(KEY, DEVICE, command, { door: 'front', name: 'alice', id: 1, event_id: 'e1' }, nowMs), transaction: 'altered' }));
  // Odd topics: levels that are not plausible command names, and deeper topics nobody subscribes to.
  for (const command of commands) add(`topic ${JSON.stringify(command).slice(0, 40)}`, command, '{"transaction":"odd topic"}');
  add('two levels', 'unlock/extra', '{"door":"front"}', false);
  add('three levels', 'a/b/c', '{}', false);

  // Random bodies: a few keys with random values, unsigned, signed with a random sig, or signed
  // with the real key but over other fields.
  for (let i = 0; i < count; i++) {
    const command = pick(commands);
    const fields = Array.from({ length: rng.int(5) }, () => `${JSON.stringify(pick(keys))}:${pick(values)}`);
    const mode = rng.int(3);
    if (mode === 1) fields.push(`"ts":${nowMs}`, `"nonce":"n${i}xxxxxxxx"`, `"sig":"${Array.from({ length: 64 }, () => '0123456789abcdef'[rng.int(16)]).join('')}"`);
    if (mode === 2) {
      const signedBody = { ts: nowMs, nonce: `fuzz${i}nonce`, door: 'front' };
      fields.push(`"ts":${nowMs}`, `"nonce":"fuzz${i}nonce"`, `"sig":"${signature(KEY, DEVICE, command, signedBody)}"`);
    }
    const text = `{${fields.join(',')}}`;
    add(`random ${i} (mode ${mode})`, command, rng.next() < 0.05 ? text.slice(0, rng.int(text.length)) : text);
  }
  return cases;
}

test('fuzzed requests on a real broker: the bridge stays up, answers each exactly once, calls nothing', { timeout: 60_000 }, async (t) => {
  const { rec, calls, logLines } = await setUp(t);
  const cases = campaign(20261202, 200);
  let answered = 0;
  // In batches, each closed by a marker request: the bridge answers in arrival order, so the
  // answers before the marker's are the batch's, one per answered case, in the cases' order.
  const BATCH = 10;
  for (let b = 0; b < cases.length; b += BATCH) {
    const batch = cases.slice(b, b + BATCH);
    const from = rec.messages.length;
    const marker = `marker-${b}`;
    const markerAnswered = answerTo(rec, marker);
    // QoS 0 from one client keeps its order; waiting for each PUBACK would only add TCP delayed-ACK stalls.
    for (const c of batch) await rec.client.publishAsync(c.topic, c.payload, { qos: 0 });
    await rec.client.publishAsync(`${PREFIX}request/list_people`, JSON.stringify({ transaction: marker }), { qos: 0 });
    await markerAnswered.catch((err: Error) => assert.fail(`after ${batch.map((c) => c.what).join(', ')}: ${err.message}`));
    const got = rec.messages.slice(from).filter((m) => isAnswer(m) && !m.payload.includes(`"${marker}"`));
    const expected = batch.filter((c) => c.answered);
    assert.equal(got.length, expected.length, `${expected.length} answers expected for ${batch.map((c) => c.what).join(', ')}; got ${got.map((m) => m.payload.slice(0, 100)).join(' | ')}`);
    got.forEach((m, k) => {
      const c = expected[k]!;
      const r = ResponsePayload.parse(JSON.parse(m.payload));
      assert.equal(r.status, 'error', `${c.what} was accepted: ${m.payload.slice(0, 200)}`);
      assert.ok(r.error && r.code && r.error.length < 600, m.payload.slice(0, 200));
      if (c.code) assert.equal(r.code, c.code, c.what);
      assert.ok(m.payload.length < 2000, `${c.what}: the answer echoes the request (${m.payload.length} bytes)`);
      answered++;
    });
  }
  assert.deepEqual(calls, [], 'a refused request reached the admin API');
  assert.ok(answered > 250, `${answered} answers`);
  assert.ok(!logLines.some((l) => l.includes('failed unexpectedly')), logLines.find((l) => l.includes('failed unexpectedly')));

  // Still up: a valid signed request is answered, and reaches the admin API once.
  const ok = await rec.request(PREFIX, 'list_people', signRequest(KEY, DEVICE, 'list_people', { transaction: 'final' }));
  assert.deepEqual([ok.status, ok.data], ['ok', { people: [], pending: [] }]);
  assert.deepEqual(calls, ['listPeople([])']);
  t.diagnostic(`${cases.length} fuzzed requests, ${answered} answered (seed 20261202)`);
});

test('a request whose handling throws is answered `failed`; retained requests keep their transaction; clearing one gets no answer', { timeout: 30_000 }, async (t) => {
  const topic = `${PREFIX}request/unlock`;
  // Waiting on the broker before the bridge subscribes: delivered to it with the retain flag.
  const { rec, nonces, calls, logLines } = await setUp(t, async (r) => {
    await r.client.publishAsync(topic, JSON.stringify(signRequest(KEY, DEVICE, 'unlock', { door: 'front', transaction: 'kept' })), { qos: 1, retain: true });
  });
  const refused = JSON.parse((await rec.waitFor('retained refusal', (m) => m.topic === `${PREFIX}response/unlock`)).payload) as Record<string, unknown>;
  assert.deepEqual([refused.code, refused.transaction], ['retained', 'kept']);
  // Clearing it (empty, retained) and an empty request are not requests: no answer.
  const beforeClear = rec.messages.length;
  await rec.client.publishAsync(topic, '', { qos: 1, retain: true });
  await rec.client.publishAsync(`${PREFIX}request/list_people`, '', { qos: 1 });
  const marker = await rec.request(PREFIX, 'list_people', { transaction: 'marker' });
  assert.equal(marker.code, 'unsigned');
  assert.deepEqual(rec.messages.slice(beforeClear).filter(isAnswer).map((m) => JSON.parse(m.payload).transaction), ['marker'], 'empty payloads got an answer');

  // The nonce store breaks (disk I/O error) while a signed request is checked.
  const claim = nonces.claim;
  nonces.claim = () => {
    throw new Error('disk I/O error');
  };
  const broken = await rec.request(PREFIX, 'list_people', signRequest(KEY, DEVICE, 'list_people', { transaction: 'io' }));
  assert.deepEqual([broken.status, broken.code, broken.transaction], ['error', 'failed', 'io']);
  assert.ok(logLines.some((l) => l.includes('disk I/O error')), 'the cause is logged');
  assert.deepEqual(calls, []);
  nonces.claim = claim;
  const after = await rec.request(PREFIX, 'list_people', signRequest(KEY, DEVICE, 'list_people', { transaction: 'after' }));
  assert.equal(after.status, 'ok', 'the queue goes on after a failure');
  assert.deepEqual(calls, ['listPeople([])']);
});

// The MQTT pieces that need no broker: request checks and signatures, the published JSON Schema, the config section (Home Assistant: test/broker/home-assistant.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { contractJsonSchema, EnrollmentPayload, RecognitionPayload, StatePayload, UnlockPayload } from '../../src/mqtt/contract.js';
import { enrollmentMessage, recognitionMessage, stateMessage, unlockMessage } from '../../src/mqtt/messages.js';
import type { RecognitionEvent } from '../../src/recognition/events.js';
import { executeRequest, jsonNestingDepth, MAX_REQUEST_BYTES, MAX_REQUEST_DEPTH, parseRequest, transactionOf, type CommandPolicy, type CommandRequest, type NonceRegistry } from '../../src/mqtt/commands.js';
import type { AdminApi } from '../../src/app/admin-api.js';
import { canonicalJson, MAX_CANONICAL_DEPTH, signature, signRequest, signedText } from '../../src/mqtt/signing.js';
import { deviceIdFromHostname } from '../../src/mqtt/settings.js';
import { REPO_ROOT } from '../../src/paths.js';

const KEY = Buffer.from('0123456789abcdef0123456789abcdef');
const NOW = 1_770_000_000_000;
const policy: CommandPolicy = { device: 'door1', key: KEY, allowUnsigned: false, maxSkewMs: 30_000 };

function registry(): NonceRegistry & { seen: Set<string> } {
  const seen = new Set<string>();
  return { seen, claim: (n) => (seen.has(n) ? false : (seen.add(n), true)) };
}

const parse = (command: string, body: unknown, p: CommandPolicy = policy, nonces = registry()) => parseRequest(command, Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), p, nonces, NOW);

test('canonical JSON sorts keys at every level and the signed text names device and command', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 'é' }], c: null } }), '{"a":{"c":null,"d":[2,{"y":"é","z":1}]},"b":1}');
  assert.equal(signedText('door1', 'unlock', { door: 'front', sig: 'x', ts: 5 }), 'facegate/1\ndoor1\nunlock\n{"door":"front","ts":5}');
});

test('a signed request passes once; a replay, another device, another command or a stale one is refused', () => {
  const nonces = registry();
  const req = signRequest(KEY, 'door1', 'unlock', { door: 'front', transaction: 't1' }, NOW);
  const ok = parse('unlock', req, policy, nonces);
  assert.deepEqual(ok, { ok: true, request: { command: 'unlock', params: { door: 'front' } }, transaction: 't1', signed: true });
  assert.deepEqual(parse('unlock', req, policy, nonces), { ok: false, transaction: 't1', code: 'replayed', message: 'this request was already received (nonce reused)' });
  const fail = (command: string, body: unknown, p = policy) => {
    const r = parse(command, body, p);
    assert.equal(r.ok, false, JSON.stringify(body));
    return r.ok ? '' : r.code;
  };
  assert.equal(fail('unlock', signRequest(KEY, 'door2', 'unlock', { door: 'front' }, NOW)), 'bad_signature');
  assert.equal(fail('arm_enrollment', { ...signRequest(KEY, 'door1', 'unlock', { door: 'front' }, NOW) }), 'bad_signature');
  assert.equal(fail('unlock', signRequest(Buffer.from('another key of thirty-two chars!'), 'door1', 'unlock', { door: 'front' }, NOW)), 'bad_signature');
  assert.equal(fail('unlock', signRequest(KEY, 'door1', 'unlock', { door: 'front' }, NOW - 31_000)), 'stale');
  assert.equal(fail('unlock', signRequest(KEY, 'door1', 'unlock', { door: 'front' }, NOW + 31_000)), 'stale');
  // Tampering with any field after signing breaks the signature.
  assert.equal(fail('unlock', { ...signRequest(KEY, 'door1', 'unlock', { door: 'front' }, NOW), door: 'back' }), 'bad_signature');
  // No key configured: nothing signed can pass.
  assert.equal(fail('unlock', signRequest(KEY, 'door1', 'unlock', { door: 'front' }, NOW), { ...policy, key: null }), 'bad_signature');
});

test('commands that can open a door always need a signature; others only when allowUnsigned is off', () => {
  const open = { ...policy, allowUnsigned: true };
  for (const [command, body] of [['unlock', { door: 'front' }], ['arm_enrollment', { name: 'alice' }], ['name_pending', { id: 1, name: 'alice' }]] as const) {
    const r = parse(command, body, open);
    assert.ok(!r.ok && r.code === 'unsigned', command);
  }
  const r = parse('list_people', { transaction: 7 }, open);
  assert.ok(r.ok && !r.signed && r.transaction === 7);
  const closed = parse('list_people', { transaction: 7 });
  assert.ok(!closed.ok && closed.code === 'unsigned' && closed.transaction === 7);
  // A present but bad signature is never taken for "unsigned".
  const bad = parse('list_people', { sig: 'f'.repeat(64), ts: NOW, nonce: 'abcdefgh' }, open);
  assert.ok(!bad.ok && bad.code === 'bad_signature');
});

test('deeply nested requests under the size limit are refused as too_deep before anything recursive runs', () => {
  // The reported crash: any 64-hex sig sent the body into canonicalJson, which overflowed the stack.
  const sig = '0'.repeat(64);
  const arrays = `{"sig":"${sig}","a":${'['.repeat(6000)}${']'.repeat(6000)}}`;
  const objects = `{"sig":"${sig}","a":${'{"a":'.repeat(2700)}1${'}'.repeat(2700)}}`;
  for (const [what, text] of [['6000 arrays', arrays], ['2700 objects', objects]] as const) {
    assert.ok(text.length < MAX_REQUEST_BYTES, `${what}: ${text.length} bytes`);
    for (const command of ['list_people', 'unlock', 'nope']) {
      const r = parse(command, text, { ...policy, allowUnsigned: true });
      assert.ok(!r.ok && r.code === 'too_deep', `${what} on ${command}: ${JSON.stringify(r).slice(0, 200)}`);
      assert.match(r.message, new RegExp(`more than ${MAX_REQUEST_DEPTH} levels`));
    }
  }
  // At the limit a request is read normally (and refused for what it is).
  const atLimit = `{"transaction":"t","a":${'['.repeat(MAX_REQUEST_DEPTH - 1)}${']'.repeat(MAX_REQUEST_DEPTH - 1)}}`;
  const r = parse('list_people', atLimit, { ...policy, allowUnsigned: true });
  assert.ok(!r.ok && r.code === 'bad_request' && r.transaction === 't', JSON.stringify(r));
  // Brackets inside strings (escaped quotes too) are not nesting.
  assert.equal(jsonNestingDepth(String.raw`{"a":"[[[[\"{{{{","b":[{}]}`, 100), 3);
  assert.equal(jsonNestingDepth('[[[[[[[[[[', 3), 4, 'counting stops past the limit');
  assert.equal(transactionOf(Buffer.from(`{"transaction":"tx1","x":${'['.repeat(100)}}`)), undefined);
  assert.equal(transactionOf(Buffer.from('{"transaction":"tx1","door":"front"}')), 'tx1');
  // canonicalJson itself refuses depth instead of overflowing the stack.
  let deep: unknown = 1;
  for (let i = 0; i < 100_000; i++) deep = [deep];
  assert.throws(() => canonicalJson(deep), new RegExp(`deeper than ${MAX_CANONICAL_DEPTH} levels`));
});

test('fuzzed requests: every malformed one is refused with a code, none throws', () => {
  const signed = (command: string, params: Record<string, unknown>) => signRequest(KEY, 'door1', command, params, NOW);
  // Signed as they are, without a fresh ts and nonce.
  const signedRaw = (command: string, body: Record<string, unknown>) => ({ ...body, sig: signature(KEY, 'door1', command, body) });
  const cases: [string, unknown, string][] = [
    ['unlock', '{"door": "front"', 'bad_json'],
    ['unlock', '', 'bad_json'],
    ['unlock', '\u0000\u0001', 'bad_json'],
    ['unlock', '[1,2]', 'not_an_object'],
    ['unlock', 'null', 'not_an_object'],
    ['unlock', '"front"', 'not_an_object'],
    ['unlock', 42, 'not_an_object'],
    ['open_sesame', signed('open_sesame', { door: 'front' }), 'unknown_command'],
    ['__proto__', {}, 'unknown_command'],
    ['constructor', {}, 'unknown_command'],
    ['unlock', signed('unlock', { door: 17 }), 'bad_request'],
    ['unlock', signed('unlock', { door: ['front'] }), 'bad_request'],
    ['unlock', signed('unlock', {}), 'bad_request'],
    ['unlock', signed('unlock', { door: 'front', extra: true }), 'bad_request'],
    ['unlock', signed('unlock', { door: 'Front Door/../x' }), 'bad_request'],
    ['unlock', signed('unlock', { door: 'x'.repeat(10_000) }), 'bad_request'],
    ['unlock', { door: 'x'.repeat(MAX_REQUEST_BYTES) }, 'too_large'],
    ['arm_enrollment', signed('arm_enrollment', { name: 'a/b' }), 'bad_request'],
    ['arm_enrollment', signed('arm_enrollment', { name: 'x'.repeat(65) }), 'bad_request'],
    ['arm_enrollment', signed('arm_enrollment', { name: 'alice', ttl_seconds: -1 }), 'bad_request'],
    ['arm_enrollment', signed('arm_enrollment', { name: 'alice', ttl_seconds: '60' }), 'bad_request'],
    ['name_pending', signed('name_pending', { id: 1.5, name: 'alice' }), 'bad_request'],
    ['name_pending', signed('name_pending', { id: '1', name: 'alice' }), 'bad_request'],
    ['mark_wrong', signed('mark_wrong', { event_id: 'e'.repeat(65) }), 'bad_request'],
    ['mark_wrong', signed('mark_wrong', { event_id: 'e1', note: 'n'.repeat(201) }), 'bad_request'],
    ['delete_person', signed('delete_person', { name: null }), 'bad_request'],
    ['unlock', { door: 'front', ts: NOW, nonce: 'abcdefgh', sig: 'zz' }, 'bad_signature'],
    ['unlock', { door: 'front', sig: 12 }, 'bad_signature'],
    ['unlock', { ...signed('unlock', { door: 'front' }), sig: undefined }, 'unsigned'],
    ['unlock', signedRaw('unlock', { door: 'front', ts: String(NOW), nonce: 'abcdefgh' }), 'bad_request'],
    ['unlock', signedRaw('unlock', { door: 'front', ts: NOW, nonce: 'short' }), 'bad_request'],
    ['unlock', signedRaw('unlock', { door: 'front', ts: NOW + 0.5, nonce: 'abcdefgh' }), 'bad_request'],
    ['unlock', signedRaw('unlock', { door: 'front', nonce: 'abcdefgh' }), 'bad_request'],
  ];
  for (const [command, body, code] of cases) {
    const r = parse(command, body);
    assert.ok(!r.ok, `${command} ${JSON.stringify(body).slice(0, 80)} passed`);
    assert.equal(r.code, code, `${command} ${JSON.stringify(body).slice(0, 80)}: ${r.message}`);
    assert.ok(r.message.length < 600, 'error messages stay short');
  }
  // Transactions are echoed only when they are plausible.
  const huge = parse('unlock', { transaction: 't'.repeat(5000), door: 'front' });
  assert.ok(!huge.ok && huge.transaction === undefined);
  const tx = parse('unlock', { transaction: { a: 1 }, door: 'front' });
  assert.ok(!tx.ok && tx.transaction === undefined);
});

test('each command is one AdminApi call with the request\'s actor; the data keeps the version 1 shape', async () => {
  const calls: unknown[][] = [];
  const person = { id: 3, uuid: 'u-3', name: 'alice', groups: ['staff'], templates: 5, negatives: 1, models: ['m'], createdAt: 'c', updatedAt: 'u' };
  const results: Record<string, unknown> = {
    unlock: { eventId: 'e1', pulsed: true },
    armEnrollment: { name: 'bob', expiresAt: '2026-12-02T06:05:00.000Z', capture: 'now' },
    namePending: { person: 'carol', templates: 4 },
    deletePerson: { person: 'alice', templates: 5, negatives: 1, eventEmbeddings: 2, snapshots: 7, verified: true },
    listPeople: { people: [person], pending: [{ id: 9, createdAt: '2026-12-01T00:00:00.000Z', source: 'button', templates: 3 }] },
    markWrong: { person: 'alice', negativeId: 12 },
    reloadConfig: { applied: ['matching'], restartRequired: ['camera'] },
  };
  const admin = new Proxy({} as AdminApi, { get: (_t, method: string) => (...args: unknown[]) => (calls.push([method, ...args]), method === 'unlock' || method === 'armEnrollment' || method === 'listPeople' ? results[method] : Promise.resolve(results[method])) });
  const actor = { via: 'mqtt', name: 'signed request' } as const;
  const run = (request: CommandRequest) => executeRequest(admin, request, 'tx', actor);
  assert.deepEqual(await run({ command: 'unlock', params: { door: 'front' } }), { door: 'front', event_id: 'e1', pulsed: true });
  assert.deepEqual(await run({ command: 'arm_enrollment', params: { name: 'bob', capture: 'now' } }), { name: 'bob', expires_at: '2026-12-02T06:05:00.000Z', capture: 'now' });
  assert.deepEqual(await run({ command: 'name_pending', params: { id: 9, name: 'carol' } }), { person: 'carol', templates: 4 });
  assert.deepEqual(await run({ command: 'delete_person', params: { name: 'alice' } }), { person: 'alice', templates: 5, negatives: 1, event_embeddings: 2, verified: true });
  assert.deepEqual(await run({ command: 'list_people', params: {} }), {
    people: [{ id: 3, name: 'alice', groups: ['staff'], templates: 5, negatives: 1, models: ['m'] }],
    pending: [{ id: 9, created_at: '2026-12-01T00:00:00.000Z', source: 'button', templates: 3 }],
  });
  assert.deepEqual(await run({ command: 'mark_wrong', params: { event_id: 'e7', note: 'twin' } }), { event_id: 'e7', person: 'alice', negative_id: 12 });
  assert.deepEqual(await run({ command: 'reload_config', params: {} }), { applied: ['matching'], restart_required: ['camera'] });
  assert.deepEqual(calls, [
    ['unlock', 'front', actor, 'tx'],
    ['armEnrollment', 'bob', 300_000, 'now', actor],
    ['namePending', 9, 'carol', actor],
    ['deletePerson', 'alice', actor],
    ['listPeople'],
    ['markWrong', 'e7', 'twin', actor],
    ['reloadConfig', actor],
  ]);
});

test('payloads built from internal events match the contract; "seen but no usable face" is an event too', () => {
  const noFace: RecognitionEvent = {
    eventId: 'e1', time: '2026-11-28T00:00:00.000Z', door: 'front', decision: 'denied', reason: 'denied-quality', relay: 'none', trackId: 4, person: null,
    score: 0, margin: 0, votes: 3, share: 0, quality: { faceSize: 31, sharpness: 4.2, frontalness: 0.1, detectorScore: 0.91 }, latencyMs: 800, modelId: 'm', frameSeq: 9, box: [1, 2, 31, 40],
  };
  const m = RecognitionPayload.parse(recognitionMessage(noFace, 'door1'));
  assert.deepEqual([m.reason, m.person, m.quality.face_size, m.device], ['denied-quality', null, 31, 'door1']);
  const granted = recognitionMessage({ ...noFace, decision: 'granted', reason: 'granted', relay: 'pulse', person: { id: 1, name: 'alice' }, embedding: new Float32Array(4) }, 'door1');
  assert.ok(!('embedding' in granted), 'embeddings are never published');
  UnlockPayload.parse(unlockMessage({ eventId: 'e2', time: noFace.time, door: 'front', relay: 'busy', transaction: undefined }, 'door1'));
  EnrollmentPayload.parse(enrollmentMessage({ kind: 'pending', pendingId: 3, templates: 4, trigger: 'button' }, 'e3', noFace.time, 'door1'));
  StatePayload.parse(stateMessage({ startedAt: noFace.time, models: { embedder: 'm', embedderSha256: 's', precision: 'float32' }, camera: { state: 'streaming', source: 'v4l2', fps: 4.44, dropped: 2 }, gallery: { people: 1, templates: 5 }, doors: [{ name: 'front', state: 'locked' }] }, { pending: 0, dropped: 0 }, 'door1', '0.1.0', noFace.time));
});

test('docs/mqtt-events.schema.json is the one the contract generates', () => {
  const file = JSON.parse(readFileSync(join(REPO_ROOT, 'docs/mqtt-events.schema.json'), 'utf8')) as unknown;
  assert.deepEqual(file, contractJsonSchema(), 'run: node bin/facegate.js mqtt schema > docs/mqtt-events.schema.json');
});

test('mqtt config: defaults, device id from the host name, and clear errors', () => {
  const c = parseConfig('mqtt:\n  url: mqtt://127.0.0.1:1883\n', 'f.yaml').mqtt!;
  assert.equal(c.base, 'facegate');
  assert.equal(c.commands.allowUnsigned, false);
  assert.equal(c.outbox.whenFull, 'drop-oldest');
  assert.equal(parseConfig('', 'f.yaml').mqtt, undefined, 'no section, no MQTT');
  assert.equal(deviceIdFromHostname('Door-Pi.local'), 'door-pi-local');
  assert.equal(deviceIdFromHostname('___'), 'facegate');
  const bad = (text: string, re: RegExp) => assert.throws(() => parseConfig(text, 'f.yaml'), re);
  bad('mqtt:\n  url: http://x\n', /mqtt\.url: mqtt:\/\/host:port/);
  bad('mqtt:\n  url: mqtt://x\n  password: a\n  passwordFile: b\n', /password or passwordFile, not both/);
  bad('mqtt:\n  url: mqtt://x\n  tls:\n    cert: c.pem\n', /needs both cert and key/);
  bad('mqtt:\n  url: mqtt://x\n  tls:\n    ca: ca.pem\n', /use mqtts:\/\//);
  bad('mqtt:\n  url: mqtt://x\n  commands:\n    hmacKey: short\n', /commands\.hmacKey/);
  bad('mqtt:\n  url: mqtt://x\n  deviceId: Front/Door\n', /deviceId/);
});

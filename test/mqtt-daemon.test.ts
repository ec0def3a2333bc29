// The daemon on a real mosquitto: the event contract as published (validated against the schema
// the docs are generated from), Home Assistant discovery and its removal, the Last Will on
// SIGKILL, signed commands end to end, and fuzzed requests that must change nothing.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../src/paths.js';
import { FRANCK_FRAMES } from '../src/fixtures/sample-photos.js';
import { EnrollmentPayload, LastPersonPayload, RecognitionPayload, ResponsePayload, StatePayload, UnlockPayload } from '../src/mqtt/contract.js';
import { signRequest } from '../src/mqtt/signing.js';
import { Mosquitto } from './helpers/mosquitto.js';
import { Recorder } from './helpers/mqtt-recorder.js';
import { enrollPhotos, folderConfig, spawnDaemon } from './helpers/daemon.js';
import { waitUntil } from './helpers/wait.js';
import { cliInProcess } from './helpers/cli.js';
import { requireModels, samplePhotos } from './helpers/models.js';

const run = promisify(execFile);
const PREFIX = 'facegate/door1/';
const RELAY_PIN = 17;

let work: string;
let photos: Record<string, string>;

before(async () => {
  requireModels();
  photos = await samplePhotos();
  work = mkdtempSync(join(tmpdir(), 'facegate-mqtt-daemon-'));
});

const enroll = (config: string, name: string, keys: string[]) => enrollPhotos(config, name, keys.map((k) => photos[k]!));

/** The `facegate mqtt ...` commands, in this process (the daemon itself is spawned). */
const cli = (args: string[]) => cliInProcess(args);

const json = (payload: string) => JSON.parse(payload) as Record<string, unknown>;

test('spawned daemon: state, discovery, decisions, signed unlock, mark wrong, Last Will, discovery removal', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(work, 'e2e-'));
  const broker = new Mosquitto(dir);
  await broker.start();
  writeFileSync(join(dir, 'hmac.key'), `${randomBytes(32).toString('hex')}\n`);
  const cam = join(dir, 'camera');
  mkdirSync(cam);
  FRANCK_FRAMES.slice(8, 10).forEach((k, i) => copyFileSync(photos[k]!, join(cam, `f${i}.jpg`)));
  const mqttSection = { url: broker.url, deviceId: 'door1', commands: { hmacKeyFile: 'hmac.key' }, reconnect: { initialMs: 100, maxMs: 500 } };
  const base = { doors: [{ name: 'front', relay: { pin: RELAY_PIN, pulseMs: 400 }, cooldownMs: 600_000 }], health: { enabled: false } };
  const config = folderConfig(dir, { ...base, mqtt: mqttSection });
  await enroll(config, 'franck', FRANCK_FRAMES.slice(0, 5));
  const rec = await Recorder.connect(broker.url, ['facegate/#', 'homeassistant/#']);
  let d = spawnDaemon(config);
  try {
    // Connect: online, discovery, locked door, then the state once the camera streams.
    await rec.waitFor('online', (m) => m.topic === `${PREFIX}status` && m.payload === 'online');
    const state = await rec.waitFor('state with the camera streaming', (m) => m.topic === `${PREFIX}state` && (json(m.payload).camera as { state: string }).state === 'streaming');
    const s = StatePayload.parse(json(state.payload));
    assert.equal(s.device, 'door1');
    assert.equal(s.gallery.people, 1);
    assert.equal(s.models.embedder, 'mobilefacenet-fp32');
    // The enrolled visitor may already have opened the door by the time the camera's state goes out.
    assert.deepEqual(s.doors.map((x) => x.name), ['front']);
    const discovery = rec.messages.filter((m) => m.topic.startsWith('homeassistant/') && m.payload);
    assert.deepEqual(discovery.map((m) => m.topic).sort(), [
      'homeassistant/binary_sensor/facegate_door1/camera/config',
      'homeassistant/button/facegate_door1/capture_pending/config',
      'homeassistant/event/facegate_door1/recognition/config',
      'homeassistant/image/facegate_door1/last_face/config',
      'homeassistant/lock/facegate_door1/door_front/config',
      'homeassistant/sensor/facegate_door1/fps/config',
      'homeassistant/sensor/facegate_door1/gallery_people/config',
      'homeassistant/sensor/facegate_door1/last_person/config',
      'homeassistant/sensor/facegate_door1/last_seen/config',
      'homeassistant/sensor/facegate_door1/last_unknown/config',
      'homeassistant/sensor/facegate_door1/outbox_pending/config',
    ]);
    for (const m of discovery) {
      const c = json(m.payload);
      assert.ok(c.unique_id && c.name && (c.state_topic || c.image_topic || c.command_topic) && c.availability_topic === `${PREFIX}status`, m.payload);
    }
    assert.ok(rec.on(`${PREFIX}door/front/state`).some((m) => m.payload === 'locked'));

    // franck walks up: one granted decision, the door state follows the relay.
    const granted = await rec.waitFor('granted event', (m) => m.topic === `${PREFIX}event/recognition`, { timeoutMs: 30_000 });
    const g = RecognitionPayload.parse(json(granted.payload));
    assert.equal(g.person?.name, 'franck');
    assert.equal(g.decision, 'granted');
    assert.equal(g.relay, 'pulse');
    assert.ok(!('embedding' in json(granted.payload)), 'the embedding is never published');
    await rec.waitFor('unlocked', (m) => m.topic === `${PREFIX}door/front/state` && m.payload === 'unlocked');
    const lockedAgain = await rec.waitFor('locked again', (m) => m.topic === `${PREFIX}door/front/state` && m.payload === 'locked' && m.atMs > granted.atMs);
    const last = LastPersonPayload.parse(json((await rec.waitFor('last person', (m) => m.topic === `${PREFIX}person/last`)).payload));
    assert.deepEqual([last.name, last.event_id], ['franck', g.id]);

    // A stranger: denied-unknown, no pulse.
    for (const f of ['f0.jpg', 'f1.jpg']) copyFileSync(photos.cage!, join(cam, f));
    const denied = RecognitionPayload.parse(json((await rec.waitFor('denied event', (m) => m.topic === `${PREFIX}event/recognition` && json(m.payload).decision === 'denied', { timeoutMs: 30_000 })).payload));
    assert.deepEqual([denied.reason, denied.person, denied.relay], ['denied-unknown', null, 'none']);

    // A signed unlock from the command line helper: pulses, is an event of its own.
    const unlock = await cli(['mqtt', 'request', 'unlock', '{"door":"front"}', '--config', config]);
    assert.equal(unlock.code, 0, unlock.stderr);
    const ur = ResponsePayload.parse(JSON.parse(unlock.stdout));
    assert.equal(ur.status, 'ok');
    assert.equal(ur.data.pulsed, true);
    const ue = UnlockPayload.parse(json((await rec.waitFor('unlock event', (m) => m.topic === `${PREFIX}event/unlock`)).payload));
    assert.deepEqual([ue.id, ue.reason, ue.relay, ue.transaction], [ur.data.event_id, 'granted-remote', 'pulse', ur.transaction]);
    await rec.waitFor('unlocked by request', (m) => m.topic === `${PREFIX}door/front/state` && m.payload === 'unlocked' && m.atMs > lockedAgain.atMs);

    // Home Assistant's lock button sends an unsigned unlock: refused, nothing moves.
    await rec.waitFor('locked after the remote pulse', (m) => m.topic === `${PREFIX}door/front/state` && m.payload === 'locked' && m.atMs > lockedAgain.atMs);
    const before = rec.messages.length;
    const ha = await rec.request(PREFIX, 'unlock', { door: 'front', transaction: 'home-assistant' });
    assert.deepEqual([ha.status, ha.code], ['error', 'unsigned']);
    // A pulse would have been published before the answer to the next request: ask one.
    const next = await rec.request(PREFIX, 'no_such_command', { transaction: 'after the refused unlock' });
    assert.equal(next.status, 'error');
    assert.deepEqual(rec.messages.slice(before).filter((m) => m.topic.includes('/door/') || m.topic.includes('/event/')), []);

    // "That was not franck": a negative template from the embedding the decision was made on.
    const wrong = await cli(['mqtt', 'request', 'mark_wrong', JSON.stringify({ event_id: g.id, note: 'his brother' }), '--config', config]);
    assert.equal(wrong.code, 0, wrong.stdout + wrong.stderr);
    assert.equal(JSON.parse(wrong.stdout).data.person, 'franck');
    const again = await cli(['mqtt', 'request', 'mark_wrong', JSON.stringify({ event_id: g.id }), '--config', config]);
    assert.equal(again.code, 1);
    assert.match(JSON.parse(again.stdout).error as string, /already marked wrong/);
    const people = JSON.parse((await cli(['mqtt', 'request', 'list_people', '--config', config])).stdout) as { data: { people: { name: string; negatives: number }[] } };
    assert.deepEqual(people.data.people.map((p) => [p.name, p.negatives]), [['franck', 1]]);

    // What a client that subscribes now gets: the retained topics.
    const late = await Recorder.connect(broker.url, [`${PREFIX}#`, 'homeassistant/#']);
    await late.flush();
    const retained = new Map(late.messages.filter((m) => m.retain).map((m) => [m.topic, m.payload]));
    await late.end();
    assert.equal(retained.get(`${PREFIX}status`), 'online');
    assert.equal(retained.get(`${PREFIX}door/front/state`), 'locked');
    assert.equal(LastPersonPayload.parse(json(retained.get(`${PREFIX}person/last`)!)).name, 'franck');
    StatePayload.parse(json(retained.get(`${PREFIX}state`)!));
    for (const m of discovery) assert.equal(retained.get(m.topic), m.payload);
    assert.ok(![...retained.keys()].some((t) => t.startsWith(`${PREFIX}event/`) || t.startsWith(`${PREFIX}response/`)), 'events and responses are not retained');

    // SIGKILL: the broker publishes the Last Will.
    const killedAt = Date.now();
    d.child.kill('SIGKILL');
    await d.exited;
    await rec.waitFor('Last Will', (m) => m.topic === `${PREFIX}status` && m.payload === 'offline' && m.atMs >= killedAt, { timeoutMs: 5000 });

    // Discovery switched off: the restarted daemon removes what it announced.
    const mark = rec.messages.length;
    const noHa = folderConfig(dir, { ...base, mqtt: { ...mqttSection, homeAssistant: { enabled: false } } });
    d = spawnDaemon(noHa);
    await rec.waitFor('online again', (m) => m.topic === `${PREFIX}status` && m.payload === 'online', { from: mark });
    for (const t of discovery.map((m) => m.topic)) await rec.waitFor(`removal of ${t}`, (m) => m.topic === t && m.payload === '', { from: mark });
    const fresh = await Recorder.connect(broker.url, ['homeassistant/#']);
    await fresh.flush();
    assert.deepEqual(fresh.messages, [], 'retained discovery configs left behind');
    await fresh.end();

    // SIGTERM: a clean goodbye.
    const stopMark = rec.messages.length;
    d.child.kill('SIGTERM');
    assert.equal(await d.exited, 0);
    await rec.waitFor('offline on stop', (m) => m.topic === `${PREFIX}status` && m.payload === 'offline', { from: stopMark, timeoutMs: 5000 });
  } finally {
    if (d.child.exitCode === null) d.child.kill('SIGKILL');
    await rec.end();
    await broker.stop();
  }
});

test('in-process daemon: fuzzed and replayed requests change nothing and never pulse; signed commands work', { timeout: 120_000 }, async () => {
  const { loadConfig } = await import('../src/config/load.js');
  const { Daemon } = await import('../src/daemon/daemon.js');
  const { SimulatedGpio } = await import('../src/hardware/gpio/simulated-gpio.js');
  const { createLogger } = await import('../src/daemon/logger.js');
  const { GalleryStore } = await import('../src/gallery/gallery-store.js');
  const { cv } = await import('../src/vision/opencv.js');
  const dir = mkdtempSync(join(work, 'fuzz-'));
  const broker = new Mosquitto(dir);
  await broker.start();
  const key = randomBytes(32).toString('hex');
  const cam = join(dir, 'camera');
  mkdirSync(cam);
  // Nobody at the door: every pulse in this test can only come from a request.
  cv.imwrite(join(cam, 'empty.jpg'), new cv.Mat(480, 640, cv.CV_8UC3, [128, 128, 128]));
  const config = folderConfig(dir, {
    doors: [{ name: 'front', relay: { pin: RELAY_PIN, pulseMs: 300 } }],
    health: { enabled: false },
    logging: { level: 'error' },
    mqtt: { url: broker.url, deviceId: 'door1', commands: { hmacKey: key }, homeAssistant: { enabled: false }, reconnect: { initialMs: 100, maxMs: 500 } },
  });
  await enroll(config, 'franck', FRANCK_FRAMES.slice(0, 3));
  const seeded = GalleryStore.open(join(dir, 'gallery.db'));
  const franck = seeded.requirePerson('franck');
  const model = { id: seeded.templatesOf(franck)[0]!.modelId, sha256: seeded.templatesOf(franck)[0]!.modelSha };
  const pendingId = seeded.addPending(model, [{ embedding: seeded.templatesOf(franck)[0]!.embedding, quality: {}, source: 'camera' }], 'test');
  seeded.close();

  const gpio = new SimulatedGpio();
  const loaded = loadConfig(config);
  const daemon = new Daemon(loaded, { log: createLogger(loaded.config.logging), gpio });
  const rec = await Recorder.connect(broker.url, [`${PREFIX}#`]);
  const signed = (command: string, params: Record<string, unknown>) => signRequest(Buffer.from(key), 'door1', command, params);
  // A retained request waiting on the broker would run again on every reconnect: refused.
  await rec.client.publishAsync(`${PREFIX}request/unlock`, JSON.stringify(signed('unlock', { door: 'front', transaction: 'retained' })), { qos: 1, retain: true });
  await daemon.start();
  const galleryState = () => {
    const store = GalleryStore.open(join(dir, 'gallery.db'));
    try {
      const people = store.listPeople().map(({ updatedAt: _u, ...p }) => p);
      return JSON.stringify({ people, pending: store.listPending(), negatives: people.map((p) => store.negativesOf(store.requirePerson(p.name)).length), armed: store.device.db.prepare("SELECT value FROM settings WHERE key = 'armed_enrollment'").get() ?? null, audit: store.auditLog(1000).length });
    } finally {
      store.close();
    }
  };
  try {
    await rec.waitFor('online', (m) => m.topic === `${PREFIX}status` && m.payload === 'online');
    const relayEdges = () => gpio.edgesFor(RELAY_PIN).length;
    const edgesBefore = relayEdges();
    const stateBefore = galleryState();

    // Hand-written cases, then seeded random ones: all must be answered with an error.
    const huge = 'x'.repeat(200 * 1024);
    const cases: [string, Record<string, unknown> | string][] = [
      ['unlock', '{"door":"front"'],
      ['unlock', 'not json at all'],
      ['unlock', '[]'],
      ['unlock', huge],
      ['unlock', { door: 'front', transaction: 'unsigned' }],
      ['unlock', { ...signed('unlock', { door: 'front' }), door: 'back', transaction: 'tampered' }],
      ['unlock', { ...signed('unlock', { door: 'front' }), sig: 'a'.repeat(64), transaction: 'forged' }],
      ['unlock', { ...signRequest(Buffer.from('k'.repeat(32)), 'door1', 'unlock', { door: 'front' }), transaction: 'wrong key' }],
      ['unlock', signRequest(Buffer.from(key), 'door1', 'unlock', { door: 'front', transaction: 'stale' }, Date.now() - 120_000)],
      ['unlock', signed('unlock', { door: 'no-such-door', transaction: 'no door' })],
      ['unlock', signed('unlock', { door: 7, transaction: 'door type' })],
      ['unlock', signed('unlock', { door: 'front', extra: huge.slice(0, 15_000), transaction: 'extra' })],
      ['open_everything', signed('open_everything', { transaction: 'unknown command' })],
      ['arm_enrollment', signed('arm_enrollment', { name: 'x'.repeat(1000), transaction: 'long name' })],
      ['arm_enrollment', signed('arm_enrollment', { name: '../etc/passwd', transaction: 'path name' })],
      ['arm_enrollment', { name: 'mallory', transaction: 'unsigned arm' }],
      ['name_pending', { id: pendingId, name: 'mallory', transaction: 'unsigned name' }],
      ['name_pending', signed('name_pending', { id: pendingId + 99, name: 'mallory', transaction: 'no pending' })],
      ['delete_person', { name: 'franck', transaction: 'unsigned delete' }],
      ['delete_person', signed('delete_person', { name: 'nobody', transaction: 'no person' })],
      ['mark_wrong', signed('mark_wrong', { event_id: 'no-such-event', transaction: 'no event' })],
      ['list_people', { transaction: 'unsigned list' }],
    ];
    let seed = 42;
    const rnd = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const values = [null, true, 0, -1, 1.5, 1e300, '', 'front', 'franck', 'x'.repeat(70), [], {}, [1, 'a'], { door: 'front' }];
    const commands = ['unlock', 'arm_enrollment', 'name_pending', 'delete_person', 'list_people', 'mark_wrong', 'reload_config', 'nope'];
    // 40 here, on the whole daemon; test/broker/mqtt-fuzz.test.ts sends about 300 to the bridge.
    for (let i = 0; i < 40; i++) {
      const command = commands[Math.floor(rnd() * commands.length)]!;
      const body: Record<string, unknown> = { transaction: `fuzz-${i}` };
      for (const k of ['door', 'name', 'id', 'event_id', 'ts', 'nonce', 'sig', 'ttl_seconds', 'note', 'zz'].filter(() => rnd() < 0.4)) body[k] = values[Math.floor(rnd() * values.length)];
      // Half of them properly signed and then altered in one field: the signature must catch it.
      if (rnd() < 0.5) cases.push([command, { ...signed(command, body), door: `altered-${i}` }]);
      else cases.push([command, body]);
    }
    for (const [command, body] of cases) {
      const r = ResponsePayload.parse(await rec.request(PREFIX, command, body));
      assert.equal(r.status, 'error', `${command} ${JSON.stringify(body).slice(0, 100)} was accepted`);
      if (typeof body !== 'string' && typeof body.transaction === 'string') assert.equal(r.transaction, body.transaction);
    }
    const retained = json((await rec.waitFor('retained refused', (m) => m.topic === `${PREFIX}response/unlock` && json(m.payload).code === 'retained')).payload);
    assert.equal(retained.status, 'error');
    await rec.client.publishAsync(`${PREFIX}request/unlock`, '', { qos: 1, retain: true });
    assert.equal(relayEdges(), edgesBefore, 'the relay moved for a refused request');
    assert.equal(galleryState(), stateBefore, 'a refused request changed the gallery');
    assert.equal(rec.messages.filter((m) => m.topic.includes('/event/') || m.payload === 'unlocked').length, 0);

    // A valid signed unlock pulses once; the very same message again is a replay.
    const valid = signed('unlock', { door: 'front', transaction: 'valid' });
    const ok = await rec.request(PREFIX, 'unlock', valid);
    assert.deepEqual([ok.status, (ok.data as { pulsed: boolean }).pulsed], ['ok', true]);
    await waitUntil('the end of the pulse', () => relayEdges() >= edgesBefore + 2);
    assert.equal(relayEdges(), edgesBefore + 2, 'one pulse: energised, released');
    const replay = await rec.request(PREFIX, 'unlock', valid);
    assert.equal(replay.code, 'replayed');
    // A pulse starts before the answer is sent.
    assert.equal(relayEdges(), edgesBefore + 2, 'the replay pulsed the relay');

    // The other commands, signed.
    // No button on this device: arming for a press that can never come is refused, with why.
    const armed = await rec.request(PREFIX, 'arm_enrollment', signed('arm_enrollment', { name: 'audrey', ttl_seconds: 60, capture: 'button', transaction: 'arm' }));
    assert.deepEqual([armed.status, armed.transaction], ['error', 'arm']);
    assert.match(String(armed.error), /no enrollment button/);
    const named = await rec.request(PREFIX, 'name_pending', signed('name_pending', { id: pendingId, name: 'bob', transaction: 'name' }));
    assert.deepEqual(named.data, { person: 'bob', templates: 1 });
    const deleted = await rec.request(PREFIX, 'delete_person', signed('delete_person', { name: 'franck', transaction: 'delete' }));
    assert.equal(deleted.status, 'ok', JSON.stringify(deleted));
    assert.deepEqual(deleted.data, { person: 'franck', templates: 3, negatives: 0, event_embeddings: 0, verified: true });
    const listed = await rec.request(PREFIX, 'list_people', signed('list_people', { transaction: 'list' }));
    assert.deepEqual((listed.data as { people: { name: string }[] }).people.map((p) => p.name), ['bob']);

    // reload_config: a broken file changes nothing; a new threshold is applied live.
    const original = readFileSync(config, 'utf8');
    writeFileSync(config, `${original}\nmatching:\n  threshold: 7\n`);
    const broken = await rec.request(PREFIX, 'reload_config', signed('reload_config', { transaction: 'reload broken' }));
    assert.equal(broken.status, 'error');
    assert.match(broken.error as string, /matching\.threshold/);
    writeFileSync(config, `${original}\nmatching:\n  threshold: 0.6\n`);
    const reloaded = await rec.request(PREFIX, 'reload_config', signed('reload_config', { transaction: 'reload' }));
    assert.deepEqual(reloaded.data, { applied: ['matching'], restart_required: [] });

    const unlockEvents = rec.messages.filter((m) => m.topic === `${PREFIX}event/unlock`);
    assert.equal(unlockEvents.length, 1);
    UnlockPayload.parse(json(unlockEvents[0]!.payload));
    for (const m of rec.messages.filter((x) => x.topic === `${PREFIX}event/enrollment`)) EnrollmentPayload.parse(json(m.payload));
  } finally {
    await daemon.stop();
    await rec.end();
    await broker.stop();
  }
});

test('TLS with a client certificate and a password file, from the config', { timeout: 60_000 }, async () => {
  const { loadConfig } = await import('../src/config/load.js');
  const { resolveMqttSettings } = await import('../src/mqtt/settings.js');
  const { MqttBridge } = await import('../src/mqtt/mqtt-bridge.js');
  const { openMqttQueue } = await import('./helpers/mqtt-queue.js');
  const { pino } = await import('pino');
  const dir = mkdtempSync(join(work, 'tls-'));
  const sh = (cmd: string, args: string[]) => run(cmd, args, { cwd: dir });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await sh('openssl', ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=facegate test CA']);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  for (const name of ['server', 'client']) {
    await sh('openssl', ['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
    await sh('openssl', ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '1', ...(name === 'server' ? ['-extfile', 'san.ext'] : [])]);
  }
  await sh('mosquitto_passwd', ['-b', '-c', 'passwd', 'door', 'open sesame']);
  writeFileSync(join(dir, 'mqtt-password'), 'open sesame\n');
  const broker = new Mosquitto(dir, { passwordFile: join(dir, 'passwd'), tls: { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key'), requireCertificate: true } });
  await broker.start();
  const tlsFiles = { ca: join(dir, 'ca.pem'), cert: join(dir, 'client.pem'), key: join(dir, 'client.key') };
  const rec = await Recorder.connect(broker.url, [`${PREFIX}status`], { username: 'door', password: 'open sesame', ...Object.fromEntries(Object.entries(tlsFiles).map(([k, p]) => [k, readFileSync(p)])) });
  const bridgeWith = (passwordFile: string) => {
    writeFileSync(join(dir, 'facegate.yaml'), `gallery:\n  path: gallery.db\nmqtt:\n  url: ${broker.url}\n  deviceId: door1\n  username: door\n  passwordFile: ${passwordFile}\n  tls:\n    ca: ca.pem\n    cert: client.pem\n    key: client.key\n  reconnect:\n    initialMs: 100\n    maxMs: 200\n`);
    const loaded = loadConfig(join(dir, 'facegate.yaml'));
    const settings = resolveMqttSettings(loaded, loaded.config.mqtt!);
    const events = openMqttQueue(join(dir, `events-${passwordFile}.db`));
    const lines: string[] = [];
    const log = pino({ level: 'debug' }, { write: (l: string) => void lines.push(l) });
    const bridge = new MqttBridge({ settings, queue: events.queue, nonces: events.nonces, doors: ['front'], admin: {} as never, log });
    return { bridge, events, lines };
  };
  try {
    const good = bridgeWith('mqtt-password');
    good.bridge.start();
    await rec.waitFor('online over TLS', (m) => m.payload === 'online');
    assert.ok(good.bridge.connected);
    await good.bridge.stop();
    good.events.close();
    await rec.waitFor('offline', (m) => m.payload === 'offline');

    // The command line removal of the Home Assistant entities it announced, over the same TLS.
    const removal = await cli(['mqtt', 'discovery', '--remove', '--config', join(dir, 'facegate.yaml'), '--wait', '0.5']);
    assert.match(removal.stdout, /^10 Home Assistant entities of door1 removed/, removal.stderr);
    const ha = await Recorder.connect(broker.url, ['homeassistant/#'], { username: 'door', password: 'open sesame', ...Object.fromEntries(Object.entries(tlsFiles).map(([k, p]) => [k, readFileSync(p)])) });
    await ha.flush();
    assert.deepEqual(ha.messages, []);
    await ha.end();

    writeFileSync(join(dir, 'wrong-password'), 'guess\n');
    const bad = bridgeWith('wrong-password');
    bad.bridge.start();
    await waitUntil('the refused login', () => bad.lines.some((l) => /refused the login: check mqtt.username and the password/.test(l)));
    assert.equal(bad.bridge.connected, false);
    await bad.bridge.stop();
    bad.events.close();
  } finally {
    await rec.end();
    await broker.stop();
  }
});

test('a missing HMAC key file: a clear error naming it, relay never touched', async () => {
  const { loadConfig } = await import('../src/config/load.js');
  const { Daemon } = await import('../src/daemon/daemon.js');
  const { SimulatedGpio } = await import('../src/hardware/gpio/simulated-gpio.js');
  const { pino } = await import('pino');
  const dir = mkdtempSync(join(work, 'badkey-'));
  mkdirSync(join(dir, 'camera'));
  copyFileSync(photos[FRANCK_FRAMES[0]!]!, join(dir, 'camera', 'f0.jpg'));
  const gpio = new SimulatedGpio();
  const daemon = new Daemon(loadConfig(folderConfig(dir, { mqtt: { url: 'mqtt://127.0.0.1:9', commands: { hmacKeyFile: 'missing.key' } } })), { log: pino({ level: 'silent' }), gpio });
  await assert.rejects(daemon.start(), (err: Error) => /facegate\.yaml:\d+: mqtt\.commands\.hmacKeyFile: HMAC key file .*missing\.key does not exist/.test(err.message) && !err.message.includes('\n'));
  await daemon.stop();
  assert.deepEqual(gpio.edges, [], 'GPIO was touched');
});

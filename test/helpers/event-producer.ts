// A stand-in daemon for the delivery tests, run as a child process so it can be SIGKILLed: the
// real MqttBridge on a real event log file, fed synthetic recognition decisions at a steady rate.
//   node --import tsx test/helpers/event-producer.ts URL OUTBOX RUN COUNT INTERVAL_MS
// Prints "recorded N" every 50 events, "drained" when the MQTT queue is empty after the last one.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { openMqttQueue } from './mqtt-queue.js';
import { MqttBridge } from '../../src/mqtt/mqtt-bridge.js';
import type { AdminApi } from '../../src/app/admin-api.js';
import type { RecognitionEvent } from '../../src/recognition/events.js';
import type { MqttSettings } from '../../src/mqtt/settings.js';

const [url, outboxPath, run, countText, intervalText] = process.argv.slice(2);
const count = Number(countText);
const intervalMs = Number(intervalText);

const PRODUCER_DEVICE = 'door1';

const settings: MqttSettings = {
  url: url!,
  base: 'facegate',
  device: PRODUCER_DEVICE,
  clientId: `facegate_${PRODUCER_DEVICE}`,
  reconnect: { initialMs: 100, maxMs: 400 },
  commands: { enabled: false, key: null, maxSkewMs: 30_000, allowUnsigned: false },
  outbox: { maxEvents: 100_000, whenFull: 'drop-oldest' },
  homeAssistant: { enabled: false, prefix: 'homeassistant' },
};

// Commands are off here: no AdminApi method is ever reached.
const admin = new Proxy({}, { get: () => () => { throw new Error('no commands here'); } }) as AdminApi;

const events = openMqttQueue(outboxPath!, settings.outbox);
const bridge = new MqttBridge({ settings, queue: events.queue, nonces: events.nonces, doors: ['front'], admin, log: pino({ level: 'warn' }) });
bridge.start();

const model = { id: 'mobilefacenet-fp32', sha256: 'f'.repeat(64) };
for (let i = 0; i < count; i++) {
  const e: RecognitionEvent = {
    eventId: `${run}-${String(i).padStart(5, '0')}-${randomUUID().slice(0, 8)}`,
    time: new Date().toISOString(),
    door: 'front',
    decision: i % 3 === 0 ? 'granted' : 'denied',
    reason: i % 3 === 0 ? 'granted' : 'denied-unknown',
    relay: i % 3 === 0 ? 'pulse' : 'none',
    trackId: i + 1,
    person: i % 3 === 0 ? { id: 1, name: 'alice' } : null,
    score: 0.7,
    margin: 0.2,
    votes: 3,
    share: 1,
    quality: { faceSize: 120, sharpness: 80.5, frontalness: 0.9, detectorScore: 0.999 },
    latencyMs: 400,
    modelId: model.id,
    frameSeq: i,
    box: [10, 20, 120, 130],
    ...(i % 3 === 0 ? { embedding: new Float32Array(128).fill(1 / Math.sqrt(128)) } : {}),
  };
  // As in the daemon: recorded (and queued) first, then the bridge is told.
  events.recordDecision(e, PRODUCER_DEVICE);
  bridge.noteRecognition(e);
  if ((i + 1) % 50 === 0) process.stdout.write(`recorded ${i + 1}\n`);
  await sleep(intervalMs);
}
while (events.queue.pending > 0) await sleep(20);
process.stdout.write('drained\n');
await bridge.stop();
events.close();

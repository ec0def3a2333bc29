// The MQTT bridge's side of the event log for tests that run the bridge without a daemon: a real
// event log file with its `mqtt` queue, and decisions recorded the way the daemon's recorder does.
import { EventLog, type WhenFull } from '../../src/events/event-log.js';
import { MQTT_EVENT_KINDS } from '../../src/daemon/mqtt-link.js';
import { recognitionMessage } from '../../src/mqtt/messages.js';
import type { RecognitionEvent } from '../../src/recognition/events.js';

export function openMqttQueue(path: string, limits: { maxEvents: number; whenFull: WhenFull } = { maxEvents: 100_000, whenFull: 'drop-oldest' }) {
  const log = EventLog.open(path, { keepDays: 7, snapshotKeepDays: 7 });
  const queue = log.consumer('mqtt', { kinds: MQTT_EVENT_KINDS, ...limits });
  return {
    log,
    queue,
    nonces: { claim: (nonce: string, expiresAtMs: number) => log.claimNonce(nonce, expiresAtMs) },
    recordDecision: (e: RecognitionEvent, device: string) =>
      log.record({ id: e.eventId, kind: 'recognition', payload: recognitionMessage(e, device), door: e.door, reason: e.reason, person: e.person, score: e.score }),
    close: () => log.close(),
  };
}

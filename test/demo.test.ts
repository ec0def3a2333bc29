// The main job end to end: `facegate demo` builds a video from real photos and runs the real
// daemon on it as its camera, with the simulated relay and the demo's in-process MQTT broker. Its
// own file, so the test runner plays it beside the other suites. It plays the video in video time
// (`facegate demo --fast`): as fast as the models run, with the relay timed on the video's clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_DEVICE, runDemo } from '../src/demo/demo.js';
import { requireModels } from './helpers/models.js';

test('demo video: the relay pulses once per enrolled visitor and never for a stranger', async () => {
  const lines: string[] = [];
  requireModels();
  const result = await runDemo(join(mkdtempSync(join(tmpdir(), 'facegate-demo-')), 'demo'), { print: (l) => lines.push(l), videoTime: true });
  const granted = result.events.filter((e) => e.decision === 'granted' && e.relay === 'pulse');
  assert.deepEqual(granted.map((e) => e.person?.name).sort(), ['audrey', 'franck']);
  assert.equal(result.pulses.length, 2, lines.join('\n'));
  // Video time: each pulse lasts the configured 1500 ms of the video, to the frame.
  for (const p of result.pulses) assert.ok(p.durationMs >= 1500 && p.durationMs <= 1600, `pulse of ${p.durationMs} ms`);
  const strangers = result.events.filter((e) => e.person === null);
  assert.ok(strangers.length >= 2, 'strangers were not decided unknown');
  assert.ok(strangers.every((e) => e.decision === 'denied' && e.reason === 'denied-unknown'));
  for (const e of result.events) {
    assert.match(e.eventId, /^[0-9a-f-]{36}$/);
    assert.ok(e.latencyMs >= 0 && e.modelId === 'mobilefacenet-fp32' && e.trackId > 0);
  }
  assert.ok(lines.some((l) => l.includes('RELAY front ENERGISED')));
  // The last face goes out as a JPEG: described on the terminal, not dumped on it.
  assert.ok(lines.some((l) => /^MQTT facegate\/demo\/ha\/last_face <JPEG image, \d+ bytes>$/.test(l)), 'no last face, or printed raw');
  assert.ok(lines.every((l) => !l.includes('\ufffd')), 'binary payload printed');
  // Every decision went out over the demo's MQTT broker, with its event id.
  const published = result.mqtt.filter((m) => m.topic === `facegate/${DEMO_DEVICE}/event/recognition`).map((m) => (JSON.parse(m.payload) as { id: string }).id);
  assert.deepEqual(published, result.events.map((e) => e.eventId));
});

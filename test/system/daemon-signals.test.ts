// What only a real process shows: a signal arriving while the door relay is energised. The relay
// is released and says so, the retained door state on the broker reads `locked` after the exit,
// and a SIGHUP ends with a failure code so systemd's Restart=on-failure brings the daemon back.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FRANCK_FRAMES } from '../../src/fixtures/sample-photos.js';
import { requireModels, samplePhotos } from '../helpers/models.js';
import { enrollPhotos, folderConfig, spawnDaemon } from '../helpers/daemon.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { Recorder } from '../helpers/mqtt-recorder.js';

let work: string;
let photos: Record<string, string>;

before(async () => {
  requireModels();
  photos = await samplePhotos();
  work = mkdtempSync(join(tmpdir(), 'facegate-signals-'));
});


test('SIGHUP during a pulse: relay released and logged, retained door state locked, exit 129', async () => {
  const dir = mkdtempSync(join(work, 'hup-'));
  const cam = join(dir, 'camera');
  mkdirSync(cam);
  FRANCK_FRAMES.slice(4, 10).forEach((k, i) => copyFileSync(photos[k]!, join(cam, `f${i}.jpg`)));
  const broker = new Mosquitto(dir);
  await broker.start();
  const config = folderConfig(dir, {
    doors: [{ name: 'front', relay: { pin: 17, pulseMs: 60_000 } }],
    health: { enabled: false },
    mqtt: { url: broker.url, deviceId: 'door1', homeAssistant: { enabled: false } },
  });
  await enrollPhotos(config, 'franck', FRANCK_FRAMES.slice(0, 4).map((k) => photos[k]!));
  const rec = await Recorder.connect(broker.url, ['facegate/door1/door/#']);
  const d = spawnDaemon(config);
  try {
    await d.waitFor(/GRANTED franck/, 60_000);
    await rec.waitFor('unlocked', (m) => m.payload === 'unlocked');
    d.child.kill('SIGHUP');
    const code = await d.exited;
    assert.equal(code, 129, d.logs.map((l) => l.line).join('\n'));
    assert.ok(d.logs.some((l) => /SIGHUP \(treated as a failure/.test(l.line)), 'no log line for the signal');
    assert.ok(d.logs.some((l) => /front: relay released \(stop\) after \d+ ms/.test(l.line)), 'no log line for the release');
  } finally {
    if (d.child.exitCode === null) d.child.kill('SIGKILL');
    await rec.end();
  }
  // A fresh subscriber gets what the broker retained after the daemon went.
  const after = await Recorder.connect(broker.url, ['facegate/door1/door/front/state']);
  const retained = await after.waitFor('retained door state', (m) => m.retain);
  assert.equal(retained.payload, 'locked');
  await after.end();
  await broker.stop();
});

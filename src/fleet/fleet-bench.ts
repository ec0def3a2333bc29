// `facegate bench --fleet`: how far one broker carries a site. A seed controller (a real FleetSync
// on a real gallery of `people` persons) publishes every record retained; then `controllers`
// controllers connect at once for a full resync: one real FleetSync applying every record into its
// own SQLite gallery (verify, decrypt, merge, write), the others light subscribers that only count
// what the broker delivers. Reported: the broker's fan-out time to all of them, the time one
// controller takes to apply the whole gallery, and the message volume. In one process on one
// machine: on a real site every controller has its own CPU, so convergence is about the larger of
// the two times, not their sum.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { EventBus } from '../core/event-bus.js';
import { GalleryStore } from '../gallery/gallery-store.js';
import { createRng } from '../util/rng.js';
import { FleetSync, type FleetLog, type FleetSettings } from './fleet-sync.js';
import { generateSiteKeys } from './site-keys.js';
import { siteTopics } from './topics.js';

export interface FleetBenchOptions {
  /** Broker to run against; without one, a mosquitto is started on a free loopback port. */
  url?: string;
  controllers?: number;
  people?: number;
  templatesPerPerson?: number;
  dim?: number;
  log?: (line: string) => void;
}

export interface FleetBenchResult {
  broker: string;
  controllers: number;
  people: number;
  templatesPerPerson: number;
  dim: number;
  /** Bytes of one record on the wire (mean). */
  recordBytes: number;
  /** Seed controller: from start until the broker holds every record (a probe received them all). */
  publishMs: number;
  /** Full resync: from all controllers connecting until the last one received every record. */
  fanoutMs: number;
  /** The same for the one controller that applies every record into its gallery. */
  applyMs: number;
  /** Records per second one controller applies (verify, decrypt, merge, SQLite write). */
  applyPerSecond: number;
  /** Delivered by the broker during the resync, all controllers together. */
  messages: number;
  megabytes: number;
  /** The applying controller ended with the seed's gallery hash. */
  converged: boolean;
}

const quiet: FleetLog = { info: () => undefined, warn: () => undefined, debug: () => undefined, error: () => undefined } as unknown as FleetLog;

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  return port;
}

/** Debian's mosquitto with the one setting a fleet needs: no limit on queued messages (see README). */
async function startMosquitto(dir: string): Promise<{ url: string; stop: () => void }> {
  const port = await freePort();
  const config = join(dir, 'mosquitto.conf');
  writeFileSync(config, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'max_queued_messages 0', ...(process.getuid?.() === 0 ? ['user root'] : [])].join('\n'));
  const child = spawn('/usr/sbin/mosquitto', ['-c', config], { stdio: 'ignore' });
  for (let i = 0; i < 200; i++) {
    try {
      const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 500 });
      await c.endAsync();
      return { url: `mqtt://127.0.0.1:${port}`, stop: () => child.kill('SIGTERM') };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  child.kill('SIGKILL');
  throw new Error('mosquitto (/usr/sbin/mosquitto) did not start: install it or pass a broker url');
}

/** A subscriber that counts the retained records it receives; resolves with the elapsed time when it has `expect`. */
async function countingController(url: string, topic: string, expect: number, start: number, tally: { messages: number; bytes: number }): Promise<number> {
  const client = await mqtt.connectAsync(url, { clean: true, reconnectPeriod: 0 });
  let got = 0;
  const done = new Promise<number>((resolve) => {
    client.on('message', (_t, payload) => {
      tally.messages++;
      tally.bytes += payload.length;
      if (++got === expect) resolve(performance.now() - start);
    });
  });
  await client.subscribeAsync(topic, { qos: 1 });
  const ms = await done;
  await client.endAsync();
  return ms;
}

export async function runFleetBench(opts: FleetBenchOptions = {}): Promise<FleetBenchResult> {
  const controllers = opts.controllers ?? 50;
  const people = opts.people ?? 10_000;
  const perPerson = opts.templatesPerPerson ?? 1;
  const dim = opts.dim ?? 192;
  const log = opts.log ?? (() => undefined);
  const work = mkdtempSync(join(tmpdir(), 'facegate-fleet-bench-'));
  const broker = opts.url ? { url: opts.url, stop: () => undefined } : await startMosquitto(work);
  const site = `bench${Date.now().toString(36)}`;
  const topics = siteTopics(site);
  const keys = generateSiteKeys();
  const model = { id: 'mobilefacenet-fp32', sha256: '0'.repeat(64) };
  const settings = (id: string): FleetSettings => ({ url: broker.url, site, controllerId: id, role: 'member', keys, tombstoneTtlMs: 90 * 86_400_000, shareCrops: false, maxClockSkewMs: 300_000, models: [model.sha256], batchMs: 200 });
  try {
    log(`filling a gallery with ${people} people x ${perPerson} templates (dim ${dim})`);
    const seedStore = GalleryStore.open(join(work, 'seed.db'));
    const rng = createRng(7);
    seedStore.transaction(() => {
      for (let i = 0; i < people; i++) {
        const p = seedStore.ensurePerson(`person ${i}`);
        seedStore.addTemplates(p, model, Array.from({ length: perPerson }, () => ({ embedding: Float32Array.from({ length: dim }, () => rng.normal()), quality: { faceSize: 120 }, source: 'folder' as const })));
      }
    });

    log('seed controller publishing every record');
    const tally = { messages: 0, bytes: 0 };
    const t0 = performance.now();
    const published = { messages: 0, bytes: 0 };
    const probe = countingController(broker.url, topics.people, people, t0, published);
    const seed = new FleetSync(settings('seed'), seedStore, new EventBus(), quiet);
    seed.start();
    const publishMs = await probe;

    log(`full resync: ${controllers} controllers connect at once`);
    const applyStore = GalleryStore.open(join(work, 'apply.db'));
    const t1 = performance.now();
    const applier = new FleetSync(settings('applier'), applyStore, new EventBus(), quiet);
    const light = Array.from({ length: controllers - 1 }, () => countingController(broker.url, topics.people, people, t1, tally));
    applier.start();
    await applier.whenSynced();
    const applyMs = performance.now() - t1;
    const fanout = await Promise.all(light);
    const converged = applyStore.galleryHash() === seedStore.galleryHash();
    await Promise.all([seed.stop(), applier.stop()]);
    seedStore.close();
    applyStore.close();
    // The applying controller received what the probe did.
    const messages = tally.messages + published.messages;
    const recordBytes = published.bytes / published.messages;
    return {
      broker: opts.url ? broker.url : 'mosquitto (local, started by the bench)',
      controllers,
      people,
      templatesPerPerson: perPerson,
      dim,
      recordBytes: Math.round(recordBytes),
      publishMs: Math.round(publishMs),
      fanoutMs: Math.round(Math.max(applyMs, ...fanout)),
      applyMs: Math.round(applyMs),
      applyPerSecond: Math.round(people / (applyMs / 1000)),
      messages,
      megabytes: Math.round(((tally.bytes + published.bytes) / 1e6) * 10) / 10,
      converged,
    };
  } finally {
    broker.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

// Never lose an event: a real mosquitto stopped and restarted three times while a few thousand
// decisions are recorded, the producing daemon SIGKILLed twice (once mid-publishing with the
// broker up, once with a backlog while the broker is down) and restarted on the same outbox file.
// A subscriber with a persistent session must see every event id at least once, first
// occurrences in the order they were recorded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { REPO_ROOT } from '../../src/paths.js';
import { RecognitionPayload } from '../../src/mqtt/contract.js';
import { Mosquitto } from '../helpers/mosquitto.js';

function producer(url: string, outbox: string, run: string, count: number, intervalMs: number) {
  const child = spawn('node', ['--import', 'tsx', 'test/helpers/event-producer.ts', url, outbox, run, String(count), String(intervalMs)], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let recorded = 0;
  let drained = false;
  child.stdout.on('data', (d: Buffer) => {
    for (const line of d.toString().split('\n')) {
      const m = /^recorded (\d+)/.exec(line);
      if (m) recorded = Number(m[1]);
      if (line === 'drained') drained = true;
    }
  });
  const exited = once(child, 'exit');
  const until = async (what: string, done: () => boolean, timeoutMs = 30_000) => {
    const start = Date.now();
    while (!done()) {
      if (child.exitCode !== null) throw new Error(`producer ${run} exited (${child.exitCode}) before ${what}`);
      if (Date.now() - start > timeoutMs) throw new Error(`producer ${run}: no ${what} within ${timeoutMs} ms (recorded ${recorded})`);
      await sleep(10);
    }
  };
  return {
    child,
    exited,
    recordedAtLeast: (n: number) => until(`${n} events`, () => recorded >= n),
    /** Waits until `n` more events are recorded than now (an outage that lasts while they are). */
    recordsMore: (n: number) => {
      const target = recorded + n;
      return until(`${target} events`, () => recorded >= target);
    },
    drained: () => until('drain', () => drained, 60_000),
  };
}

const queued = (outbox: string) => {
  const db = new Database(outbox, { readonly: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM deliveries WHERE consumer = 'mqtt'").get() as { n: number }).n;
  } finally {
    db.close();
  }
};

test('at least once, in order: 3 broker restarts and 2 SIGKILLs during ~1,000 decisions', { timeout: 150_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'facegate-delivery-'));
  const broker = new Mosquitto(dir, { persistence: true });
  await broker.start();
  const outbox = join(dir, 'events.db');
  const received: string[] = [];
  const statuses: { atMs: number; payload: string }[] = [];
  // A persistent session (clean: false) that the broker keeps across its restarts.
  const sub = await mqtt.connectAsync(broker.url, { clientId: 'delivery-test-subscriber', clean: false, reconnectPeriod: 100, protocolVersion: 4 });
  let invalid = 0;
  sub.on('message', (topic, payload) => {
    if (topic === 'facegate/door1/status') return void statuses.push({ atMs: Date.now(), payload: payload.toString() });
    const parsed = RecognitionPayload.safeParse(JSON.parse(payload.toString()));
    if (!parsed.success) invalid++;
    else received.push(parsed.data.id);
  });
  await sub.subscribeAsync({ 'facegate/door1/event/recognition': { qos: 1 }, 'facegate/door1/status': { qos: 1 } });
  const restarts: number[] = [];
  try {
    // Run a: restart #1 mid-run, then SIGKILL while it publishes with the broker up.
    const a = producer(broker.url, outbox, 'a', 1000, 2);
    await a.recordedAtLeast(150);
    await broker.stop();
    await a.recordsMore(100);
    restarts.push(Date.now());
    await broker.start();
    // Killed while connected (a Last Will needs a connection), a few events after it is back.
    for (let i = 0; i < 250 && !statuses.some((s) => s.atMs >= restarts.at(-1)! && s.payload === 'online'); i++) await sleep(20);
    await a.recordedAtLeast(350);
    const killedAt = Date.now();
    a.child.kill('SIGKILL');
    await a.exited;
    // The Last Will: the broker says offline for the killed daemon.
    for (let i = 0; i < 100 && !statuses.some((s) => s.atMs >= killedAt && s.payload === 'offline'); i++) await sleep(20);
    assert.ok(statuses.some((s) => s.atMs >= killedAt && s.payload === 'offline'), `no Last Will after SIGKILL: ${JSON.stringify(statuses)}`);

    // Run b: resends a's leftovers, then the broker goes away (restart #2) and b is SIGKILLed
    // with a backlog that only the outbox file holds.
    const b = producer(broker.url, outbox, 'b', 800, 2);
    await b.recordedAtLeast(100);
    await broker.stop();
    await b.recordedAtLeast(250);
    b.child.kill('SIGKILL');
    await b.exited;
    const backlog = queued(outbox);
    assert.ok(backlog >= 120, `only ${backlog} events queued after a SIGKILL during an outage`);
    restarts.push(Date.now());
    await broker.start();

    // Run c: delivers the backlog first, survives restart #3, then drains.
    const c = producer(broker.url, outbox, 'c', 300, 2);
    await c.recordedAtLeast(100);
    await broker.stop();
    await c.recordsMore(50);
    restarts.push(Date.now());
    await broker.start();
    await c.drained();
    await c.exited;

    const db = new Database(outbox, { readonly: true });
    const recorded = (db.prepare('SELECT id FROM events ORDER BY seq').all() as { id: string }[]).map((r) => r.id);
    db.close();
    assert.ok(recorded.length >= 800, `${recorded.length} events recorded`);
    const want = new Set(recorded);
    for (let i = 0; i < 1000 && new Set(received).size < want.size; i++) await sleep(20);
    const first: string[] = [];
    const seen = new Set<string>();
    for (const id of received) {
      if (!seen.has(id)) first.push(id);
      seen.add(id);
    }
    const missing = recorded.filter((id) => !seen.has(id));
    assert.deepEqual(missing.slice(0, 5), [], `${missing.length} of ${recorded.length} events never arrived`);
    assert.deepEqual(first, recorded, 'first deliveries out of order');
    assert.equal(invalid, 0, 'payloads that do not match the contract');
    assert.equal(queued(outbox), 0, 'events left in the outbox after the drain');
    // After every broker restart the daemon came back and said so: an `online` arrived after each
    // restart began (the broker was down until then) and before the next one (or the end).
    const bounds = [...restarts, Date.now() + 1];
    for (let i = 0; i < restarts.length; i++) {
      assert.ok(statuses.some((s) => s.payload === 'online' && s.atMs >= bounds[i]! && s.atMs < bounds[i + 1]!), `no online after broker restart ${i + 1}: ${JSON.stringify(statuses)}`);
    }
    t.diagnostic(`${recorded.length} events, ${received.length - recorded.length} duplicates delivered`);
  } finally {
    await sub.endAsync(true);
    await broker.stop();
  }
});

// A fake systemd (test/helpers/fake-systemd.ts: with sender credentials) receives what the
// real sd-notify module sends through SystemdNotifier. libsystemd reads NOTIFY_SOCKET,
// WATCHDOG_USEC and WATCHDOG_PID on every call, so setting them here is what systemd's exec does.
// The watchdog ticks run on a ManualClock: which ticks ping is exact, not a window.
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SystemdNotifier } from '../../src/system/systemd-notifier.js';
import { ManualClock } from '../../src/util/manual-clock.js';
import { FakeSystemd } from '../helpers/fake-systemd.js';

const WATCHDOG_MS = 400;
const TICK_MS = WATCHDOG_MS / 2;
const SYSTEMD_ENV = ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID'] as const;

function missingPrerequisite(): string | undefined {
  try {
    createRequire(import.meta.url)('sd-notify');
  } catch {
    return 'sd-notify is not built (optional dependency; needs libsystemd-dev)';
  }
  if (spawnSync('python3', ['-c', 'pass']).status !== 0) return 'python3 is needed for the fake systemd';
  return undefined;
}

/**
 * Sends a marker through the notifier and waits for it: everything sent before it has then
 * arrived (datagrams keep their order). Returns what came before it; each must carry our PID.
 */
async function drain(notifier: SystemdNotifier, marker: string): Promise<string[]> {
  notifier.status(marker);
  const upTo = systemd.received.splice(0, (await systemd.arrival(`STATUS=${marker}`)) + 1);
  for (const d of upTo) assert.equal(d.pid, process.pid, `"${d.text}" came from PID ${d.pid}, not the daemon's ${process.pid}`);
  return upTo.map((d) => d.text).slice(0, -1);
}

const skip = missingPrerequisite();
let systemd: FakeSystemd;
let dir: string;

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'facegate-sdnotify-'));
  systemd = new FakeSystemd(join(dir, 'notify.sock'));
  await systemd.start();
});

after(() => {
  systemd?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * The environment systemd gives a Type=notify service, with or without WatchdogSec=, for the
 * length of test `t`: the process's own values come back after it, whatever runs next.
 */
function underSystemd(t: TestContext, env: { WATCHDOG_USEC?: string; WATCHDOG_PID?: string }): void {
  const saved = Object.fromEntries(SYSTEMD_ENV.map((name) => [name, process.env[name]]));
  t.after(() => {
    for (const name of SYSTEMD_ENV) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });
  for (const name of SYSTEMD_ENV) delete process.env[name];
  process.env.NOTIFY_SOCKET = systemd.socketPath;
  Object.assign(process.env, env);
}

function recordingLog() {
  const lines: string[] = [];
  return { lines, log: { debug: (m: string) => lines.push(`debug ${m}`), warn: (m: string) => lines.push(`warn ${m}`) } };
}

test('watchdog pings follow processed frames: none while frames stall, pings again when they resume, none after stop', { skip }, async (t) => {
  underSystemd(t, { WATCHDOG_USEC: String(WATCHDOG_MS * 1000) });
  const clock = new ManualClock();
  const { lines, log } = recordingLog();
  const notifier = new SystemdNotifier({ log, clock });
  notifier.start();
  assert.equal(clock.pending, 0, 'no ticks before READY');
  notifier.ready('models loaded, camera open');
  assert.equal(clock.nextDueInMs(), TICK_MS, 'ticks every half of WatchdogSec');

  notifier.status('phase=beating');
  for (let i = 0; i < 5; i++) {
    notifier.heartbeat();
    notifier.heartbeat();
    clock.advance(TICK_MS);
  }
  assert.deepEqual(await drain(notifier, 'beating done'), [
    'READY=1',
    'STATUS=models loaded, camera open',
    'STATUS=phase=beating',
    ...Array<string>(5).fill('WATCHDOG=1'),
  ], 'one ping per tick with frames, however many frames');

  notifier.status('phase=stalled');
  clock.advance(TICK_MS - 1);
  clock.advance(1);
  assert.deepEqual(lines, [`warn systemd: no frame processed in ${TICK_MS} ms; withholding watchdog pings (systemd restarts facegate after ${WATCHDOG_MS} ms without one)`]);
  clock.advance(4 * TICK_MS);
  assert.equal(lines.length, 1, 'the stall is reported once');
  // A newline in a status cannot smuggle in another protocol field.
  notifier.status('phase=resumed\nREADY=1');
  assert.deepEqual(await drain(notifier, 'stall done'), ['STATUS=phase=stalled', 'STATUS=phase=resumed READY=1'], 'no ping in a stall of 5 ticks, longer than WatchdogSec');

  notifier.heartbeat();
  clock.advance(TICK_MS);
  assert.equal(lines[1], `warn systemd: frames are processed again after ${6 * TICK_MS} ms; watchdog pings resumed`);
  notifier.heartbeat();
  clock.advance(TICK_MS);
  assert.deepEqual(await drain(notifier, 'resumed'), ['WATCHDOG=1', 'WATCHDOG=1'], 'the first tick after frames return pings');

  notifier.heartbeat();
  notifier.stopping();
  notifier.stop();
  assert.equal(clock.pending, 0, 'stop ends the ticks');
  clock.advance(10 * TICK_MS);
  notifier.stop();
  assert.deepEqual(await drain(notifier, 'end'), ['STOPPING=1'], 'nothing after stop(), not even the pending beat');
  assert.equal(lines.length, 2);
});

for (const [what, env] of [
  ['without WATCHDOG_USEC (no WatchdogSec=)', {}],
  ['with WATCHDOG_PID naming another process', { WATCHDOG_USEC: String(WATCHDOG_MS * 1000), WATCHDOG_PID: '1' }],
] as const) {
  test(`${what} it notifies but never pings`, { skip }, async (t) => {
    underSystemd(t, env);
    const clock = new ManualClock();
    const notifier = new SystemdNotifier({ clock });
    notifier.start();
    notifier.ready('up');
    assert.equal(clock.pending, 0, 'no watchdog ticks');
    notifier.heartbeat();
    clock.advance(10_000);
    notifier.stopping();
    notifier.stop();
    assert.deepEqual(await drain(notifier, 'end'), ['READY=1', 'STATUS=up', 'STOPPING=1']);
  });
}

test('a watchdog interval configured at or past WatchdogSec is warned about', { skip }, async (t) => {
  underSystemd(t, { WATCHDOG_USEC: String(WATCHDOG_MS * 1000) });
  const clock = new ManualClock();
  const { lines, log } = recordingLog();
  const notifier = new SystemdNotifier({ log, clock, watchdogIntervalMs: WATCHDOG_MS });
  notifier.start();
  assert.deepEqual(lines, [`warn systemd: watchdog ticks every ${WATCHDOG_MS} ms but WatchdogSec is ${WATCHDOG_MS} ms: systemd will restart facegate; use a shorter interval`]);
  notifier.ready();
  assert.equal(clock.nextDueInMs(), WATCHDOG_MS, 'the configured interval is used all the same');
  notifier.stop();
  await drain(notifier, 'end');
});

test('outside systemd every call is a no-op with one debug line', () => {
  const saved = process.env.NOTIFY_SOCKET;
  delete process.env.NOTIFY_SOCKET;
  try {
    const clock = new ManualClock();
    const { lines, log } = recordingLog();
    const notifier = new SystemdNotifier({ log, watchdogIntervalMs: 10, clock });
    notifier.stop();
    notifier.start();
    notifier.ready('up');
    notifier.status('x');
    notifier.heartbeat();
    assert.equal(clock.pending, 0, 'no ticks');
    notifier.stopping();
    notifier.stop();
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^debug systemd: NOTIFY_SOCKET not set/);
  } finally {
    if (saved !== undefined) process.env.NOTIFY_SOCKET = saved;
  }
});

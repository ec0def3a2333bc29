// A fake systemd (python3 on a unix datagram socket, with sender credentials) receives what a child
// node process sends through SystemdNotifier. A child, because systemd hands NOTIFY_SOCKET and
// WATCHDOG_USEC to the process at exec, and that is the situation under test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SystemdNotifier } from '../src/system/systemd-notifier.js';

const REPO = fileURLToPath(new URL('../', import.meta.url));
const NOTIFIER_URL = pathToFileURL(join(REPO, 'src/system/systemd-notifier.ts')).href;
const WATCHDOG_MS = 400;
const TICK_MS = WATCHDOG_MS / 2;

function missingPrerequisite(): string | undefined {
  try {
    createRequire(import.meta.url)('sd-notify');
  } catch {
    return 'sd-notify is not built (optional dependency; needs libsystemd-dev)';
  }
  if (spawnSync('python3', ['-c', 'pass']).status !== 0) return 'python3 is needed for the fake systemd';
  return undefined;
}

// Prints one JSON line per datagram: receive time (monotonic s), sender PID from SCM_CREDENTIALS, text.
const FAKE_SYSTEMD = `
import json, socket, struct, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
print("listening", flush=True)
while True:
    data, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
    t = time.monotonic()
    pids = [struct.unpack("iII", d)[0] for (lvl, typ, d) in anc if lvl == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS]
    print(json.dumps({"t": t, "pid": pids[0] if pids else None, "msg": data.decode()}), flush=True)
`;

// The daemon's life in brief: ready, frames flowing, camera stalled, frames again, shutdown.
const CHILD = `
import { SystemdNotifier } from ${JSON.stringify(NOTIFIER_URL)};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = { debug: (m) => console.error('debug', m), warn: (m) => console.error('warn', m) };
const notifier = new SystemdNotifier({ log });
const beatFor = async (ms) => {
  const end = Date.now() + ms;
  while (Date.now() < end) { notifier.heartbeat(); await sleep(20); }
};
notifier.start();
notifier.ready('models loaded, camera open');
notifier.status('phase=beating');
await beatFor(1000);
notifier.status('phase=stalled');
await sleep(1000);
notifier.status('phase=resumed\\nREADY=1');
await beatFor(600);
notifier.stopping();
notifier.stop();
`;

interface Datagram {
  t: number;
  pid: number | null;
  msg: string;
}

async function runUnderFakeSystemd(env: Record<string, string>): Promise<{ datagrams: Datagram[]; childPid: number; childStderr: string }> {
  // Whatever systemd gave the test runner itself must not leak into the child.
  const childEnv = { ...process.env };
  for (const name of ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID']) delete childEnv[name];
  const dir = mkdtempSync(join(tmpdir(), 'facegate-sdnotify-'));
  const socketPath = join(dir, 'notify.sock');
  const script = join(dir, 'child.mjs');
  writeFileSync(script, CHILD);
  const systemd = spawn('python3', ['-c', FAKE_SYSTEMD, socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const lines = createInterface({ input: systemd.stdout })[Symbol.asyncIterator]();
    const first = await lines.next();
    assert.equal(first.value, 'listening', 'fake systemd did not start');
    const datagrams: Datagram[] = [];
    const collecting = (async () => {
      for (let l = await lines.next(); !l.done; l = await lines.next()) datagrams.push(JSON.parse(l.value) as Datagram);
    })();

    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: REPO,
      env: { ...childEnv, NOTIFY_SOCKET: socketPath, ...env },
      stdio: ['ignore', 'inherit', 'pipe'],
    });
    let childStderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (childStderr += s));
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0, `child failed:\n${childStderr}`);
    // Datagrams already queued on the socket are still being read and printed.
    await new Promise((r) => setTimeout(r, 200));
    systemd.kill();
    await collecting;
    assert.ok(child.pid);
    return { datagrams, childPid: child.pid, childStderr };
  } finally {
    systemd.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

const skip = missingPrerequisite();

test('watchdog pings follow processed frames: they stop while frames stall and resume after', { skip, timeout: 30_000 }, async () => {
  const { datagrams, childPid, childStderr } = await runUnderFakeSystemd({ WATCHDOG_USEC: String(WATCHDOG_MS * 1000) });
  const msgs = datagrams.map((d) => d.msg.trim());
  const at = (msg: string) => {
    const d = datagrams.find((x) => x.msg.trim() === msg);
    assert.ok(d, `"${msg}" was not received; got ${JSON.stringify(msgs)}`);
    return d.t * 1000;
  };

  assert.equal(msgs[0], 'READY=1');
  assert.equal(msgs[1], 'STATUS=models loaded, camera open');
  assert.equal(msgs.at(-1), 'STOPPING=1', 'STOPPING=1 comes last, with no watchdog ping after stop()');
  // A newline in a status cannot smuggle in another protocol field.
  assert.ok(msgs.includes('STATUS=phase=resumed READY=1'));
  assert.equal(msgs.filter((m) => m === 'READY=1').length, 1);
  for (const d of datagrams) assert.equal(d.pid, childPid, `datagram "${d.msg.trim()}" came from PID ${d.pid}, not the daemon's ${childPid}`);

  const beating = at('STATUS=phase=beating');
  const stalled = at('STATUS=phase=stalled');
  const resumed = at('STATUS=phase=resumed READY=1');
  const stopping = at('STOPPING=1');
  const pings = datagrams.filter((d) => d.msg.trim() === 'WATCHDOG=1').map((d) => d.t * 1000);
  const between = (a: number, b: number) => pings.filter((t) => t > a && t < b);

  const whileBeating = between(beating, stalled);
  assert.ok(whileBeating.length >= 4 && whileBeating.length <= 6, `expected ~5 pings in 1 s of frames at ${TICK_MS} ms, got ${whileBeating.length}`);
  for (let i = 1; i < whileBeating.length; i++) {
    const gap = whileBeating[i]! - whileBeating[i - 1]!;
    assert.ok(gap > TICK_MS * 0.6 && gap < TICK_MS * 1.75, `ping gap ${gap.toFixed(0)} ms while frames flow, expected ~${TICK_MS} ms`);
  }

  // One tick may still carry a frame from just before the stall; nothing after that.
  const whileStalled = between(stalled, resumed);
  assert.ok(whileStalled.length <= 1, `${whileStalled.length} pings during a 1 s stall`);
  for (const t of whileStalled) assert.ok(t - stalled < TICK_MS * 1.5, `ping ${(t - stalled).toFixed(0)} ms into the stall`);
  const lastBeforeResume = Math.max(...pings.filter((t) => t < resumed));
  const firstAfterResume = Math.min(...pings.filter((t) => t > resumed));
  assert.ok(firstAfterResume - lastBeforeResume > WATCHDOG_MS, 'the stall must outlast systemd\'s watchdog deadline, or systemd would not restart us');

  const afterResume = between(resumed, stopping);
  assert.ok(afterResume.length >= 2, `pings must resume with frames, got ${afterResume.length} in 0.6 s`);
  assert.ok(afterResume[0]! - resumed < TICK_MS * 1.5, 'first ping after the stall comes within a tick');

  assert.match(childStderr, /withholding watchdog pings \(systemd restarts facegate after 400 ms/);
  assert.match(childStderr, /watchdog pings resumed/);
});

test('without WATCHDOG_USEC (no WatchdogSec=) it notifies but never pings', { skip, timeout: 30_000 }, async () => {
  const { datagrams } = await runUnderFakeSystemd({});
  const msgs = datagrams.map((d) => d.msg.trim());
  assert.equal(msgs[0], 'READY=1');
  assert.equal(msgs.at(-1), 'STOPPING=1');
  assert.ok(!msgs.includes('WATCHDOG=1'), `unexpected ping in ${JSON.stringify(msgs)}`);
});

test('outside systemd every call is a no-op with one debug line', () => {
  const saved = process.env.NOTIFY_SOCKET;
  delete process.env.NOTIFY_SOCKET;
  try {
    const lines: string[] = [];
    const log = { debug: (m: string) => lines.push(`debug ${m}`), warn: (m: string) => lines.push(`warn ${m}`) };
    const notifier = new SystemdNotifier({ log, watchdogIntervalMs: 10 });
    notifier.start();
    notifier.ready('up');
    notifier.status('x');
    notifier.heartbeat();
    notifier.stopping();
    notifier.stop();
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^debug systemd: NOTIFY_SOCKET not set/);
  } finally {
    if (saved !== undefined) process.env.NOTIFY_SOCKET = saved;
  }
});

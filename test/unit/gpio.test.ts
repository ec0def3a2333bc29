import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { GpioUnavailableError, createGpioBackend, type Level } from '../../src/hardware/gpio/gpio.js';
import { SimulatedGpio } from '../../src/hardware/gpio/simulated-gpio.js';
import { createRpioGpio, isRpioBoard } from '../../src/hardware/gpio/rpio-gpio.js';
import { createLibgpiodGpio, type LibgpiodModule } from '../../src/hardware/gpio/libgpiod-gpio.js';
import { DoorRelay, type RelayPulseEvent, type RelayReleaseEvent } from '../../src/hardware/gpio/door-relay.js';
import { StatusLed } from '../../src/hardware/gpio/status-led.js';
import { Button, type ButtonPressEvent } from '../../src/hardware/gpio/button.js';
import type { Component } from '../../src/core/component.js';
import { ManualClock } from '../../src/util/manual-clock.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const GPIO_DIR = join(REPO, 'src/hardware/gpio');
const levels = (gpio: SimulatedGpio, pin: number): Level[] => gpio.edgesFor(pin).map((e) => e.level);

function relayOn(gpio: SimulatedGpio, pulseMs: number, activeLow = true, clock?: ManualClock): DoorRelay {
  return new DoorRelay(gpio, { pin: 17, activeLow, pulseMs, name: 'front door' }, clock);
}

function releasesOf(relay: DoorRelay): RelayReleaseEvent[] {
  const seen: RelayReleaseEvent[] = [];
  relay.on('release', (e) => seen.push(e));
  return seen;
}

/** Runs an ES module source with tsx from the repo root, as the daemon would run. */
function runChild(source: string) {
  return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source], { cwd: REPO, encoding: 'utf8', timeout: 30_000 });
}

test('the relay starts released: active-low drives 1, active-high drives 0', () => {
  const gpio = new SimulatedGpio();
  const low = relayOn(gpio, 50, true);
  low.start();
  assert.deepEqual(levels(gpio, 17), [1]);
  assert.equal(low.energised, false);
  low.stop();

  const high = relayOn(gpio, 50, false);
  high.start();
  assert.deepEqual(levels(gpio, 17), [1, 0]);
  high.stop();
});

test('a pulse holds for exactly pulseMs, a second pulse does not extend it, and events carry its times', () => {
  const clock = new ManualClock();
  const gpio = new SimulatedGpio({ clock });
  const relay = relayOn(gpio, 100, true, clock);
  const pulses: RelayPulseEvent[] = [];
  relay.on('pulse', (e) => pulses.push(e));
  const releases = releasesOf(relay);
  relay.start();
  const t0 = clock.now();

  assert.equal(relay.pulse('alice recognised'), true);
  assert.equal(relay.energised, true);
  clock.advance(60);
  assert.equal(relay.pulse('alice again'), false, 'a pulse while energised is refused');
  clock.advance(39);
  assert.equal(relay.energised, true, 'still energised 1 ms before pulseMs');
  assert.deepEqual(levels(gpio, 17), [1, 0]);
  clock.advance(1);
  assert.equal(relay.energised, false, 'released at pulseMs, not extended by the refused pulse');
  clock.advance(1000);

  assert.deepEqual(gpio.edgesFor(17), [
    { pin: 17, level: 1, atMs: t0 },
    { pin: 17, level: 0, atMs: t0 },
    { pin: 17, level: 1, atMs: t0 + 100 },
  ]);
  assert.deepEqual(pulses, [{ name: 'front door', reason: 'alice recognised', pulseMs: 100, atMs: t0 }]);
  assert.deepEqual(releases, [{ name: 'front door', cause: 'timeout', heldMs: 100, atMs: t0 + 100 }]);
  assert.equal(clock.pending, 0, 'no timer left behind');
  relay.stop();
});

test('release() ends a pulse early with cause "release"; a new pulse is allowed after it', () => {
  const clock = new ManualClock();
  const gpio = new SimulatedGpio({ clock });
  const relay = relayOn(gpio, 100, true, clock);
  const releases = releasesOf(relay);
  relay.start();
  relay.pulse('first');
  clock.advance(30);
  relay.release();
  assert.equal(clock.pending, 0, 'the pulse timer is cancelled');
  relay.release();
  assert.equal(relay.pulse('second'), true);
  clock.advance(100);
  assert.deepEqual(releases.map((r) => [r.cause, r.heldMs]), [['release', 30], ['timeout', 100]], 'a release while released emits nothing');
  assert.deepEqual(levels(gpio, 17), [1, 0, 1, 0, 1]);
  relay.stop();
});

test('stop releases mid-pulse and removes the process hooks', (t) => {
  const clock = new ManualClock();
  const gpio = new SimulatedGpio({ clock });
  const relay = relayOn(gpio, 10_000, true, clock);
  t.after(() => relay.stop());
  const releases = releasesOf(relay);
  const exitHooks = process.listenerCount('exit');
  const crashHooks = process.listenerCount('uncaughtExceptionMonitor');
  relay.start();
  assert.equal(process.listenerCount('exit'), exitHooks + 1);
  assert.equal(process.listenerCount('uncaughtExceptionMonitor'), crashHooks + 1);

  relay.pulse('test');
  clock.advance(20);
  relay.stop();
  assert.deepEqual(levels(gpio, 17), [1, 0, 1]);
  assert.deepEqual(releases.map((r) => [r.cause, r.heldMs]), [['stop', 20]]);
  assert.equal(clock.pending, 0, 'the pulse timer is cancelled');
  assert.equal(process.listenerCount('exit'), exitHooks);
  assert.equal(process.listenerCount('uncaughtExceptionMonitor'), crashHooks);
  // The pin is closed: a new owner can open it.
  gpio.openOutput(17, 1).close();
});

test('relay, LED and button are components: a name, and stop() is safe before start and twice', () => {
  const gpio = new SimulatedGpio();
  const parts: Component[] = [relayOn(gpio, 100), new StatusLed(gpio, { pin: 27 }), new Button(gpio, { pin: 22, activeLow: true })];
  assert.deepEqual(parts.map((p) => p.name), ['front door relay', 'status LED on GPIO 27', 'button on GPIO 22']);
  for (const part of parts) {
    part.stop();
    void part.start();
    void part.stop();
    void part.stop();
    // Restartable: the pin was freed by the first stop.
    void part.start();
    void part.stop();
  }
  assert.deepEqual(levels(gpio, 17), [1, 1], 'the relay was driven released at each start and never energised');
  gpio.close();
});

test('the exit and crash hooks release synchronously', (t) => {
  for (const [event, cause] of [
    ['exit', 'exit'],
    ['uncaughtExceptionMonitor', 'crash'],
  ] as const) {
    const gpio = new SimulatedGpio();
    const relay = relayOn(gpio, 10_000);
    t.after(() => relay.stop());
    const releases = releasesOf(relay);
    // Seen as a plain emitter: Process types listeners() per event name, which a loop over two names defeats.
    const emitter: EventEmitter = process;
    const before = emitter.listeners(event);
    relay.start();
    const added = emitter.listeners(event).filter((l) => !before.includes(l));
    assert.equal(added.length, 1, `start registers one ${event} hook`);
    relay.pulse('test');
    assert.deepEqual(levels(gpio, 17), [1, 0]);

    (added[0] as (...args: unknown[]) => void)(event === 'exit' ? 1 : new Error('boom'));
    assert.deepEqual(levels(gpio, 17), [1, 0, 1], `released by the ${event} hook with no tick in between`);
    assert.equal(relay.energised, false);
    assert.deepEqual(releases.map((r) => r.cause), [cause]);
    relay.stop();
  }
});

const CHILD_RELAY = `
import { SimulatedGpio } from ${JSON.stringify(pathToFileURL(join(GPIO_DIR, 'simulated-gpio.ts')).href)};
import { DoorRelay } from ${JSON.stringify(pathToFileURL(join(GPIO_DIR, 'door-relay.ts')).href)};
const gpio = new SimulatedGpio();
const relay = new DoorRelay(gpio, { pin: 17, activeLow: true, pulseMs: 60000, name: 'front door' });
const causes = [];
relay.on('release', (e) => causes.push(e.cause));
relay.start();
relay.pulse('child');
// Registered after start, so it runs after the relay's own exit hook.
process.on('exit', () => process.stdout.write('EDGES ' + JSON.stringify({ levels: gpio.edgesFor(17).map((e) => e.level), causes }) + '\\n'));
`;

function childEdges(stdout: string): { levels: Level[]; causes: string[] } {
  const line = stdout.split('\n').find((l) => l.startsWith('EDGES '));
  assert.ok(line, `child printed its edges: ${stdout}`);
  return JSON.parse(line.slice('EDGES '.length)) as { levels: Level[]; causes: string[] };
}

test('a child that crashes with the relay energised releases it, and still crashes', () => {
  const child = runChild(`${CHILD_RELAY}\nsetImmediate(() => { throw new Error('simulated crash'); });\n`);
  assert.equal(child.status, 1, child.stderr);
  assert.match(child.stderr, /Error: simulated crash/, 'the exception is reported, not swallowed');
  assert.deepEqual(childEdges(child.stdout), { levels: [1, 0, 1], causes: ['crash'] });
});

test('a child that calls process.exit with the relay energised releases it', () => {
  const child = runChild(`${CHILD_RELAY}\nsetImmediate(() => process.exit(3));\n`);
  assert.equal(child.status, 3, child.stderr);
  assert.deepEqual(childEdges(child.stdout), { levels: [1, 0, 1], causes: ['exit'] });
});

/** A button and the backend it reads, both on one fake clock. */
function buttonRig(debounceMs: number, activeLow = true) {
  const clock = new ManualClock();
  const gpio = new SimulatedGpio({ clock });
  const button = new Button(gpio, { pin: 22, activeLow, debounceMs }, clock);
  const presses: (ButtonPressEvent & { emittedAtMs: number })[] = [];
  button.on('press', (e) => presses.push({ ...e, emittedAtMs: clock.now() }));
  /** Drives the input through levels, each held for its ms. */
  const drive = (steps: readonly (readonly [Level, number])[]) => {
    for (const [level, ms] of steps) {
      gpio.setInput(22, level);
      clock.advance(ms);
    }
  };
  return { clock, gpio, button, presses, drive };
}

test('button: a bouncy press is one press, dated by its first edge and counted debounceMs after the last bounce', () => {
  const { clock, gpio, button, presses, drive } = buttonRig(50);
  button.start();
  const t0 = clock.now();
  // Contact bounce: five edges 1 ms apart, then held.
  drive([[0, 1], [1, 1], [0, 1], [1, 1]]);
  gpio.setInput(22, 0);
  const lastBounceAt = clock.now();
  clock.advance(49);
  assert.equal(presses.length, 0, 'not yet: the level has held 49 ms');
  clock.advance(1);
  assert.deepEqual(presses, [{ pin: 22, atMs: t0, emittedAtMs: lastBounceAt + 50 }]);
  // A bouncy release, held: releasing is not a press.
  drive([[1, 1], [0, 1], [1, 200]]);
  assert.equal(presses.length, 1);
  assert.equal(clock.pending, 0, 'no debounce timer left once settled');
  button.stop();
});

test('button: a glitch shorter than debounceMs is none, two presses 200 ms apart are two', () => {
  const { button, presses, drive } = buttonRig(50);
  button.start();
  drive([[0, 10], [1, 200]]);
  assert.equal(presses.length, 0, 'a 10 ms glitch is not a press');
  drive([[0, 49], [1, 200]]);
  assert.equal(presses.length, 0, 'nor is a 49 ms one');
  drive([[0, 100], [1, 200], [0, 100], [1, 200]]);
  assert.equal(presses.length, 2, 'two clean presses 200 ms apart are two');
  assert.equal(presses[1]!.atMs - presses[0]!.atMs, 300);
  button.stop();
});

test('button: press() on the simulated backend is one press per call, on the backend clock', async () => {
  const { clock, gpio, button, presses } = buttonRig(50);
  button.start();
  const pressing = gpio.press(22, 100, { activeLow: true });
  clock.advance(100);
  await pressing;
  clock.advance(200);
  assert.equal(presses.length, 1);
  assert.deepEqual(levels(gpio, 22), [0, 1]);
  button.stop();
});

test('button: chatter that never holds for debounceMs is no press; a glitch while held is no second press', () => {
  const { button, presses, drive } = buttonRig(100);
  button.start();
  // Pressed at 0 ms, then 1 at 80, 0 at 90, 1 at 110: the pressed level never lasts 100 ms.
  drive([[0, 80], [1, 10], [0, 20], [1, 200]]);
  assert.equal(presses.length, 0);
  drive([[0, 200]]);
  assert.equal(presses.length, 1, 'a held press counts once');
  drive([[1, 10], [0, 200]]);
  assert.equal(presses.length, 1, 'a 10 ms release glitch while held is not a new press');
  button.stop();
});

test('button: stop cancels a pending debounce and frees the pin', () => {
  const { clock, gpio, button, presses } = buttonRig(30, false);
  button.start();
  gpio.setInput(22, 1);
  assert.equal(clock.pending, 1, 'a debounce is pending');
  button.stop();
  assert.equal(clock.pending, 0, 'stop cancels it');
  clock.advance(60);
  assert.equal(presses.length, 0);
  gpio.openInput(22, { pull: 'down' }).close();
});

test('LED: flash(3, 100) lights 50 ms and darkens 50 ms three times, resolves a period after the last flash began; activeLow inverts', async () => {
  const clock = new ManualClock();
  const gpio = new SimulatedGpio({ clock });
  const led = new StatusLed(gpio, { pin: 27 }, clock);
  led.start();
  const t0 = clock.now();
  let done = false;
  const flashing = led.flash(3, 100).then(() => (done = true));
  await clock.advanceAsync(299);
  assert.equal(done, false, 'still flashing 1 ms before the trailing gap ends');
  await clock.advanceAsync(1);
  await flashing;
  assert.deepEqual(
    gpio.edgesFor(27).map((e) => [e.level, e.atMs - t0]),
    [[0, 0], [1, 0], [0, 50], [1, 100], [0, 150], [1, 200], [0, 250]],
  );
  assert.equal(clock.pending, 0);
  led.stop();

  const inverted = new StatusLed(gpio, { pin: 5, activeLow: true }, clock);
  inverted.start();
  inverted.on();
  inverted.off();
  inverted.stop();
  assert.deepEqual(levels(gpio, 5), [1, 0, 1]);
});

test('LED: blink toggles every half period until replaced; a flash replaced by on() resolves and the LED stays lit', async (t) => {
  const clock = new ManualClock();
  const gpio = new SimulatedGpio({ clock });
  const led = new StatusLed(gpio, { pin: 27 }, clock);
  led.start();
  t.after(() => led.stop());
  const t0 = clock.now();
  led.blink(40);
  clock.advance(130);
  led.off();
  assert.deepEqual(
    gpio.edgesFor(27).map((e) => [e.level, e.atMs - t0]),
    [[0, 0], [1, 0], [0, 20], [1, 40], [0, 60], [1, 80], [0, 100], [1, 120], [0, 130]],
  );
  assert.equal(clock.pending, 0, 'off() stopped the blinking');
  const blinkEdges = levels(gpio, 27).length;

  const flashing = led.flash(10, 1000);
  led.on();
  await flashing;
  assert.equal(clock.pending, 0, 'the flash timer is cancelled');
  clock.advance(10_000);
  assert.deepEqual(levels(gpio, 27).slice(blinkEdges), [1], 'on() took over from the flash: lit and nothing after');
  assert.throws(() => led.flash(0, 100), RangeError);
});

test('simulated backend: double-open refused, same-level writes are not edges, closed pins refuse use', () => {
  const seen: number[] = [];
  const gpio = new SimulatedGpio({ onEdge: (e) => seen.push(e.level) });
  const out = gpio.openOutput(17, 0);
  assert.throws(() => gpio.openOutput(17, 1), /GPIO 17 is already open as an output/);
  assert.throws(() => gpio.openInput(17, { pull: 'up' }), /already open/);
  out.write(0);
  out.write(1);
  out.write(1);
  assert.deepEqual(levels(gpio, 17), [0, 1]);
  assert.deepEqual(seen, [0, 1], 'onEdge sees each edge as it is recorded');
  assert.equal(out.read(), 1);
  assert.throws(() => gpio.setInput(17, 0), /is an output/);

  out.close();
  assert.throws(() => out.write(0), /GPIO 17 is closed/);
  const again = gpio.openInput(17, { pull: 'up' });
  out.close(); // a stale handle must not close the new owner
  assert.equal(again.read(), 1);
  const got: Level[] = [];
  const unwatch = again.watch((level) => got.push(level));
  gpio.setInput(17, 0);
  unwatch();
  gpio.setInput(17, 1);
  assert.deepEqual(got, [0]);
  gpio.close();
  assert.throws(() => gpio.openOutput(4, 0), /backend is closed/);
});

test('auto picks the simulated backend on a machine without GPIO, and logs why', { skip: hasGpioHardware() && 'this machine has GPIO hardware' }, () => {
  const lines: string[] = [];
  const backend = createGpioBackend({ backend: 'auto', log: (l) => lines.push(l) });
  assert.equal(backend.name, 'simulated');
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /SIMULATED/);
  assert.match(lines[0]!, /no \/dev\/gpiochip\* devices/);
  assert.match(lines[0]!, /not a single-board computer/);
  backend.close();
});

function hasGpioHardware(): boolean {
  return readdirSync('/dev').some((n) => n.startsWith('gpiochip')) || existsSync('/proc/device-tree/model');
}

test('explicit hardware backends on a machine without GPIO fail with what to do', { skip: hasGpioHardware() && 'this machine has GPIO hardware' }, () => {
  assert.throws(
    () => createGpioBackend({ backend: 'rpio' }),
    (err: Error) => err instanceof GpioUnavailableError && /Raspberry Pi 1-4\/400 only.*libgpiod/.test(err.message),
  );
  // node-libgpiod is built here, so this reaches the real chip open and its error mapping.
  assert.throws(() => createGpioBackend({ backend: 'libgpiod', chip: 'gpiochip0' }), /GPIO chip "gpiochip0" not found: .*gpiodetect/);
});

test('a missing native module is a clear GpioUnavailableError naming the package and the fix', () => {
  // The backend sources copied where node_modules cannot be found: as on a device where the optional build failed.
  const root = mkdtempSync(join(tmpdir(), 'facegate-gpio-'));
  const dir = join(root, 'src/hardware/gpio');
  mkdirSync(dir, { recursive: true });
  mkdirSync(join(root, 'src/util'));
  for (const f of readdirSync(GPIO_DIR)) copyFileSync(join(GPIO_DIR, f), join(dir, f));
  copyFileSync(join(REPO, 'src/util/clock.ts'), join(root, 'src/util/clock.ts'));
  writeFileSync(join(root, 'package.json'), '{ "type": "module" }\n');
  const child = runChild(`
    import { createGpioBackend } from ${JSON.stringify(pathToFileURL(join(dir, 'gpio.ts')).href)};
    for (const backend of ['libgpiod', 'rpio']) {
      try { createGpioBackend({ backend }); } catch (err) { console.log(err.name + ': ' + err.message); }
    }
  `);
  assert.equal(child.status, 0, child.stderr);
  assert.match(child.stdout, /^GpioUnavailableError: node-libgpiod is not installed .*Cannot find module 'node-libgpiod'.*apt install libgpiod-dev/m);
  if (!hasGpioHardware()) assert.match(child.stdout, /^GpioUnavailableError: rpio drives Raspberry Pi 1-4\/400 only/m);
  assert.doesNotMatch(child.stdout + child.stderr, /\n\s+at /, 'no stack trace');
});

test('isRpioBoard: Pi 1-4, 400, Zero and CM1-4 yes; the Pi 5 family and other boards no', () => {
  for (const model of [
    'Raspberry Pi Model B Rev 2',
    'Raspberry Pi Model A Plus Rev 1.1',
    'Raspberry Pi 2 Model B Rev 1.1',
    'Raspberry Pi 3 Model B Plus Rev 1.3',
    'Raspberry Pi 4 Model B Rev 1.5',
    'Raspberry Pi 400 Rev 1.0',
    'Raspberry Pi Zero W Rev 1.1',
    'Raspberry Pi Zero 2 W Rev 1.0',
    'Raspberry Pi Compute Module Rev 1.0',
    'Raspberry Pi Compute Module 3 Plus Rev 1.0',
    'Raspberry Pi Compute Module 4 Rev 1.0',
    'Raspberry Pi Compute Module 4S Rev 1.0',
  ]) {
    assert.equal(isRpioBoard(model), true, model);
  }
  for (const model of [
    'Raspberry Pi 5 Model B Rev 1.0',
    'Raspberry Pi 500 Rev 1.0',
    'Raspberry Pi Compute Module 5 Rev 1.0',
    'Raspberry Pi Compute Module 5 Lite Rev 1.0',
    'NVIDIA Jetson Orin Nano Developer Kit',
    'Radxa ROCK 5B',
  ]) {
    assert.equal(isRpioBoard(model), false, model);
  }
});

test('rpio in its mock mode: outputs, a relay, inputs seen by sampling, pin checks', (t) => {
  const logs: string[] = [];
  const clock = new ManualClock();
  const gpio = createRpioGpio({ mock: 'raspi-3', log: (l) => logs.push(l), clock });
  const relay = new DoorRelay(gpio, { pin: 17, activeLow: true, pulseMs: 40, name: 'front door' }, clock);
  // On a failed assertion, still stop timers and sampling so the run ends and reports.
  t.after(() => {
    relay.stop();
    gpio.close();
  });
  assert.equal(gpio.name, 'rpio');
  assert.throws(() => gpio.openOutput(99, 0), /Pin 99 is not valid/);

  relay.start();
  const out17 = () => createRequire(import.meta.url)('rpio').read(17) as number;
  assert.equal(out17(), 1, 'active-low relay starts released');
  assert.throws(() => gpio.openOutput(17, 0), /GPIO 17 is already open/);
  relay.pulse('mock');
  assert.equal(out17(), 0);
  clock.advance(39);
  assert.equal(out17(), 0);
  clock.advance(1);
  assert.equal(out17(), 1, 'released after the pulse');
  relay.stop();

  // In mock mode rpio.write is the only way to move a level: it stands in for the outside world here.
  const rpio = createRequire(import.meta.url)('rpio') as { write(pin: number, v: number): void };
  const input = gpio.openInput(27, { pull: 'up' });
  const seen: [Level, number][] = [];
  const t0 = clock.now();
  const unwatch = input.watch((level, atMs) => seen.push([level, atMs - t0]));
  rpio.write(27, 1);
  clock.advance(4);
  assert.deepEqual(seen, [], 'not seen before the next sample');
  clock.advance(1);
  rpio.write(27, 0);
  clock.advance(5);
  unwatch();
  assert.equal(clock.pending, 0, 'sampling stops with the last watcher');
  assert.deepEqual(seen, [[1, 5], [0, 10]], 'each change seen at the first 5 ms sample after it');
  input.close();
  assert.throws(() => input.read(), /GPIO 27 is closed/);
  gpio.close();
  assert.deepEqual(logs, []);
});

/**
 * node-libgpiod needs a GPIO chip, which no machine here has (no gpio-sim either), so the backend's
 * own logic is run against a stand-in that keeps line values and ownership like the kernel does.
 */
function fakeLibgpiod(heldElsewhere: number[]) {
  const calls: string[] = [];
  const values = new Map<number, Level>();
  const owned = new Set<number>(heldElsewhere);
  const errno = (code: string) => Object.assign(new Error(`${code}, from the stand-in`), { code });
  class Line {
    constructor(private readonly offset: number) {}
    private take(what: string) {
      if (owned.has(this.offset)) throw errno('EBUSY');
      owned.add(this.offset);
      calls.push(`${what} ${this.offset}`);
    }
    requestOutputMode(consumer: string, v: Level) {
      this.take(`output ${consumer} ${v}`);
      values.set(this.offset, v);
    }
    requestInputModeFlags(consumer: string, flags: number) {
      this.take(`input ${consumer} ${flags}`);
    }
    getValue(): Level {
      return values.get(this.offset) ?? 0;
    }
    setValue(v: Level) {
      values.set(this.offset, v);
    }
    release() {
      owned.delete(this.offset);
      calls.push(`release ${this.offset}`);
    }
  }
  const lib: LibgpiodModule = {
    Chip: class {
      readonly name = 'gpiochip0';
      readonly label = 'pinctrl-rp1';
      readonly numberOfLines = 54;
      getLine(offset: number) {
        if (offset >= 54) throw errno('EINVAL');
        return new Line(offset);
      }
    },
    Line: { RequestFlags: { BIAS_DISABLE: 8, BIAS_PULL_DOWN: 16, BIAS_PULL_UP: 32 } },
  };
  return { lib, calls, values };
}

test('libgpiod backend (on a stand-in for node-libgpiod): requests, pull flags, errors, a relay and a sampled button', (t) => {
  const { lib, calls, values } = fakeLibgpiod([4]);
  const logs: string[] = [];
  const clock = new ManualClock();
  const gpio = createLibgpiodGpio(lib, { chip: 'gpiochip0', log: (l) => logs.push(l), clock });
  const relay = new DoorRelay(gpio, { pin: 17, activeLow: true, pulseMs: 40, name: 'front door' }, clock);
  const button = new Button(gpio, { pin: 22, activeLow: true, debounceMs: 30 }, clock);
  t.after(() => {
    relay.stop();
    button.stop();
    gpio.close();
  });
  assert.deepEqual(logs, ['gpio: libgpiod chip gpiochip0 "pinctrl-rp1" with 54 lines']);
  assert.throws(() => gpio.openOutput(4, 0), /line 4 of GPIO chip gpiochip0 is in use by another program.*gpioinfo gpiochip0/);
  assert.throws(() => gpio.openOutput(60, 0), /line 60 of GPIO chip gpiochip0 does not exist \(the chip has 54 lines/);

  relay.start();
  assert.deepEqual(calls, ['output facegate 1 17'], 'requested as an output already at the released level');
  assert.throws(() => gpio.openInput(17, { pull: 'up' }), /GPIO 17 is already open/);
  relay.pulse('test');
  assert.equal(values.get(17), 0);
  clock.advance(40);
  assert.equal(values.get(17), 1);
  relay.stop();
  assert.equal(calls.at(-1), 'release 17');

  const presses: number[] = [];
  button.on('press', (e) => presses.push(e.atMs - t0));
  // Held down (active-low: 0) when the button starts: not a press until released and pressed again.
  values.set(22, 0);
  button.start();
  const t0 = clock.now();
  assert.equal(calls.at(-1), 'input facegate 32 22', 'active-low button gets a pull-up');
  clock.advance(100);
  values.set(22, 1);
  clock.advance(100);
  assert.deepEqual(presses, [], 'held at start, then released: no press');
  // Changes are only seen by sampling every 5 ms; the press is dated by the sample that saw it.
  values.set(22, 0);
  clock.advance(100);
  values.set(22, 1);
  clock.advance(100);
  assert.deepEqual(presses, [205]);
  button.stop();
  assert.equal(clock.pending, 0, 'stop ends sampling and debouncing');

  const input = gpio.openInput(5, { pull: 'none' });
  assert.equal(calls.at(-1), 'input facegate 8 5');
  gpio.close();
  assert.equal(calls.at(-1), 'release 5', 'closing the backend releases what is still open');
  assert.throws(() => input.read(), /GPIO 5 is closed/);
});

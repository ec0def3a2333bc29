// GPIO behind one small interface, so the door logic runs the same on a Pi, a Jetson and in tests.
// Pin numbers are line offsets on the chip: on a Raspberry Pi these are BCM numbers (GPIO17 is
// pin 17, physical header pin 11); on a Jetson find the offset with `gpioinfo` / `gpiofind`.
// Levels are electrical (1 = high); active-low wiring is handled by the door-facing classes.
import { readdirSync, readFileSync } from 'node:fs';
import { createLibgpiodGpio, loadLibgpiod } from './libgpiod-gpio.js';
import { createRpioGpio, isRpioBoard } from './rpio-gpio.js';
import { SimulatedGpio, type Edge } from './simulated-gpio.js';
import { systemClock, type Clock, type TimerHandle } from '../../util/clock.js';

export type Level = 0 | 1;
export type Pull = 'up' | 'down' | 'none';
export type GpioBackendName = 'rpio' | 'libgpiod' | 'simulated';

export interface OutputPin {
  readonly pin: number;
  write(v: Level): void;
  read(): Level;
  close(): void;
}

export interface InputPin {
  readonly pin: number;
  read(): Level;
  /** calls back on every level change, with its time on the backend's clock; returns an unsubscribe */
  watch(cb: (level: Level, atMs: number) => void): () => void;
  close(): void;
}

export interface GpioBackend {
  readonly name: GpioBackendName;
  openOutput(pin: number, initial: Level): OutputPin;
  openInput(pin: number, opts: { pull: Pull }): InputPin;
  /** Closes every pin still open; the backend cannot be used afterwards. */
  close(): void;
}

export interface GpioConfig {
  backend: 'auto' | GpioBackendName;
  /**
   * libgpiod chip, by name, number, /dev path or label; default 'gpiochip0'. That is the 40-pin
   * header on Pi 1-4 and on a Pi 5 with a current kernel; older Pi 5 kernels exposed the header
   * as 'gpiochip4'. The label 'pinctrl-rp1' finds the Pi 5 header on either (see `gpiodetect`).
   */
  chip?: string;
  log?: (line: string) => void;
  /** Simulated backend only (chosen or fallen back to): called on every edge, e.g. to print relay pulses. */
  onEdge?: (edge: Edge) => void;
  /** Dates edges and paces input sampling; default the system clock. */
  clock?: Clock;
}

/** A backend that cannot run here: a missing native module, or the wrong board. The message says what to do. */
export class GpioUnavailableError extends Error {
  override name = 'GpioUnavailableError';
}

export const DEFAULT_GPIO_CHIP = 'gpiochip0';

export function createGpioBackend(cfg: GpioConfig): GpioBackend {
  const log = cfg.log ?? (() => {});
  const chip = cfg.chip ?? DEFAULT_GPIO_CHIP;
  const clock = cfg.clock ?? systemClock;
  switch (cfg.backend) {
    case 'simulated':
      return new SimulatedGpio({ onEdge: cfg.onEdge, clock });
    case 'rpio':
      return createRpioGpio({ log, clock });
    case 'libgpiod':
      return createLibgpiodGpio(loadLibgpiod(), { chip, log, clock });
    case 'auto':
      return autoSelect(chip, log, cfg.onEdge, clock);
  }
}

function autoSelect(chip: string, log: (line: string) => void, onEdge: GpioConfig['onEdge'], clock: Clock): GpioBackend {
  const why: string[] = [];
  const chips = gpioChips();
  if (chips.length > 0) {
    try {
      const lib = loadLibgpiod();
      log(`gpio: using libgpiod (found ${chips.map((c) => `/dev/${c}`).join(', ')})`);
      // Opening errors (permissions, wrong chip) are thrown, not skipped: on real hardware a
      // silent fall-back to simulation would leave the door dead with no explanation.
      return createLibgpiodGpio(lib, { chip, log, clock });
    } catch (err) {
      if (!(err instanceof GpioUnavailableError)) throw err;
      why.push(err.message);
    }
  } else {
    why.push('no /dev/gpiochip* devices');
  }

  const model = boardModel();
  if (model !== null && isRpioBoard(model)) {
    try {
      const backend = createRpioGpio({ log, clock });
      log(`gpio: using rpio on "${model}"`);
      return backend;
    } catch (err) {
      if (!(err instanceof GpioUnavailableError)) throw err;
      why.push(err.message);
    }
  } else {
    why.push(model === null ? 'no /proc/device-tree/model (not a single-board computer)' : `"${model}" is not a Raspberry Pi 1-4 for rpio`);
  }

  log(`gpio: no GPIO hardware usable, using the SIMULATED backend: nothing is switched (${why.join('; ')})`);
  return new SimulatedGpio({ onEdge, clock });
}

function gpioChips(): string[] {
  try {
    return readdirSync('/dev').filter((n) => /^gpiochip\d+$/.test(n));
  } catch {
    return [];
  }
}

/** The board's name from the device tree, e.g. "Raspberry Pi 4 Model B Rev 1.4"; null off ARM boards. */
export function boardModel(): string | null {
  try {
    return readFileSync('/proc/device-tree/model', 'utf8').replace(/\0+$/, '');
  } catch {
    return null;
  }
}

/** Sampling period for inputs on backends without usable edge events; far below a button's 50 ms debounce. */
const INPUT_POLL_MS = 5;

/**
 * Turns a level read into InputPin.watch by sampling it every INPUT_POLL_MS and calling back on
 * changes. Used where the native module offers no edge events that are safe to use.
 */
export class SampledWatch {
  private readonly watchers = new Set<(level: Level, atMs: number) => void>();
  private timer: TimerHandle | undefined;
  private last: Level = 0;

  constructor(
    private readonly pin: number,
    private readonly read: () => Level,
    private readonly log: (line: string) => void,
    private readonly clock: Clock = systemClock,
  ) {}

  watch(cb: (level: Level, atMs: number) => void): () => void {
    this.watchers.add(cb);
    if (this.timer === undefined) {
      this.last = this.read();
      this.timer = this.clock.setInterval(() => this.sample(), INPUT_POLL_MS);
    }
    return () => {
      this.watchers.delete(cb);
      if (this.watchers.size === 0) this.stopSampling();
    };
  }

  stop(): void {
    this.watchers.clear();
    this.stopSampling();
  }

  private stopSampling(): void {
    this.clock.clearInterval(this.timer);
    this.timer = undefined;
  }

  private sample(): void {
    let level: Level;
    try {
      level = this.read();
    } catch (err) {
      // A throw from a timer would take the whole daemon down; a dead input is reported instead.
      this.log(`gpio: reading GPIO ${this.pin} failed, no longer watching it: ${firstLine(err)}`);
      this.stopSampling();
      return;
    }
    if (level === this.last) return;
    this.last = level;
    const atMs = this.clock.now();
    for (const cb of [...this.watchers]) cb(level, atMs);
  }
}

/** The first line of a loader's error, short enough for a log line. */
export function firstLine(err: unknown): string {
  const line = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

// GPIO on Raspberry Pi 1-4/400 through rpio, which maps the SoC's GPIO registers via /dev/gpiomem
// (no root needed, only the gpio group). rpio does not know the Pi 5's RP1: use libgpiod there.
// Inputs are sampled with rpio.read rather than rpio.poll: poll arms the SoC's edge detectors behind
// the kernel's back, and rpio's README asks for `dtoverlay=gpio-no-irq` against crashes on newer
// kernels, which would take GPIO interrupts away from everything else on the board.
import { createRequire } from 'node:module';
import { GpioUnavailableError, SampledWatch, boardModel, firstLine, type GpioBackend, type InputPin, type Level, type OutputPin, type Pull } from './gpio.js';
import { systemClock, type Clock } from '../../util/clock.js';

/** The part of rpio 2.4 used here; declared locally because rpio ships no types and is optional. */
interface RpioModule {
  readonly INPUT: number;
  readonly OUTPUT: number;
  readonly PULL_OFF: number;
  readonly PULL_DOWN: number;
  readonly PULL_UP: number;
  readonly PIN_RESET: number;
  init(opts: { gpiomem: boolean; mapping: 'gpio' | 'physical'; mock: string | false; close_on_exit: boolean }): void;
  open(pin: number, mode: number, init?: number): void;
  read(pin: number): number;
  write(pin: number, value: number): void;
  close(pin: number, reset?: number): void;
  exit(): void;
  on(event: 'warn', listener: (msg: string) => void): unknown;
  removeListener(event: 'warn', listener: (msg: string) => void): unknown;
}

export interface RpioGpioOptions {
  log: (line: string) => void;
  /** Run rpio in its mock mode as this board ('raspi-3', 'raspi-4', ...): tests without hardware. */
  mock?: string;
  /** Paces input sampling and dates input changes; default the system clock. */
  clock?: Clock;
}

/** Raspberry Pi models rpio can drive: every one up to the 4, 400, Zero 2 W and CM4, none of the Pi 5 family. */
export function isRpioBoard(model: string): boolean {
  return /^Raspberry Pi (Model [AB]\b|[234] Model\b|400\b|Zero\b|Compute Module( [34]S?)? (Rev|Plus|Lite)\b)/.test(model);
}

function loadRpio(): RpioModule {
  try {
    return createRequire(import.meta.url)('rpio') as RpioModule;
  } catch (err) {
    throw new GpioUnavailableError(
      `rpio is not installed or its native part did not build (${firstLine(err)}): ` +
        'install a compiler (sudo apt install build-essential python3), then npm rebuild rpio, or npm install if it is missing',
    );
  }
}

export function createRpioGpio(opts: RpioGpioOptions): RpioGpio {
  if (opts.mock === undefined) {
    // Off a supported Pi rpio would quietly fall back to its mock mode and switch nothing.
    const model = boardModel();
    if (model === null || !isRpioBoard(model)) {
      throw new GpioUnavailableError(
        `rpio drives Raspberry Pi 1-4/400 only and this is ${model === null ? 'not a Raspberry Pi' : `a "${model}"`}: ` +
          'set gpio.backend to libgpiod (Pi 5, Jetson) or simulated',
      );
    }
  }
  const rpio = loadRpio();
  const onWarn = (msg: string) => opts.log(`gpio: rpio: ${msg}`);
  rpio.on('warn', onWarn);
  try {
    // 'gpio' mapping makes pin numbers BCM numbers like the other backends. rpio's own exit hook
    // is off because it adds a listener per init; close() calls rpio.exit() instead.
    rpio.init({ gpiomem: true, mapping: 'gpio', mock: opts.mock ?? false, close_on_exit: false });
  } catch (err) {
    rpio.removeListener('warn', onWarn);
    throw new Error(
      `rpio cannot open /dev/gpiomem (${firstLine(err)}): add the service user to the gpio group (sudo usermod -aG gpio <user>)`,
    );
  }
  return new RpioGpio(rpio, onWarn, opts.log, opts.clock ?? systemClock);
}

/** rpio keeps its state in the module, so use one RpioGpio per process. */
export class RpioGpio implements GpioBackend {
  readonly name = 'rpio';
  /** How to close each open pin, by BCM number. */
  private readonly open = new Map<number, () => void>();

  constructor(
    private readonly rpio: RpioModule,
    private readonly onWarn: (msg: string) => void,
    private readonly log: (line: string) => void,
    private readonly clock: Clock,
  ) {}

  openOutput(pin: number, initial: Level): OutputPin {
    // rpio writes the initial level before switching the pin to output: no glitch on the relay.
    const { live, close } = this.claim(pin, () => this.rpio.open(pin, this.rpio.OUTPUT, initial));
    return {
      pin,
      write: (v) => this.rpio.write(live(), v),
      read: () => this.level(live()),
      close,
    };
  }

  openInput(pin: number, opts: { pull: Pull }): InputPin {
    const r = this.rpio;
    const pull = opts.pull === 'up' ? r.PULL_UP : opts.pull === 'down' ? r.PULL_DOWN : r.PULL_OFF;
    const sampler = new SampledWatch(pin, () => this.level(live()), this.log, this.clock);
    const { live, close } = this.claim(pin, () => r.open(pin, r.INPUT, pull), () => sampler.stop());
    return {
      pin,
      read: () => this.level(live()),
      watch: (cb) => sampler.watch(cb),
      close,
    };
  }

  close(): void {
    for (const close of [...this.open.values()]) close();
    this.rpio.removeListener('warn', this.onWarn);
    this.rpio.exit();
  }

  private level(pin: number): Level {
    return this.rpio.read(pin) ? 1 : 0;
  }

  /**
   * Opens a pin once. `live()` returns the pin number while this owner holds it and throws after
   * close: rpio itself would keep writing the register of a pin nobody owns.
   */
  private claim(pin: number, open: () => void, onClose = () => {}): { live: () => number; close: () => void } {
    if (this.open.has(pin)) throw new Error(`GPIO ${pin} is already open`);
    open();
    const close = () => {
      if (this.open.get(pin) !== close) return;
      this.open.delete(pin);
      onClose();
      // PIN_RESET turns the pin back into an input, as the kernel does when a libgpiod line is released.
      this.rpio.close(pin, this.rpio.PIN_RESET);
    };
    this.open.set(pin, close);
    return {
      live: () => {
        if (this.open.get(pin) !== close) throw new Error(`GPIO ${pin} is closed`);
        return pin;
      },
      close,
    };
  }
}

// GPIO through the Linux GPIO character device (/dev/gpiochipN) with node-libgpiod 0.5, which
// binds libgpiod 1.x. This is the backend for the Raspberry Pi 5 (RP1) and for Jetson boards, and
// works on older Pis with a current kernel too. Pins are line offsets on the configured chip.
// node-libgpiod 0.5 has no edge events in JS, so inputs are sampled (SampledWatch).
import { createRequire } from 'node:module';
import { GpioUnavailableError, SampledWatch, firstLine, type GpioBackend, type InputPin, type Level, type OutputPin, type Pull } from './gpio.js';
import { systemClock, type Clock } from '../../util/clock.js';

/** The part of node-libgpiod 0.5 used here; declared locally because the package is optional. */
interface GpiodLine {
  requestOutputMode(consumer: string, defaultValue: Level): void;
  requestInputModeFlags(consumer: string, flags: number): void;
  getValue(): Level;
  setValue(value: Level): void;
  release(): void;
}

interface GpiodChip {
  readonly name: string;
  readonly label: string;
  readonly numberOfLines: number;
  getLine(offset: number): GpiodLine;
}

export interface LibgpiodModule {
  Chip: new (identifier: string) => GpiodChip;
  Line: { RequestFlags: { BIAS_DISABLE: number; BIAS_PULL_DOWN: number; BIAS_PULL_UP: number } };
}

/** The name `gpioinfo` shows as the user of our lines. */
const CONSUMER = 'facegate';

export function loadLibgpiod(): LibgpiodModule {
  try {
    return createRequire(import.meta.url)('node-libgpiod') as LibgpiodModule;
  } catch (err) {
    throw new GpioUnavailableError(
      `node-libgpiod is not installed or its native part did not build (${firstLine(err)}): ` +
        'install the libgpiod 1.x headers (sudo apt install libgpiod-dev build-essential), then npm rebuild node-libgpiod, or npm install if it is missing',
    );
  }
}

export interface LibgpiodGpioOptions {
  chip: string;
  log: (line: string) => void;
  /** Paces input sampling and dates input changes; default the system clock. */
  clock?: Clock;
}

export function createLibgpiodGpio(lib: LibgpiodModule, opts: LibgpiodGpioOptions): LibgpiodGpio {
  let chip: GpiodChip;
  try {
    chip = new lib.Chip(opts.chip);
  } catch (err) {
    throw new Error(chipError(opts.chip, err));
  }
  opts.log(`gpio: libgpiod chip ${chip.name} "${chip.label}" with ${chip.numberOfLines} lines`);
  return new LibgpiodGpio(lib, chip, opts.log, opts.clock ?? systemClock);
}

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

function chipError(chip: string, err: unknown): string {
  switch (errnoCode(err)) {
    case 'ENOENT':
    case 'ENODEV':
      return `GPIO chip "${chip}" not found: list the chips with \`gpiodetect\` and set gpio.chip (Pi 5 on an older kernel: gpiochip4, or its label pinctrl-rp1)`;
    case 'EACCES':
    case 'EPERM':
      return `no permission to open GPIO chip "${chip}": add the service user to the gpio group (sudo usermod -aG gpio <user>) or run as root`;
    default:
      return `cannot open GPIO chip "${chip}": ${firstLine(err)}`;
  }
}

export class LibgpiodGpio implements GpioBackend {
  readonly name = 'libgpiod';
  /**
   * How to close each open line, by offset. The closures also keep the line objects reachable:
   * node-libgpiod releases a line when its object is garbage-collected.
   */
  private readonly open = new Map<number, () => void>();

  constructor(
    private readonly lib: LibgpiodModule,
    private readonly chip: GpiodChip,
    private readonly log: (line: string) => void,
    private readonly clock: Clock,
  ) {}

  openOutput(pin: number, initial: Level): OutputPin {
    // Requesting with the initial value sets the level before the line turns into an output: no glitch on the relay.
    const { line, close } = this.request(pin, 'output', (l) => l.requestOutputMode(CONSUMER, initial));
    return { pin, write: (v) => line().setValue(v), read: () => line().getValue(), close };
  }

  openInput(pin: number, opts: { pull: Pull }): InputPin {
    const f = this.lib.Line.RequestFlags;
    const flags = opts.pull === 'up' ? f.BIAS_PULL_UP : opts.pull === 'down' ? f.BIAS_PULL_DOWN : f.BIAS_DISABLE;
    const sampler = new SampledWatch(pin, () => line().getValue(), this.log, this.clock);
    const { line, close } = this.request(pin, 'input', (l) => l.requestInputModeFlags(CONSUMER, flags), () => sampler.stop());
    return { pin, read: () => line().getValue(), watch: (cb) => sampler.watch(cb), close };
  }

  close(): void {
    for (const close of [...this.open.values()]) close();
  }

  private request(
    pin: number,
    what: 'output' | 'input',
    request: (line: GpiodLine) => void,
    onClose = () => {},
  ): { line: () => GpiodLine; close: () => void } {
    if (this.open.has(pin)) throw new Error(`GPIO ${pin} is already open`);
    const where = `line ${pin} of GPIO chip ${this.chip.name}`;
    let line: GpiodLine;
    try {
      line = this.chip.getLine(pin);
    } catch (err) {
      throw new Error(`${where} does not exist (the chip has ${this.chip.numberOfLines} lines; see \`gpioinfo ${this.chip.name}\`): ${firstLine(err)}`);
    }
    try {
      request(line);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'EBUSY') throw new Error(`${where} is in use by another program or a kernel driver: see \`gpioinfo ${this.chip.name}\``);
      // Bias flags (pull-up/down) arrived in Linux 5.5; older kernels refuse them with EINVAL.
      if (code === 'EINVAL' && what === 'input') throw new Error(`cannot request ${where} as an input with a bias setting (needs Linux 5.5+): ${firstLine(err)}`);
      throw new Error(`cannot request ${where} as an ${what}: ${firstLine(err)}`);
    }
    const close = () => {
      // A stale pin object must not close a later owner of the same line.
      if (this.open.get(pin) !== close) return;
      this.open.delete(pin);
      onClose();
      line.release();
    };
    this.open.set(pin, close);
    return {
      // Checked here because node-libgpiod's error for a released line is a bare EPERM.
      line: () => {
        if (this.open.get(pin) !== close) throw new Error(`GPIO ${pin} is closed`);
        return line;
      },
      close,
    };
  }
}

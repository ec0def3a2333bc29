// A status LED: steady on/off, blinking, or a counted flash. Each call replaces the pattern before it.
import type { Component } from '../../core/component.js';
import { systemClock, type Clock, type TimerHandle } from '../../util/clock.js';
import type { GpioBackend, Level, OutputPin } from './gpio.js';

export interface StatusLedOptions {
  /** BCM number / line offset */
  pin: number;
  /** Lit = level 0 (LED wired from 3.3 V to the pin). */
  activeLow?: boolean;
}

export class StatusLed implements Component {
  readonly name: string;
  private out: OutputPin | null = null;
  /** Ends the running blink or flash; null when the LED is steady. */
  private endPattern: (() => void) | null = null;

  constructor(
    private readonly backend: GpioBackend,
    private readonly opts: StatusLedOptions,
    /** Times blinks and flashes; default the system clock. */
    private readonly clock: Clock = systemClock,
  ) {
    this.name = `status LED on GPIO ${opts.pin}`;
  }

  start(): void {
    if (this.out) throw new Error(`${this.name} is already started`);
    this.out = this.backend.openOutput(this.opts.pin, this.level(false));
  }

  on(): void {
    this.cancel();
    this.light(true);
  }

  off(): void {
    this.cancel();
    this.light(false);
  }

  /** Blinks until the next call: lit for half of each period, dark for the other half. */
  blink(periodMs: number): void {
    this.cancel();
    let lit = true;
    this.light(lit);
    const timer = this.clock.setInterval(() => this.light((lit = !lit)), periodMs / 2);
    this.endPattern = () => this.clock.clearInterval(timer);
  }

  /**
   * Flashes `times` times (half a period lit, half dark) and stays off. Resolves a full period after
   * the last flash began, so flashes awaited back to back stay countable; resolves early if another
   * call replaces the pattern.
   */
  flash(times: number, periodMs: number): Promise<void> {
    if (!Number.isInteger(times) || times < 1) throw new RangeError(`flash times must be a whole number >= 1, got ${times}`);
    this.cancel();
    return new Promise((resolve) => {
      let step = 0;
      let timer: TimerHandle | undefined;
      const next = () => {
        if (step === times * 2) {
          this.endPattern = null;
          resolve();
          return;
        }
        this.light(step % 2 === 0);
        step++;
        timer = this.clock.setTimeout(next, periodMs / 2);
      };
      this.endPattern = () => {
        this.clock.clearTimeout(timer);
        resolve();
      };
      next();
    });
  }

  stop(): void {
    if (!this.out) return;
    this.off();
    this.out.close();
    this.out = null;
  }

  private cancel(): void {
    this.endPattern?.();
    this.endPattern = null;
  }

  private light(lit: boolean): void {
    if (!this.out) throw new Error(`${this.name} is not started`);
    this.out.write(this.level(lit));
  }

  private level(lit: boolean): Level {
    const active: Level = this.opts.activeLow ? 0 : 1;
    return lit ? active : active === 1 ? 0 : 1;
  }
}

// A push button (exit button, doorbell): one 'press' per real press, however much the contacts bounce.
import { EventEmitter } from 'node:events';
import type { Component } from '../../core/component.js';
import { systemClock, type Clock, type TimerHandle } from '../../util/clock.js';
import { type GpioBackend, type InputPin, type Level, type Pull } from './gpio.js';

export interface ButtonOptions {
  /** BCM number / line offset */
  pin: number;
  /** Pressed = level 0 (button to ground with a pull-up, the usual wiring). */
  activeLow: boolean;
  /** A level must hold this long to count; default 50. Contact bounce lasts a few ms. */
  debounceMs?: number;
  /** Bias resistor; default up when active-low, down otherwise, so an open contact reads released. */
  pull?: Pull;
}

export interface ButtonPressEvent {
  pin: number;
  /** When the level first changed (the first bounce), on the backend's clock. */
  atMs: number;
}

export class Button extends EventEmitter<{ press: [ButtonPressEvent] }> implements Component {
  readonly name: string;
  private input: InputPin | null = null;
  private unwatch: (() => void) | null = null;
  private settleTimer: TimerHandle | undefined;
  /** The last level that held for debounceMs. */
  private stable: Level = 0;
  private changeStartedAtMs = 0;

  constructor(
    private readonly backend: GpioBackend,
    private readonly opts: ButtonOptions,
    /** Times the debounce; default the system clock. */
    private readonly clock: Clock = systemClock,
  ) {
    super();
    this.name = `button on GPIO ${opts.pin}`;
  }

  start(): void {
    if (this.input) throw new Error(`${this.name} is already started`);
    const pull = this.opts.pull ?? (this.opts.activeLow ? 'up' : 'down');
    const input = this.backend.openInput(this.opts.pin, { pull });
    this.input = input;
    // Held down at start is not a press: it has to be released and pressed again.
    this.stable = input.read();
    this.unwatch = input.watch((_level, atMs) => this.onEdge(input, atMs));
  }

  stop(): void {
    if (!this.input) return;
    this.unwatch?.();
    this.unwatch = null;
    this.clock.clearTimeout(this.settleTimer);
    this.settleTimer = undefined;
    this.input.close();
    this.input = null;
  }

  private onEdge(input: InputPin, atMs: number): void {
    // Every edge restarts the wait, so only a level that then holds for debounceMs is judged.
    if (this.settleTimer === undefined) this.changeStartedAtMs = atMs;
    this.clock.clearTimeout(this.settleTimer);
    this.settleTimer = this.clock.setTimeout(() => this.settle(input), this.opts.debounceMs ?? 50);
  }

  private settle(input: InputPin): void {
    this.settleTimer = undefined;
    const level = input.read();
    if (level === this.stable) return;
    this.stable = level;
    const pressed: Level = this.opts.activeLow ? 0 : 1;
    if (level === pressed) this.emit('press', { pin: this.opts.pin, atMs: this.changeStartedAtMs });
  }
}

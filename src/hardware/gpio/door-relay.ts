// The door strike relay. Fail-secure: it is only energised for a timed pulse, starts released, and
// is released synchronously when the process exits or dies of an uncaught exception.
// Outside its reach: SIGKILL and power loss, and SIGTERM unless the daemon's handler calls stop()
// or process.exit(). For those the wiring must keep the door locked while nothing drives the pin
// (a closed line turns back into an input on a Pi), e.g. a relay board with a pull to "off".
import { EventEmitter } from 'node:events';
import type { Component } from '../../core/component.js';
import { systemClock, type Clock, type TimerHandle } from '../../util/clock.js';
import type { GpioBackend, Level, OutputPin } from './gpio.js';

export interface DoorRelayOptions {
  /** BCM number / line offset */
  pin: number;
  /** Energised = level 0 (most opto-isolated relay boards). */
  activeLow: boolean;
  /** How long a pulse holds the strike open. */
  pulseMs: number;
  /** For logs and events, e.g. "front door". */
  name: string;
}

export interface RelayPulseEvent {
  name: string;
  reason: string;
  pulseMs: number;
  atMs: number;
}

/** Why the relay was released: its pulse ran out, release() or stop() was called, or the process exited or crashed. */
export type ReleaseCause = 'timeout' | 'release' | 'stop' | 'exit' | 'crash';

export interface RelayReleaseEvent {
  name: string;
  cause: ReleaseCause;
  /** How long it was energised. */
  heldMs: number;
  atMs: number;
}

export class DoorRelay extends EventEmitter<{ pulse: [RelayPulseEvent]; release: [RelayReleaseEvent] }> implements Component {
  /** "front door relay"; events carry the door's own name. */
  readonly name: string;
  private out: OutputPin | null = null;
  private timer: TimerHandle | undefined;
  private energisedAtMs: number | null = null;
  private readonly onExit = () => this.emergencyRelease('exit');
  // The monitor event sees uncaught exceptions (and unhandled rejections) without handling them,
  // so the process still crashes and reports the error as it would without us.
  private readonly onCrash = () => this.emergencyRelease('crash');

  constructor(
    private readonly backend: GpioBackend,
    private readonly opts: DoorRelayOptions,
    /** Times the pulse and dates events; default the system clock. */
    private readonly clock: Clock = systemClock,
  ) {
    super();
    this.name = `${opts.name} relay`;
  }

  get energised(): boolean {
    return this.energisedAtMs !== null;
  }

  start(): void {
    if (this.out) throw new Error(`${this.name} is already started`);
    if (!(this.opts.pulseMs > 0)) throw new Error(`${this.name}: pulseMs must be positive, got ${this.opts.pulseMs}`);
    this.out = this.backend.openOutput(this.opts.pin, this.level(false));
    process.on('exit', this.onExit);
    process.on('uncaughtExceptionMonitor', this.onCrash);
  }

  /** Energises for pulseMs. Returns false, changing nothing, if a pulse is already running: repeats never extend it. */
  pulse(reason: string): boolean {
    if (!this.out) throw new Error(`${this.name} is not started`);
    if (this.energisedAtMs !== null) return false;
    this.out.write(this.level(true));
    this.energisedAtMs = this.clock.now();
    this.timer = this.clock.setTimeout(() => this.releaseAs('timeout'), this.opts.pulseMs);
    this.emit('pulse', { name: this.opts.name, reason, pulseMs: this.opts.pulseMs, atMs: this.energisedAtMs });
    return true;
  }

  release(): void {
    this.releaseAs('release');
  }

  stop(): void {
    if (!this.out) return;
    this.releaseAs('stop');
    process.off('exit', this.onExit);
    process.off('uncaughtExceptionMonitor', this.onCrash);
    this.out.close();
    this.out = null;
  }

  private releaseAs(cause: ReleaseCause): void {
    if (!this.out) return;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    // Written even when we believe it is released: if an energising write failed halfway, the
    // hardware state is unknown, and writing the same level again costs nothing.
    this.out.write(this.level(false));
    if (this.energisedAtMs === null) return;
    const atMs = this.clock.now();
    const heldMs = atMs - this.energisedAtMs;
    this.energisedAtMs = null;
    this.emit('release', { name: this.opts.name, cause, heldMs, atMs });
  }

  private emergencyRelease(cause: 'exit' | 'crash'): void {
    try {
      this.releaseAs(cause);
    } catch (err) {
      // Throwing here would replace the crash being reported; say what failed and let it proceed.
      process.stderr.write(`facegate: could not release the ${this.opts.name} relay on ${cause}: ${(err as Error).message}\n`);
    }
  }

  private level(energised: boolean): Level {
    const active: Level = this.opts.activeLow ? 0 : 1;
    return energised ? active : active === 1 ? 0 : 1;
  }
}

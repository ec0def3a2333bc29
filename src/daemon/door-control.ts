// The door relays: one per configured door, released on start, pulsed for granted decisions and
// remote unlocks, released first whenever the daemon stops. Every energise and release is a
// `door.state` event on the bus, a log line and a metric, so a door that opened is never silent.
import type { Component } from '../core/component.js';
import type { EventBus } from '../core/event-bus.js';
import type { Config } from '../config/schema.js';
import type { GpioBackend } from '../hardware/gpio/gpio.js';
import { DoorRelay } from '../hardware/gpio/door-relay.js';
import type { Logger } from './logger.js';
import type { DaemonMetrics } from './daemon-metrics.js';
import { systemClock, type Clock } from '../util/clock.js';

export class DoorControl implements Component {
  readonly name = 'door relays';
  private readonly relays = new Map<string, DoorRelay>();
  /** Set by releaseAll(): the daemon is stopping, nothing may energise a relay again. */
  private lockedDown = false;

  constructor(
    private readonly doors: Config['doors'],
    private readonly gpio: () => GpioBackend,
    private readonly bus: EventBus,
    private readonly log: Logger,
    private readonly metrics: DaemonMetrics,
    private readonly clock: Clock = systemClock,
  ) {}

  start(): void {
    for (const door of this.doors) {
      const relay = new DoorRelay(this.gpio(), { pin: door.relay.pin, activeLow: door.relay.activeLow, pulseMs: door.relay.pulseMs, name: door.name }, this.clock);
      relay.start();
      relay.on('pulse', (p) => {
        this.metrics.relayPulses.inc({ door: door.name });
        this.bus.emit('door.state', { door: door.name, state: 'unlocked', cause: p.reason, atMs: p.atMs });
      });
      relay.on('release', (r) => {
        this.metrics.relayReleases.inc({ door: door.name, cause: r.cause });
        // Exit and crash releases run inside process exit handlers: a synchronous line on stderr
        // is the only output that still gets out there.
        const line = `${door.name}: relay released (${r.cause}) after ${Math.round(r.heldMs)} ms`;
        if (r.cause === 'exit' || r.cause === 'crash') process.stderr.write(`facegate: ${line}\n`);
        else this.log.info({ relay: { door: door.name, cause: r.cause, held_ms: Math.round(r.heldMs) } }, line);
        this.bus.emit('door.state', { door: door.name, state: 'locked', cause: r.cause, atMs: r.atMs, heldMs: r.heldMs });
      });
      this.relays.set(door.name, relay);
    }
    this.bus.on('decision', (e) => {
      if (e.relay === 'pulse') this.pulse(e.door, `${e.reason} ${e.person?.name ?? 'unknown'}`);
    });
  }

  get names(): string[] {
    return [...this.relays.keys()];
  }

  has(door: string): boolean {
    return this.relays.has(door);
  }

  energised(door: string): boolean {
    return this.relays.get(door)?.energised ?? false;
  }

  /** False when the relay is already energised (a pulse is never extended) or the daemon is stopping. */
  pulse(door: string, why: string): boolean {
    if (this.lockedDown) return false;
    return this.relays.get(door)?.pulse(why) ?? false;
  }

  /** Fail-secure: releases every relay now and refuses further pulses. Synchronous: safe in exit paths. */
  releaseAll(): void {
    this.lockedDown = true;
    for (const relay of this.relays.values()) {
      try {
        relay.stop();
      } catch (err) {
        process.stderr.write(`facegate: could not release a door relay: ${(err as Error).message}\n`);
      }
    }
  }

  stop(): void {
    this.lockedDown = true;
    for (const relay of this.relays.values()) relay.stop();
    this.relays.clear();
  }
}

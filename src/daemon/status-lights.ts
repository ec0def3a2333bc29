// The status LEDs, driven by what happens on the bus: ready while the camera streams, granted
// while ANY door relay is energised (two doors share one LED), a flash per denial, and the
// enrollment LED that the enrollment burst drives through its indicator.
import type { Component } from '../core/component.js';
import type { EventBus } from '../core/event-bus.js';
import type { Config } from '../config/schema.js';
import type { GpioBackend } from '../hardware/gpio/gpio.js';
import { StatusLed } from '../hardware/gpio/status-led.js';
import type { EnrollmentIndicator } from '../recognition/button-enrollment.js';
import { systemClock, type Clock } from '../util/clock.js';

type LedName = 'ready' | 'granted' | 'denied' | 'enrollment';

export class StatusLights implements Component {
  readonly name = 'status LEDs';
  private readonly leds: Partial<Record<LedName, StatusLed>> = {};
  private readonly unlockedDoors = new Set<string>();

  constructor(
    private readonly cfg: Config['gpio']['leds'],
    private readonly gpio: () => GpioBackend,
    private readonly bus: EventBus,
    private readonly clock: Clock = systemClock,
  ) {}

  start(): void {
    for (const name of ['ready', 'granted', 'denied', 'enrollment'] as const) {
      const pin = this.cfg[name];
      if (pin === undefined) continue;
      const led = new StatusLed(this.gpio(), { pin, activeLow: this.cfg.activeLow }, this.clock);
      led.start();
      this.leds[name] = led;
    }
    this.bus.on('camera.state', (c) => (c.state === 'streaming' ? this.leds.ready?.on() : this.leds.ready?.off()));
    this.bus.on('door.state', (d) => {
      if (d.state === 'unlocked') this.unlockedDoors.add(d.door);
      else this.unlockedDoors.delete(d.door);
      if (this.unlockedDoors.size > 0) this.leds.granted?.on();
      else this.leds.granted?.off();
    });
    this.bus.on('decision', (e) => {
      if (e.decision === 'denied') void this.leds.denied?.flash(3, 150);
    });
  }

  get enrollmentIndicator(): EnrollmentIndicator {
    return {
      capturing: () => this.leds.enrollment?.blink(150),
      succeeded: () => void this.leds.enrollment?.flash(2, 200),
      failed: () => void this.leds.enrollment?.flash(6, 100),
    };
  }

  stop(): void {
    for (const led of Object.values(this.leds)) led.stop();
  }
}

// How the daemon reports on itself: systemd (READY once everything started, WATCHDOG only while
// frames are processed, STATUS with the frame rate, STOPPING), the frame rate and the readiness
// checks that /readyz, the MQTT state and the web console show.
import type { Component } from '../core/component.js';
import type { EventBus } from '../core/event-bus.js';
import { SystemdNotifier } from '../system/systemd-notifier.js';
import { systemClock, type Clock, type TimerHandle } from '../util/clock.js';
import type { Logger } from './logger.js';
import type { DaemonMetrics } from './daemon-metrics.js';

export const STATUS_MS = 5000;
/** While there are no frames to process (camera missing or reconnecting), liveness is proven this often. */
export const IDLE_HEARTBEAT_MS = 1000;
/** /readyz wants a processed frame at least this recently. */
export const RECENT_FRAME_MS = 10_000;

export interface ReadinessCheck {
  ok: boolean;
  detail: string;
}

export type CheckSource = () => Record<string, ReadinessCheck>;

export class Supervision implements Component {
  readonly name = 'supervision';
  readonly notifier: SystemdNotifier;
  private timer: TimerHandle | undefined;
  private idleTimer: TimerHandle | undefined;
  private lastFrameAtMs = 0;
  private framesSinceStatus = 0;
  private currentFps = 0;
  private readonly sources: CheckSource[] = [];
  private readonly tickListeners: (() => void)[] = [];
  private unsubscribe: () => void = () => undefined;

  constructor(
    private readonly bus: EventBus,
    private readonly log: Logger,
    private readonly metrics: DaemonMetrics,
    private readonly describe: () => string,
    /**
     * True while the camera delivers nothing to process. Then a restart cannot help (systemd would
     * kill a daemon that is only waiting for its camera, and give up after StartLimitBurst), so
     * the watchdog is fed from a timer; while frames arrive, only processed frames feed it, so a
     * hung recognition loop still gets the daemon restarted.
     */
    private readonly waitingForCamera: () => boolean,
    private readonly clock: Clock = systemClock,
  ) {
    this.notifier = new SystemdNotifier({ log, clock });
  }

  start(): void {
    this.notifier.start();
    this.unsubscribe = this.bus.on('frame.analysed', () => {
      this.lastFrameAtMs = this.clock.now();
      this.framesSinceStatus++;
      this.notifier.heartbeat();
    });
    this.timer = this.clock.setInterval(() => this.tick(), STATUS_MS);
    this.idleTimer = this.clock.setInterval(() => {
      if (this.waitingForCamera()) this.notifier.heartbeat();
    }, IDLE_HEARTBEAT_MS);
  }

  /** Components add their own checks (models, gallery, camera, ...). */
  addChecks(source: CheckSource): void {
    this.sources.push(source);
  }

  /** Runs on every status period (the MQTT state refresh hangs off it). */
  onTick(listener: () => void): void {
    this.tickListeners.push(listener);
  }

  get fps(): number {
    return this.currentFps;
  }

  readiness(): { ready: boolean; checks: Record<string, ReadinessCheck> } {
    const checks: Record<string, ReadinessCheck> = {};
    for (const source of this.sources) Object.assign(checks, source());
    const age = this.clock.now() - this.lastFrameAtMs;
    checks.frames = { ok: this.lastFrameAtMs > 0 && age < RECENT_FRAME_MS, detail: this.lastFrameAtMs ? `last frame ${(age / 1000).toFixed(1)} s ago` : 'none yet' };
    return { ready: Object.values(checks).every((c) => c.ok), checks };
  }

  /** Everything started: tell systemd (degraded parts are named in STATUS and on /readyz). */
  ready(summary: string): void {
    const failing = Object.entries(this.readiness().checks).filter(([k, c]) => !c.ok && k !== 'frames');
    this.notifier.ready(failing.length ? `degraded: ${failing.map(([k, c]) => `${k} ${c.detail}`).join('; ')}` : summary);
  }

  stopping(): void {
    this.notifier.stopping();
  }

  stop(): void {
    this.clock.clearInterval(this.timer);
    this.clock.clearInterval(this.idleTimer);
    this.unsubscribe();
    this.notifier.stop();
  }

  private tick(): void {
    this.currentFps = this.framesSinceStatus / (STATUS_MS / 1000);
    this.framesSinceStatus = 0;
    this.metrics.fps.set(this.currentFps);
    this.notifier.status(`${this.currentFps.toFixed(1)} fps, ${this.describe()}`);
    for (const l of this.tickListeners) {
      try {
        l();
      } catch (err) {
        this.log.warn(`status: ${(err as Error).message}`);
      }
    }
  }
}

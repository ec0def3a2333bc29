// Talks to systemd over NOTIFY_SOCKET (Type=notify): READY, STATUS, STOPPING and a watchdog that is
// fed by processed frames, not by a timer alone, so a stalled camera or a hung loop gets us restarted.
import { createRequire } from 'node:module';
import type { Component } from '../core/component.js';
import { systemClock, unrefTimer, type Clock, type TimerHandle } from '../util/clock.js';

/** The part of a logger this module uses; a pino logger fits. */
export interface NotifierLog {
  debug(msg: string): void;
  warn(msg: string): void;
}

export interface SystemdNotifierOptions {
  log?: NotifierLog;
  /** Watchdog tick period. Default: half of systemd's WatchdogSec (WATCHDOG_USEC); no ticks when neither is set. */
  watchdogIntervalMs?: number;
  /** Times the watchdog ticks and the stall reported in the log; default the system clock. */
  clock?: Clock;
}

/** sd-notify 2.8: thin N-API wrapper over libsystemd's sd_notify, which reads NOTIFY_SOCKET on every call. */
interface SdNotify {
  /** READY=1, sent with our PID as the sender credential. */
  ready(): void;
  /** STOPPING=1; the native function reads the PID argument unchecked, so it must be passed. */
  stopping(pid: number): void;
  watchdog(): void;
  /** WATCHDOG_USEC in ms; 0 when unset or when WATCHDOG_PID names another process. */
  watchdogInterval(): number;
  sendStatus(text: string): void;
}

export class SystemdNotifier implements Component {
  readonly name = 'systemd notifier';
  private sd: SdNotify | undefined;
  private tickMs = 0;
  private systemdWatchdogMs = 0;
  private timer: TimerHandle | undefined;
  private beatSinceTick = false;
  private stalledSince: number | undefined;
  private readonly clock: Clock;

  constructor(private readonly options: SystemdNotifierOptions = {}) {
    this.clock = options.clock ?? systemClock;
  }

  /** Connects to systemd if we run under it; otherwise every other method stays a no-op. */
  start(): void {
    const log = this.options.log;
    if (!process.env.NOTIFY_SOCKET) {
      log?.debug('systemd: NOTIFY_SOCKET not set (not started by systemd as Type=notify); notifications off');
      return;
    }
    try {
      this.sd = createRequire(import.meta.url)('sd-notify') as SdNotify;
    } catch (err) {
      log?.debug(`systemd: sd-notify not available (optional dependency, built against libsystemd-dev): ${(err as Error).message}; notifications off`);
      return;
    }
    this.systemdWatchdogMs = this.sd.watchdogInterval();
    // Half of the deadline leaves a whole tick of slack for a late timer before systemd gives up on us.
    this.tickMs = this.options.watchdogIntervalMs ?? this.systemdWatchdogMs / 2;
    if (this.systemdWatchdogMs > 0 && this.tickMs >= this.systemdWatchdogMs) {
      log?.warn(`systemd: watchdog ticks every ${this.tickMs} ms but WatchdogSec is ${this.systemdWatchdogMs} ms: systemd will restart facegate; use a shorter interval`);
    }
  }

  /** READY=1: models loaded and camera open. systemd arms its watchdog from here, so do we. */
  ready(status?: string): void {
    if (!this.sd) return;
    this.sd.ready();
    if (status !== undefined) this.status(status);
    if (this.tickMs > 0 && !this.timer) {
      this.beatSinceTick = false;
      this.timer = this.clock.setInterval(() => this.tick(), this.tickMs);
      // The notifier must never be what keeps the process alive.
      unrefTimer(this.timer);
    }
  }

  /** STATUS=…, shown by `systemctl status facegate`. */
  status(text: string): void {
    // A newline would start another field of the notify protocol (e.g. a forged READY=1 or MAINPID=).
    this.sd?.sendStatus(text.replace(/[\r\n]+/g, ' '));
  }

  /** Called after every processed frame; cheap enough for the hot loop. */
  heartbeat(): void {
    this.beatSinceTick = true;
  }

  /** STOPPING=1: shutdown has begun, so systemd shows "deactivating" and waits up to TimeoutStopSec. */
  stopping(): void {
    this.sd?.stopping(process.pid);
  }

  /** Ends the watchdog ticks; safe before start() and twice. */
  stop(): void {
    this.clock.clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const log = this.options.log;
    if (this.beatSinceTick) {
      this.beatSinceTick = false;
      this.sd?.watchdog();
      if (this.stalledSince !== undefined) {
        log?.warn(`systemd: frames are processed again after ${this.clock.now() - this.stalledSince} ms; watchdog pings resumed`);
        this.stalledSince = undefined;
      }
    } else if (this.stalledSince === undefined) {
      this.stalledSince = this.clock.now() - this.tickMs;
      const deadline = this.systemdWatchdogMs > 0 ? ` (systemd restarts facegate after ${this.systemdWatchdogMs} ms without one)` : '';
      log?.warn(`systemd: no frame processed in ${this.tickMs} ms; withholding watchdog pings${deadline}`);
    }
  }
}

// The camera as a component and the loop's frame port. A network or USB camera that is missing at
// start (not plugged in yet, RTSP server down) does not stop the daemon: it runs degraded, says so
// on /readyz, in the log and to systemd, and keeps trying to open it. A file or folder that does
// not exist is a configuration error and fails the start (config check reports it too).
import type { Component } from '../core/component.js';
import type { EventBus } from '../core/event-bus.js';
import type { CameraConfig } from '../camera/camera-config.js';
import { createFrameSource, type Frame, type FrameSource, type FrameSourceStats } from '../camera/frame-source.js';
import type { FramePort } from '../recognition/recognition-loop.js';
import { systemClock, type Clock, type TimerHandle } from '../util/clock.js';
import type { Logger } from './logger.js';
import type { DaemonMetrics } from './daemon-metrics.js';

export type SourceFactory = (cfg: CameraConfig, log: (line: string) => void, clock: Clock) => FrameSource;

export class Camera implements Component, FramePort {
  readonly name = 'camera';
  private source: FrameSource | undefined;
  private retry: TimerHandle | undefined;
  private missing: string | null = null;
  private stopped = false;
  private wasLost = false;
  /** next() callers waiting for a source while the camera is missing. */
  private waiting: (() => void)[] = [];

  constructor(
    private readonly cfg: CameraConfig,
    private readonly bus: EventBus,
    private readonly log: Logger,
    private readonly metrics: DaemonMetrics,
    private readonly factory: SourceFactory = createFrameSource,
    private readonly clock: Clock = systemClock,
  ) {}

  get description(): string {
    return this.source?.description ?? describe(this.cfg);
  }

  /** Why the camera is not there (degraded start), or null. */
  get problem(): string | null {
    return this.missing;
  }

  async start(): Promise<void> {
    try {
      await this.open();
    } catch (err) {
      if (this.cfg.type === 'file' || this.cfg.type === 'folder') throw err;
      this.missing = (err as Error).message;
      this.log.error(`camera ${describe(this.cfg)} is not available: ${this.missing}. Running degraded (no recognition) and retrying every ${this.cfg.reconnect.maxMs / 1000} s: check the cable or URL (v4l2-ctl --list-devices)`);
      this.bus.emit('camera.state', { state: 'missing', detail: this.missing, atMs: this.clock.now() });
      this.scheduleRetry();
    }
  }

  async next(): Promise<Frame | null> {
    for (;;) {
      if (this.stopped) return null;
      if (this.source) return this.source.next();
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  stats(): Omit<FrameSourceStats, 'state'> & { state: FrameSourceStats['state'] | 'missing' } {
    return this.source?.stats() ?? { state: this.missing ? 'missing' : 'starting', captured: 0, delivered: 0, dropped: 0, reconnects: 0, lastError: this.missing, captureFps: 0 };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.clock.clearTimeout(this.retry);
    await this.source?.stop();
    for (const w of this.waiting.splice(0)) w();
  }

  private async open(): Promise<void> {
    const source = this.factory(this.cfg, (l) => this.log.info(l), this.clock);
    source.on('state', (state, detail) => {
      if (state === 'reconnecting') {
        this.wasLost = true;
        this.metrics.cameraLosses.inc();
      }
      if (state === 'streaming' && this.wasLost) {
        this.wasLost = false;
        this.metrics.cameraReconnects.inc();
      }
      this.metrics.cameraUp.set(state === 'streaming' ? 1 : 0);
      const line = `camera ${state}${detail ? `: ${detail}` : ''}`;
      if (state === 'reconnecting') this.log.warn({ camera: state }, line);
      else this.log.info({ camera: state }, line);
      this.bus.emit('camera.state', { state, detail, atMs: this.clock.now() });
    });
    await source.start();
    this.source = source;
    this.missing = null;
    for (const w of this.waiting.splice(0)) w();
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    this.retry = this.clock.setTimeout(() => {
      this.open().then(
        () => this.log.info(`camera ${this.description} is available now: recognition runs`),
        (err: Error) => {
          this.missing = err.message;
          this.log.debug(`camera still not available: ${err.message}`);
          this.scheduleRetry();
        },
      );
    }, this.cfg.reconnect.maxMs);
  }
}

function describe(cfg: CameraConfig): string {
  return cfg.type === 'v4l2' ? `${cfg.device}` : cfg.type === 'rtsp' ? (cfg.url ?? 'rtsp').replace(/\/\/[^@/]*@/, '//***@') : (cfg.path ?? cfg.type);
}

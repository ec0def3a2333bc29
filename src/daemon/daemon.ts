// The composition root of `facegate run`: builds the components from the config, starts them in
// order (models, gallery, GPIO with the relays released, camera, loop) and stops them in reverse.
import type { LoadedConfig } from '../config/load.js';
import { pipelineOptions } from '../app/gallery-context.js';
import { findModel, readManifest } from '../models/manifest.js';
import { defaultEmbedderId } from '../vision/face-pipeline.js';
import { loadAnalyzer } from '../vision/load-analyzer.js';
import type { FaceAnalyzer } from '../vision/face-analyzer.js';
import { GalleryStore, type ModelTag } from '../gallery/gallery-store.js';
import { DoorPolicy } from '../recognition/door-policy.js';
import { RecognitionLoop } from '../recognition/recognition-loop.js';
import { ButtonEnrollment, type EnrollmentOutcome } from '../recognition/button-enrollment.js';
import type { RecognitionEvent } from '../recognition/events.js';
import { createFrameSource, type FrameSource } from '../camera/frame-source.js';
import { createGpioBackend, type GpioBackend } from '../hardware/gpio/gpio.js';
import { DoorRelay } from '../hardware/gpio/door-relay.js';
import { StatusLed } from '../hardware/gpio/status-led.js';
import { Button } from '../hardware/gpio/button.js';
import { SystemdNotifier } from '../system/systemd-notifier.js';
import { createMetrics } from '../system/metrics.js';
import { HealthServer } from '../system/health-server.js';
import { loadSnapshot, type LoadedSnapshot } from './gallery-snapshot.js';
import type { Logger } from './logger.js';

export interface DaemonOptions {
  log: Logger;
  /** Use this GPIO backend instead of the configured one (tests, the demo). */
  gpio?: GpioBackend;
  onEvent?: (event: RecognitionEvent) => void;
  onEnrollment?: (outcome: EnrollmentOutcome) => void;
}

const GALLERY_POLL_MS = 2000;
const STATUS_MS = 5000;

export class Daemon {
  private readonly metrics = createMetrics();
  private readonly notifier: SystemdNotifier;
  private health: HealthServer | undefined;
  private analyzer: FaceAnalyzer | undefined;
  private store: GalleryStore | undefined;
  private model: ModelTag | undefined;
  private snapshot: LoadedSnapshot | undefined;
  private gpio: GpioBackend | undefined;
  private readonly relays = new Map<string, DoorRelay>();
  private readonly leds: Partial<Record<'ready' | 'granted' | 'denied' | 'enrollment', StatusLed>> = {};
  private button: Button | undefined;
  private source: FrameSource | undefined;
  private loop: RecognitionLoop | undefined;
  private enrollment: ButtonEnrollment | undefined;
  private timers: NodeJS.Timeout[] = [];
  private lastFrameAtMs = 0;
  private framesSinceStatus = 0;
  private fps = 0;
  private stopping = false;

  constructor(
    private readonly loaded: LoadedConfig,
    private readonly options: DaemonOptions,
  ) {
    this.notifier = new SystemdNotifier({ log: options.log });
  }

  async start(): Promise<void> {
    const c = this.loaded.config;
    const log = this.options.log;
    this.notifier.start();
    if (c.health.enabled) {
      this.health = new HealthServer({ host: c.health.host, port: c.health.port, registry: this.metrics.registry, readiness: () => this.readiness(), log: (l) => log.info(l) });
      await this.health.start();
      log.info({ port: this.health.port }, `health: http://${c.health.host}:${this.health.port}/healthz /readyz /metrics`);
    }

    const pipeline = pipelineOptions(this.loaded, (l) => log.info(l));
    const entry = findModel(readManifest(pipeline.modelsDir), c.models.embedder ?? defaultEmbedderId(c.models.precision));
    this.model = { id: entry.id, sha256: entry.sha256 };
    const { analyzer, description } = await loadAnalyzer(pipeline);
    this.analyzer = analyzer;
    log.info(`models: ${description}`);

    this.store = GalleryStore.open(this.loaded.resolvePath(c.gallery.path));
    await this.reloadGallery();
    this.timers.push(setInterval(() => void this.reloadGalleryIfChanged(), GALLERY_POLL_MS));

    this.gpio = this.options.gpio ?? createGpioBackend({ backend: c.gpio.backend, chip: c.gpio.chip, log: (l) => log.info(l) });
    for (const door of c.doors) {
      const relay = new DoorRelay(this.gpio, { pin: door.relay.pin, activeLow: door.relay.activeLow, pulseMs: door.relay.pulseMs, name: door.name });
      relay.start();
      relay.on('pulse', () => this.leds.granted?.on());
      relay.on('release', () => this.leds.granted?.off());
      this.relays.set(door.name, relay);
    }
    for (const name of ['ready', 'granted', 'denied', 'enrollment'] as const) {
      const pin = c.gpio.leds[name];
      if (pin === undefined) continue;
      const led = new StatusLed(this.gpio, { pin, activeLow: c.gpio.leds.activeLow });
      led.start();
      this.leds[name] = led;
    }
    const settings = { gate: { ...c.quality }, dedupeSimilarity: c.gallery.dedupeSimilarity, keepCrops: c.gallery.keepCrops };
    this.enrollment = new ButtonEnrollment(this.store, () => this.model!, analyzer.embedder, settings, { frames: c.enrollment.burstFrames, timeoutMs: c.enrollment.timeoutMs, keep: c.enrollment.keep }, {
      capturing: () => this.leds.enrollment?.blink(150),
      succeeded: () => void this.leds.enrollment?.flash(2, 200),
      failed: () => void this.leds.enrollment?.flash(6, 100),
    });
    if (c.gpio.button) {
      this.button = new Button(this.gpio, { pin: c.gpio.button.pin, activeLow: c.gpio.button.activeLow, debounceMs: c.gpio.button.debounceMs, pull: c.gpio.button.activeLow ? 'up' : 'down' });
      this.button.on('press', () => void this.triggerEnrollment('button'));
      this.button.start();
    }

    const camera = { ...c.camera, ...(c.camera.path ? { path: this.loaded.resolvePath(c.camera.path) } : {}) };
    this.source = createFrameSource(camera, (l) => log.info(l));
    this.source.on('state', (state: string, detail: string) => {
      this.metrics.cameraUp.set(state === 'streaming' ? 1 : 0);
      if (state === 'reconnecting') this.metrics.cameraReconnects.inc();
      if (state === 'streaming') this.leds.ready?.on();
      else this.leds.ready?.off();
      log.info({ camera: state }, `camera ${state}${detail ? `: ${detail}` : ''}`);
    });
    await this.source.start();

    const doors = new DoorPolicy(c.doors.map((d) => ({ name: d.name, allow: d.allow, cooldownMs: d.cooldownMs, unknown: d.unknown, multipleFaces: d.multipleFaces })));
    this.loop = new RecognitionLoop(
      this.source,
      analyzer,
      () => this.snapshot!,
      doors,
      {
        gate: { ...c.quality },
        match: { ...c.matching },
        tracker: { minIou: c.recognition.trackMinIou, maxGapMs: c.recognition.trackMaxGapMs },
        fusion: { n: c.recognition.fusionN, m: c.recognition.fusionM },
      },
      {
        onEvent: (e) => this.handleEvent(e),
        onFrame: (report, frame) => {
          this.lastFrameAtMs = Date.now();
          this.framesSinceStatus++;
          this.notifier.heartbeat();
          this.metrics.framesProcessed.inc();
          const t = report.analysis.timings;
          const stages: Record<string, number> = { pyramid: t.pyramidMs, pnet: t.pnetMs, rnet: t.rnetMs, onet: t.onetMs, align: t.alignMs, embed: t.embedMs, identify: report.identifyMs, total: report.totalMs };
          for (const [stage, ms] of Object.entries(stages)) this.metrics.stageSeconds.observe({ stage }, ms / 1000);
          if (this.enrollment?.capturing) this.enrollment.offer(report.analysis, frame.mat, `frame ${frame.seq}`);
        },
        onError: (err) => log.error({ err: err.message }, `frame failed: ${err.message}`),
      },
    );
    this.loop.start();
    this.timers.push(setInterval(() => this.reportStatus(), STATUS_MS));
    this.notifier.ready(`models loaded, camera ${this.source.description} streaming`);
    log.info(`ready: ${c.doors.length} door${c.doors.length === 1 ? '' : 's'}, ${this.snapshot!.people} people enrolled, camera ${this.source.description}`);
  }

  /** Resolves when the frame source ended (a video file played to its end without loop). */
  async finished(): Promise<void> {
    await this.loop?.finished();
  }

  async triggerEnrollment(trigger: string): Promise<EnrollmentOutcome | undefined> {
    if (!this.enrollment) return undefined;
    this.options.log.info(`enrollment: capturing (${trigger})`);
    const outcome = await this.enrollment.trigger(trigger);
    this.options.log.info({ enrollment: outcome }, `enrollment: ${outcome.kind}${outcome.kind === 'enrolled' ? ` ${outcome.name} with ${outcome.templates} templates` : outcome.kind === 'pending' ? ` as pending ${outcome.pendingId} (${outcome.templates} templates): name it with facegate gallery pending name ${outcome.pendingId} NAME` : ''}`);
    this.options.onEnrollment?.(outcome);
    if (outcome.kind === 'enrolled') await this.reloadGallery();
    return outcome;
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const log = this.options.log;
    this.notifier.stopping();
    for (const t of this.timers) clearInterval(t);
    await this.source?.stop();
    await this.loop?.stop();
    this.button?.stop();
    // Fail-secure: every relay is released before anything else goes away.
    for (const relay of this.relays.values()) relay.stop();
    for (const led of Object.values(this.leds)) led.stop();
    if (!this.options.gpio) this.gpio?.close();
    this.store?.close();
    await this.analyzer?.release();
    await this.health?.stop();
    this.notifier.stop();
    log.info('stopped');
  }

  private handleEvent(e: RecognitionEvent): void {
    this.metrics.decisions.inc({ door: e.door, reason: e.reason });
    const who = e.person ? e.person.name : e.reason === 'denied-quality' ? 'face (no usable view)' : 'unknown face';
    this.options.log.info({ event: e }, `${e.door}: ${e.decision.toUpperCase()} ${who} (${e.reason}; score ${e.score.toFixed(3)}, ${e.votes} votes, ${e.latencyMs} ms after first sighting)${e.relay === 'cooldown' ? ' [cooldown: relay not pulsed]' : ''}`);
    if (e.relay === 'pulse') {
      const relay = this.relays.get(e.door);
      if (relay?.pulse(`${e.reason} ${who}`)) this.metrics.relayPulses.inc({ door: e.door });
    }
    if (e.decision === 'denied') void this.leds.denied?.flash(3, 150);
    this.options.onEvent?.(e);
  }

  private async reloadGallery(): Promise<void> {
    this.snapshot = await loadSnapshot(this.store!, this.model!);
    this.metrics.gallerySize.set(this.snapshot.templates);
    this.options.log.info(`gallery: ${this.snapshot.people} people, ${this.snapshot.templates} templates of model ${this.model!.id}`);
  }

  private async reloadGalleryIfChanged(): Promise<void> {
    if (this.store && this.snapshot && this.store.dataVersion() !== this.snapshot.dataVersion) await this.reloadGallery();
  }

  private reportStatus(): void {
    this.fps = this.framesSinceStatus / (STATUS_MS / 1000);
    this.framesSinceStatus = 0;
    this.metrics.fps.set(this.fps);
    const s = this.source?.stats();
    if (s) this.metrics.framesDropped.set(s.dropped);
    this.notifier.status(`${this.fps.toFixed(1)} fps, camera ${s?.state ?? 'none'}, ${this.snapshot?.people ?? 0} people`);
  }

  private readiness(): { ready: boolean; checks: Record<string, { ok: boolean; detail: string }> } {
    const stats = this.source?.stats();
    const recent = Date.now() - this.lastFrameAtMs < 10_000;
    const checks = {
      models: { ok: this.analyzer !== undefined, detail: this.model?.id ?? 'loading' },
      gallery: { ok: this.snapshot !== undefined, detail: `${this.snapshot?.people ?? 0} people` },
      camera: { ok: stats?.state === 'streaming', detail: stats?.state ?? 'not started' },
      frames: { ok: recent, detail: this.lastFrameAtMs ? `last frame ${((Date.now() - this.lastFrameAtMs) / 1000).toFixed(1)} s ago` : 'none yet' },
    };
    return { ready: Object.values(checks).every((x) => x.ok), checks };
  }
}

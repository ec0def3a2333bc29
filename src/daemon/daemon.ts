// The composition root of `facegate run`: builds the components from the config, wires them to one
// event bus, starts them in order and stops them in reverse, each stop isolated from the others.
// Door relays are released before anything else on every stop, and on a crash. Cross-component
// behaviour does not live here: admin operations are in AdminService, reporting in Supervision,
// recording in EventRecorder; a new front end is one line in `components()`.
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { ConfigError, loadConfig, type LoadedConfig } from '../config/load.js';
import { preflight } from '../config/preflight.js';
import { reloadPlan } from '../config/reload.js';
import type { Config } from '../config/schema.js';
import type { Component } from '../core/component.js';
import { EventBus } from '../core/event-bus.js';
import { AdminService } from '../app/admin-service.js';
import type { StatusView } from '../app/admin-api.js';
import { pipelineOptions } from '../app/gallery-context.js';
import { findModel, readManifest } from '../models/manifest.js';
import { defaultEmbedderId } from '../vision/face-pipeline.js';
import { loadAnalyzer } from '../vision/load-analyzer.js';
import type { FaceAnalyzer } from '../vision/face-analyzer.js';
import type { ModelTag } from '../gallery/gallery-store.js';
import type { DoorRule } from '../recognition/door-policy.js';
import { ButtonEnrollment, type EnrollmentOutcome } from '../recognition/button-enrollment.js';
import type { RecognitionEvent } from '../recognition/events.js';
import type { QualityGate } from '../gallery/enrollment.js';
import type { MatchPolicy } from '../matching/search-index.js';
import { createGpioBackend, type GpioBackend } from '../hardware/gpio/gpio.js';
import { Button } from '../hardware/gpio/button.js';
import { HealthServer } from '../system/health-server.js';
import { deviceIdFromHostname, resolveMqttSettings } from '../mqtt/settings.js';
import type { DeviceStatus } from '../mqtt/messages.js';
import { systemClock, type Clock } from '../util/clock.js';
import type { ConsumerQueue } from '../events/event-log.js';
import { Camera, type SourceFactory } from './camera.js';
import { createDaemonMetrics, type DaemonMetrics } from './daemon-metrics.js';
import { DoorControl } from './door-control.js';
import { EventLogComponent } from './event-log-component.js';
import { EventRecorder } from './event-recorder.js';
import { GalleryService } from './gallery-service.js';
import { MQTT_EVENT_KINDS, MqttLink } from './mqtt-link.js';
import { Recognition } from './recognition.js';
import { trackSettings } from '../recognition/loop-settings.js';
import { StatusLights } from './status-lights.js';
import { Supervision } from './supervision.js';
import type { Logger } from './logger.js';
import { WebConsole } from '../web/web-console.js';
import { openConfiguredGallery } from '../gallery/open-configured.js';
import { FleetSync, type FleetMetrics } from '../fleet/fleet-sync.js';
import { resolveFleetSettings } from '../fleet/settings.js';
import { registerFleetMetrics } from './daemon-metrics.js';
import { createLivenessCheck } from '../liveness/liveness-check.js';
import { loadLivenessModels } from '../liveness/load-liveness.js';
import { NO_LIVENESS_CHECK, type LivenessCheck } from '../recognition/liveness-slot.js';
import { resolveWebSettings } from '../web/settings.js';
import { UserStore } from '../web/user-store.js';

export interface DaemonOptions {
  log: Logger;
  /** Use this GPIO backend instead of the configured one (tests, the demo). */
  gpio?: GpioBackend;
  clock?: Clock;
  /** Use this camera instead of the configured one (tests). */
  frameSource?: SourceFactory;
  onEvent?: (event: RecognitionEvent) => void;
  onEnrollment?: (outcome: EnrollmentOutcome) => void;
}

/** The settings the loop, the enrollment gate and the door policy read on every frame: reload_config updates them in place. */
interface LiveSettings {
  gate: QualityGate;
  match: MatchPolicy;
  doors: DoorRule[];
}

/** The door rule of a configured door: everything but its wiring, so a new rule field needs no copying here. */
export function doorRuleFrom(door: Config['doors'][number]): DoorRule {
  const { relay: _relay, ...rule } = door;
  return rule;
}

export class Daemon {
  readonly bus: EventBus;
  readonly metrics: DaemonMetrics = createDaemonMetrics();
  readonly admin: AdminService;
  readonly deviceId: string;
  private readonly clock: Clock;
  private readonly live: LiveSettings;
  private readonly started: Component[] = [];
  private readonly supervision: Supervision;
  private readonly eventLog: EventLogComponent;
  private readonly gallery: GalleryService;
  private readonly doors: DoorControl;
  private readonly lights: StatusLights;
  private readonly camera: Camera;
  private readonly recognition: Recognition;
  private analyzer: FaceAnalyzer | undefined;
  /** The presentation-attack check, loaded only when a door asks for one (never a stand-in that says "live"). */
  private liveness: (LivenessCheck & { release(): Promise<void> }) | undefined;
  private model: ModelTag | undefined;
  private gpio: GpioBackend | undefined;
  private enrollment: ButtonEnrollment | undefined;
  private mqtt: MqttLink | undefined;
  private fleetMetrics: (() => FleetMetrics | undefined) | undefined;
  private mqttQueue: (() => ConsumerQueue) | undefined;
  private health: HealthServer | undefined;
  private startedAt = '';
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly loaded: LoadedConfig,
    private readonly options: DaemonOptions,
  ) {
    const c = loaded.config;
    const log = options.log;
    this.clock = options.clock ?? systemClock;
    this.bus = new EventBus((err, event) => log.error(`${event} handler failed: ${err.message}`));
    this.deviceId = c.mqtt?.deviceId ?? deviceIdFromHostname(hostname());
    this.live = { gate: { ...c.quality }, match: { ...c.matching }, doors: c.doors.map(doorRuleFrom) };
    const galleryPath = loaded.resolvePath(c.gallery.path);
    const eventsPath = c.events.path ?? c.mqtt?.outbox.path;
    this.eventLog = new EventLogComponent(
      eventsPath !== undefined ? loaded.resolvePath(eventsPath) : join(dirname(galleryPath), 'events.db'),
      { keepDays: c.events.keepDays ?? c.mqtt?.outbox.keepDays ?? 7, snapshotKeepDays: c.events.snapshots.keepDays },
      log,
      this.clock,
    );
    this.supervision = new Supervision(
      this.bus,
      log,
      this.metrics,
      () => `camera ${this.camera.stats().state}, ${this.gallery.loaded ? this.gallery.snapshot.people : 0} people`,
      () => this.started.includes(this.camera) && this.camera.stats().state !== 'streaming',
      this.clock,
    );
    this.gallery = new GalleryService(galleryPath, () => openConfiguredGallery(c, loaded.resolvePath, { clock: this.clock, log: (l) => log.info(l) }), () => this.model!, this.bus, log, this.metrics, this.clock);
    this.doors = new DoorControl(c.doors, () => this.gpio!, this.bus, log, this.metrics, this.clock);
    this.lights = new StatusLights(c.gpio.leds, () => this.gpio!, this.bus, this.clock);
    const camera = { ...c.camera, ...(c.camera.path ? { path: loaded.resolvePath(c.camera.path) } : {}) };
    this.camera = new Camera(camera, this.bus, log, this.metrics, options.frameSource, this.clock);
    this.recognition = new Recognition({
      frames: this.camera,
      stopFrames: () => this.camera.stop(),
      analyzer: () => this.analyzer!,
      gallery: () => this.gallery.snapshot,
      personUuid: (id) => this.gallery.snapshot.uuidOf(id),
      doors: this.live.doors,
      settings: {
        gate: this.live.gate,
        match: this.live.match,
        ...trackSettings(c.recognition),
        // Loaded with the models (after this is built): the loop reaches it through this stand-in.
        // With no door checking, the stand-in is the "every track live" slot; a checking door
        // always has the real check (loadModels fails otherwise).
        liveness: {
          observe: (trackId, input) => (this.liveness ?? NO_LIVENESS_CHECK).observe(trackId, input),
          verdict: (trackId) => (this.liveness ?? NO_LIVENESS_CHECK).verdict(trackId),
          forget: (trackId) => (this.liveness ?? NO_LIVENESS_CHECK).forget(trackId),
        },
        clock: this.clock,
      },
      enrollment: () => this.enrollment,
      bus: this.bus,
      log,
      metrics: this.metrics,
    });
    this.admin = new AdminService({
      gallery: this.gallery,
      events: () => this.eventLog.events,
      doors: this.doors,
      enrollment: () => this.enrollment,
      analyzer: () => this.analyzer!,
      model: () => this.model!,
      enrollmentSettings: () => ({ gate: this.live.gate, dedupeSimilarity: c.gallery.dedupeSimilarity, keepCrops: c.gallery.keepCrops }),
      hasButton: c.gpio.button !== undefined,
      status: () => this.status(),
      reloadConfig: () => this.reloadConfig(),
      bus: this.bus,
      log,
      clock: this.clock,
    });
    if (options.onEvent) this.bus.on('decision', options.onEvent);
    if (options.onEnrollment) {
      const onEnrollment = options.onEnrollment;
      this.bus.on('enrollment', (e) => onEnrollment(e.outcome));
    }
  }

  async start(): Promise<void> {
    this.startedAt = new Date(this.clock.now()).toISOString();
    await this.preflight();
    try {
      for (const component of this.components()) {
        await component.start();
        this.started.push(component);
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
    const c = this.loaded.config;
    this.supervision.ready(`models loaded, camera ${this.camera.description} streaming`);
    this.options.log.info(`ready: ${c.doors.length} door${c.doors.length === 1 ? '' : 's'}, ${this.gallery.snapshot.people} people enrolled, camera ${this.camera.description}${this.camera.problem ? ' (MISSING: degraded)' : ''}, event log ${this.eventLog.path}`);
  }

  /**
   * Every check `facegate config check` runs, before anything is opened or any GPIO is touched:
   * all problems at once, one line each. A missing V4L2/RTSP camera is not one of them (the
   * daemon starts degraded and keeps trying); a missing video file or image folder is.
   */
  private async preflight(): Promise<void> {
    const c = this.loaded.config;
    const { findings } = await preflight(this.loaded);
    const networkCamera = c.camera.type === 'v4l2' || c.camera.type === 'rtsp';
    const relevant = findings.filter((f) => !(f.area === 'gpio' && this.options.gpio) && !(f.area === 'camera' && (networkCamera || this.options.frameSource)));
    for (const f of findings.filter((x) => x.area === 'camera' && networkCamera)) this.options.log.warn(`config: ${f.text}`);
    if (relevant.length > 0) throw new ConfigError(relevant.map((f) => f.text).join('\n'));
  }

  /**
   * In start order. Secrets and the event log come before anything else so that a wrong path fails
   * before GPIO is touched; the recorder subscribes to the bus before the door relays, so an event
   * is recorded before its relay moves.
   */
  private components(): Component[] {
    const c = this.loaded.config;
    const log = this.options.log;
    const mqttSettings = c.mqtt ? resolveMqttSettings(this.loaded, c.mqtt) : undefined;
    const mqttQueue = (this.mqttQueue = mqttSettings ? this.eventLog.declareConsumer('mqtt', { kinds: MQTT_EVENT_KINDS, maxEvents: mqttSettings.outbox.maxEvents, whenFull: mqttSettings.outbox.whenFull }) : undefined);
    const recorder = new EventRecorder(() => this.eventLog.events, () => this.model!, { device: this.deviceId, snapshots: c.events.snapshots.enabled, unknownFaces: c.events.unknownFaces }, this.bus, log, this.metrics);
    if (mqttSettings && mqttQueue) {
      const web = c.web.enabled ? resolveWebSettings(c.web, this.loaded.resolvePath, this.loaded.resolvePath(c.gallery.path)) : undefined;
      this.mqtt = new MqttLink(mqttSettings, {
        events: () => this.eventLog.events,
        queue: mqttQueue,
        admin: this.admin,
        doors: c.doors.map((d) => d.name),
        status: () => this.deviceStatus(),
        capturePending: () => void this.admin.capture('home-assistant', null),
        ...(web ? { webUrl: `${web.tls ? 'https' : 'http'}://${web.host === '0.0.0.0' || web.host === '::' ? hostname() : web.host}:${web.port}/` } : {}),
        bus: this.bus,
        log,
        metrics: this.metrics,
        clock: this.clock,
      });
    }
    this.supervision.addChecks(() => this.checks());
    this.supervision.onTick(() => {
      this.metrics.framesDropped.set(this.camera.stats().dropped);
      this.mqtt?.publishStatus();
    });
    return [
      this.supervision,
      this.eventLog,
      recorder,
      fn('health server', async () => {
        if (!c.health.enabled) return;
        this.health = new HealthServer({ host: c.health.host, port: c.health.port, registry: this.metrics.registry, readiness: () => this.supervision.readiness(), log: (l) => log.info(l) });
        await this.health.start();
        log.info({ port: this.health.port }, `health: http://${c.health.host}:${this.health.port}/healthz /readyz /metrics`);
      }, () => this.health?.stop()),
      fn('models', () => this.loadModels(), async () => {
        await this.liveness?.release();
        await this.analyzer?.release();
      }),
      this.gallery,
      ...(c.fleet ? [this.fleetSync(c.fleet)] : []),
      fn('gpio', () => {
        this.gpio = this.options.gpio ?? createGpioBackend({ backend: c.gpio.backend, chip: c.gpio.chip, log: (l) => log.info(l), clock: this.clock });
      }, () => {
        if (!this.options.gpio) this.gpio?.close();
      }),
      this.doors,
      this.lights,
      fn('enrollment', () => {
        this.enrollment = new ButtonEnrollment(this.gallery.store, () => this.model!, this.analyzer!.embedder, { gate: this.live.gate, dedupeSimilarity: c.gallery.dedupeSimilarity, keepCrops: c.gallery.keepCrops }, { frames: c.enrollment.burstFrames, timeoutMs: c.enrollment.timeoutMs, keep: c.enrollment.keep }, this.lights.enrollmentIndicator, this.clock);
        this.enrollment.start();
      }, () => this.enrollment?.stop()),
      ...(c.gpio.button ? [this.enrollmentButton(c.gpio.button)] : []),
      ...(this.mqtt ? [this.mqtt] : []),
      this.camera,
      this.recognition,
      ...(c.web.enabled ? [this.webConsole()] : []),
    ];
  }

  /** Gallery replication with the site's other controllers (after the gallery, before the doors). */
  private fleetSync(fleet: NonNullable<Config['fleet']>): Component {
    let sync: FleetSync | undefined;
    return fn(
      'fleet sync',
      async () => {
        sync = new FleetSync(resolveFleetSettings(this.loaded, fleet, [this.model!.sha256]), this.gallery.store, this.bus, this.options.log, this.clock);
        sync.start();
        this.fleetMetrics = () => sync?.metrics();
        registerFleetMetrics(this.metrics.registry, this.fleetMetrics);
      },
      () => sync?.stop(),
    );
  }

  private webConsole(): Component {
    const c = this.loaded.config;
    const settings = resolveWebSettings(c.web, this.loaded.resolvePath, this.loaded.resolvePath(c.gallery.path));
    return new WebConsole(settings, this.admin, this.bus, new UserStore(settings.usersPath), this.options.log, this.clock);
  }

  /** Resolves when the frame source ended (a video file played to its end without loop). */
  async finished(): Promise<void> {
    await this.recognition.finished();
  }

  /** Button press or test: a burst for the armed name (or a pending capture). */
  triggerEnrollment(trigger: string): Promise<EnrollmentOutcome | undefined> {
    return this.admin.capture(trigger);
  }

  /** Synchronous: every relay released, nothing may pulse again. For exit and crash paths. */
  releaseRelays(): void {
    this.doors.releaseAll();
  }

  stop(): Promise<void> {
    this.stopping ??= this.stopNow();
    return this.stopping;
  }

  private async stopNow(): Promise<void> {
    const log = this.options.log;
    // Fail-secure first: the relays are released (and their `locked` state published while MQTT
    // is still connected) before anything else goes away.
    this.doors.releaseAll();
    this.supervision.stopping();
    for (const component of [...this.started].reverse()) {
      try {
        await component.stop();
      } catch (err) {
        log.error(`stopping ${component.name} failed: ${(err as Error).message}`);
      }
    }
    this.started.length = 0;
    log.info('stopped');
  }

  status(): StatusView {
    const stats = this.camera.stats();
    const readiness = this.supervision.readiness();
    const snapshot = this.gallery.loaded ? this.gallery.snapshot : undefined;
    let recorded = 0;
    try {
      recorded = this.eventLog.events.recorded;
    } catch {
      recorded = 0;
    }
    return {
      startedAt: this.startedAt,
      ready: readiness.ready,
      checks: readiness.checks,
      camera: { state: stats.state, source: this.camera.description, fps: this.supervision.fps, dropped: stats.dropped },
      models: { embedder: this.model?.id ?? 'loading', embedderSha256: this.model?.sha256 ?? '', precision: this.loaded.config.models.precision },
      gallery: { people: snapshot?.people ?? 0, templates: snapshot?.templates ?? 0 },
      doors: this.admin.doors(),
      events: { recorded, ...(this.mqttQueue ? { outboxPending: this.mqttQueue().pending } : {}) },
    };
  }

  private deviceStatus(): DeviceStatus | undefined {
    if (!this.model) return undefined;
    const fleet = this.fleetMetrics?.();
    const stats = this.camera.stats();
    const snapshot = this.gallery.loaded ? this.gallery.snapshot : undefined;
    return {
      startedAt: this.startedAt,
      models: { embedder: this.model.id, embedderSha256: this.model.sha256, precision: this.loaded.config.models.precision },
      camera: { state: stats.state === 'missing' ? 'reconnecting' : stats.state, source: this.camera.description, fps: this.supervision.fps, dropped: stats.dropped },
      gallery: { people: snapshot?.people ?? 0, templates: snapshot?.templates ?? 0 },
      doors: this.admin.doors().map((d) => ({ name: d.name, state: d.state })),
      ...(fleet ? { fleet } : {}),
    };
  }

  private checks(): Record<string, { ok: boolean; detail: string }> {
    const stats = this.camera.stats();
    const galleryProblem = this.gallery.health;
    return {
      models: { ok: this.analyzer !== undefined, detail: this.model?.id ?? 'loading' },
      gallery: { ok: this.gallery.loaded && galleryProblem === null, detail: galleryProblem ? `${this.gallery.path}: ${galleryProblem}` : `${this.gallery.loaded ? this.gallery.snapshot.people : 0} people` },
      camera: { ok: stats.state === 'streaming', detail: this.camera.problem ? `missing: ${this.camera.problem}` : stats.state },
      events: { ok: this.eventLog.events.open, detail: this.eventLog.path },
    };
  }

  private async loadModels(): Promise<void> {
    const c = this.loaded.config;
    const pipeline = pipelineOptions(this.loaded, (l) => this.options.log.info(l));
    const entry = findModel(readManifest(pipeline.modelsDir), c.models.embedder ?? defaultEmbedderId(c.models.precision));
    this.model = { id: entry.id, sha256: entry.sha256 };
    const { analyzer, description } = await loadAnalyzer(pipeline);
    this.analyzer = analyzer;
    this.options.log.info(`models: ${description}`);
    const checked = c.doors.filter((d) => d.liveness !== 'off');
    if (checked.length > 0) {
      const l = c.liveness;
      const models = await loadLivenessModels({ modelsDir: pipeline.modelsDir, modelId: l.modelId, ...(l.fusionFile ? { fusionFile: this.loaded.resolvePath(l.fusionFile) } : {}), providers: c.models.providers, threads: c.models.threads, log: (line) => this.options.log.info(line) });
      this.liveness = { ...createLivenessCheck(l, models), release: () => models.release() };
      this.options.log.info(`liveness: ${l.cues.join(' + ')} (threshold ${l.passiveThreshold}) for ${checked.map((d) => `${d.name} (${d.liveness})`).join(', ')}`);
    }
  }

  private enrollmentButton(cfg: NonNullable<Config['gpio']['button']>): Component {
    let button: Button | undefined;
    return fn(
      'enrollment button',
      () => {
        button = new Button(this.gpio!, { pin: cfg.pin, activeLow: cfg.activeLow, debounceMs: cfg.debounceMs, pull: cfg.activeLow ? 'up' : 'down' }, this.clock);
        button.on('press', () => void this.admin.capture('button'));
        button.start();
      },
      () => button?.stop(),
    );
  }

  private async reloadConfig(): Promise<{ applied: string[]; restartRequired: string[] }> {
    if (!this.loaded.path) throw new Error('the daemon runs on built-in defaults: there is no config file to reload');
    // A file that does not validate throws here, before anything is applied.
    const next = loadConfig(this.loaded.path).config;
    const running = this.loaded.config;
    const plan = reloadPlan(running, next);
    const applied = new Set(plan.live.map((key) => (key.startsWith('logging.') ? 'logging.level' : key.split(/[.[]/)[0]!)));
    if (applied.has('matching')) Object.assign(this.live.match, (running.matching = next.matching));
    if (applied.has('quality')) Object.assign(this.live.gate, (running.quality = next.quality));
    if (applied.has('logging.level')) this.options.log.level = running.logging.level = next.logging.level;
    if (applied.has('doors')) {
      // Rules only: a door's name and relay are its wiring, applied by a restart.
      next.doors.forEach((d, i) => Object.assign(this.live.doors[i]!, { ...doorRuleFrom(d), name: this.live.doors[i]!.name }));
      running.doors = running.doors.map((d, i) => ({ ...next.doors[i]!, name: d.name, relay: d.relay }));
    }
    const restartRequired = [...new Set(plan.restart.map((k) => k.split(/[.[]/)[0]!))];
    const appliedList = [...applied];
    this.options.log.info(`config reloaded: applied ${appliedList.join(', ') || 'nothing (no change)'}${restartRequired.length ? `; restart to apply ${plan.restart.join(', ')}` : ''}`);
    return { applied: appliedList, restartRequired };
  }
}

/** A component made of two functions, for parts too small to deserve a class. */
function fn(name: string, start: () => void | Promise<void>, stop: () => unknown): Component {
  return { name, start, stop: async () => void (await stop()) };
}

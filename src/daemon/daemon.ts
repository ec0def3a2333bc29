// The composition root of `facegate run`: builds the components from the config, starts them in
// order (models, gallery, GPIO with the relays released, MQTT, camera, loop) and stops them in
// reverse. It is also what MQTT requests act on (CommandTarget).
import { randomUUID } from 'node:crypto';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { pipelineOptions } from '../app/gallery-context.js';
import { findModel, readManifest } from '../models/manifest.js';
import { defaultEmbedderId } from '../vision/face-pipeline.js';
import { loadAnalyzer } from '../vision/load-analyzer.js';
import type { FaceAnalyzer } from '../vision/face-analyzer.js';
import { GalleryStore, type ModelTag } from '../gallery/gallery-store.js';
import { DoorPolicy, type DoorRule } from '../recognition/door-policy.js';
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
import type { MatchPolicy } from '../matching/search-index.js';
import type { QualityGate } from '../gallery/enrollment.js';
import { EventOutbox } from '../mqtt/event-outbox.js';
import { MqttBridge } from '../mqtt/mqtt-bridge.js';
import { resolveMqttSettings, type MqttSettings } from '../mqtt/settings.js';
import type { CommandTarget, Transaction } from '../mqtt/commands.js';
import type { DeviceStatus } from '../mqtt/messages.js';
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
const PRUNE_MS = 3_600_000;

export class Daemon implements CommandTarget {
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
  private events: EventOutbox | undefined;
  private mqtt: MqttBridge | undefined;
  /**
   * Read by the recognition loop, the enrollment gate and the door policy on every frame, so
   * `reload_config` applies new values by updating these objects in place.
   */
  private live: { gate: QualityGate; match: MatchPolicy; doors: DoorRule[] } | undefined;
  private startedAt = '';
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
    this.startedAt = new Date().toISOString();
    // Secrets and the event log are read before anything else, so a wrong path fails before GPIO.
    const mqttSettings = c.mqtt ? resolveMqttSettings(this.loaded, c.mqtt) : undefined;
    if (mqttSettings) {
      this.events = EventOutbox.open(mqttSettings.outbox.path, mqttSettings.outbox);
      this.events.prune();
      this.timers.push(setInterval(() => this.events?.prune(), PRUNE_MS));
    }
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
      relay.on('pulse', () => {
        this.leds.granted?.on();
        this.mqtt?.setDoorState(door.name, 'unlocked');
      });
      relay.on('release', () => {
        this.leds.granted?.off();
        this.mqtt?.setDoorState(door.name, 'locked');
      });
      this.relays.set(door.name, relay);
    }
    for (const name of ['ready', 'granted', 'denied', 'enrollment'] as const) {
      const pin = c.gpio.leds[name];
      if (pin === undefined) continue;
      const led = new StatusLed(this.gpio, { pin, activeLow: c.gpio.leds.activeLow });
      led.start();
      this.leds[name] = led;
    }
    this.live = {
      gate: { ...c.quality },
      match: { ...c.matching },
      doors: c.doors.map((d) => ({ name: d.name, allow: d.allow, cooldownMs: d.cooldownMs, unknown: d.unknown, multipleFaces: d.multipleFaces })),
    };
    const settings = { gate: this.live.gate, dedupeSimilarity: c.gallery.dedupeSimilarity, keepCrops: c.gallery.keepCrops };
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
    if (mqttSettings) this.startMqtt(mqttSettings);

    const camera = { ...c.camera, ...(c.camera.path ? { path: this.loaded.resolvePath(c.camera.path) } : {}) };
    this.source = createFrameSource(camera, (l) => log.info(l));
    this.source.on('state', (state: string, detail: string) => {
      this.metrics.cameraUp.set(state === 'streaming' ? 1 : 0);
      if (state === 'reconnecting') this.metrics.cameraReconnects.inc();
      if (state === 'streaming') this.leds.ready?.on();
      else this.leds.ready?.off();
      log.info({ camera: state }, `camera ${state}${detail ? `: ${detail}` : ''}`);
      this.publishStatus();
    });
    await this.source.start();

    const doors = new DoorPolicy(this.live.doors);
    this.loop = new RecognitionLoop(
      this.source,
      analyzer,
      () => this.snapshot!,
      doors,
      {
        gate: this.live.gate,
        match: this.live.match,
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
    this.mqtt?.recordEnrollment(outcome, randomUUID(), new Date().toISOString());
    this.options.onEnrollment?.(outcome);
    if (outcome.kind === 'enrolled') await this.reloadGallery();
    return outcome;
  }

  // --- what MQTT requests do (CommandTarget); each throws with a message for the response ------

  unlock(door: string, transaction: Transaction | undefined): { eventId: string; pulsed: boolean } {
    const relay = this.relays.get(door);
    if (!relay) throw new Error(`no door "${door}" on this device (doors: ${[...this.relays.keys()].join(', ') || 'none'})`);
    const eventId = randomUUID();
    // Recorded before the relay moves: a crash in between leaves an event, never an unrecorded opening.
    this.mqtt?.recordUnlock({ eventId, time: new Date().toISOString(), door, relay: relay.energised ? 'busy' : 'pulse', transaction });
    this.metrics.decisions.inc({ door, reason: 'granted-remote' });
    const pulsed = this.pulseDoor(door, 'granted-remote');
    this.options.log.info({ unlock: { eventId, door, transaction } }, `${door}: GRANTED remote unlock (signed MQTT request)${pulsed ? '' : ' [relay already energised: not extended]'}`);
    return { eventId, pulsed };
  }

  armEnrollment(name: string, ttlMs: number, capture: 'button' | 'now' | undefined): { name: string; expiresAt: string; capture: 'button' | 'now' } {
    const armed = this.store!.armEnrollment(name, ttlMs);
    const mode = capture ?? (this.button ? 'button' : 'now');
    this.options.log.info(`enrollment: armed for ${armed.name} until ${armed.expiresAt} (${mode === 'now' ? 'capturing now' : 'next button press'})`);
    if (mode === 'now') void this.triggerEnrollment('mqtt');
    return { ...armed, capture: mode };
  }

  async namePending(id: number, name: string): Promise<{ person: string; templates: number }> {
    const named = this.store!.namePending(id, name);
    await this.reloadGallery();
    return named;
  }

  async deletePerson(name: string): Promise<{ person: string; templates: number; negatives: number; eventEmbeddings: number; verified: boolean }> {
    const store = this.store!;
    const person = store.requirePerson(name);
    const removed = store.removePerson(person.name);
    const eventEmbeddings = this.events?.forgetPerson(person.id) ?? 0;
    await this.reloadGallery();
    // Read back: nothing of them left in the gallery, the event log or the search index.
    const verified =
      store.findPerson(person.name) === undefined &&
      store.templatesOf(person).length === 0 &&
      store.negativesOf(person).length === 0 &&
      (this.events?.embeddingsOf(person.id) ?? 0) === 0 &&
      !store.matrixFor(this.model!).names.has(person.id);
    this.options.log.info(`gallery: deleted ${person.name} (${removed.templates} templates, ${removed.negatives} negatives, ${eventEmbeddings} event embeddings)${verified ? '' : ' BUT SOMETHING WAS LEFT'}`);
    return { person: person.name, ...removed, eventEmbeddings, verified };
  }

  listPeople(): ReturnType<CommandTarget['listPeople']> {
    return { people: this.store!.listPeople(), pending: this.store!.listPending() };
  }

  async markWrong(eventId: string, note: string | undefined): Promise<{ person: string; negativeId: number }> {
    const decided = this.events?.decisionOf(eventId);
    if (!decided) throw new Error(`no recognition event ${eventId} that named a person (the event log keeps events for mqtt.outbox.keepDays)`);
    if (decided.markedWrongAt) throw new Error(`event ${eventId} was already marked wrong at ${decided.markedWrongAt}`);
    if (!decided.embedding) throw new Error(`event ${eventId}: its face embedding is gone (${decided.personName} was deleted)`);
    const person = this.store!.findPerson(decided.personName);
    if (!person || person.id !== decided.personId) throw new Error(`event ${eventId} named ${decided.personName}, who has since been deleted or renamed`);
    const negativeId = this.store!.addNegative(person, decided.model, decided.embedding, note ?? `marked wrong over MQTT (event ${eventId})`);
    this.events!.markWrong(eventId, new Date().toISOString());
    await this.reloadGallery();
    this.options.log.info(`gallery: negative template ${negativeId} for ${person.name} from event ${eventId} (marked wrong)`);
    return { person: person.name, negativeId };
  }

  async reloadConfig(): Promise<{ applied: string[]; restartRequired: string[] }> {
    if (!this.loaded.path) throw new Error('the daemon runs on built-in defaults: there is no config file to reload');
    // A file that does not validate throws here, before anything is applied.
    const next = loadConfig(this.loaded.path).config;
    const running = this.loaded.config;
    const live = this.live!;
    const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
    const applied: string[] = [];
    const restartRequired: string[] = [];
    if (!same(running.matching, next.matching)) {
      Object.assign(live.match, next.matching);
      running.matching = next.matching;
      applied.push('matching');
    }
    if (!same(running.quality, next.quality)) {
      Object.assign(live.gate, next.quality);
      running.quality = next.quality;
      applied.push('quality');
    }
    if (!same(running.doors, next.doors)) {
      const wiring = (doors: typeof next.doors) => JSON.stringify(doors.map((d) => [d.name, d.relay]));
      if (wiring(running.doors) === wiring(next.doors)) {
        next.doors.forEach((d, i) => Object.assign(live.doors[i]!, { allow: d.allow, cooldownMs: d.cooldownMs, unknown: d.unknown, multipleFaces: d.multipleFaces }));
        running.doors = next.doors;
        applied.push('doors');
      } else restartRequired.push('doors');
    }
    if (running.logging.level !== next.logging.level) {
      this.options.log.level = next.logging.level;
      running.logging = { ...running.logging, level: next.logging.level };
      applied.push('logging.level');
    }
    if (running.logging.pretty !== next.logging.pretty) restartRequired.push('logging.pretty');
    for (const section of ['models', 'detector', 'gallery', 'camera', 'gpio', 'recognition', 'enrollment', 'health', 'mqtt'] as const) {
      if (!same(running[section], next[section])) restartRequired.push(section);
    }
    this.options.log.info(`config reloaded: applied ${applied.join(', ') || 'nothing (no change)'}${restartRequired.length ? `; restart to apply ${restartRequired.join(', ')}` : ''}`);
    return { applied, restartRequired };
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
    await this.mqtt?.stop();
    this.events?.close();
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

  private startMqtt(settings: MqttSettings): void {
    const m = this.metrics;
    this.mqtt = new MqttBridge({
      settings,
      outbox: this.events!,
      doors: this.loaded.config.doors.map((d) => d.name),
      target: this,
      log: this.options.log,
      metrics: { connected: m.mqttConnected, outboxPending: m.outboxPending, outboxDropped: m.outboxDropped, requests: m.mqttRequests },
    });
    this.mqtt.start();
    const signed = settings.commands.key ? 'signed requests accepted' : 'no HMAC key: no request can open a door';
    this.options.log.info(`mqtt: ${settings.url}, topics ${settings.base}/${settings.device}/..., event outbox ${settings.outbox.path} (${this.events!.pending} queued); commands ${settings.commands.enabled ? signed : 'off'}`);
  }

  private pulseDoor(door: string, why: string): boolean {
    const pulsed = this.relays.get(door)?.pulse(why) ?? false;
    if (pulsed) this.metrics.relayPulses.inc({ door });
    return pulsed;
  }

  private handleEvent(e: RecognitionEvent): void {
    // Recorded before the relay moves: a crash in between leaves an event, never an unrecorded opening.
    this.mqtt?.recordRecognition(e, this.model!);
    this.metrics.decisions.inc({ door: e.door, reason: e.reason });
    const who = e.person ? e.person.name : e.reason === 'denied-quality' ? 'face (no usable view)' : 'unknown face';
    const { embedding: _embedding, ...logged } = e;
    this.options.log.info({ event: logged }, `${e.door}: ${e.decision.toUpperCase()} ${who} (${e.reason}; score ${e.score.toFixed(3)}, ${e.votes} votes, ${e.latencyMs} ms after first sighting)${e.relay === 'cooldown' ? ' [cooldown: relay not pulsed]' : ''}`);
    if (e.relay === 'pulse') this.pulseDoor(e.door, `${e.reason} ${who}`);
    if (e.decision === 'denied') void this.leds.denied?.flash(3, 150);
    this.options.onEvent?.(e);
  }

  private async reloadGallery(): Promise<void> {
    this.snapshot = await loadSnapshot(this.store!, this.model!);
    this.metrics.gallerySize.set(this.snapshot.templates);
    this.options.log.info(`gallery: ${this.snapshot.people} people, ${this.snapshot.templates} templates of model ${this.model!.id}`);
    this.publishStatus();
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
    this.publishStatus();
  }

  private publishStatus(): void {
    if (!this.mqtt || !this.model || !this.source) return;
    const stats = this.source.stats();
    const status: DeviceStatus = {
      startedAt: this.startedAt,
      models: { embedder: this.model.id, embedderSha256: this.model.sha256, precision: this.loaded.config.models.precision },
      camera: { state: stats.state, source: this.source.description, fps: this.fps, dropped: stats.dropped },
      gallery: { people: this.snapshot?.people ?? 0, templates: this.snapshot?.templates ?? 0 },
      doors: [...this.relays].map(([name, relay]) => ({ name, state: relay.energised ? 'unlocked' : 'locked' })),
    };
    this.mqtt.setStatus(status);
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

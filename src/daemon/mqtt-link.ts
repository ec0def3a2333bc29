// MQTT as a daemon component: the bridge delivers the event log's `mqtt` queue, mirrors door
// states and the device state from the bus, and turns requests into AdminApi calls.
import type { Component } from '../core/component.js';
import type { EventBus } from '../core/event-bus.js';
import type { AdminApi } from '../app/admin-api.js';
import type { ConsumerQueue, EventLog } from '../events/event-log.js';
import { MqttBridge } from '../mqtt/mqtt-bridge.js';
import type { MqttSettings } from '../mqtt/settings.js';
import type { DeviceStatus } from '../mqtt/messages.js';
import type { Clock } from '../util/clock.js';
import { faceJpeg } from './event-recorder.js';
import type { Logger } from './logger.js';
import type { DaemonMetrics } from './daemon-metrics.js';

export const MQTT_EVENT_KINDS = ['recognition', 'unlock', 'enrollment'] as const;

export class MqttLink implements Component {
  readonly name = 'mqtt';
  private bridge: MqttBridge | undefined;
  private unsubscribe: (() => void)[] = [];
  /** The frame and box of the last decision that named a person: Home Assistant's last-face image is cut from it. */
  private lastFace: { seq: number; box: [number, number, number, number] } | undefined;

  constructor(
    private readonly settings: MqttSettings,
    private readonly deps: {
      events: () => EventLog;
      queue: () => ConsumerQueue;
      admin: AdminApi;
      doors: string[];
      status: () => DeviceStatus | undefined;
      /** Home Assistant's capture button: a pending capture (absent: no button announced). */
      capturePending?: () => void;
      webUrl?: string;
      bus: EventBus;
      log: Logger;
      metrics: DaemonMetrics;
      clock: Clock;
    },
  ) {}

  start(): void {
    const d = this.deps;
    const queue = d.queue();
    const events = d.events();
    const m = d.metrics;
    // The event recorder wrote every event into the log and this queue before we hear of it.
    const bridge = new MqttBridge({
      settings: this.settings,
      queue,
      nonces: { claim: (nonce, expiresAtMs) => events.claimNonce(nonce, expiresAtMs) },
      doors: d.doors,
      admin: d.admin,
      log: d.log,
      metrics: { connected: m.mqttConnected, outboxPending: m.outboxPending, outboxDropped: m.outboxDropped, requests: m.mqttRequests },
      clock: d.clock,
      ...(d.capturePending ? { onCapturePending: d.capturePending } : {}),
      ...(d.webUrl ? { webUrl: d.webUrl } : {}),
    });
    this.bridge = bridge;
    bridge.start();
    const b = d.bus;
    this.unsubscribe = [
      b.on('decision', (e) => {
        bridge.noteRecognition(e);
        if (e.person) this.lastFace = { seq: e.frameSeq, box: e.box };
      }),
      b.on('frame.analysed', (f) => {
        if (this.lastFace?.seq !== f.seq) return;
        bridge.publishLastFace(faceJpeg(f, this.lastFace.box));
        this.lastFace = undefined;
      }),
      b.on('unlock', () => bridge.kick()),
      b.on('enrollment', () => bridge.kick()),
      b.on('door.state', (s) => {
        bridge.setDoorState(s.door, s.state);
        this.publishStatus();
      }),
      b.on('camera.state', () => this.publishStatus()),
      b.on('gallery.changed', () => this.publishStatus()),
    ];
    const s = this.settings;
    const signed = s.commands.key ? 'signed requests accepted' : 'no HMAC key: no request can open a door';
    d.log.info(`mqtt: ${s.url}, topics ${s.base}/${s.device}/..., ${queue.pending} events queued; commands ${s.commands.enabled ? signed : 'off'}`);
  }

  publishStatus(): void {
    const status = this.deps.status();
    if (status) this.bridge?.setStatus(status);
  }

  async stop(): Promise<void> {
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
    await this.bridge?.stop();
  }
}

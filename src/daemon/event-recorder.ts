// Writes every decision, remote unlock, enrollment and admin action from the bus into the event log
// and logs one line per event. It subscribes before the door relays do, and bus handlers run in
// subscription order: a decision is on disk before its relay moves, so a crash in between leaves an
// event, never an unrecorded opening.
import { cv } from '../vision/opencv.js';
import type { Component } from '../core/component.js';
import type { EventBus, FrameAnalysed } from '../core/event-bus.js';
import type { EventLog, NewLogEvent } from '../events/event-log.js';
import type { ModelTag } from '../gallery/gallery-store.js';
import type { RecognitionEvent } from '../recognition/events.js';
import { enrollmentMessage, recognitionMessage, unlockMessage } from '../mqtt/messages.js';
import { CONTRACT_VERSION } from '../mqtt/contract.js';
import type { Logger } from './logger.js';
import type { DaemonMetrics } from './daemon-metrics.js';

export interface RecorderSettings {
  device: string;
  /** Keep a JPEG of the face each decision was made on (events.snapshots). */
  snapshots: boolean;
  /** Keep unknown visitors' face embeddings for "enroll this visitor" (events.unknownFaces). */
  unknownFaces: boolean;
}

const SNAPSHOT_MARGIN = 0.25;

export class EventRecorder implements Component {
  readonly name = 'event recorder';
  /** Decisions of the frame being processed, waiting for its image (snapshots are cut from it). */
  private awaitingSnapshot = new Map<number, { eventId: string; box: [number, number, number, number] }[]>();
  private unsubscribe: (() => void)[] = [];

  constructor(
    private readonly events: () => EventLog,
    private readonly model: () => ModelTag,
    private readonly settings: RecorderSettings,
    private readonly bus: EventBus,
    private readonly log: Logger,
    private readonly metrics: DaemonMetrics,
  ) {}

  start(): void {
    const b = this.bus;
    this.unsubscribe = [
      b.on('decision', (e) => this.onDecision(e)),
      b.on('frame.analysed', (f) => this.onFrame(f)),
      b.on('unlock', (u) => {
        this.metrics.decisions.inc({ door: u.door, reason: 'granted-remote' });
        this.record({ id: u.eventId, kind: 'unlock', payload: { ...unlockMessage({ ...u, transaction: u.transaction }, this.settings.device), actor: u.actor }, door: u.door, reason: 'granted-remote' });
        this.log.info({ unlock: { event_id: u.eventId, door: u.door, via: u.actor.via, by: u.actor.name, transaction: u.transaction ?? null } }, `${u.door}: GRANTED remote unlock by ${u.actor.name} (${u.actor.via})${u.relay === 'busy' ? ' [relay already energised: not extended]' : ''}`);
      }),
      b.on('enrollment', (en) => {
        const o = en.outcome;
        if (o.kind === 'cancelled') return;
        this.record({ id: en.eventId, kind: 'enrollment', payload: enrollmentMessage(o, en.eventId, en.time, this.settings.device), person: null, reason: o.kind });
      }),
      b.on('admin.action', (a) => {
        this.record({ id: a.eventId, kind: 'admin', payload: { version: CONTRACT_VERSION, type: 'admin', id: a.eventId, time: a.time, device: this.settings.device, action: a.action, actor: a.actor, details: a.details }, reason: a.action });
        this.log.info({ admin: { event_id: a.eventId, action: a.action, via: a.actor.via, by: a.actor.name } }, `admin: ${a.action} by ${a.actor.name} (${a.actor.via})`);
      }),
    ];
  }

  stop(): void {
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
    this.awaitingSnapshot.clear();
  }

  private onDecision(e: RecognitionEvent): void {
    const keepFace = e.embedding && (e.person !== null || this.settings.unknownFaces);
    const message = recognitionMessage(e, this.settings.device);
    this.record({
      id: e.eventId,
      kind: 'recognition',
      payload: message,
      door: e.door,
      reason: e.reason,
      person: e.person,
      score: e.score,
      ...(keepFace ? { decidedOn: { model: this.model(), embedding: e.embedding! } } : {}),
    });
    this.metrics.decisions.inc({ door: e.door, reason: e.reason });
    const who = e.person ? e.person.name : e.reason === 'denied-quality' ? 'face (no usable view)' : 'unknown face';
    this.log.info({ event: message }, `${e.door}: ${e.decision.toUpperCase()} ${who} (${e.reason}; score ${e.score.toFixed(3)}, ${e.votes} votes, ${e.latencyMs} ms after first sighting)${e.relay === 'cooldown' ? ' [cooldown: relay not pulsed]' : ''}`);
    if (this.settings.snapshots) {
      const list = this.awaitingSnapshot.get(e.frameSeq) ?? [];
      list.push({ eventId: e.eventId, box: e.box });
      this.awaitingSnapshot.set(e.frameSeq, list);
    }
  }

  private onFrame(f: FrameAnalysed): void {
    if (this.awaitingSnapshot.size === 0) return;
    const list = this.awaitingSnapshot.get(f.seq);
    // Decisions of older frames whose image never came (the loop skipped its report) are dropped.
    for (const seq of this.awaitingSnapshot.keys()) if (seq <= f.seq) this.awaitingSnapshot.delete(seq);
    if (!list) return;
    for (const { eventId, box } of list) {
      try {
        this.events().attachSnapshot(eventId, faceJpeg(f, box));
      } catch (err) {
        this.log.warn(`events: could not keep the snapshot of event ${eventId}: ${(err as Error).message}`);
      }
    }
  }

  private record(event: NewLogEvent): void {
    try {
      const dropped = this.events().record(event);
      this.metrics.eventsRecorded.inc({ kind: event.kind });
      for (const [consumer, n] of Object.entries(dropped)) {
        if (n === 0) continue;
        if (consumer === 'mqtt') this.metrics.outboxDropped.inc(n);
        this.log.warn(`events: the ${consumer} queue is full: ${n} undelivered event(s) dropped from it (the event log keeps them)`);
      }
    } catch (err) {
      // A broken event log (disk full, I/O error) must not keep the door from working: the loss
      // is logged and counted, and the decision goes ahead.
      this.metrics.eventLogErrors.inc();
      this.log.error(`events: could not record ${event.kind} event ${event.id}: ${(err as Error).message}`);
    }
  }
}

/** The face at `box` of an analysed frame with a margin around it, as JPEG. */
export function faceJpeg(f: FrameAnalysed, box: [number, number, number, number]): Buffer {
  const [x, y, w, h] = box;
  const mx = w * SNAPSHOT_MARGIN;
  const my = h * SNAPSHOT_MARGIN;
  const x0 = Math.max(0, Math.floor(x - mx));
  const y0 = Math.max(0, Math.floor(y - my));
  const x1 = Math.min(f.width, Math.ceil(x + w + mx));
  const y1 = Math.min(f.height, Math.ceil(y + h + my));
  const crop = f.image.getRegion(new cv.Rect(x0, y0, Math.max(1, x1 - x0), Math.max(1, y1 - y0)));
  return cv.imencode('.jpg', crop.cvtColor(cv.COLOR_RGB2BGR), [cv.IMWRITE_JPEG_QUALITY, 85]);
}

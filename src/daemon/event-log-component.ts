// The event log as a component: opened first (a wrong path fails before any GPIO is touched), the
// consumers' queues declared before anything is recorded, pruned hourly, closed last.
import type { Component } from '../core/component.js';
import { EventLog, type ConsumerQueue, type QueueLimits, type RetentionLimits } from '../events/event-log.js';
import { systemClock, type Clock, type TimerHandle } from '../util/clock.js';
import type { Logger } from './logger.js';

export const PRUNE_MS = 3_600_000;

export class EventLogComponent implements Component {
  readonly name = 'event log';
  private logRef: EventLog | undefined;
  private timer: TimerHandle | undefined;
  private readonly declared = new Map<string, { limits: QueueLimits; queue?: ConsumerQueue }>();

  constructor(
    readonly path: string,
    private readonly limits: RetentionLimits,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
  ) {}

  /** A consumer of this run (MQTT, webhooks, fleet): its queue exists before the first event is recorded. */
  declareConsumer(name: string, limits: QueueLimits): () => ConsumerQueue {
    this.declared.set(name, { limits });
    return () => {
      const d = this.declared.get(name)!;
      if (!d.queue) throw new Error(`event queue ${name} is not open`);
      return d.queue;
    };
  }

  get events(): EventLog {
    if (!this.logRef) throw new Error('the event log is not open');
    return this.logRef;
  }

  start(): void {
    const events = EventLog.open(this.path, this.limits, this.clock);
    this.logRef = events;
    for (const { consumer, pending } of events.retainConsumers([...this.declared.keys()])) {
      this.log.warn(`events: ${consumer} is no longer configured: dropped its queue of ${pending} undelivered events (they stay in the event log)`);
    }
    for (const [name, d] of this.declared) d.queue = events.consumer(name, d.limits);
    this.prune();
    this.timer = this.clock.setInterval(() => this.prune(), PRUNE_MS);
  }

  stop(): void {
    this.clock.clearInterval(this.timer);
    this.logRef?.close();
  }

  private prune(): void {
    try {
      const r = this.logRef!.prune();
      if (r.events + r.snapshots > 0) this.log.info(`events: pruned ${r.events} events and ${r.snapshots} snapshots past their retention`);
    } catch (err) {
      this.log.error(`events: pruning ${this.path} failed: ${(err as Error).message}`);
    }
  }
}

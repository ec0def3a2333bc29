// The live decision feed: what happened at the doors, as it happens, to every open console.
// Subscribes to the bus only while a console listens; strips what must never leave the daemon
// (the face embedding a decision was made on).
import type { BusEventName, BusEvents, EventBus } from '../core/event-bus.js';

export const FEED_EVENTS = ['decision', 'door.state', 'camera.state', 'enrollment', 'gallery.changed', 'unlock', 'admin.action'] as const;
export type FeedEventName = (typeof FEED_EVENTS)[number];
export type FeedListener = (event: FeedEventName, data: unknown) => void;

export function publicPayload<K extends FeedEventName>(event: K, payload: BusEvents[K]): unknown {
  if (event === 'decision') {
    const { embedding: _embedding, ...rest } = payload as BusEvents['decision'];
    return rest;
  }
  return payload;
}

export class EventFeed {
  private readonly listeners = new Set<FeedListener>();
  private unsubscribers: (() => void)[] = [];

  constructor(private readonly bus: EventBus) {}

  add(listener: FeedListener): () => void {
    this.listeners.add(listener);
    if (this.unsubscribers.length === 0) {
      this.unsubscribers = FEED_EVENTS.map((event) => this.bus.on(event as BusEventName, (payload) => this.dispatch(event, publicPayload(event, payload as never))));
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.close();
    };
  }

  close(): void {
    this.listeners.clear();
    for (const off of this.unsubscribers.splice(0)) off();
  }

  private dispatch(event: FeedEventName, data: unknown): void {
    for (const listener of [...this.listeners]) listener(event, data);
  }
}

// Drains the event log's MQTT queue to the broker: QoS 1, oldest first, a small window in flight, each row acked
// (deleted) only on its PUBACK. While the connection is down, mqtt.js keeps the in-flight
// messages and resends them first on reconnect, before anything newer, so order holds; what it
// never got acked is in the outbox for the next run.
import type { ConsumerQueue } from '../events/event-log.js';

export interface PublishPort {
  /** Resolves on the broker's PUBACK. */
  publishQos1(topic: string, payload: string): Promise<void>;
}

export class OutboxPublisher {
  /** Last seq handed to the client in this run; rows after it are still to send. */
  private cursor = 0;
  private inFlight = 0;
  private online = false;
  private stopped = false;
  /** PUBACKs that arrived together are deleted in one commit (each commit is an fsync). */
  private acked: number[] = [];

  constructor(
    private readonly outbox: ConsumerQueue,
    private readonly port: PublishPort,
    private readonly opts: { window: number; topic: (relative: string) => string; onAcked?: () => void; onError: (err: Error) => void },
  ) {}

  connected(): void {
    this.online = true;
    this.fill();
  }

  disconnected(): void {
    this.online = false;
  }

  /** Acks arriving after this are ignored: the outbox may be closed; those rows go out next run. */
  stop(): void {
    this.flushAcks();
    this.online = false;
    this.stopped = true;
  }

  /** A new event was recorded. */
  kick(): void {
    this.fill();
  }

  private flushAcks(): void {
    const seqs = this.acked;
    this.acked = [];
    if (this.stopped || seqs.length === 0) return;
    this.outbox.ack(seqs);
    this.opts.onAcked?.();
  }

  private fill(): void {
    while (this.online && this.inFlight < this.opts.window) {
      const rows = this.outbox.next(this.cursor, this.opts.window - this.inFlight);
      if (rows.length === 0) return;
      for (const row of rows) {
        this.cursor = row.seq;
        this.inFlight++;
        this.port
          .publishQos1(this.opts.topic(row.topic), row.payload)
          .then(
            () => {
              if (this.stopped) return;
              if (this.acked.push(row.seq) === 1) setImmediate(() => this.flushAcks());
            },
            (err: Error) => {
              if (this.stopped) return;
              // mqtt.js only fails a QoS 1 publish when the client is ended; start again from the
              // oldest unacknowledged row (duplicates are allowed, gaps are not).
              this.cursor = 0;
              this.opts.onError(err);
            },
          )
          .finally(() => {
            this.inFlight--;
            this.fill();
          });
      }
    }
  }
}

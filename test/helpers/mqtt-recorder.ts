// A test subscriber: records every message (topic, payload, retain flag, arrival time) and waits
// for the ones a test expects; sends requests and waits for the response with their transaction.
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { waitUntil } from './wait.js';

export interface Recorded {
  topic: string;
  payload: string;
  retain: boolean;
  atMs: number;
}

let recorders = 0;

export class Recorder {
  readonly messages: Recorded[] = [];
  /** This recorder's own topic for flush(): its messages are not recorded. */
  private readonly flushTopic = `facegate-test/flush/${process.pid}-${++recorders}`;
  private flushed = 0;

  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      if (topic === this.flushTopic) this.flushed = Number(payload.toString());
      else this.messages.push({ topic, payload: payload.toString(), retain: packet.retain, atMs: Date.now() });
    });
  }

  static async connect(url: string, filters: string[], opts: IClientOptions = {}): Promise<Recorder> {
    const client = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 100, ...opts });
    const r = new Recorder(client);
    await client.subscribeAsync(Object.fromEntries([...filters, r.flushTopic].map((f) => [f, { qos: 1 as const }])));
    return r;
  }

  /**
   * Resolves once the broker has sent this recorder everything it queued for it before now (the
   * retained messages of its subscriptions included): the broker handles one client's packets in
   * order, so a message this recorder publishes to itself comes back after them.
   */
  async flush(): Promise<void> {
    const n = this.flushed + 1;
    await this.client.publishAsync(this.flushTopic, String(n), { qos: 1 });
    await waitUntil('the flush message back from the broker', () => this.flushed >= n, 15_000);
  }

  on(topic: string, from = 0): Recorded[] {
    return this.messages.slice(from).filter((m) => m.topic === topic);
  }

  async waitFor(what: string, match: (m: Recorded) => boolean, opts: { from?: number; timeoutMs?: number } = {}): Promise<Recorded> {
    let hit: Recorded | undefined;
    const timeoutMs = opts.timeoutMs ?? 15_000;
    await waitUntil(what, () => (hit = this.messages.slice(opts.from ?? 0).find(match)) !== undefined, timeoutMs, () => `got:\n${this.messages.map((m) => `${m.topic} ${m.payload.slice(0, 160)}`).join('\n')}`);
    return hit!;
  }

  /** Publishes a request and returns the response carrying its transaction (requests must have one). */
  async request(prefix: string, command: string, body: Record<string, unknown> | string): Promise<Record<string, unknown>> {
    const from = this.messages.length;
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const transaction = typeof body === 'string' ? undefined : body.transaction;
    await this.client.publishAsync(`${prefix}request/${command}`, text, { qos: 1 });
    const m = await this.waitFor(`response to ${command} ${text.slice(0, 80)}`, (x) => x.topic.startsWith(`${prefix}response/`) && (transaction === undefined || (JSON.parse(x.payload) as { transaction?: unknown }).transaction === transaction), { from });
    return JSON.parse(m.payload) as Record<string, unknown>;
  }

  async end(): Promise<void> {
    await this.client.endAsync(true);
  }
}

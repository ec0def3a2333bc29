// The daemon's MQTT side: one mqtt.js client with a retained `offline` Last Will; on every
// (re)connect it announces `online`, the retained state, door states and Home Assistant discovery,
// subscribes to requests (and Home Assistant's commands), and resumes delivering its queue of the
// event log. Clean sessions: the event log's queue, not the broker, remembers undelivered events.
// The bridge never records: the daemon's event recorder has written every event (and queued it
// for MQTT) before the bridge hears of it; kick() only says there is something new to send.
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Counter, Gauge } from 'prom-client';
import type { Logger } from '../daemon/logger.js';
import type { RecognitionEvent } from '../recognition/events.js';
import type { ConsumerQueue } from '../events/event-log.js';
import { COMMANDS, CONTRACT_VERSION, topicsFor, type HaRecognitionMessage, type LastPersonMessage, type LastUnknownMessage, type ResponseMessage, type Topics } from './contract.js';
import { errorResponse, executeRequest, okResponse, parseRequest, responseName, transactionOf, type NonceRegistry } from './commands.js';
import type { AdminApi } from '../app/admin-api.js';
import type { Actor } from '../core/event-bus.js';
import { systemClock, type Clock } from '../util/clock.js';
import { CodeGuard, DEFAULT_CODE_FORMAT, haCodeMatches } from './ha-code.js';
import { OutboxPublisher } from './outbox-publisher.js';
import { birthTopic, discoveryFilter, discoveryMessages, nodeId, parseLockCommand } from './home-assistant.js';
import { lastPersonMessage, stateMessage, type DeviceStatus } from './messages.js';
import { SOFTWARE_VERSION, type MqttSettings } from './settings.js';

export interface BridgeMetrics {
  connected: Gauge;
  outboxPending: Gauge;
  outboxDropped: Counter;
  requests: Counter<'command' | 'status'>;
}

export interface MqttBridgeOptions {
  settings: MqttSettings;
  /** The event log's `mqtt` queue: what is recorded and not yet acknowledged by the broker. */
  queue: ConsumerQueue;
  /** Nonces of accepted signed requests (kept in the event log, so a restart does not forget them). */
  nonces: NonceRegistry;
  doors: string[];
  /** What requests act on: every command is one AdminApi call, audited with the MQTT actor. */
  admin: AdminApi;
  log: Logger;
  metrics?: BridgeMetrics;
  /** Lockout timing of Home Assistant's lock code (default: the system clock). */
  clock?: Clock;
  /** Home Assistant's "Capture a face (pending)" button: starts a capture bound to nobody (absent: no button). */
  onCapturePending?: () => void;
  /** The web console, linked from Home Assistant's device page (configuration_url). */
  webUrl?: string;
}

const HOME_ASSISTANT: Actor = { via: 'home-assistant', name: 'home assistant' };

/** Messages in flight at once: enough to drain a backlog quickly, few enough to resend cheaply. */
const PUBLISH_WINDOW = 16;
/** The retained state goes out on any change, and at least this often for the frame rate. */
const STATE_REFRESH_MS = 60_000;
const STOP_TIMEOUT_MS = 2000;

export class MqttBridge {
  private client: MqttClient | undefined;
  private publisher: OutboxPublisher | undefined;
  private topics: Topics | undefined;
  private status: DeviceStatus | undefined;
  private stateSentKey = '';
  private stateSentAtMs = 0;
  private lastPerson: LastPersonMessage | undefined;
  private lastUnknown: LastUnknownMessage | undefined;
  private codeGuard: CodeGuard | undefined;
  private readonly doorStates = new Map<string, 'locked' | 'unlocked'>();
  private discoveryTopics = new Set<string>();
  private requests: Promise<void> = Promise.resolve();
  private reconnectMs = 0;
  private everConnected = false;

  constructor(private readonly opts: MqttBridgeOptions) {}

  get device(): string {
    return this.opts.settings.device;
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /** Starts connecting and returns: the daemon runs (and queues events) while the broker is away. */
  start(): void {
    const s = this.opts.settings;
    const topics = topicsFor(s.base, s.device);
    this.topics = topics;
    for (const door of this.opts.doors) this.doorStates.set(door, 'locked');
    this.discoveryTopics = new Set(s.homeAssistant.enabled ? this.discovery().map((m) => m.topic) : []);
    const lock = s.homeAssistant.lock;
    const codeHash = lock?.codeHash;
    this.codeGuard = lock && codeHash ? new CodeGuard({ matches: (code) => haCodeMatches(codeHash, code), maxFailures: lock.maxFailures, lockoutMs: lock.lockoutMs, clock: this.opts.clock ?? systemClock }) : undefined;
    this.opts.metrics?.outboxPending.set(this.opts.queue.pending);
    this.reconnectMs = s.reconnect.initialMs;
    const options: IClientOptions = {
      clientId: s.clientId,
      clean: true,
      protocolVersion: 4,
      keepalive: 30,
      connectTimeout: 10_000,
      reconnectPeriod: this.reconnectMs,
      resubscribe: false,
      queueQoSZero: false,
      will: { topic: topics.status, payload: Buffer.from('offline'), qos: 1, retain: true },
      ...(s.username !== undefined ? { username: s.username } : {}),
      ...(s.password !== undefined ? { password: s.password } : {}),
      ...(s.tls ? { ...s.tls } : {}),
    };
    const client = mqtt.connect(s.url, options);
    this.client = client;
    this.publisher = new OutboxPublisher(
      this.opts.queue,
      { publishQos1: async (topic, payload) => void (await client.publishAsync(topic, payload, { qos: 1 })) },
      {
        window: PUBLISH_WINDOW,
        topic: (relative) => topics.prefix + relative,
        onAcked: () => this.opts.metrics?.outboxPending.set(this.opts.queue.pending),
        onError: (err) => this.opts.log.warn(`mqtt: publishing an event failed (${err.message}); it stays queued`),
      },
    );
    // Before mqtt.js's own close handler schedules the next attempt, so the doubled wait applies to it.
    client.prependListener('close', () => {
      this.publisher?.disconnected();
      this.opts.metrics?.connected.set(0);
      client.options.reconnectPeriod = this.reconnectMs;
      this.reconnectMs = Math.min(this.reconnectMs * 2, s.reconnect.maxMs);
    });
    client.on('offline', () => this.opts.log.warn(`mqtt: ${this.everConnected ? 'lost the broker' : 'cannot reach the broker'} at ${s.url}; retrying with backoff up to ${s.reconnect.maxMs} ms, events wait in the event log (${this.opts.queue.pending} queued)`));
    client.on('error', (err: Error & { code?: string | number }) => {
      const hint = err.code === 5 || err.code === 4 || err.code === 135 || err.code === 134 ? ': check mqtt.username and the password' : '';
      this.opts.log.debug(`mqtt: ${err.message}${hint}`);
      if (hint) this.opts.log.error(`mqtt: the broker refused the login${hint}`);
    });
    client.on('connect', () => this.onConnect());
    client.on('message', (topic, payload, packet) => {
      // Nothing a message does may throw into mqtt.js's packet handling (or end the process).
      try {
        this.onMessage(topic, payload, packet.retain);
      } catch (err) {
        this.opts.log.error(`mqtt: a message on ${topic.slice(0, 200)} could not be handled: ${(err as Error).message}`);
      }
    });
  }

  async stop(): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.publisher?.stop();
    await this.requests;
    if (client.connected) {
      // The broker sends the Last Will only for a lost connection: say goodbye ourselves.
      await withTimeout(client.publishAsync(this.topics!.status, 'offline', { qos: 1, retain: true }), STOP_TIMEOUT_MS).catch(() => undefined);
    }
    await withTimeout(client.endAsync(!client.connected), STOP_TIMEOUT_MS).catch(() => client.end(true));
  }

  /** New events are in the queue: send them (now if connected, else on connect). */
  kick(): void {
    this.opts.metrics?.outboxPending.set(this.opts.queue.pending);
    this.publisher?.kick();
  }

  /** A decision (already recorded and queued): its retained "last person", Home Assistant's live event, and delivery. */
  noteRecognition(e: RecognitionEvent): void {
    this.kick();
    if (e.person) {
      this.lastPerson = lastPersonMessage({ ...e, person: e.person });
      if (this.connected) this.publishRetained(this.topics!.lastPerson, JSON.stringify(this.lastPerson));
    }
    if (!this.opts.settings.homeAssistant.enabled) return;
    if (e.reason === 'denied-unknown') {
      this.lastUnknown = { version: CONTRACT_VERSION, door: e.door, event_id: e.eventId, time: e.time };
      if (this.connected) this.publishRetained(this.topics!.ha.lastUnknown, JSON.stringify(this.lastUnknown));
    }
    // Live only: after an outage Home Assistant's automations must not fire for old visitors.
    if (this.connected) {
      const haEvent: HaRecognitionMessage = { event_type: e.reason, door: e.door, person: e.person?.name ?? null, score: e.score, event_id: e.eventId, time: e.time };
      this.client!.publishAsync(this.topics!.ha.recognition, JSON.stringify(haEvent), { qos: 1 }).catch((err: Error) => this.opts.log.debug(`mqtt: Home Assistant event not sent: ${err.message}`));
    }
  }

  /** The last recognised face for Home Assistant's image entity (JPEG); not retained, not queued. */
  publishLastFace(jpeg: Buffer): void {
    if (!this.opts.settings.homeAssistant.enabled || !this.connected) return;
    this.client!.publishAsync(this.topics!.ha.lastFace, jpeg, { qos: 0 }).catch((err: Error) => this.opts.log.debug(`mqtt: last face not sent: ${err.message}`));
  }

  setDoorState(door: string, state: 'locked' | 'unlocked'): void {
    this.doorStates.set(door, state);
    if (this.connected) this.publishRetained(this.topics!.door(door), state);
  }

  /** Called on every status tick and on changes; sent when something other than counters changed, or once a minute. */
  setStatus(status: DeviceStatus): void {
    this.status = status;
    if (this.connected && (stateKey(status) !== this.stateSentKey || Date.now() - this.stateSentAtMs >= STATE_REFRESH_MS)) this.publishState(status);
  }

  private onConnect(): void {
    const s = this.opts.settings;
    const client = this.client!;
    const topics = this.topics!;
    this.reconnectMs = s.reconnect.initialMs;
    client.options.reconnectPeriod = this.reconnectMs;
    this.opts.metrics?.connected.set(1);
    this.opts.log.info(`mqtt: connected to ${s.url} as ${s.clientId}; topics under ${topics.prefix}${this.opts.queue.pending ? `, sending ${this.opts.queue.pending} queued events` : ''}`);
    this.everConnected = true;
    // Everything below is queued by mqtt.js in this order on this connection; events come last.
    this.publishRetained(topics.status, 'online');
    if (s.commands.enabled) this.subscribe(topics.requests);
    // Also when discovery is off: the retained configs this device left behind arrive and are removed.
    this.subscribe(discoveryFilter(s.homeAssistant.prefix, s.device));
    if (s.homeAssistant.enabled) {
      this.subscribe(topics.ha.lockCommands);
      if (this.opts.onCapturePending) this.subscribe(topics.ha.capturePending);
      this.subscribe(birthTopic(s.homeAssistant.prefix));
      this.announce();
    }
    for (const [door, state] of this.doorStates) this.publishRetained(topics.door(door), state);
    if (this.lastPerson) this.publishRetained(topics.lastPerson, JSON.stringify(this.lastPerson));
    if (this.lastUnknown && s.homeAssistant.enabled) this.publishRetained(topics.ha.lastUnknown, JSON.stringify(this.lastUnknown));
    if (this.status) this.publishState(this.status);
    this.publisher!.connected();
  }

  private onMessage(topic: string, payload: Buffer, retained: boolean): void {
    const topics = this.topics!;
    const requestPrefix = `${topics.prefix}request/`;
    if (topic.startsWith(requestPrefix)) {
      // An empty payload is not a request: it is how a retained request is cleared from the broker.
      if (payload.length === 0) return;
      const command = topic.slice(requestPrefix.length);
      this.enqueue(`request ${responseName(command)}`, () => this.handleRequest(command, payload, retained));
      return;
    }
    const ha = this.opts.settings.homeAssistant;
    if (ha.enabled) {
      if (topic === birthTopic(ha.prefix)) {
        // Home Assistant (re)started: it forgot entities that were not announced since.
        if (payload.toString() === 'online') {
          this.opts.log.info('mqtt: Home Assistant came online: announcing discovery again');
          this.announce();
        }
        return;
      }
      const door = this.haLockDoor(topic);
      if (door !== undefined) {
        this.enqueue(`Home Assistant lock ${door}`, () => this.handleHaLock(door, payload, retained));
        return;
      }
      if (topic === topics.ha.capturePending) {
        if (retained || payload.length === 0) return;
        this.opts.log.info('mqtt: Home Assistant pressed "Capture a face (pending)": the face is kept as pending until an admin names it');
        this.opts.onCapturePending?.();
        return;
      }
    }
    const parts = topic.split('/');
    if (parts.length === 5 && parts[0] === this.opts.settings.homeAssistant.prefix && parts[2] === nodeId(this.device) && parts[4] === 'config' && payload.length > 0 && !this.discoveryTopics.has(topic)) {
      this.opts.log.info(`mqtt: removing Home Assistant entity ${parts[1]}/${parts[3]} (no longer announced)`);
      this.publishRetained(topic, '');
    }
  }

  /**
   * One at a time, in arrival order: commands change the gallery and the relays. Whatever a
   * handler throws or rejects with is logged here and never reaches the process: the queue goes on.
   */
  private enqueue(what: string, handle: () => Promise<void>): void {
    this.requests = this.requests.then(handle).catch((err: unknown) => this.opts.log.error(`mqtt: ${what} failed unexpectedly: ${err instanceof Error ? err.message : String(err)}`));
  }

  private async handleRequest(command: string, payload: Buffer, retained: boolean): Promise<void> {
    let response: ResponseMessage;
    try {
      response = await this.answer(command, payload, retained);
    } catch (err) {
      // A defect (or a broken nonce store) must still answer, and must not end the daemon.
      this.opts.log.error(`mqtt: request ${responseName(command)}: ${(err as Error).message}`);
      response = errorResponse(retained ? undefined : transactionOf(payload), 'failed', 'the request could not be handled (see the device log): it was not carried out');
    }
    this.respond(command, response);
  }

  private async answer(command: string, payload: Buffer, retained: boolean): Promise<ResponseMessage> {
    const s = this.opts.settings;
    // A retained request would run again on every reconnect.
    if (retained) return errorResponse(transactionOf(payload), 'retained', 'retained requests are refused: publish requests without the retain flag, and clear this one (an empty retained message on the same topic)');
    const parsed = parseRequest(command, payload, { device: s.device, key: s.commands.key, allowUnsigned: s.commands.allowUnsigned, maxSkewMs: s.commands.maxSkewMs }, this.opts.nonces, Date.now());
    if (!parsed.ok) return errorResponse(parsed.transaction, parsed.code, parsed.message);
    try {
      const actor = { via: 'mqtt', name: parsed.signed ? 'signed request' : 'unsigned request' } as const;
      return okResponse(parsed.transaction, await executeRequest(this.opts.admin, parsed.request, parsed.transaction, actor));
    } catch (err) {
      return errorResponse(parsed.transaction, 'failed', (err as Error).message);
    }
  }

  private respond(command: string, response: ResponseMessage): void {
    const name = responseName(command);
    const label = Object.hasOwn(COMMANDS, command) ? command : 'other';
    this.opts.metrics?.requests.inc({ command: label, status: response.status });
    if (response.status === 'ok') this.opts.log.info(`mqtt: request ${name} done${response.transaction !== undefined ? ` (transaction ${response.transaction})` : ''}`);
    else this.opts.log.warn(`mqtt: request ${name} refused: ${response.code}: ${response.error}`);
    this.client!.publishAsync(this.topics!.response(name), JSON.stringify(response), { qos: 1 }).catch((err: Error) => this.opts.log.warn(`mqtt: could not send the ${name} response: ${err.message}`));
  }

  private haLockDoor(topic: string): string | undefined {
    const t = this.topics!.ha;
    const [head, tail] = t.lockCommand('\u0000').split('\u0000') as [string, string];
    if (!topic.startsWith(head) || !topic.endsWith(tail)) return undefined;
    return topic.slice(head.length, topic.length - tail.length);
  }

  /**
   * Home Assistant's lock: Unlock and Open pulse the strike only with the right code and outside a
   * lockout; Lock changes nothing. Every outcome re-sends the door's state, so Home Assistant's
   * lock leaves "unlocking" and shows what the door really does.
   */
  private async handleHaLock(door: string, payload: Buffer, retained: boolean): Promise<void> {
    const log = this.opts.log;
    if (payload.length === 0) return;
    if (retained) return void log.warn(`mqtt: a retained Home Assistant lock command for ${door} was ignored (it would run on every reconnect): set retain: false in Home Assistant and clear it`);
    const state = this.doorStates.get(door);
    if (state === undefined) return void log.warn(`mqtt: Home Assistant asked for door "${door.slice(0, 64)}", which this device does not have (doors: ${this.opts.doors.join(', ') || 'none'})`);
    const answer = () => this.publishRetained(this.topics!.door(door), this.doorStates.get(door)!);
    const command = parseLockCommand(payload);
    if (!command) {
      log.warn(`mqtt: Home Assistant lock ${door}: not a lock command (expected {"action":"UNLOCK","code":"..."} from the discovered command_template)`);
      return answer();
    }
    if (command.action === 'LOCK') {
      // The strike locks itself when the pulse ends: there is nothing to do but say how it is.
      log.info(`mqtt: Home Assistant lock ${door}: Lock (nothing to do, the door is ${state})`);
      return answer();
    }
    if (!this.codeGuard) {
      log.warn(`mqtt: Home Assistant ${command.action.toLowerCase()} of ${door} refused: no code is configured (mqtt.homeAssistant.lock.codeHash, made by facegate mqtt ha-code)`);
      return answer();
    }
    const verdict = await this.codeGuard.check(command.code);
    if (!verdict.ok) {
      const until = verdict.retryAtMs !== undefined ? new Date(verdict.retryAtMs).toISOString() : undefined;
      const why =
        verdict.reason === 'locked-out'
          ? `locked out after repeated wrong codes until ${until}`
          : `${verdict.reason === 'missing' ? 'no code' : 'wrong code'}; ${verdict.failuresLeft ? `${verdict.failuresLeft} more before a lockout` : `locked out until ${until}`}`;
      log.warn(`mqtt: Home Assistant ${command.action.toLowerCase()} of ${door} refused: ${why}`);
      return answer();
    }
    try {
      const r = this.opts.admin.unlock(door, HOME_ASSISTANT);
      log.info(`mqtt: Home Assistant ${command.action.toLowerCase()} of ${door} with the right code: ${r.pulsed ? 'pulsed' : 'relay already energised'} (event ${r.eventId})`);
    } catch (err) {
      log.warn(`mqtt: Home Assistant unlock of ${door} failed: ${(err as Error).message}`);
      answer();
    }
  }

  private announce(): void {
    for (const m of this.discovery()) this.publishRetained(m.topic, JSON.stringify(m.config));
  }

  private publishState(status: DeviceStatus): void {
    this.stateSentKey = stateKey(status);
    this.stateSentAtMs = Date.now();
    const msg = stateMessage(status, { pending: this.opts.queue.pending, dropped: this.opts.queue.droppedTotal }, this.device, SOFTWARE_VERSION, new Date().toISOString());
    this.publishRetained(this.topics!.state, JSON.stringify(msg));
  }

  private discovery() {
    const s = this.opts.settings;
    return discoveryMessages({
      prefix: s.homeAssistant.prefix,
      device: s.device,
      doors: this.opts.doors,
      software: SOFTWARE_VERSION,
      topics: this.topics!,
      codeFormat: s.homeAssistant.lock?.codeFormat ?? DEFAULT_CODE_FORMAT,
      capturePending: this.opts.onCapturePending !== undefined,
      ...(this.opts.webUrl ? { webUrl: this.opts.webUrl } : {}),
    });
  }

  private publishRetained(topic: string, payload: string): void {
    this.client!.publishAsync(topic, payload, { qos: 1, retain: true }).catch((err: Error) => this.opts.log.debug(`mqtt: ${topic} not sent: ${err.message}`));
  }

  private subscribe(filter: string): void {
    this.client!.subscribeAsync(filter, { qos: 1 }).catch((err: Error) => this.opts.log.warn(`mqtt: could not subscribe to ${filter}: ${err.message}`));
  }
}

/** The state without its counters: a change here is worth a message at once. */
function stateKey(s: DeviceStatus): string {
  return JSON.stringify({ ...s, camera: { ...s.camera, fps: 0, dropped: 0 }, ...(s.fleet ? { fleet: { ...s.fleet, lagMs: 0 } } : {}) });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timed out')), ms)))]).finally(() => clearTimeout(timer));
}

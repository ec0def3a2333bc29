// Fleet sync: every controller of a site holds the same gallery, replicated through the broker.
// Each person is one retained, signed, encrypted record on facegate/site/<site>/gallery/person/<uuid>
// (record-codec.ts), versioned by the gallery's hybrid logical clock; merge.ts decides per record
// (last writer wins, tombstones beat stale copies). The broker keeps the newest record of every
// person, so a controller that joins late or was offline converges from the retained records alone.
// No coordinator, no consensus: a mosquitto bridge or a broker cluster carries it.
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { Component } from '../core/component.js';
import type { EventBus } from '../core/event-bus.js';
import type { GalleryStore } from '../gallery/gallery-store.js';
import { compareHlc } from '../gallery/hlc.js';
import { systemClock, type Clock, type TimerHandle } from '../util/clock.js';
import { fleetView, parseStatus, type ControllerStatus, type FleetView } from './fleet-status.js';
import { mergeRecord } from './merge.js';
import { encodeRecord, openWire, parseWire } from './record-codec.js';
import type { SiteKeys } from './site-keys.js';
import { controllerOf, personUuidOf, siteTopics } from './topics.js';

export interface FleetSettings {
  url: string;
  site: string;
  controllerId: string;
  role: 'member' | 'follower';
  keys: SiteKeys;
  username?: string;
  password?: string;
  tls?: { ca?: Buffer; rejectUnauthorized: boolean };
  tombstoneTtlMs: number;
  shareCrops: boolean;
  maxClockSkewMs: number;
  /** sha256 of the embedder models this controller searches with (others are kept, not searched). */
  models: string[];
  /** Wait between reconnect attempts (default 1000 ms). */
  reconnectMs?: number;
  /** How long applied records are collected before one 'gallery.changed' (default 50 ms). */
  batchMs?: number;
  /** Status heartbeat (default 30 s). */
  heartbeatMs?: number;
}

export type FleetLog = Pick<Logger, 'info' | 'warn' | 'debug' | 'error'>;

/** The figures of `facegate fleet status`, for the metrics. */
export interface FleetMetrics {
  connected: boolean;
  /** The retained records had all arrived once since start. */
  synced: boolean;
  controllersUp: number;
  controllersKnown: number;
  converged: boolean;
  galleryVersion: string | null;
  galleryHash: string;
  /** This controller's lag behind the newest version in the site (ms of version time). */
  lagMs: number | null;
  applied: number;
  stale: number;
  rejected: number;
  conflicts: number;
  published: number;
}

const SYNC_FALLBACK_MS = 10_000;
const PURGE_EVERY_MS = 3_600_000;
const REPAIR_EVERY_MS = 10_000;

export class FleetSync implements Component {
  readonly name = 'fleet sync';
  private readonly topics: ReturnType<typeof siteTopics>;
  private client: MqttClient | undefined;
  /** Newest version of each person seen on the broker (or published there by us). */
  private readonly brokerVersions = new Map<string, string>();
  private readonly peers = new Map<string, ControllerStatus>();
  private readonly counters = { applied: 0, stale: 0, rejected: 0, conflicts: 0, published: 0 };
  private synced = false;
  private syncNonce = '';
  private applied = new Set<string>();
  private batchTimer: TimerHandle | undefined;
  private statusTimer: TimerHandle | undefined;
  private syncTimer: TimerHandle | undefined;
  private heartbeat: TimerHandle | undefined;
  private purgeTimer: TimerHandle | undefined;
  private unsubscribe: (() => void) | undefined;
  private syncWaiters: (() => void)[] = [];
  private readonly repairedAt = new Map<string, number>();

  constructor(
    private readonly settings: FleetSettings,
    private readonly store: GalleryStore,
    private readonly bus: EventBus,
    private readonly log: FleetLog,
    private readonly clock: Clock = systemClock,
  ) {
    this.topics = siteTopics(settings.site);
    if (settings.role === 'member' && !settings.keys.signing) throw new Error('fleet: a member controller needs the site signing key (or role: follower)');
  }

  get isMember(): boolean {
    return this.settings.role === 'member';
  }

  start(): void {
    const s = this.settings;
    const options: IClientOptions = {
      clientId: `facegate-fleet-${s.site}-${s.controllerId}`,
      clean: true,
      protocolVersion: 4,
      keepalive: 30,
      connectTimeout: 10_000,
      reconnectPeriod: s.reconnectMs ?? 1000,
      resubscribe: false,
      will: { topic: this.topics.status(s.controllerId), payload: Buffer.from(JSON.stringify({ controller: s.controllerId, up: false, role: s.role })), qos: 1, retain: true },
      ...(s.username !== undefined ? { username: s.username } : {}),
      ...(s.password !== undefined ? { password: s.password } : {}),
      ...(s.tls ? { ...(s.tls.ca ? { ca: s.tls.ca } : {}), rejectUnauthorized: s.tls.rejectUnauthorized } : {}),
    };
    const client = mqtt.connect(s.url, options);
    this.client = client;
    client.on('connect', () => this.onConnect());
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
    client.on('offline', () => this.log.warn(`fleet: cannot reach the site broker at ${s.url}; local changes are published when it is back`));
    client.on('error', (err) => this.log.debug(`fleet: ${err.message}`));
    this.unsubscribe = this.bus.on('gallery.changed', (e) => {
      if (e.reason !== 'replicated') this.publishChanged(e.personUuids);
    });
    this.heartbeat = this.clock.setInterval(() => this.publishStatus(), s.heartbeatMs ?? 30_000);
    this.purgeTimer = this.clock.setInterval(() => this.purgeTombstones(), PURGE_EVERY_MS);
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    for (const t of [this.batchTimer, this.statusTimer, this.syncTimer]) this.clock.clearTimeout(t);
    for (const t of [this.heartbeat, this.purgeTimer]) this.clock.clearInterval(t);
    this.flushBatch();
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    if (client.connected) {
      await client
        .publishAsync(this.topics.status(this.settings.controllerId), JSON.stringify({ controller: this.settings.controllerId, up: false, role: this.settings.role, at: this.nowIso() }), { qos: 1, retain: true })
        .catch(() => undefined);
    }
    await client.endAsync().catch(() => undefined);
  }

  /** Resolves once the retained records have all arrived (the first time). */
  whenSynced(): Promise<void> {
    return this.synced ? Promise.resolve() : new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  private nowIso(): string {
    return new Date(this.clock.now()).toISOString();
  }

  private onConnect(): void {
    const client = this.client!;
    const id = this.settings.controllerId;
    this.syncNonce = `${this.clock.now()}-${Math.random().toString(36).slice(2)}`;
    client.subscribe([this.topics.people, this.topics.statuses, this.topics.sync(id)], { qos: 1 }, (err) => {
      if (err) return this.log.error(`fleet: subscribing at ${this.settings.url} failed: ${err.message}`);
      // The broker sends the retained records of a subscription before anything published after it.
      client.publish(this.topics.sync(id), this.syncNonce, { qos: 1 });
    });
    this.armSyncFallback();
    this.log.info(`fleet: connected to ${this.settings.url} as ${id} (${this.settings.role}) on site ${this.settings.site}`);
  }

  /** A broker that loses the marker must not keep local changes back for ever: after SYNC_FALLBACK_MS without a record, the sync counts as done. */
  private armSyncFallback(): void {
    this.clock.clearTimeout(this.syncTimer);
    this.syncTimer = this.clock.setTimeout(() => this.onSynced(), SYNC_FALLBACK_MS);
  }

  private onSynced(): void {
    this.clock.clearTimeout(this.syncTimer);
    this.syncTimer = undefined;
    const first = !this.synced;
    this.synced = true;
    this.flushBatch();
    this.purgeTombstones();
    this.publishDiff();
    this.publishStatus();
    if (first) {
      this.log.info(`fleet: in sync with site ${this.settings.site}: ${this.store.counts().people} people, gallery ${this.store.galleryHash().slice(0, 12)}`);
      for (const w of this.syncWaiters.splice(0)) w();
    }
  }

  private onMessage(topic: string, payload: Buffer): void {
    try {
      if (topic === this.topics.sync(this.settings.controllerId)) {
        if (payload.toString() === this.syncNonce) this.onSynced();
        return;
      }
      const uuid = personUuidOf(topic, this.topics.base);
      if (uuid !== undefined) return this.onRecord(uuid, payload);
      const controller = controllerOf(topic, this.topics.base);
      if (controller !== undefined && controller !== this.settings.controllerId) {
        const status = parseStatus(controller, payload);
        if (status) this.peers.set(controller, status);
        else this.peers.delete(controller);
      }
    } catch (err) {
      // A record that breaks the store (a full disk, a bad row) must not end the daemon.
      this.counters.rejected++;
      this.log.error(`fleet: handling ${topic} failed: ${(err as Error).message}`);
    }
  }

  private onRecord(uuid: string, payload: Buffer): void {
    // A large resync takes longer than the fallback: it only fires once the records stop coming.
    if (this.syncTimer !== undefined) this.armSyncFallback();
    if (payload.length === 0) return; // a cleared topic (an expired tombstone)
    const parsed = parseWire(payload);
    if (!parsed.ok) return this.refuse(uuid, parsed.reason);
    const local = this.store.recordVersion(uuid);
    // Already here: nothing would change, so nothing to check.
    if (local && local.version === parsed.wire.version) return this.sawOnBroker(uuid, parsed.wire.version);
    const decoded = openWire(parsed.wire, uuid, { site: this.settings.site, keys: this.settings.keys });
    if (!decoded.ok) return this.refuse(uuid, decoded.reason, decoded.version);
    const rec = decoded.record;
    const decision = mergeRecord(local, { version: rec.version, baseVersion: rec.baseVersion, deleted: rec.deleted, ...(rec.deleted ? { deletedAtMs: Date.parse(rec.deletedAt) } : {}) }, {
      nowMs: this.clock.now(),
      tombstoneTtlMs: this.settings.tombstoneTtlMs,
      maxClockSkewMs: this.settings.maxClockSkewMs,
    });
    if (decision.action === 'reject') return this.refuse(uuid, `version ${rec.version} is more than ${this.settings.maxClockSkewMs} ms ahead of this clock`, rec.version);
    this.sawOnBroker(uuid, rec.version);
    if (decision.action === 'keep') {
      if (decision.reason === 'older') {
        this.counters.stale++;
        this.log.info(`fleet: ignored an older copy of ${uuid} (version ${rec.version} from ${decoded.origin}; this controller has ${local!.version})`);
        // The broker's retained copy is now the stale one: put the newest back for late joiners.
        if (this.isMember) this.publish(uuid, true);
      }
      return;
    }
    this.store.applyRecord(rec);
    this.counters.applied++;
    if (decision.reason === 'concurrent-newer') {
      this.counters.conflicts++;
      this.log.info(`fleet: ${uuid} was changed here and on ${decoded.origin} at once; the later change (${rec.version}) wins`);
    }
    if (!rec.deleted) {
      const foreign = [...new Set(rec.templates.filter((t) => !this.settings.models.includes(t.modelSha)).map((t) => t.modelId))];
      if (foreign.length > 0) {
        const crops = rec.templates.some((t) => t.crop);
        this.log.info(`fleet: ${rec.name} has templates of ${foreign.join(', ')}, which this controller does not run: kept, not searched${crops ? ' (crops came along: facegate gallery reembed)' : ' (no crops shared: re-enroll here, or set fleet.shareCrops on the site)'}`);
      }
    }
    this.log.debug(`fleet: applied ${rec.deleted ? 'the deletion of' : 'person'} ${uuid} version ${rec.version} from ${decoded.origin} (${decision.reason})`);
    this.applied.add(uuid);
    if (this.batchTimer === undefined) this.batchTimer = this.clock.setTimeout(() => this.flushBatch(), this.settings.batchMs ?? 50);
  }

  private refuse(uuid: string, reason: string, version?: string): void {
    this.counters.rejected++;
    this.log.warn(`fleet: refused a record for ${uuid}${version ? ` version ${version}` : ''}: ${reason}; nothing changed`);
    // A forged retained copy would hide the person from controllers that join later: put the
    // genuine one back (at most once per person per REPAIR_EVERY_MS, so a flood is not multiplied).
    const last = this.repairedAt.get(uuid);
    if (this.isMember && this.store.recordVersion(uuid) && (last === undefined || this.clock.now() - last >= REPAIR_EVERY_MS)) {
      this.repairedAt.set(uuid, this.clock.now());
      this.publish(uuid, true);
    }
    this.scheduleStatus();
  }

  private sawOnBroker(uuid: string, version: string): void {
    const seen = this.brokerVersions.get(uuid);
    if (!seen || compareHlc(version, seen) > 0) this.brokerVersions.set(uuid, version);
  }

  /** One 'gallery.changed' for a batch of applied records: the daemon reloads its search once. */
  private flushBatch(): void {
    this.clock.clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    if (this.applied.size === 0) return;
    const personUuids = [...this.applied];
    this.applied = new Set();
    const c = this.store.counts();
    this.bus.emit('gallery.changed', { people: c.people, templates: c.templates, reason: 'replicated', personUuids });
    this.scheduleStatus();
  }

  private publishChanged(uuids: string[] | undefined): void {
    // Before the first sync the diff after it covers every change.
    if (!this.synced || !this.isMember) return;
    if (uuids === undefined) this.publishDiff();
    else for (const uuid of uuids) this.publish(uuid, false);
    this.scheduleStatus();
  }

  /** Publishes every record that is newer here than on the broker (local changes made while away). */
  private publishDiff(): void {
    if (!this.isMember) return;
    for (const r of this.store.recordVersions()) {
      const seen = this.brokerVersions.get(r.uuid);
      if (!seen || compareHlc(r.version, seen) > 0) this.publish(r.uuid, false);
    }
  }

  private publish(uuid: string, force: boolean): void {
    const rec = this.store.record(uuid, this.settings.shareCrops);
    const client = this.client;
    if (!rec || !client) return;
    const seen = this.brokerVersions.get(uuid);
    if (!force && seen && compareHlc(rec.version, seen) <= 0) return;
    // QoS 1 while offline waits in mqtt.js's queue and goes out on reconnect.
    client.publish(this.topics.person(uuid), encodeRecord(rec, { site: this.settings.site, origin: this.settings.controllerId, keys: this.settings.keys }), { qos: 1, retain: true });
    this.brokerVersions.set(uuid, rec.version);
    this.counters.published++;
  }

  /** Tombstones older than fleet.tombstoneDays are forgotten here and cleared from the broker. */
  private purgeTombstones(): void {
    const purged = this.store.purgeTombstones(this.clock.now() - this.settings.tombstoneTtlMs);
    for (const uuid of purged) {
      this.brokerVersions.delete(uuid);
      if (this.isMember) this.client?.publish(this.topics.person(uuid), Buffer.alloc(0), { qos: 1, retain: true });
    }
    if (purged.length > 0) this.log.info(`fleet: forgot ${purged.length} tombstones older than ${Math.round(this.settings.tombstoneTtlMs / 86_400_000)} days`);
  }

  private scheduleStatus(): void {
    if (this.statusTimer !== undefined) return;
    this.statusTimer = this.clock.setTimeout(() => {
      this.statusTimer = undefined;
      this.publishStatus();
    }, 200);
  }

  /** This controller's status as the others see it. */
  ownStatus(): ControllerStatus {
    const c = this.store.counts();
    return {
      controller: this.settings.controllerId,
      up: true,
      role: this.settings.role,
      galleryVersion: this.store.galleryVersion(),
      galleryHash: this.store.galleryHash(),
      people: c.people,
      tombstones: c.tombstones,
      ...this.counters,
      models: this.settings.models,
      at: this.nowIso(),
    };
  }

  private publishStatus(): void {
    const client = this.client;
    if (!client?.connected) return;
    client.publish(this.topics.status(this.settings.controllerId), JSON.stringify(this.ownStatus()), { qos: 1, retain: true });
  }

  /** Every controller of the site as last heard, this one included. */
  view(): FleetView {
    return fleetView([this.ownStatus(), ...this.peers.values()]);
  }

  metrics(): FleetMetrics {
    const view = this.view();
    const own = view.controllers.find((c) => c.controller === this.settings.controllerId)!;
    return {
      connected: this.client?.connected ?? false,
      synced: this.synced,
      controllersUp: view.up,
      controllersKnown: view.controllers.length,
      converged: view.converged,
      galleryVersion: own.galleryVersion ?? null,
      galleryHash: own.galleryHash!,
      lagMs: own.lagMs,
      ...this.counters,
    };
  }
}

// A stand-in for the daemon behind the web console: an AdminApi over in-memory people and
// events that records every call with its actor, and a door that publishes what a real one
// would on the EventBus (door.state, unlock, decision). The web layer under test is real.
import type { AdminApi, DoorView, EnrollResult, EventQuery, EventView, PersonView, StatusView } from '../../src/app/admin-api.js';
import type { Actor, EventBus } from '../../src/core/event-bus.js';
import type { RecognitionEvent } from '../../src/recognition/events.js';
import { validatePersonName } from '../../src/gallery/names.js';
import type { Clock } from '../../src/util/clock.js';
import { writeFileSync } from 'node:fs';
import { hashPassword } from '../../src/web/passwords.js';

export interface AdminCall {
  op: string;
  args: unknown[];
  actor?: Actor;
}

export class FakeAdmin implements AdminApi {
  readonly calls: AdminCall[] = [];
  readonly people = new Map<string, PersonView>();
  readonly doorStates = new Map<string, DoorView['state']>([['front', 'locked']]);
  readonly eventLog: EventView[] = [];
  /** enrollFromImages reports sources whose name contains this as having no face. */
  noFaceMarker = 'noface';
  /** What eventSnapshot returns for decisions (a real JPEG in the browser test). */
  snapshotJpeg: Buffer = Buffer.from([0xff, 0xd8, 0xff, 0xd9]);
  private seq = 0;
  private nextId = 1;

  constructor(
    private readonly bus: EventBus,
    private readonly clock: Clock,
    private readonly pulseMs = 1500,
  ) {}

  status(): StatusView {
    return {
      startedAt: new Date(this.clock.now()).toISOString(),
      ready: true,
      checks: { camera: { ok: true, detail: 'streaming' } },
      camera: { state: 'streaming', source: 'fake camera', fps: 10, dropped: 0 },
      models: { embedder: 'mobilefacenet-fp32', embedderSha256: '0123456789abcdef', precision: 'float32' },
      gallery: { people: this.people.size, templates: [...this.people.values()].reduce((n, p) => n + p.templates, 0) },
      doors: this.doors(),
      events: { recorded: this.eventLog.length },
    };
  }

  doors(): DoorView[] {
    return [...this.doorStates].map(([name, state]) => ({ name, state }));
  }

  unlock(door: string, actor: Actor, transaction?: string | number): { eventId: string; pulsed: boolean } {
    this.calls.push({ op: 'unlock', args: [door, transaction], actor });
    const eventId = `unlock-${this.nextId++}`;
    const pulsed = this.pulse(door, 'remote');
    this.bus.emit('unlock', { eventId, time: this.iso(), door, relay: pulsed ? 'pulse' : 'busy', actor, ...(transaction !== undefined ? { transaction } : {}) });
    this.record({ id: eventId, kind: 'unlock', door, reason: null, person: null, score: null, payload: { actor } });
    return { eventId, pulsed };
  }

  armEnrollment(name: string, ttlMs: number, capture: 'button' | 'now' | undefined, actor: Actor) {
    this.calls.push({ op: 'armEnrollment', args: [name, ttlMs, capture], actor });
    return { name, expiresAt: new Date(this.clock.now() + ttlMs).toISOString(), capture: capture ?? 'button' };
  }

  listPeople() {
    return { people: [...this.people.values()], pending: [{ id: 7, createdAt: this.iso(), source: 'button', templates: 3 }] };
  }

  personPhotos(name: string) {
    this.requirePerson(name);
    return [];
  }

  async enrollFromImages(rawName: string, images: { source: string; data: Buffer }[], actor: Actor): Promise<EnrollResult> {
    const name = validatePersonName(rawName);
    this.calls.push({ op: 'enrollFromImages', args: [name, images.map((i) => ({ source: i.source, bytes: i.data.length }))], actor });
    const rejected = images.filter((i) => i.source.includes(this.noFaceMarker)).map((i) => ({ source: i.source, reason: 'no face found' }));
    const added = images.length - rejected.length;
    if (added > 0) {
      const at = this.iso();
      const prev = this.people.get(name);
      this.people.set(name, prev ? { ...prev, templates: prev.templates + added } : { id: this.nextId++, uuid: `uuid-${name}`, name, groups: [], templates: added, negatives: 0, models: ['mobilefacenet-fp32'], createdAt: at, updatedAt: at });
      this.bus.emit('gallery.changed', { people: this.people.size, templates: added, reason: 'enrolled' });
    }
    return { person: name, added, rejected };
  }

  async namePending(id: number, name: string, actor: Actor) {
    this.calls.push({ op: 'namePending', args: [id, name], actor });
    if (id !== 7) throw new Error(`no pending capture ${id}`);
    return { person: name, templates: 3 };
  }

  discardPending(id: number, actor: Actor): void {
    this.calls.push({ op: 'discardPending', args: [id], actor });
  }

  async enrollFromEvent(eventId: string, name: string, actor: Actor) {
    this.calls.push({ op: 'enrollFromEvent', args: [eventId, name], actor });
    return { person: name, templates: 1 };
  }

  async renamePerson(from: string, to: string, actor: Actor): Promise<void> {
    this.calls.push({ op: 'renamePerson', args: [from, to], actor });
    const p = this.requirePerson(from);
    this.people.delete(from);
    this.people.set(to, { ...p, name: validatePersonName(to) });
  }

  async setGroups(name: string, groups: string[], actor: Actor): Promise<void> {
    this.calls.push({ op: 'setGroups', args: [name, groups], actor });
    this.people.set(name, { ...this.requirePerson(name), groups });
  }

  async deletePerson(name: string, actor: Actor) {
    this.calls.push({ op: 'deletePerson', args: [name], actor });
    const p = this.requirePerson(name);
    this.people.delete(name);
    this.bus.emit('gallery.changed', { people: this.people.size, templates: 0, reason: 'deleted' });
    return { person: name, templates: p.templates, negatives: p.negatives, eventEmbeddings: 0, snapshots: 0, verified: true };
  }

  async markWrong(eventId: string, note: string | undefined, actor: Actor) {
    this.calls.push({ op: 'markWrong', args: [eventId, note], actor });
    const event = this.eventLog.find((e) => e.id === eventId);
    if (!event?.person) throw new Error(`no event ${eventId} with a person`);
    return { person: event.person, negativeId: 1 };
  }

  async reloadConfig(actor: Actor) {
    this.calls.push({ op: 'reloadConfig', args: [], actor });
    return { applied: [], restartRequired: [] };
  }

  events(query: EventQuery): EventView[] {
    this.calls.push({ op: 'events', args: [query] });
    return this.eventLog
      .filter((e) => (!query.person || e.person === query.person) && (!query.door || e.door === query.door) && (!query.kind || e.kind === query.kind) && (!query.reason || e.reason === query.reason))
      .filter((e) => query.beforeSeq === undefined || e.seq < query.beforeSeq)
      .reverse()
      .slice(0, query.limit ?? 50);
  }

  eventSnapshot(eventId: string): Buffer | undefined {
    return this.eventLog.find((e) => e.id === eventId)?.hasSnapshot ? this.snapshotJpeg : undefined;
  }

  /** What the recognition loop and door would publish for one decided visitor. */
  decide(door: string, person: string | null, frameSeq = 0): RecognitionEvent {
    const granted = person !== null && this.people.has(person);
    const eventId = `decision-${this.nextId++}`;
    const event: RecognitionEvent = {
      eventId,
      time: this.iso(),
      door,
      decision: granted ? 'granted' : 'denied',
      reason: granted ? 'granted' : 'denied-unknown',
      relay: granted ? 'pulse' : 'none',
      trackId: 1,
      person: granted ? { id: this.people.get(person)!.id, name: person } : null,
      score: granted ? 0.81 : 0.2,
      margin: 0.3,
      votes: 3,
      share: 1,
      quality: { faceSize: 120, sharpness: 90, frontalness: 0.9, detectorScore: 0.99 },
      latencyMs: 300,
      modelId: 'mobilefacenet-fp32',
      frameSeq,
      box: [10, 10, 100, 100],
      embedding: new Float32Array(192),
    };
    this.bus.emit('decision', event);
    this.record({ id: eventId, kind: 'recognition', door, reason: event.reason, person: granted ? person : null, score: event.score, payload: {}, hasSnapshot: true });
    if (granted) this.pulse(door, 'granted');
    return event;
  }

  private pulse(door: string, cause: string): boolean {
    if (!this.doorStates.has(door)) throw new Error(`unknown door ${door}`);
    if (this.doorStates.get(door) === 'unlocked') return false;
    this.doorStates.set(door, 'unlocked');
    this.bus.emit('door.state', { door, state: 'unlocked', cause, atMs: this.clock.now() });
    this.clock.setTimeout(() => {
      this.doorStates.set(door, 'locked');
      this.bus.emit('door.state', { door, state: 'locked', cause: 'timeout', atMs: this.clock.now(), heldMs: this.pulseMs });
    }, this.pulseMs);
    return true;
  }

  private record(e: Omit<EventView, 'seq' | 'time' | 'hasSnapshot'> & { hasSnapshot?: boolean }): void {
    this.eventLog.push({ seq: ++this.seq, time: this.iso(), hasSnapshot: false, ...e });
  }

  private requirePerson(name: string): PersonView {
    const p = this.people.get(name);
    if (!p) throw new Error(`no person named "${name}" in the gallery`);
    return p;
  }

  private iso(): string {
    return new Date(this.clock.now()).toISOString();
  }
}


/** A web users file with cheap scrypt hashes (tests log in often; the cost is stored per hash). */
export async function writeWebUsers(path: string, users: { name: string; password: string; role: 'admin' | 'viewer' }[]): Promise<void> {
  const at = new Date(Date.UTC(2026, 0, 1)).toISOString();
  const records = await Promise.all(users.map(async (u) => ({ name: u.name, role: u.role, passwordHash: await hashPassword(u.password, { N: 1024, r: 8, p: 1 }), createdAt: at, passwordChangedAt: at })));
  writeFileSync(path, JSON.stringify({ version: 1, users: records }), { mode: 0o600 });
}

// The admin operations of a running controller, for every front end (MQTT, web console, Home
// Assistant). The rules live here once: names validated, a capture bound to the request that
// started it, deletions read back, every change audited as an `admin.action` event (unlocks as
// `unlock` events) with the actor it was done for. Each method throws an Error whose message is
// meant for the person who asked.
import { randomUUID } from 'node:crypto';
import type { AdminApi, DoorView, EnrollResult, EventQuery, EventView, PersonView, StatusView } from './admin-api.js';
import type { Actor, EventBus } from '../core/event-bus.js';
import type { EventLog } from '../events/event-log.js';
import type { GalleryService } from '../daemon/gallery-service.js';
import type { DoorControl } from '../daemon/door-control.js';
import type { ButtonEnrollment, EnrollmentOutcome } from '../recognition/button-enrollment.js';
import type { FaceAnalyzer } from '../vision/face-analyzer.js';
import type { ModelTag } from '../gallery/gallery-store.js';
import { commitEnrollment, prepareCandidatesFrom, type EnrollmentSettings } from '../gallery/enrollment.js';
import { validatePersonName } from '../gallery/names.js';
import { decodeImage } from '../vision/image.js';
import type { Logger } from '../daemon/logger.js';
import type { Clock } from '../util/clock.js';

/** What the service acts on: the daemon's running components, looked up when a call comes. */
export interface AdminTargets {
  gallery: GalleryService;
  events: () => EventLog;
  doors: DoorControl;
  enrollment: () => ButtonEnrollment | undefined;
  analyzer: () => FaceAnalyzer;
  model: () => ModelTag;
  enrollmentSettings: () => EnrollmentSettings;
  hasButton: boolean;
  status: () => StatusView;
  reloadConfig: () => Promise<{ applied: string[]; restartRequired: string[] }>;
  bus: EventBus;
  log: Logger;
  clock: Clock;
}

/** Most photos one upload may enroll, and the largest photo accepted. */
export const MAX_UPLOAD_IMAGES = 20;
export const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;

export class AdminService implements AdminApi {
  constructor(private readonly t: AdminTargets) {}

  status(): StatusView {
    return this.t.status();
  }

  doors(): DoorView[] {
    return this.t.doors.names.map((name) => ({ name, state: this.t.doors.energised(name) ? 'unlocked' : 'locked' }));
  }

  unlock(door: string, actor: Actor, transaction?: string | number): { eventId: string; pulsed: boolean } {
    if (!this.t.doors.has(door)) throw new Error(`no door "${door}" on this device (doors: ${this.t.doors.names.join(', ') || 'none'})`);
    const eventId = randomUUID();
    // The unlock event is recorded (the recorder listens first) before the relay moves.
    this.t.bus.emit('unlock', { eventId, time: this.isoNow(), door, relay: this.t.doors.energised(door) ? 'busy' : 'pulse', actor, ...(transaction !== undefined ? { transaction } : {}) });
    const pulsed = this.t.doors.pulse(door, `granted-remote by ${actor.name} (${actor.via})`);
    return { eventId, pulsed };
  }

  armEnrollment(name: string, ttlMs: number, capture: 'button' | 'now' | undefined, actor: Actor): { name: string; expiresAt: string; capture: 'button' | 'now' } {
    const valid = validatePersonName(name);
    const enrollment = this.t.enrollment();
    if (!enrollment) throw new Error('enrollment is not available on this device');
    const running = enrollment.capturingFor;
    if (running !== undefined) throw new Error(`a capture ${running ? `for ${running}` : 'for a pending person'} is running: wait until it ends (at most enrollment.timeoutMs), then arm ${valid} again`);
    const mode = capture ?? (this.t.hasButton ? 'button' : 'now');
    if (mode === 'button' && !this.t.hasButton) throw new Error('this device has no enrollment button (gpio.button): use capture "now"');
    const expiresAt = new Date(this.t.clock.now() + ttlMs).toISOString();
    if (mode === 'button') this.t.gallery.store.device.armEnrollment(valid, ttlMs);
    this.audit('enrollment.arm', actor, { name: valid, capture: mode, expires_at: expiresAt });
    this.t.log.info(`enrollment: armed for ${valid} until ${expiresAt} (${mode === 'now' ? 'capturing now' : 'next button press'})`);
    if (mode === 'now') void this.capture(actor.via, valid);
    return { name: valid, expiresAt, capture: mode };
  }

  /** A burst for `name` (remote arm with capture now) or for whatever the button press finds armed. */
  async capture(trigger: string, name?: string | null): Promise<EnrollmentOutcome | undefined> {
    const enrollment = this.t.enrollment();
    if (!enrollment) return undefined;
    this.t.log.info(`enrollment: capturing (${trigger})${name ? ` for ${name}` : ''}`);
    let outcome: EnrollmentOutcome;
    try {
      outcome = await enrollment.trigger(trigger, name);
    } catch (err) {
      this.t.gallery.noteFailure(err as Error);
      this.t.log.error(`enrollment: the capture failed: ${(err as Error).message}`);
      return undefined;
    }
    if (outcome.kind === 'cancelled') {
      this.t.log.info('enrollment: capture cancelled (the daemon is stopping); nothing was written');
      return outcome;
    }
    const detail =
      outcome.kind === 'enrolled'
        ? ` ${outcome.name} with ${outcome.templates} templates`
        : outcome.kind === 'pending'
          ? ` as pending ${outcome.pendingId} (${outcome.templates} templates): name it with facegate gallery pending name ${outcome.pendingId} NAME`
          : outcome.kind === 'busy'
            ? `: a capture ${outcome.capturingFor ? `for ${outcome.capturingFor}` : ''} is already running`
            : '';
    this.t.log.info({ enrollment: outcome }, `enrollment: ${outcome.kind}${detail}`);
    this.t.bus.emit('enrollment', { eventId: randomUUID(), time: this.isoNow(), outcome });
    if (outcome.kind === 'enrolled') await this.changed('enrolled', outcome.name);
    return outcome;
  }

  listPeople(): { people: PersonView[]; pending: { id: number; createdAt: string; source: string; templates: number }[] } {
    const store = this.t.gallery.store;
    return {
      people: store.listPeople().map((p) => ({ id: p.id, uuid: uuidOf(p), name: p.name, groups: p.groups, templates: p.templates, negatives: p.negatives, models: p.models, createdAt: p.createdAt, updatedAt: p.updatedAt })),
      pending: store.device.listPending().map((p) => ({ id: p.id, createdAt: p.createdAt, source: p.source, templates: p.templates })),
    };
  }

  personPhotos(name: string): { templateId: number; png: Buffer }[] {
    const store = this.t.gallery.store;
    return store.templatesOf(store.requirePerson(name)).flatMap((t) => (t.crop ? [{ templateId: t.id, png: t.crop }] : []));
  }

  async enrollFromImages(name: string, images: { source: string; data: Buffer }[], actor: Actor): Promise<EnrollResult> {
    const valid = validatePersonName(name);
    if (images.length === 0) throw new Error('no photos given: upload one or more photos of the person, one face each');
    if (images.length > MAX_UPLOAD_IMAGES) throw new Error(`${images.length} photos: at most ${MAX_UPLOAD_IMAGES} at once`);
    const tooLarge = images.find((i) => i.data.length > MAX_UPLOAD_BYTES);
    if (tooLarge) throw new Error(`${tooLarge.source} is ${(tooLarge.data.length / 1e6).toFixed(1)} MB: the limit is ${MAX_UPLOAD_BYTES / 1e6} MB per photo`);
    const { accepted, rejected } = await prepareCandidatesFrom(
      this.t.analyzer(),
      images.map((i) => ({ source: i.source, image: () => decodeImage(i.data, i.source) })),
      this.t.enrollmentSettings(),
    );
    const added = commitEnrollment(this.t.gallery.store, valid, this.t.model(), accepted, 'remote');
    const result = { person: valid, added, rejected: rejected.map((r) => ({ source: r.source, reason: r.reason })) };
    this.audit('person.enroll', actor, { name: valid, added, rejected: rejected.length });
    if (added > 0) await this.changed('enrolled', valid);
    return result;
  }

  async namePending(id: number, name: string, actor: Actor): Promise<{ person: string; templates: number }> {
    const named = this.t.gallery.store.device.namePending(id, name);
    this.audit('pending.name', actor, { pending: id, name: named.person, templates: named.templates });
    await this.changed('enrolled', named.person);
    return named;
  }

  discardPending(id: number, actor: Actor): void {
    this.t.gallery.store.device.discardPending(id);
    this.audit('pending.discard', actor, { pending: id });
  }

  async enrollFromEvent(eventId: string, name: string, actor: Actor): Promise<{ person: string; templates: number }> {
    const valid = validatePersonName(name);
    const face = this.t.events().faceOf(eventId);
    if (!face || face.kind !== 'recognition') throw new Error(`no recognition event ${eventId} (the event log keeps events for events.keepDays)`);
    if (face.personName !== null) throw new Error(`event ${eventId} was decided as ${face.personName}: only unknown visitors can be enrolled from an event`);
    if (!face.embedding || !face.model) throw new Error(`event ${eventId}: its face was not kept (events.unknownFaces is off, or it has expired)`);
    const model = this.t.model();
    if (face.model.sha256 !== model.sha256) throw new Error(`event ${eventId} was embedded by model ${face.model.id}, this device now runs ${model.id}: enroll from photos instead`);
    const templates = commitEnrollment(this.t.gallery.store, valid, model, [{ source: `event:${eventId}`, embedding: face.embedding, quality: { faceSize: 0, sharpness: 0, frontalness: 0, detectorScore: 0 } as never }], 'remote');
    this.t.events().forgetFace(eventId);
    this.audit('person.enroll', actor, { name: valid, from_event: eventId, added: templates });
    await this.changed('enrolled', valid);
    return { person: valid, templates };
  }

  async renamePerson(from: string, to: string, actor: Actor): Promise<void> {
    this.t.gallery.store.renamePerson(from, to);
    this.audit('person.rename', actor, { from, to });
    await this.changed('renamed', to);
  }

  async setGroups(name: string, groups: string[], actor: Actor): Promise<void> {
    const clean = [...new Set(groups.map((g) => g.trim()).filter((g) => g.length > 0))];
    const bad = clean.find((g) => !/^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$/.test(g));
    if (bad) throw new Error(`group "${bad.slice(0, 40)}": letters, digits, space, . _ - (at most 64 characters)`);
    this.t.gallery.store.setGroups(name, clean);
    this.audit('person.groups', actor, { name, groups: clean });
    await this.changed('groups', name);
  }

  async deletePerson(name: string, actor: Actor): Promise<{ person: string; templates: number; negatives: number; eventEmbeddings: number; snapshots: number; verified: boolean }> {
    const store = this.t.gallery.store;
    const person = store.requirePerson(name);
    const uuid = uuidOf(person);
    const removed = store.removePerson(person.name);
    const forgotten = this.t.events().forgetPerson(person.id);
    await this.t.gallery.reload('deleted', uuid ? [uuid] : undefined);
    // Read back: nothing of them left in the gallery, the event log or the search index. A read
    // that fails (a damaged file) is not "verified".
    let verified: boolean;
    try {
      verified =
        store.findPerson(person.name) === undefined &&
        store.templatesOf(person).length === 0 &&
        store.negativesOf(person).length === 0 &&
        this.t.events().faceDataOf(person.id) === 0 &&
        !store.matrixFor(this.t.model()).names.has(person.id) &&
        this.t.gallery.checkIntegrity() === null;
    } catch (err) {
      this.t.gallery.noteFailure(err as Error);
      verified = false;
    }
    this.audit('person.delete', actor, { name: person.name, templates: removed.templates, negatives: removed.negatives, event_embeddings: forgotten.embeddings, snapshots: forgotten.snapshots, verified });
    this.t.log.info(`gallery: deleted ${person.name} (${removed.templates} templates, ${removed.negatives} negatives, ${forgotten.embeddings} event embeddings, ${forgotten.snapshots} snapshots)${verified ? '' : ' BUT THE READ-BACK FAILED'}`);
    return { person: person.name, ...removed, eventEmbeddings: forgotten.embeddings, snapshots: forgotten.snapshots, verified };
  }

  async markWrong(eventId: string, note: string | undefined, actor: Actor): Promise<{ person: string; negativeId: number }> {
    const face = this.t.events().faceOf(eventId);
    if (!face || face.personName === null || face.personId === null || !face.model) throw new Error(`no recognition event ${eventId} that named a person (the event log keeps events for events.keepDays)`);
    if (face.markedWrongAt) throw new Error(`event ${eventId} was already marked wrong at ${face.markedWrongAt}`);
    if (!face.embedding) throw new Error(`event ${eventId}: its face embedding is gone (${face.personName} was deleted)`);
    const store = this.t.gallery.store;
    const person = store.findPerson(face.personName);
    if (!person || person.id !== face.personId) throw new Error(`event ${eventId} named ${face.personName}, who has since been deleted or renamed`);
    const negativeId = store.addNegative(person, face.model, face.embedding, note ?? `marked wrong by ${actor.name} via ${actor.via} (event ${eventId})`);
    this.t.events().markWrong(eventId, this.isoNow());
    this.audit('event.mark_wrong', actor, { event_id: eventId, person: person.name, negative_id: negativeId });
    await this.changed('negative', person.name);
    this.t.log.info(`gallery: negative template ${negativeId} for ${person.name} from event ${eventId} (marked wrong)`);
    return { person: person.name, negativeId };
  }

  async reloadConfig(actor: Actor): Promise<{ applied: string[]; restartRequired: string[] }> {
    const result = await this.t.reloadConfig();
    this.audit('config.reload', actor, { applied: result.applied, restart_required: result.restartRequired });
    return result;
  }

  events(query: EventQuery): EventView[] {
    const ms = (iso: string | undefined, what: string) => {
      if (iso === undefined) return undefined;
      const v = Date.parse(iso);
      if (Number.isNaN(v)) throw new Error(`${what}: "${iso.slice(0, 40)}" is not an ISO 8601 time`);
      return v;
    };
    return this.t
      .events()
      .query({
        ...(query.door !== undefined ? { door: query.door } : {}),
        ...(query.reason !== undefined ? { reason: query.reason } : {}),
        ...(query.person !== undefined ? { person: query.person } : {}),
        ...(query.kind !== undefined ? { kind: query.kind } : {}),
        ...(query.beforeSeq !== undefined ? { beforeSeq: query.beforeSeq } : {}),
        ...(query.limit !== undefined ? { limit: query.limit } : {}),
        sinceMs: ms(query.sinceIso, 'since'),
        untilMs: ms(query.untilIso, 'until'),
      })
      .map((e) => ({ seq: e.seq, id: e.id, kind: e.kind, time: e.time, door: e.door, reason: e.reason, person: e.personName, score: e.score, hasSnapshot: e.hasSnapshot, payload: e.payload }));
  }

  eventSnapshot(eventId: string): Buffer | undefined {
    return this.t.events().snapshot(eventId);
  }

  private audit(action: string, actor: Actor, details: Record<string, unknown>): void {
    this.t.bus.emit('admin.action', { eventId: randomUUID(), time: this.isoNow(), action, actor, details });
  }

  /** The gallery changed here: the search snapshot is rebuilt at once, and sync learns whose record changed. */
  private async changed(reason: string, name: string): Promise<void> {
    const person = this.t.gallery.store.findPerson(name);
    const uuid = person ? uuidOf(person) : '';
    await this.t.gallery.reload(reason, uuid ? [uuid] : undefined);
  }

  private isoNow(): string {
    return new Date(this.t.clock.now()).toISOString();
  }
}

/** People have stable UUIDs from gallery schema 3 on; before that the local id stands in. */
function uuidOf(p: { id: number } & { uuid?: string }): string {
  return p.uuid ?? '';
}

// What every front end (MQTT commands, the web console, Home Assistant, the CLI talking to a
// running daemon) may do to a running controller. One implementation (AdminService) holds the
// rules: validation, audit, read-back; front ends only translate their protocol into these calls.
// Every call that changes something takes the Actor it is done for and is audited as an
// `admin.action` event in the event log.
import type { Actor } from '../core/event-bus.js';

export interface PersonView {
  id: number;
  uuid: string;
  name: string;
  groups: string[];
  templates: number;
  negatives: number;
  models: string[];
  createdAt: string;
  updatedAt: string;
}

export interface PendingView {
  id: number;
  createdAt: string;
  source: string;
  templates: number;
}

export interface DoorView {
  name: string;
  state: 'locked' | 'unlocked';
  liveness?: string;
}

export interface StatusView {
  startedAt: string;
  ready: boolean;
  checks: Record<string, { ok: boolean; detail: string }>;
  camera: { state: string; source: string; fps: number; dropped: number };
  models: { embedder: string; embedderSha256: string; precision: string };
  gallery: { people: number; templates: number };
  doors: DoorView[];
  events: { recorded: number; outboxPending?: number };
}

export interface EnrollResult {
  person: string;
  added: number;
  /** Images (or captures) that gave no template, with the reason (no face, several faces, quality). */
  rejected: { source: string; reason: string }[];
}

export interface EventQuery {
  door?: string;
  reason?: string;
  person?: string;
  /** Event kind: recognition, unlock, enrollment, admin. */
  kind?: string;
  sinceIso?: string;
  untilIso?: string;
  /** Events with a seq below this (paging backwards). */
  beforeSeq?: number;
  limit?: number;
}

export interface EventView {
  seq: number;
  id: string;
  kind: string;
  time: string;
  door: string | null;
  reason: string | null;
  person: string | null;
  score: number | null;
  hasSnapshot: boolean;
  payload: Record<string, unknown>;
}

export interface AdminApi {
  status(): StatusView;
  doors(): DoorView[];
  unlock(door: string, actor: Actor, transaction?: string | number): { eventId: string; pulsed: boolean };
  /** Binds the next capture to `name`: `now` starts it at once; a second arm while a capture runs is refused. */
  armEnrollment(name: string, ttlMs: number, capture: 'button' | 'now' | undefined, actor: Actor): { name: string; expiresAt: string; capture: 'button' | 'now' };
  listPeople(): { people: PersonView[]; pending: PendingView[] };
  /** PNG crops of a person's templates (only those kept with gallery.keepCrops). */
  personPhotos(name: string): { templateId: number; png: Buffer }[];
  enrollFromImages(name: string, images: { source: string; data: Buffer }[], actor: Actor): Promise<EnrollResult>;
  namePending(id: number, name: string, actor: Actor): Promise<{ person: string; templates: number }>;
  discardPending(id: number, actor: Actor): void;
  /** Enrolls the face an unknown-visitor decision was made on (kept for events.keepDays). */
  enrollFromEvent(eventId: string, name: string, actor: Actor): Promise<{ person: string; templates: number }>;
  renamePerson(from: string, to: string, actor: Actor): Promise<void>;
  setGroups(name: string, groups: string[], actor: Actor): Promise<void>;
  deletePerson(name: string, actor: Actor): Promise<{ person: string; templates: number; negatives: number; eventEmbeddings: number; snapshots: number; verified: boolean }>;
  markWrong(eventId: string, note: string | undefined, actor: Actor): Promise<{ person: string; negativeId: number }>;
  reloadConfig(actor: Actor): Promise<{ applied: string[]; restartRequired: string[] }>;
  events(query: EventQuery): EventView[];
  /** JPEG of the face an event was decided on, when events.snapshots is on. */
  eventSnapshot(eventId: string): Buffer | undefined;
}

// The REST API's request and response shapes: fastify validates requests with them and
// @fastify/swagger turns the same schemas into /api/openapi.json.
import { z } from 'zod';
import { ROLES } from './user-store.js';

export const ErrorBody = z.object({ error: z.string().describe('what went wrong and what to do') }).meta({ id: 'Error' });

export const Me = z
  .object({
    user: z.string(),
    role: z.enum(ROLES),
    csrfToken: z.string().describe('send it in the x-csrf-token header of every POST, PATCH and DELETE'),
    expiresAt: z.string(),
  })
  .meta({ id: 'Session' });

export const LoginBody = z.object({ user: z.string().min(1).max(64), password: z.string().min(1).max(1024) });

const Door = z.object({ name: z.string(), state: z.enum(['locked', 'unlocked']), liveness: z.string().optional() }).meta({ id: 'Door' });

export const Status = z
  .object({
    startedAt: z.string(),
    ready: z.boolean(),
    checks: z.record(z.string(), z.object({ ok: z.boolean(), detail: z.string() })),
    camera: z.object({ state: z.string(), source: z.string(), fps: z.number(), dropped: z.number() }),
    models: z.object({ embedder: z.string(), embedderSha256: z.string(), precision: z.string() }),
    gallery: z.object({ people: z.number(), templates: z.number() }),
    doors: z.array(Door),
    events: z.object({ recorded: z.number(), outboxPending: z.number().optional() }),
    liveView: z.object({ viewers: z.number(), fpsCap: z.number() }),
  })
  .meta({ id: 'Status' });

export const Doors = z.array(Door);
export const DoorParams = z.object({ door: z.string().min(1).max(64) });
export const UnlockBody = z.object({ transaction: z.union([z.string().max(128), z.number()]).optional() }).optional();
export const UnlockResult = z.object({ eventId: z.string(), pulsed: z.boolean() });

export const ArmBody = z.object({
  name: z.string().min(1).max(64),
  ttlSeconds: z.number().int().min(5).max(3600).default(120),
  capture: z.enum(['button', 'now']).optional().describe("'button': the next button press; 'now': start capturing at once"),
});
export const ArmResult = z.object({ name: z.string(), expiresAt: z.string(), capture: z.enum(['button', 'now']) });

const Person = z
  .object({
    id: z.number(),
    uuid: z.string(),
    name: z.string(),
    groups: z.array(z.string()),
    templates: z.number(),
    negatives: z.number(),
    models: z.array(z.string()),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Person' });
const Pending = z.object({ id: z.number(), createdAt: z.string(), source: z.string(), templates: z.number() }).meta({ id: 'PendingCapture' });
export const People = z.object({ people: z.array(Person), pending: z.array(Pending) });

export const PersonParams = z.object({ name: z.string().min(1).max(64) });
export const PhotoParams = z.object({ name: z.string().min(1).max(64), templateId: z.coerce.number().int().min(0) });
export const PhotoList = z.array(z.object({ templateId: z.number(), url: z.string() }));
export const PersonPatch = z
  .object({
    name: z.string().min(1).max(64).optional().describe('new name (rename)'),
    groups: z.array(z.string().min(1).max(64)).max(64).optional().describe('replaces the groups'),
  })
  .refine((b) => b.name !== undefined || b.groups !== undefined, 'give name or groups (or both)');
export const EnrollResult = z
  .object({
    person: z.string(),
    added: z.number(),
    rejected: z.array(z.object({ source: z.string(), reason: z.string() })),
  })
  .meta({ id: 'EnrollResult' });
export const DeleteResult = z.object({
  person: z.string(),
  templates: z.number(),
  negatives: z.number(),
  eventEmbeddings: z.number(),
  snapshots: z.number(),
  verified: z.boolean().describe('read back after the delete: nothing of the person is left in the gallery and the event log'),
});
export const NameBody = z.object({ name: z.string().min(1).max(64) });
export const Enrolled = z.object({ person: z.string(), templates: z.number() });
export const PendingParams = z.object({ id: z.coerce.number().int().min(0) });

export const EventParams = z.object({ id: z.string().min(1).max(128) });
export const EventsQuery = z.object({
  door: z.string().max(64).optional(),
  reason: z.string().max(64).optional(),
  person: z.string().max(64).optional(),
  kind: z.enum(['recognition', 'unlock', 'enrollment', 'admin']).optional(),
  since: z.iso.datetime({ offset: true }).optional().describe('ISO time, inclusive'),
  until: z.iso.datetime({ offset: true }).optional().describe('ISO time, exclusive'),
  before: z.coerce.number().int().min(0).optional().describe('events with a seq below this (next page)'),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});
const EventItem = z
  .object({
    seq: z.number(),
    id: z.string(),
    kind: z.string(),
    time: z.string(),
    door: z.string().nullable(),
    reason: z.string().nullable(),
    person: z.string().nullable(),
    score: z.number().nullable(),
    hasSnapshot: z.boolean(),
    payload: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'Event' });
export const EventList = z.array(EventItem);
export const WrongBody = z.object({ note: z.string().max(200).optional() }).optional();
export const WrongResult = z.object({ person: z.string(), negativeId: z.number() });
export const ReloadResult = z.object({ applied: z.array(z.string()), restartRequired: z.array(z.string()) });

// The REST API over AdminApi: status, doors, people, decisions. Each handler only translates
// HTTP into one admin call with the logged-in user as the actor, so the admin service audits it.
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Actor } from '../core/event-bus.js';
import {
  ArmBody,
  ArmResult,
  DeleteResult,
  DoorParams,
  Doors,
  Enrolled,
  EnrollResult,
  ErrorBody,
  EventList,
  EventParams,
  EventsQuery,
  NameBody,
  PendingParams,
  People,
  PersonParams,
  PersonPatch,
  PhotoList,
  PhotoParams,
  ReloadResult,
  Status,
  UnlockBody,
  UnlockResult,
  WrongBody,
  WrongResult,
} from './api-schemas.js';
import { readPhotoUploads } from './uploads.js';
import { HttpError, type RouteContext, type WebApp } from './web-app.js';

const admin = { role: 'admin' as const };
// Buffers skip the serializer; the schema is there for the OpenAPI document.
const binary = (type: string) => ({ description: type, content: { [type]: { schema: z.any().meta({ type: 'string', format: 'binary' }) } } });

export function actorOf(req: FastifyRequest): Actor {
  return { via: 'web', name: req.session!.user };
}

export function registerApiRoutes(app: WebApp, ctx: RouteContext): void {
  const { admin: api } = ctx;

  app.get('/api/status', { schema: { tags: ['status'], summary: 'health, camera, models, gallery, doors and event counts', response: { 200: Status } } }, () => ({
    ...api.status(),
    liveView: { viewers: ctx.liveView.viewerCount, fpsCap: ctx.settings.liveView.fps },
  }));

  app.get('/api/doors', { schema: { tags: ['doors'], summary: 'doors and their lock state', response: { 200: Doors } } }, () => api.doors());

  app.post(
    '/api/doors/:door/unlock',
    { config: admin, schema: { tags: ['doors'], summary: 'pulse the door relay (admin; audited with the user name)', params: DoorParams, body: UnlockBody, response: { 200: UnlockResult, 403: ErrorBody, 404: ErrorBody } } },
    (req) => {
      if (!api.doors().some((d) => d.name === req.params.door)) throw new HttpError(404, `no door named "${req.params.door}"`);
      return api.unlock(req.params.door, actorOf(req), req.body?.transaction);
    },
  );

  app.post(
    '/api/enrollment/arm',
    { config: admin, schema: { tags: ['people'], summary: 'bind the next capture (button press, or now) to a name (admin)', body: ArmBody, response: { 200: ArmResult, 409: ErrorBody } } },
    (req) => api.armEnrollment(req.body.name, req.body.ttlSeconds * 1000, req.body.capture, actorOf(req)),
  );

  app.get('/api/people', { schema: { tags: ['people'], summary: 'enrolled people and pending captures', response: { 200: People } } }, () => api.listPeople());

  app.get('/api/people/:name/photos', { schema: { tags: ['people'], summary: 'the kept crops of a person (only with gallery.keepCrops)', params: PersonParams, response: { 200: PhotoList } } }, (req) =>
    api.personPhotos(req.params.name).map((p) => ({ templateId: p.templateId, url: `/api/people/${encodeURIComponent(req.params.name)}/photos/${p.templateId}` })),
  );

  app.get('/api/people/:name/photos/:templateId', { schema: { tags: ['people'], summary: 'one template crop (PNG)', params: PhotoParams, response: { 200: binary('image/png'), 404: ErrorBody } } }, (req, reply) => {
    const photo = api.personPhotos(req.params.name).find((p) => p.templateId === req.params.templateId);
    if (!photo) throw new HttpError(404, `no kept photo ${req.params.templateId} of ${req.params.name}`);
    return reply.type('image/png').header('Cache-Control', 'private, max-age=3600').send(photo.png);
  });

  app.post(
    '/api/people/:name/photos',
    {
      config: admin,
      schema: {
        tags: ['people'],
        summary: 'enroll (or add photos to) a person from uploaded JPEG/PNG photos, multipart field "photos" (admin)',
        consumes: ['multipart/form-data'],
        params: PersonParams,
        response: { 200: EnrollResult, 400: ErrorBody, 413: ErrorBody, 415: ErrorBody, 422: EnrollResult.extend({ error: z.string() }) },
      },
    },
    async (req, reply) => {
      const images = await readPhotoUploads(req, ctx.settings.uploads);
      const result = await api.enrollFromImages(req.params.name, images, actorOf(req));
      if (result.added === 0) {
        const why = result.rejected.map((r) => `${r.source}: ${r.reason}`).join('; ');
        return reply.code(422).send({ ...result, error: `no template added for ${result.person}${why ? ` (${why})` : ''}` });
      }
      return result;
    },
  );

  app.patch(
    '/api/people/:name',
    { config: admin, schema: { tags: ['people'], summary: 'rename and/or set groups (admin)', params: PersonParams, body: PersonPatch, response: { 200: z.object({ name: z.string(), groups: z.array(z.string()).optional() }) } } },
    async (req) => {
      let name = req.params.name;
      if (req.body.name !== undefined && req.body.name !== name) {
        await api.renamePerson(name, req.body.name, actorOf(req));
        name = req.body.name;
      }
      if (req.body.groups !== undefined) await api.setGroups(name, req.body.groups, actorOf(req));
      return { name, ...(req.body.groups !== undefined ? { groups: req.body.groups } : {}) };
    },
  );

  app.delete(
    '/api/people/:name',
    { config: admin, schema: { tags: ['people'], summary: 'delete a person with templates, negatives, event embeddings and snapshots, verified by read-back (admin)', params: PersonParams, response: { 200: DeleteResult, 404: ErrorBody } } },
    (req) => api.deletePerson(req.params.name, actorOf(req)),
  );

  app.post(
    '/api/pending/:id/name',
    { config: admin, schema: { tags: ['people'], summary: 'enroll a pending button capture under a name (admin)', params: PendingParams, body: NameBody, response: { 200: Enrolled } } },
    (req) => api.namePending(req.params.id, req.body.name, actorOf(req)),
  );

  app.delete('/api/pending/:id', { config: admin, schema: { tags: ['people'], summary: 'discard a pending capture (admin)', params: PendingParams, response: { 204: z.undefined() } } }, (req, reply) => {
    api.discardPending(req.params.id, actorOf(req));
    return reply.code(204).send();
  });

  app.get('/api/events', { schema: { tags: ['decisions'], summary: 'event history, newest first', querystring: EventsQuery, response: { 200: EventList } } }, (req) => {
    const q = req.query;
    return api.events({
      ...(q.door ? { door: q.door } : {}),
      ...(q.reason ? { reason: q.reason } : {}),
      ...(q.person ? { person: q.person } : {}),
      ...(q.kind ? { kind: q.kind } : {}),
      ...(q.since ? { sinceIso: q.since } : {}),
      ...(q.until ? { untilIso: q.until } : {}),
      ...(q.before !== undefined ? { beforeSeq: q.before } : {}),
      limit: q.limit,
    });
  });

  app.get('/api/events/:id/snapshot', { schema: { tags: ['decisions'], summary: 'the face a decision was made on (JPEG; with events.snapshots on)', params: EventParams, response: { 200: binary('image/jpeg'), 404: ErrorBody } } }, (req, reply) => {
    const jpeg = api.eventSnapshot(req.params.id);
    if (!jpeg) throw new HttpError(404, `no snapshot for event ${req.params.id} (events.snapshots is off, or it was deleted)`);
    return reply.type('image/jpeg').header('Cache-Control', 'private, max-age=3600').send(jpeg);
  });

  app.post(
    '/api/events/:id/enroll',
    { config: admin, schema: { tags: ['people'], summary: 'enroll the unknown visitor of a recent decision (admin)', params: EventParams, body: NameBody, response: { 200: Enrolled } } },
    (req) => api.enrollFromEvent(req.params.id, req.body.name, actorOf(req)),
  );

  app.post(
    '/api/events/:id/wrong',
    { config: admin, schema: { tags: ['decisions'], summary: '"that was not them": adds a negative template for the person of a decision (admin)', params: EventParams, body: WrongBody, response: { 200: WrongResult } } },
    (req) => api.markWrong(req.params.id, req.body?.note, actorOf(req)),
  );

  app.post('/api/config/reload', { config: admin, schema: { tags: ['status'], summary: 'reload the config file (admin)', response: { 200: ReloadResult } } }, (req) => api.reloadConfig(actorOf(req)));
}

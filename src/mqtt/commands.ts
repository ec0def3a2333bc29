// Requests on `<base>/<device>/request/<command>`: size, nesting depth, JSON, command, signature,
// freshness, parameters and replay are checked here, in that order, before anything runs. Pure apart from
// the nonce registry; a request that fails any check changes nothing.
import type { z } from 'zod';
import type { AdminApi } from '../app/admin-api.js';
import type { Actor } from '../core/event-bus.js';
import { COMMANDS, REQUEST_SCHEMAS, type CommandName, type RequestParams, type ResponseMessage, CONTRACT_VERSION } from './contract.js';
import { signatureValid } from './signing.js';

/** Larger requests are refused unread: no command needs more than a few hundred bytes. */
export const MAX_REQUEST_BYTES = 16 * 1024;

/**
 * Deeper requests are refused before they are parsed: every command is a flat object (depth 1),
 * and a deeply nested one would otherwise reach recursive code (canonical JSON, zod) first.
 */
export const MAX_REQUEST_DEPTH = 8;

export type ErrorCode = 'too_large' | 'too_deep' | 'bad_json' | 'not_an_object' | 'unknown_command' | 'bad_request' | 'unsigned' | 'bad_signature' | 'stale' | 'replayed' | 'retained' | 'failed';

export interface CommandPolicy {
  device: string;
  /** Shared HMAC key; null when none is configured (then only unsigned commands can work). */
  key: Buffer | null;
  /** Accept unsigned requests for commands that cannot open a door. */
  allowUnsigned: boolean;
  /** How far a signed request's ts may be from now, either way. */
  maxSkewMs: number;
}

/** Nonces of accepted signed requests, kept until their timestamp can no longer pass. */
export interface NonceRegistry {
  /** False when the nonce was seen before (a replay). */
  claim(nonce: string, expiresAtMs: number): boolean;
}

export type CommandRequest = { [C in CommandName]: { command: C; params: RequestParams<C> } }[CommandName];
export type Transaction = string | number;

export type ParsedRequest =
  | { ok: true; request: CommandRequest; transaction: Transaction | undefined; signed: boolean }
  | { ok: false; transaction: Transaction | undefined; code: ErrorCode; message: string };

function isCommand(name: string): name is CommandName {
  return Object.hasOwn(COMMANDS, name);
}

/** The transaction id, when it is one a response may echo (a short string or an integer). */
function readableTransaction(value: unknown): Transaction | undefined {
  if (typeof value === 'string' && value.length > 0 && value.length <= 64) return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  return undefined;
}

function zodMessage(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => (i.code === 'unrecognized_keys' ? `unknown key "${i.keys[0]}"` : `${i.path.join('.') || 'request'}: ${i.message}`))
    .join('; ');
}

/**
 * How deeply the arrays and objects of a JSON text nest, counted without parsing or recursion
 * (brackets inside strings do not count); stops counting once past `limit`.
 */
export function jsonNestingDepth(text: string, limit: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > deepest) deepest = depth;
      if (deepest > limit) return deepest;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

type RequestBody = { ok: true; body: Record<string, unknown> } | { ok: false; code: ErrorCode; message: string };

/** The checks that need no command or key: size, depth, JSON, an object. */
export function readRequestBody(payload: Buffer): RequestBody {
  if (payload.length > MAX_REQUEST_BYTES) return { ok: false, code: 'too_large', message: `request of ${payload.length} bytes: the limit is ${MAX_REQUEST_BYTES}` };
  const text = payload.toString('utf8');
  const depth = jsonNestingDepth(text, MAX_REQUEST_DEPTH);
  if (depth > MAX_REQUEST_DEPTH) return { ok: false, code: 'too_deep', message: `the request nests arrays or objects more than ${MAX_REQUEST_DEPTH} levels deep: requests are flat JSON objects` };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, code: 'bad_json', message: 'the request is not JSON' };
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return { ok: false, code: 'not_an_object', message: 'the request must be a JSON object' };
  return { ok: true, body: raw as Record<string, unknown> };
}

/** The transaction of a request that will not run (retained), when it can be read safely. */
export function transactionOf(payload: Buffer): Transaction | undefined {
  const read = readRequestBody(payload);
  return read.ok ? readableTransaction(read.body.transaction) : undefined;
}

export function parseRequest(command: string, payload: Buffer, policy: CommandPolicy, nonces: NonceRegistry, nowMs: number): ParsedRequest {
  const fail = (code: ErrorCode, message: string, transaction?: Transaction): ParsedRequest => ({ ok: false, transaction, code, message });
  const read = readRequestBody(payload);
  if (!read.ok) return fail(read.code, read.message);
  const body = read.body;
  const transaction = readableTransaction(body.transaction);
  if (!isCommand(command)) return fail('unknown_command', `unknown command "${command.slice(0, 64)}": one of ${Object.keys(COMMANDS).join(', ')}`, transaction);

  const spec = COMMANDS[command];
  const sig = body.sig;
  if (sig === undefined) {
    if (spec.opensDoor) return fail('unsigned', `${command} can open a door: it needs a signed request (facegate mqtt sign)`, transaction);
    if (!policy.allowUnsigned) return fail('unsigned', 'requests must be signed (mqtt.commands.allowUnsigned is off)', transaction);
  } else {
    // A signature that is present must be right: a bad one is never treated as "unsigned".
    if (!policy.key) return fail('bad_signature', 'this device has no HMAC key configured (mqtt.commands.hmacKeyFile)', transaction);
    if (typeof sig !== 'string' || !/^[0-9a-f]{64}$/.test(sig) || !signatureValid(policy.key, policy.device, command, body, sig)) return fail('bad_signature', 'the signature does not match', transaction);
    if (typeof body.ts !== 'number' || typeof body.nonce !== 'string') return fail('bad_request', 'a signed request needs ts and nonce', transaction);
    if (Math.abs(nowMs - body.ts) > policy.maxSkewMs) return fail('stale', `ts is ${Math.round((nowMs - body.ts) / 1000)} s from this device's clock: the limit is ${policy.maxSkewMs / 1000} s`, transaction);
  }

  const parsed = REQUEST_SCHEMAS[command].safeParse(body);
  if (!parsed.success) return fail('bad_request', zodMessage(parsed.error), transaction);
  const { transaction: _t, ts, nonce, sig: _s, ...params } = parsed.data;
  // Claimed last, so a request refused for another reason does not use up its nonce.
  if (sig !== undefined && !nonces.claim(nonce!, ts! + policy.maxSkewMs)) return fail('replayed', 'this request was already received (nonce reused)', transaction);
  return { ok: true, request: { command, params } as CommandRequest, transaction, signed: sig !== undefined };
}

export function okResponse(transaction: Transaction | undefined, data: Record<string, unknown>): ResponseMessage {
  return { version: CONTRACT_VERSION, ...(transaction !== undefined ? { transaction } : {}), status: 'ok', data };
}

export function errorResponse(transaction: Transaction | undefined, code: ErrorCode, message: string): ResponseMessage {
  return { version: CONTRACT_VERSION, ...(transaction !== undefined ? { transaction } : {}), status: 'error', data: {}, error: message, code };
}

/** The topic segment a response goes to: the request's own, unless it is not a plausible name. */
export function responseName(command: string): string {
  return /^[a-z0-9_]{1,32}$/.test(command) ? command : 'invalid';
}

const DEFAULT_ARM_TTL_SECONDS = 300;

/** One request, one AdminApi call; the result becomes the response's `data` (snake_case, contract version 1). */
export async function executeRequest(admin: AdminApi, request: CommandRequest, transaction: Transaction | undefined, actor: Actor): Promise<Record<string, unknown>> {
  switch (request.command) {
    case 'unlock': {
      const r = admin.unlock(request.params.door, actor, transaction);
      return { door: request.params.door, event_id: r.eventId, pulsed: r.pulsed };
    }
    case 'arm_enrollment': {
      const r = admin.armEnrollment(request.params.name, (request.params.ttl_seconds ?? DEFAULT_ARM_TTL_SECONDS) * 1000, request.params.capture, actor);
      return { name: r.name, expires_at: r.expiresAt, capture: r.capture };
    }
    case 'name_pending': {
      const r = await admin.namePending(request.params.id, request.params.name, actor);
      return { person: r.person, templates: r.templates };
    }
    case 'delete_person': {
      const r = await admin.deletePerson(request.params.name, actor);
      return { person: r.person, templates: r.templates, negatives: r.negatives, event_embeddings: r.eventEmbeddings, verified: r.verified };
    }
    case 'list_people': {
      const r = admin.listPeople();
      return {
        people: r.people.map((p) => ({ id: p.id, name: p.name, groups: p.groups, templates: p.templates, negatives: p.negatives, models: p.models })),
        pending: r.pending.map((p) => ({ id: p.id, created_at: p.createdAt, source: p.source, templates: p.templates })),
      };
    }
    case 'mark_wrong': {
      const r = await admin.markWrong(request.params.event_id, request.params.note, actor);
      return { event_id: request.params.event_id, person: r.person, negative_id: r.negativeId };
    }
    case 'reload_config': {
      const r = await admin.reloadConfig(actor);
      return { applied: r.applied, restart_required: r.restartRequired };
    }
  }
}

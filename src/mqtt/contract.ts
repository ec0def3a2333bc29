// The MQTT contract: topics and every payload, as zod schemas. The TypeScript types, the checks in
// the tests and docs/mqtt-events.schema.json (`facegate mqtt schema`) all come from here.
// Payloads carry `version`: fields may be added within a version; a removal or a change of meaning
// bumps it. Keys are snake_case, as in Frigate and Home Assistant templates.
import { z } from 'zod';
import { validatePersonName } from '../gallery/names.js';

export const CONTRACT_VERSION = 1;

/** Relative topics (after `<base>/<device>/`) that events are stored under in the outbox. */
export const EVENT_TOPICS = { recognition: 'event/recognition', unlock: 'event/unlock', enrollment: 'event/enrollment' } as const;

export interface Topics {
  /** `<base>/<device>/`: the prefix of every topic below. */
  prefix: string;
  status: string;
  state: string;
  lastPerson: string;
  door(name: string): string;
  request(command: string): string;
  response(command: string): string;
  /** Subscription filter for every request. */
  requests: string;
  /** Home Assistant's side (`<base>/<device>/ha/...`): plain commands and live-only messages, never queued. */
  ha: {
    lockCommand(door: string): string;
    /** Subscription filter for every door's lock command. */
    lockCommands: string;
    capturePending: string;
    recognition: string;
    lastFace: string;
    lastUnknown: string;
  };
}

export function topicsFor(base: string, device: string): Topics {
  const prefix = `${base}/${device}/`;
  return {
    prefix,
    status: `${prefix}status`,
    state: `${prefix}state`,
    lastPerson: `${prefix}person/last`,
    door: (name) => `${prefix}door/${name}/state`,
    request: (command) => `${prefix}request/${command}`,
    response: (command) => `${prefix}response/${command}`,
    requests: `${prefix}request/+`,
    ha: {
      lockCommand: (door) => `${prefix}ha/door/${door}/set`,
      lockCommands: `${prefix}ha/door/+/set`,
      capturePending: `${prefix}ha/capture_pending/set`,
      recognition: `${prefix}ha/recognition`,
      lastFace: `${prefix}ha/last_face`,
      lastUnknown: `${prefix}ha/last_unknown`,
    },
  };
}

const version = z.literal(CONTRACT_VERSION).describe('contract version');
const time = z.string().describe('ISO 8601 time, UTC');
const eventId = z.string().min(1).max(64).describe('event id (UUID): the same on every redelivery, so consumers de-duplicate on it');
const device = z.string().describe('device id, as in the topic');
const door = z.string().describe('door id, as in the config and the door topics');
const int = z.number().int();

export const StatusPayload = z.enum(['online', 'offline']).describe('`<base>/<device>/status`, retained, plain text (not JSON): `offline` is the Last Will, sent by the broker when the daemon dies');

export const DoorStatePayload = z.enum(['locked', 'unlocked']).describe('`<base>/<device>/door/<door>/state`, retained, plain text: `unlocked` while the relay is energised');

export const RecognitionPayload = z
  .looseObject({
    version,
    type: z.literal('recognition'),
    id: eventId,
    time,
    device,
    door,
    decision: z.enum(['granted', 'denied']).describe('what the door did for this face'),
    reason: z
      .string()
      .regex(/^(granted|denied-[a-z-]+)$/)
      .describe(
        'granted | denied-unknown (a face nobody enrolled) | denied-not-allowed | denied-quality (a person was seen but no usable face) | denied-stranger-present; reasons added later (e.g. a liveness check) start with denied-',
      ),
    relay: z.enum(['pulse', 'none', 'cooldown']).describe('pulse: the relay opened the door; cooldown: granted again within the cooldown, relay not pulsed'),
    track_id: int.describe('the face track (one person walking up) the decision is about'),
    person: z
      .object({ id: int, name: z.string(), uuid: z.string().optional().describe('stable across controllers and renames (fleet sync); the id is this controller\'s own') })
      .nullable()
      .describe('the identified person, or null (unknown face, no usable face)'),
    score: z.number().describe('mean cosine similarity of the agreeing frames to the best person'),
    margin: z.number().describe('mean lead of the best person over the second best'),
    votes: int.describe('agreeing frames'),
    share: z.number().describe('share of the track\'s usable frame weight that agreed (0..1)'),
    quality: z
      .object({ face_size: z.number(), sharpness: z.number(), frontalness: z.number(), detector_score: z.number() })
      .describe('quality signals of the last face of the track'),
    box: z.tuple([int, int, int, int]).describe('last face box in the frame: x, y, width, height (pixels)'),
    model_id: z.string().describe('embedder model id (templates of other models are never compared)'),
    latency_ms: int.describe('from the track\'s first sighting to the decision'),
    liveness: z
      .object({
        state: z.enum(['live', 'spoof', 'pending']),
        score: z.number().describe('fused passive score, p(live) 0..1'),
        temporal_proof: z.boolean().describe('the face moved in 3-D (not as one flat plane) on this track'),
        cues: z.record(z.string(), z.number()).describe('per-cue scores'),
      })
      .optional()
      .describe('doors with liveness passive or strict: the presentation-attack verdict (reason denied-spoof when it said spoof)'),
  })
  .describe('`<base>/<device>/event/recognition`, QoS 1: one per door decision about a face');

export const UnlockPayload = z
  .looseObject({
    version,
    type: z.literal('unlock'),
    id: eventId,
    time,
    device,
    door,
    decision: z.literal('granted'),
    reason: z.literal('granted-remote'),
    relay: z.enum(['pulse', 'busy']).describe('busy: the relay was already energised (a pulse is never extended)'),
    transaction: z.union([z.string(), int]).nullable().describe('the request\'s transaction id'),
  })
  .describe('`<base>/<device>/event/unlock`, QoS 1: a door opened by a signed `unlock` request');

export const EnrollmentPayload = z
  .looseObject({
    version,
    type: z.literal('enrollment'),
    id: eventId,
    time,
    device,
    outcome: z.enum(['enrolled', 'pending', 'timeout', 'busy']).describe('enrolled under the armed name; pending (name it with `name_pending`); timeout (no usable face); busy (a capture was running)'),
    trigger: z.string().describe('button or mqtt'),
    name: z.string().nullable().describe('the enrolled person (outcome enrolled)'),
    pending_id: int.nullable().describe('the pending capture to name (outcome pending)'),
    templates: int.describe('face templates kept'),
  })
  .describe('`<base>/<device>/event/enrollment`, QoS 1: the end of an enrollment capture');

export const LastPersonPayload = z
  .looseObject({
    version,
    name: z.string(),
    person_id: int,
    door,
    decision: z.enum(['granted', 'denied']),
    reason: z.string(),
    score: z.number(),
    event_id: eventId,
    time,
  })
  .describe('`<base>/<device>/person/last`, retained: the last face identified as an enrolled person (the Home Assistant sensor)');

export const StatePayload = z
  .looseObject({
    version,
    device,
    software: z.string().describe('facegate version'),
    time,
    started_at: time,
    models: z.object({ embedder: z.string(), embedder_sha256: z.string(), precision: z.string() }).describe('the models in use'),
    camera: z
      .object({ state: z.enum(['starting', 'streaming', 'reconnecting', 'ended', 'stopped']), source: z.string(), fps: z.number().describe('frames recognised per second'), dropped: int.describe('frames dropped since start') })
      .describe('camera state'),
    gallery: z.object({ people: int, templates: int }).describe('enrolled people and templates of the active model'),
    doors: z.array(z.object({ name: z.string(), state: DoorStatePayload })),
    outbox: z.object({ pending: int.describe('events not yet acknowledged by the broker'), dropped: int.describe('events dropped because the outbox was full, ever') }),
    fleet: z
      .object({
        connected: z.boolean(),
        synced: z.boolean().describe('every retained gallery record has arrived once since start'),
        controllers_up: int,
        converged: z.boolean().describe('every controller up reports the same gallery hash'),
        gallery_hash: z.string(),
        lag_ms: z.number().nullable().describe('behind the newest gallery version in the site'),
        conflicts: int.describe('concurrent edits resolved by last-writer-wins since start'),
        rejected: int.describe('forged, replayed or older records refused since start'),
      })
      .optional()
      .describe('with fleet sync: the same figures as `facegate fleet status`'),
  })
  .describe('`<base>/<device>/state`, retained: the daemon\'s state, sent on connect, on changes and every minute');

export const ResponsePayload = z
  .looseObject({
    version,
    transaction: z.union([z.string(), int]).optional().describe('echoed from the request when it was readable'),
    status: z.enum(['ok', 'error']),
    data: z.record(z.string(), z.unknown()).describe('the result (empty on error)'),
    error: z.string().optional().describe('what was wrong, for people'),
    code: z.string().optional().describe('what was wrong, for programs: too_large, too_deep, bad_json, not_an_object, unknown_command, bad_request, unsigned, bad_signature, stale, replayed, retained, failed'),
  })
  .describe('`<base>/<device>/response/<command>`, QoS 1: the answer to one request');

export const HaLockCommandPayload = z
  .strictObject({
    action: z.enum(['LOCK', 'UNLOCK', 'OPEN']).describe('UNLOCK and OPEN pulse the strike when the code matches; LOCK changes nothing and re-sends the door state'),
    code: z.string().max(128).nullable().describe("the code typed into Home Assistant's keypad (null when none was)"),
  })
  .describe(
    "`<base>/<device>/ha/door/<door>/set`, from Home Assistant's lock (its command_template): checked against mqtt.homeAssistant.lock.codeHash with a lockout after repeated wrong codes; never retained",
  );

export const HaRecognitionPayload = z
  .looseObject({
    event_type: z.string().describe('the decision reason: granted, denied-unknown, ... (the event entity\'s event_types)'),
    door,
    person: z.string().nullable(),
    score: z.number(),
    event_id: eventId,
    time,
  })
  .describe("`<base>/<device>/ha/recognition`, QoS 1, live only (not queued, so Home Assistant's automations never fire for old events after an outage): Home Assistant's recognition event entity");

export const LastUnknownPayload = z
  .looseObject({ version, door, event_id: eventId, time })
  .describe('`<base>/<device>/ha/last_unknown`, retained: the last face nobody enrolled (denied-unknown)');

// --- requests --------------------------------------------------------------------------------

const personName = z
  .string()
  .max(64)
  .superRefine((v, ctx) => {
    try {
      validatePersonName(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  })
  .describe('person name: letters, digits, spaces and . - _ \', at most 64 characters');

/** Every request carries these next to its own parameters (Zigbee2MQTT style: one flat object). */
export const RequestEnvelope = {
  transaction: z.union([z.string().min(1).max(64), int]).optional().describe('echoed in the response, to pair them'),
  ts: int.min(0).optional().describe('signed requests: milliseconds since the Unix epoch when it was signed'),
  nonce: z
    .string()
    .regex(/^[A-Za-z0-9_-]{8,64}$/)
    .optional()
    .describe('signed requests: a random string used once (8-64 of A-Z a-z 0-9 _ -)'),
  sig: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional()
    .describe('HMAC-SHA256 (hex) of "facegate/1\\n<device>\\n<command>\\n" + the request without sig as canonical JSON (keys sorted, no spaces)'),
};

/** Commands that can open a door (directly, or by putting a face in the gallery) always need a signature. */
export const COMMANDS = {
  unlock: { opensDoor: true, params: { door: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/).max(64).describe('door id') }, summary: 'pulse a door relay (event/unlock, reason granted-remote)' },
  arm_enrollment: {
    opensDoor: true,
    params: {
      name: personName,
      ttl_seconds: int.min(10).max(86_400).optional().describe('how long the arming holds (default 300)'),
      capture: z.enum(['button', 'now']).optional().describe('button: the next press enrolls; now: capture the next good faces at once (default: button when one is configured)'),
    },
    summary: 'the next enrollment capture enrolls this name',
  },
  name_pending: { opensDoor: true, params: { id: int.min(1).describe('pending capture id (event/enrollment, list_people)'), name: personName }, summary: 'turn a pending capture into a person' },
  delete_person: { opensDoor: false, params: { name: personName }, summary: 'delete a person with every template, negative and kept event embedding' },
  list_people: { opensDoor: false, params: {}, summary: 'people (templates, negatives, groups) and pending captures' },
  mark_wrong: {
    opensDoor: false,
    params: { event_id: eventId, note: z.string().max(200).optional().describe('why, kept with the negative template') },
    summary: 'the person a recognition event named was somebody else: store a negative template',
  },
  reload_config: { opensDoor: false, params: {}, summary: 're-read the config file and apply matching, quality, door rules and log level' },
} as const;

export type CommandName = keyof typeof COMMANDS;
export const COMMAND_NAMES = Object.keys(COMMANDS) as CommandName[];

const request = <P extends z.core.$ZodLooseShape>(command: CommandName, params: P) => z.strictObject({ ...RequestEnvelope, ...params }).describe(`\`<base>/<device>/request/${command}\`: ${COMMANDS[command].summary}`);

export const REQUEST_SCHEMAS = {
  unlock: request('unlock', COMMANDS.unlock.params),
  arm_enrollment: request('arm_enrollment', COMMANDS.arm_enrollment.params),
  name_pending: request('name_pending', COMMANDS.name_pending.params),
  delete_person: request('delete_person', COMMANDS.delete_person.params),
  list_people: request('list_people', COMMANDS.list_people.params),
  mark_wrong: request('mark_wrong', COMMANDS.mark_wrong.params),
  reload_config: request('reload_config', COMMANDS.reload_config.params),
} satisfies Record<CommandName, z.ZodType>;

export type RequestParams<C extends CommandName> = Omit<z.infer<(typeof REQUEST_SCHEMAS)[C]>, keyof typeof RequestEnvelope>;

export type RecognitionMessage = z.infer<typeof RecognitionPayload>;
export type UnlockMessage = z.infer<typeof UnlockPayload>;
export type EnrollmentMessage = z.infer<typeof EnrollmentPayload>;
export type LastPersonMessage = z.infer<typeof LastPersonPayload>;
export type StateMessage = z.infer<typeof StatePayload>;
export type ResponseMessage = z.infer<typeof ResponsePayload>;
export type HaRecognitionMessage = z.infer<typeof HaRecognitionPayload>;
export type LastUnknownMessage = z.infer<typeof LastUnknownPayload>;

/** docs/mqtt-events.schema.json: one JSON Schema (draft 2020-12) with a definition per message. */
export function contractJsonSchema(): Record<string, unknown> {
  const defs: Record<string, z.ZodType> = {
    status: StatusPayload,
    state: StatePayload,
    door_state: DoorStatePayload,
    recognition: RecognitionPayload,
    unlock: UnlockPayload,
    enrollment: EnrollmentPayload,
    last_person: LastPersonPayload,
    response: ResponsePayload,
    ha_lock_command: HaLockCommandPayload,
    ha_recognition: HaRecognitionPayload,
    last_unknown: LastUnknownPayload,
    ...Object.fromEntries(COMMAND_NAMES.map((c) => [`request_${c}`, REQUEST_SCHEMAS[c]])),
  };
  const $defs = Object.fromEntries(
    Object.entries(defs).map(([name, schema]) => {
      const { $schema: _drop, ...json } = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' });
      return [name, json];
    }),
  );
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'urn:facegate:mqtt-contract:1',
    title: 'facegate MQTT contract',
    description: `Topics under <base>/<device>/ (base default "facegate"). Generated by \`facegate mqtt schema\` from src/mqtt/contract.ts; every JSON payload has "version": ${CONTRACT_VERSION}. Validate a message against the definition its topic names.`,
    version: CONTRACT_VERSION,
    $defs,
  };
}

// The one configuration file (YAML), validated by this schema. Every option has a default and a
// description; `facegate config docs` prints them, so the schema is the documentation. It also
// says what a running daemon can take without a restart: `.meta(LIVE)` on a section or field
// means `reload_config` applies it in place (src/config/reload.ts reads it); everything else
// needs a restart.
import { z } from 'zod';
import { DEFAULT_CODE_FORMAT, HA_CODE_HASH_PATTERN } from '../mqtt/ha-code.js';
import { CameraConfig } from '../camera/camera-config.js';
import { DEFAULT_MTCNN_OPTIONS } from '../vision/mtcnn/options.js';
import { DEFAULT_REGIONS, DEFAULT_VISIT } from '../recognition/loop-defaults.js';

/** Applied by reload_config while the daemon runs. */
export const LIVE = { reload: 'live' } as const;

const providers = z.array(z.enum(['cpu', 'cuda', 'tensorrt', 'coreml', 'dml', 'webgpu', 'xnnpack', 'qnn']));

export const ModelsConfig = z
  .strictObject({
    dir: z.string().default('models').describe('folder with manifest.json and the ONNX files (relative to the config file)'),
    precision: z.enum(['float32', 'int8', 'int8-weights']).default('float32').describe('detector/embedder precision: float32, int8 (static) or int8-weights'),
    embedder: z.string().optional().describe('embedder id from the manifest; default MobileFaceNet of the chosen precision'),
    providers: providers.default(['cpu']).describe('ONNX Runtime execution providers to try in order; cpu is always the fallback'),
    threads: z.number().int().min(1).max(64).default(1).describe('intra-op threads per model (1 was fastest on a 2-core VM)'),
  })
  .prefault({});

export const DetectorConfig = z
  .strictObject({
    type: z.enum(['mtcnn']).default('mtcnn').describe('face detector family (its models come from the manifest)'),
    minSize: z.number().min(8).default(DEFAULT_MTCNN_OPTIONS.minSize).describe('MTCNN minimum face size in pixels'),
    thresholds: z.tuple([z.number().min(0).max(1), z.number().min(0).max(1), z.number().min(0).max(1)]).default(DEFAULT_MTCNN_OPTIONS.thresholds).describe('P/R/O-Net face probability thresholds'),
    factor: z.number().gt(0).lt(1).default(DEFAULT_MTCNN_OPTIONS.factor).describe('image pyramid scale factor'),
  })
  .prefault({});

export const QualityConfig = z
  .strictObject({
    minFaceSize: z.number().min(0).default(60).describe('shorter side of the face box in pixels'),
    minSharpness: z.number().min(0).default(40).describe('variance of the Laplacian of the grey aligned crop'),
    minFrontalness: z.number().min(0).max(1).default(0.35).describe('0..1 from the landmarks (1 = facing the camera)'),
    minScore: z.number().min(0).max(1).default(0.95).describe('detector face probability'),
  })
  .prefault({})
  .meta(LIVE);

export const MatchingConfig = z
  .strictObject({
    threshold: z.number().min(-1).max(1).default(0.5258).describe('cosine similarity a face must exceed to be identified. Default from `facegate calibrate --pairs ../shared/faces/pairs_all.tsv --far 1e-3 --people 10` (FAR 1e-4 per comparison, MobileFaceNet float32)'),
    margin: z.number().min(0).max(2).default(0.05).describe('required lead of the best identity over the second best'),
    aggregation: z.enum(['max', 'mean-top2', 'centroid']).default('centroid').describe('how one person\'s templates combine into one score'),
    negativeMargin: z.number().min(0).max(2).default(0).describe('a negative template ("not this person") vetoes a match when it is at least this much closer than the positive'),
  })
  .prefault({})
  .meta(LIVE);

export const GalleryConfig = z
  .strictObject({
    path: z.string().default('data/gallery.db').describe('SQLite gallery file (relative to the config file)'),
    keepCrops: z.boolean().default(false).describe('store aligned face crops so a model switch can re-embed the gallery (off: privacy first)'),
    dedupeSimilarity: z.number().min(0).max(1).default(0.95).describe('photos of one person more similar than this are collapsed into one template (also against templates already enrolled, so a repeated import adds nothing twice)'),
    keyFile: z
      .string()
      .optional()
      .describe('key file that encrypts templates, negatives and crops at rest (AES-256-GCM; relative to the config file); default: gallery.key next to the gallery, created (mode 0600, random key) on first use. Back it up with the gallery; `facegate gallery rekey` rotates it'),
  })
  .prefault({});

const pin = z.number().int().min(0).max(1023);

export const DoorConfig = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'lower-case letters, digits, - and _ (it becomes part of MQTT topics)').describe('door id, used in events and MQTT topics'),
  relay: z
    .strictObject({
      pin: pin.describe('GPIO (BCM / line offset) of the relay'),
      activeLow: z.boolean().default(true).describe('most relay boards energise on a low level'),
      pulseMs: z.number().int().min(100).max(60_000).default(3000).describe('how long the relay stays energised per grant'),
    })
    .describe('door relay; released (locked) on start, on stop and on crash'),
  allow: z
    .strictObject({
      everyone: z.boolean().default(false).describe('every enrolled person may open this door'),
      people: z.array(z.string()).default([]).describe('these people may'),
      groups: z.array(z.string()).default([]).describe('members of these groups may'),
    })
    .default({ everyone: true, people: [], groups: [] })
    .describe('who may open it (default: everyone enrolled)')
    .meta(LIVE),
  cooldownMs: z.number().int().min(0).default(10_000).describe('after a grant, the same person does not pulse this door again for this long').meta(LIVE),
  unknown: z.enum(['deny', 'ignore']).default('deny').describe("unknown faces: 'deny' makes a denied-unknown event, 'ignore' only counts them").meta(LIVE),
  multipleFaces: z
    .enum(['grant-allowed', 'deny-if-stranger'])
    .default('deny-if-stranger')
    .describe("several faces in view: 'deny-if-stranger' refuses while a face decided unknown is in view (anti-tailgating); 'grant-allowed' opens for any allowed person")
    .meta(LIVE),
  liveness: z
    .enum(['off', 'passive', 'strict'])
    .default('off')
    .describe(
      "presentation-attack check (see docs/liveness.md): 'off'; 'passive' denies faces whose fused passive score says print or screen (denied-spoof); 'strict' also needs a temporal proof (the face moved in 3-D, not as a flat photo) before it opens, and waits for it",
    ),
});

export const LIVENESS_CUES = ['dtn', 'laplacianVar', 'hfShare', 'detailRatio', 'saturationMean', 'chromaSpread', 'specularShare', 'spectralPeak'] as const;

export const LivenessConfig = z
  .strictObject({
    modelId: z.string().default('dtn-antispoof-fp32').describe('manifest id of the DTN anti-spoofing model (built by facegate models build)'),
    cues: z
      .array(z.enum(LIVENESS_CUES))
      .min(1)
      .default(['dtn', 'detailRatio'])
      .describe('passive cues the fused score uses; must be the cues the fusion file was trained on'),
    fusionFile: z
      .string()
      .optional()
      .describe('fusion weights from facegate liveness train (default: the bundled src/liveness/fusion-default.json, trained on the development spoof set)'),
    passiveThreshold: z
      .number()
      .min(0)
      .max(1)
      .default(0.5)
      .describe('fused p(live) below this is a spoof; set it from your own camera with facegate calibrate-liveness'),
    passiveFrames: z.number().int().min(1).max(50).default(3).describe('usable frames per track the passive scorers run on (the DTN costs tens of ms per face)'),
    temporal: z
      .strictObject({
        proofThreshold: z.number().min(0).max(1).default(0.15).describe('share of feature matches a plane cannot explain that proves a 3-D face'),
        minMotion: z.number().min(0).max(1).default(0.02).describe('median feature motion (share of face size) before a frame pair counts'),
        minMatches: z.number().int().min(8).default(16).describe('matched features a frame pair needs'),
        maxReferenceAgeMs: z.number().int().min(100).default(1500).describe('frame pairs are at most this far apart'),
      })
      .prefault({})
      .describe('planarity test for strict doors'),
  })
  .prefault({})
  .describe('presentation-attack detection settings, used by doors with liveness passive or strict');

export const GpioConfig = z
  .strictObject({
    backend: z.enum(['auto', 'rpio', 'libgpiod', 'simulated']).default('auto').describe("'auto': libgpiod where /dev/gpiochip* exists, rpio on a Pi up to 4, else simulated"),
    chip: z.string().default('gpiochip0').describe('libgpiod chip (Pi 5 with older kernels: gpiochip4)'),
    leds: z
      .strictObject({
        ready: pin.optional().describe('lit while the daemon runs and the camera streams'),
        granted: pin.optional().describe('lit while a door relay is energised'),
        denied: pin.optional().describe('flashes on a denial'),
        enrollment: pin.optional().describe('blinks while the enrollment burst captures'),
        activeLow: z.boolean().default(false).describe('LEDs wired to light on a low level'),
      })
      .prefault({})
      .describe('status LEDs (all optional)'),
    button: z
      .strictObject({
        pin: pin.describe('enrollment button input'),
        activeLow: z.boolean().default(true).describe('button pulls the line low when pressed (internal pull-up)'),
        debounceMs: z.number().int().min(1).max(1000).default(50).describe('a level must hold this long to count'),
      })
      .optional()
      .describe('enrollment button (optional)'),
  })
  .prefault({});

export const RecognitionConfig = z
  .strictObject({
    fusionN: z.number().int().min(1).default(3).describe('a track is decided when N of its last M frames agree'),
    fusionM: z.number().int().min(1).default(5).describe('the M of N-of-M fusion'),
    trackMinIou: z.number().min(0).max(1).default(0.3).describe('box overlap that continues a track'),
    trackMaxGapMs: z.number().int().min(0).default(1500).describe('a track unseen for this long ends (the person left)'),
    roiTracking: z.boolean().default(DEFAULT_REGIONS.enabled).describe('detect faces only around the tracked ones (where they are predicted to be), with a full-frame search every fullFrameEveryMs'),
    fullFrameEveryMs: z.number().int().min(0).default(DEFAULT_REGIONS.fullFrameEveryMs).describe('full-frame face search at least this often while faces are tracked: the longest a new arrival goes unseen'),
    roiMargin: z.number().min(0).max(5).default(DEFAULT_REGIONS.margin).describe('search margin around a predicted face, in face sides on each side'),
    roiMinSizeRatio: z.number().gt(0).max(1).default(DEFAULT_REGIONS.minSizeRatio).describe("smallest face searched for around a track, as a share of the track's face size"),
    qualityWaitMs: z.number().int().min(0).default(DEFAULT_VISIT.qualityWaitMs).describe('a visit whose faces all fail the quality gate waits this long for a usable one before clear matches of poor faces may decide it (denied-quality only when the visit ends without a usable face)'),
    poorMatchMargin: z.number().min(0).max(1).default(DEFAULT_VISIT.poorMatchMargin).describe('a face below the quality gate votes for a person only with a score this much above matching.threshold'),
    recheckMs: z.number().int().min(50).default(DEFAULT_VISIT.recheckMs).describe("a decided visit's face is identified again this often, so a change of person is caught"),
  })
  .prefault({});

export const EnrollmentConfig = z
  .strictObject({
    burstFrames: z.number().int().min(1).default(12).describe('usable faces to collect per button press'),
    timeoutMs: z.number().int().min(500).default(10_000).describe('give up when no usable face appears for this long'),
    keep: z.number().int().min(1).default(5).describe('templates kept from one burst (best quality, near-duplicates collapsed)'),
  })
  .prefault({});

export const HealthConfig = z
  .strictObject({
    enabled: z.boolean().default(true).describe('serve /healthz, /readyz and /metrics'),
    host: z.string().default('127.0.0.1').describe('listen address (keep it on loopback unless a firewall guards it)'),
    port: z.number().int().min(0).max(65535).default(9464).describe('listen port (0 = any free port)'),
  })
  .prefault({});

export const LoggingConfig = z
  .strictObject({
    level: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info').describe('log level (JSON lines on stdout: journald keeps them)').meta(LIVE),
    pretty: z.boolean().default(false).describe('human-readable one-line logs instead of JSON'),
  })
  .prefault({});

export const EventsConfig = z
  .strictObject({
    path: z.string().optional().describe('SQLite event log (relative to the config file); default events.db next to the gallery. Every decision, remote unlock, enrollment and admin action is recorded here, with or without MQTT'),
    keepDays: z.number().min(0).optional().describe('delivered events, with the face embedding each decision was made on (what "that was not them" needs), are deleted after this many days (default 7)'),
    snapshots: z
      .strictObject({
        enabled: z.boolean().default(false).describe('keep a JPEG of the face each decision was made on (biometric data: off by default)'),
        keepDays: z.number().min(0).default(7).describe('snapshots are deleted after this many days (at most events.keepDays), and with the person'),
      })
      .prefault({})
      .describe('face snapshots for the decision history'),
    unknownFaces: z.boolean().default(false).describe("keep unknown visitors' face embeddings for events.keepDays, so an admin can enroll a recent visitor (web console)"),
  })
  .prefault({})
  .describe('the event log');

function isRegExp(text: string): boolean {
  try {
    new RegExp(text);
    return true;
  } catch {
    return false;
  }
}

const topicLevel = z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'lower-case letters, digits, - and _').max(64);

export const MqttConfig = z
  .strictObject({
    url: z
      .string()
      .regex(/^mqtts?:\/\/[^\s/]+\/?$/, 'mqtt://host:port, or mqtts://host:port for TLS')
      .describe('broker URL: mqtt://host:1883, or mqtts://host:8883 for TLS'),
    base: z
      .string()
      .regex(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/, 'topic levels of letters, digits, - and _ separated by /')
      .default('facegate')
      .describe('first topic level(s): every topic is <base>/<deviceId>/...'),
    deviceId: topicLevel.optional().describe('this device in topics and Home Assistant; default: the host name in lower case, other characters than a-z 0-9 _ - replaced by -'),
    clientId: z.string().min(1).max(128).optional().describe('MQTT client id (unique per broker); default facegate_<deviceId>'),
    username: z.string().optional().describe('broker user name (mosquitto password_file)'),
    password: z.string().optional().describe('broker password; prefer passwordFile, since config files are often readable by everyone'),
    passwordFile: z.string().optional().describe('file holding the broker password (relative to the config file), e.g. /etc/facegate/mqtt-password with mode 0600'),
    tls: z
      .strictObject({
        ca: z.string().optional().describe('PEM file of the CA that signed the broker certificate; default: the system CAs'),
        cert: z.string().optional().describe('PEM client certificate, for brokers that require one (require_certificate true)'),
        key: z.string().optional().describe('PEM private key of the client certificate'),
        rejectUnauthorized: z.boolean().default(true).describe('refuse a broker whose certificate does not verify against the CA (keep true outside tests)'),
      })
      .optional()
      .describe('TLS files for mqtts:// (paths relative to the config file)'),
    reconnect: z
      .strictObject({
        initialMs: z.number().int().min(50).default(1000).describe('first wait before reconnecting to a lost broker'),
        maxMs: z
          .number()
          .int()
          .min(50)
          .default(5000)
          .describe('the wait doubles after each failed attempt up to this: a broker that comes back is found within this long (an attempt is one TCP connect, cheap for a broker on the LAN; raise it for a remote broker shared by many devices)'),
      })
      .prefault({})
      .describe('reconnect backoff; events wait in the outbox meanwhile'),
    commands: z
      .strictObject({
        enabled: z.boolean().default(true).describe('answer requests on <base>/<deviceId>/request/<command> (on response/<command>)'),
        hmacKeyFile: z.string().optional().describe('file with the shared HMAC-SHA256 key that signs requests (at least 32 characters: openssl rand -hex 32); without a key no request can open a door'),
        hmacKey: z.string().min(32).optional().describe('the HMAC key inline (at least 32 characters); prefer hmacKeyFile'),
        maxSkewMs: z.number().int().min(1000).max(600_000).default(30_000).describe('a signed request whose ts is further than this from the device clock is refused (keep clocks synchronised with NTP)'),
        allowUnsigned: z
          .boolean()
          .default(false)
          .describe('accept unsigned list_people, delete_person, mark_wrong and reload_config (where broker ACLs already limit who may publish); unlock, arm_enrollment and name_pending always need a signature'),
      })
      .prefault({})
      .describe('request/response commands (Zigbee2MQTT style, with a transaction id)'),
    outbox: z
      .strictObject({
        path: z.string().optional().describe('older name of events.path (still honoured when events.path is not set)'),
        maxEvents: z.number().int().min(100).default(100_000).describe('most events waiting for the broker; beyond it whenFull applies'),
        whenFull: z
          .enum(['drop-oldest', 'drop-newest'])
          .default('drop-oldest')
          .describe("full outbox: 'drop-oldest' drops the oldest unsent event to queue the new one, 'drop-newest' does not queue the new one; counted in facegate_outbox_dropped_total"),
        keepDays: z.number().min(0).default(7).describe('older name of events.keepDays (still honoured when events.keepDays is not set)'),
      })
      .prefault({})
      .describe('every event is written here first and deleted from the outbox when the broker acknowledged it'),
    homeAssistant: z
      .strictObject({
        enabled: z.boolean().default(true).describe('announce entities by MQTT discovery; false removes the ones this device announced'),
        prefix: z.string().regex(/^[A-Za-z0-9_-]+$/).default('homeassistant').describe('Home Assistant discovery prefix (its birth message on <prefix>/status makes the daemon announce again)'),
        lock: z
          .strictObject({
            codeHash: z
              .string()
              .regex(HA_CODE_HASH_PATTERN, 'a hash made by facegate mqtt ha-code (scrypt$N=...)')
              .optional()
              .describe("scrypt hash of the code Home Assistant's lock must send to unlock (facegate mqtt ha-code prints it); without it Unlock/Open from Home Assistant is refused"),
            codeFormat: z
              .string()
              .refine((v) => isRegExp(v), 'not a regular expression')
              .default(DEFAULT_CODE_FORMAT)
              .describe("Home Assistant's code_format: the regular expression its keypad checks before sending"),
            maxFailures: z.number().int().min(1).max(20).default(5).describe('wrong codes in a row before a lockout'),
            lockoutMs: z.number().int().min(1000).default(300_000).describe('first lockout after maxFailures wrong codes; each further run of wrong codes doubles it, up to a day; a right code resets it'),
          })
          .prefault({})
          .describe("Home Assistant's lock: Unlock and Open pulse the door when the code matches; Lock changes nothing"),
      })
      .prefault({})
      .describe('Home Assistant discovery: a lock per door (with a code), recognition events, last face, last person and visitor, diagnostics, a pending-capture button'),
  })
  .optional()
  .describe('MQTT: events, retained state, commands and Home Assistant discovery (absent: no MQTT)');

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost']);

export const WebConfig = z
  .strictObject({
    enabled: z.boolean().default(false).describe('serve the web console (live view, people, decisions, doors) and its REST API under /api/'),
    host: z.string().min(1).default('127.0.0.1').describe('listen address; a LAN address (or 0.0.0.0) needs tls, since passwords and session cookies cross the network'),
    port: z.number().int().min(0).max(65535).default(8080).describe('listen port (0 = any free port)'),
    tls: z
      .strictObject({
        cert: z.string().describe('PEM certificate file (relative to the config file)'),
        key: z.string().describe('PEM private key file (mode 0600)'),
      })
      .optional()
      .describe('HTTPS; session cookies are then marked Secure'),
    plainHttpOnLan: z.boolean().default(false).describe('allow plain HTTP on a non-loopback address (only behind a TLS-terminating reverse proxy)'),
    usersPath: z.string().optional().describe('web users file (JSON, created mode 0600, relative to the config file); default web-users.json next to the gallery'),
    sessionHours: z.number().gt(0).max(720).default(12).describe('a login lasts this long; then the browser asks for the password again'),
    login: z
      .strictObject({
        maxFailuresPerUser: z.number().int().min(1).default(5).describe('wrong passwords for one user name within the window before its logins are refused'),
        maxFailuresPerIp: z.number().int().min(1).default(20).describe('wrong passwords from one address within the window before its logins are refused'),
        windowMinutes: z.number().gt(0).default(15).describe('failures older than this are forgotten'),
      })
      .prefault({})
      .describe('login rate limiting (429 with Retry-After)'),
    liveView: z
      .strictObject({
        fps: z.number().gt(0).max(15).default(5).describe('most frames per second sent to the browser (encoded only while someone watches)'),
        maxWidth: z.number().int().min(160).max(1920).default(640).describe('frames wider than this are scaled down before JPEG encoding'),
        jpegQuality: z.number().int().min(20).max(95).default(70).describe('JPEG quality of the live view'),
      })
      .prefault({})
      .describe('live view (MJPEG) with the faces drawn'),
    uploads: z
      .strictObject({
        maxBytes: z.number().int().min(1024).max(10 * 1024 * 1024).default(10 * 1024 * 1024).describe('largest photo accepted for enrollment (the admin service takes at most 10 MiB)'),
        maxFiles: z.number().int().min(1).max(20).default(20).describe('most photos per enrollment request (the admin service takes at most 20)'),
      })
      .prefault({})
      .describe('enrollment uploads (JPEG or PNG)'),
  })
  .prefault({})
  .superRefine((w, ctx) => {
    if (!w.tls && !w.plainHttpOnLan && !LOOPBACK_HOSTS.has(w.host)) {
      ctx.addIssue({ code: 'custom', message: `host ${w.host} is not loopback: set tls (cert and key) so passwords are not sent in the clear, or plainHttpOnLan: true behind a TLS reverse proxy`, path: ['host'] });
    }
  })
  .describe('web console served by the daemon (off by default; loopback unless tls is set)');

export const FleetConfig = z
  .strictObject({
    url: z
      .string()
      .regex(/^mqtts?:\/\/[^\s/]+\/?$/, 'mqtt://host:port, or mqtts://host:port for TLS')
      .describe('broker (or cluster) every controller of the site talks to; a mosquitto bridge between sites works too'),
    site: topicLevel.describe('the site: records go to facegate/site/<site>/gallery/person/<uuid>'),
    controllerId: topicLevel.optional().describe('this controller in the fleet status; default: the host name in lower case, other characters than a-z 0-9 _ - replaced by -'),
    role: z
      .enum(['member', 'follower'])
      .default('member')
      .describe("'member': local changes replicate to every controller; 'follower': read-only, takes the site's gallery and refuses local changes (needs only the public key)"),
    username: z.string().optional().describe('broker user name'),
    passwordFile: z.string().optional().describe('file holding the broker password (relative to the config file, mode 0600)'),
    tls: z
      .strictObject({
        ca: z.string().optional().describe('PEM file of the CA that signed the broker certificate'),
        rejectUnauthorized: z.boolean().default(true).describe('refuse a broker whose certificate does not verify'),
      })
      .optional()
      .describe('TLS for mqtts://'),
    keys: z
      .strictObject({
        signingKeyFile: z.string().optional().describe('Ed25519 private key (PEM) that signs this site\'s records; members need it (`facegate fleet keygen DIR` makes the site keys)'),
        verifyKeyFile: z.string().optional().describe('Ed25519 public key (PEM) that checks records; enough for a follower; default: derived from signingKeyFile'),
        dataKeyFile: z.string().describe('site data key (64 hex characters) that encrypts each record (names, groups, templates) with AES-256-GCM, so the broker never sees them'),
      })
      .describe('site keys: the same files on every controller of the site (paths relative to the config file, mode 0600)'),
    tombstoneDays: z.number().min(1).default(90).describe('a deleted person\'s tombstone is kept this long, so a controller offline for less cannot bring them back'),
    shareCrops: z.boolean().default(false).describe('send kept face crops (gallery.keepCrops) with the records, so a controller on another model can re-embed them (`facegate gallery reembed`)'),
    maxClockSkewMs: z.number().int().min(1000).default(300_000).describe('a record versioned further than this ahead of this controller\'s clock is refused (keep clocks in sync with NTP)'),
  })
  .optional()
  .describe('fleet sync: every controller of a site shares one gallery through the broker (absent: this controller\'s gallery is its own)');

export const ConfigSchema = z
  .strictObject({
    models: ModelsConfig,
    detector: DetectorConfig,
    quality: QualityConfig,
    matching: MatchingConfig,
    gallery: GalleryConfig,
    camera: CameraConfig,
    doors: z.array(DoorConfig).default([]).describe('doors this device controls'),
    liveness: LivenessConfig,
    gpio: GpioConfig,
    recognition: RecognitionConfig,
    enrollment: EnrollmentConfig,
    health: HealthConfig,
    logging: LoggingConfig,
    events: EventsConfig,
    mqtt: MqttConfig,
    web: WebConfig,
    fleet: FleetConfig,
  })
  // `when: () => true`: these checks run even when other keys failed, so a file gets every problem
  // in one pass (zod skips refinements after an error by default). The value may then be partly
  // invalid, so each check first looks at the types it needs.
  .superRefine((raw, ctx) => crossFieldChecks(raw as unknown as Loose, ctx), { when: () => true });

/** A parsed config seen without trusting the types: sections or keys may be missing or wrong. */
type Loose = Record<string, any>;

const isObj = (v: unknown): v is Loose => typeof v === 'object' && v !== null && !Array.isArray(v);

function crossFieldChecks(c: Loose, ctx: z.RefinementCtx): void {
  const issue = (message: string, path: (string | number)[]) => ctx.addIssue({ code: 'custom', message, path });
  const doors: Loose[] = Array.isArray(c.doors) ? c.doors.filter(isObj) : [];
  const doorIndex = (d: Loose) => (c.doors as unknown[]).indexOf(d);
  // A pin used twice would drive the relay and an LED (or read the button) on one wire.
  const uses = new Map<number, string>();
  const claim = (p: unknown, what: string, path: (string | number)[]) => {
    if (typeof p !== 'number' || !Number.isInteger(p)) return;
    const prev = uses.get(p);
    if (prev) issue(`GPIO ${p} is used twice: ${prev} and ${what}`, path);
    else uses.set(p, what);
  };
  for (const d of doors) claim(isObj(d.relay) ? d.relay.pin : undefined, `door ${String(d.name)} relay`, ['doors', doorIndex(d), 'relay', 'pin']);
  const gpio = isObj(c.gpio) ? c.gpio : {};
  const leds = isObj(gpio.leds) ? gpio.leds : {};
  for (const led of ['ready', 'granted', 'denied', 'enrollment'] as const) claim(leds[led], `${led} LED`, ['gpio', 'leds', led]);
  claim(isObj(gpio.button) ? gpio.button.pin : undefined, 'enrollment button', ['gpio', 'button', 'pin']);
  const names = new Set<string>();
  for (const d of doors) {
    if (typeof d.name !== 'string') continue;
    if (names.has(d.name)) issue(`door name "${d.name}" is used twice`, ['doors', doorIndex(d), 'name']);
    names.add(d.name);
  }
  if (isObj(c.mqtt)) {
    const m = c.mqtt;
    const commands = isObj(m.commands) ? m.commands : {};
    const tls = isObj(m.tls) ? m.tls : undefined;
    const reconnect = isObj(m.reconnect) ? m.reconnect : {};
    if (m.password !== undefined && m.passwordFile !== undefined) issue('set password or passwordFile, not both', ['mqtt', 'passwordFile']);
    if (commands.hmacKey !== undefined && commands.hmacKeyFile !== undefined) issue('set hmacKey or hmacKeyFile, not both', ['mqtt', 'commands', 'hmacKeyFile']);
    if (tls && (tls.cert === undefined) !== (tls.key === undefined)) issue('a client certificate needs both cert and key', ['mqtt', 'tls']);
    if (tls && typeof m.url === 'string' && m.url.startsWith('mqtt://')) issue('tls is set but the url is mqtt://: use mqtts://', ['mqtt', 'url']);
    if (typeof reconnect.initialMs === 'number' && typeof reconnect.maxMs === 'number' && reconnect.initialMs > reconnect.maxMs) issue('initialMs cannot exceed maxMs', ['mqtt', 'reconnect', 'initialMs']);
  }
  if (isObj(c.fleet)) {
    const f = c.fleet;
    const keys = isObj(f.keys) ? f.keys : {};
    if (f.role !== 'follower' && keys.signingKeyFile === undefined) issue('a member controller signs its changes: set keys.signingKeyFile (or role: follower)', ['fleet', 'keys', 'signingKeyFile']);
    if (f.role === 'follower' && keys.signingKeyFile === undefined && keys.verifyKeyFile === undefined) issue('a follower checks records: set keys.verifyKeyFile', ['fleet', 'keys', 'verifyKeyFile']);
    if (f.shareCrops === true && !(isObj(c.gallery) && c.gallery.keepCrops === true)) issue('shareCrops needs gallery.keepCrops: true (no crops are kept to share)', ['fleet', 'shareCrops']);
  }
  const recognition = isObj(c.recognition) ? c.recognition : {};
  if (typeof recognition.fusionN === 'number' && typeof recognition.fusionM === 'number' && recognition.fusionN > recognition.fusionM) issue('fusionN cannot exceed fusionM', ['recognition', 'fusionN']);
}

export type Config = z.infer<typeof ConfigSchema>;
export type MqttConfigValues = NonNullable<Config['mqtt']>;
export type WebConfigValues = Config['web'];
export type FleetConfigValues = NonNullable<Config['fleet']>;

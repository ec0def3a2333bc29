// The `mqtt:` config section made concrete: defaults that depend on the machine (device id,
// delivery bound) and the secrets read from their files. Where events are kept is the event log's
// business (events.path; mqtt.outbox.path is its older name, read by the daemon).
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import type { LoadedConfig } from '../config/load.js';
import type { MqttConfigValues } from '../config/schema.js';
import { REPO_ROOT } from '../paths.js';
import type { WhenFull } from '../events/event-log.js';

export interface MqttSettings {
  url: string;
  base: string;
  device: string;
  clientId: string;
  username?: string;
  password?: string;
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: boolean };
  reconnect: { initialMs: number; maxMs: number };
  commands: { enabled: boolean; key: Buffer | null; maxSkewMs: number; allowUnsigned: boolean };
  /** The bound of MQTT's delivery queue in the event log. */
  outbox: { maxEvents: number; whenFull: WhenFull };
  homeAssistant: { enabled: boolean; prefix: string; lock?: HaLockSettings };
}

export interface HaLockSettings {
  /** Absent: Unlock/Open from Home Assistant is refused. */
  codeHash?: string;
  codeFormat: string;
  maxFailures: number;
  lockoutMs: number;
}

export const SOFTWARE_VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

export const MIN_KEY_LENGTH = 32;

/** "Door-Pi.local" -> "door-pi-local": a topic level and a Home Assistant node id. */
export function deviceIdFromHostname(name: string): string {
  const id = name.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^[-_]+|-+$/g, '');
  return id.slice(0, 64) || 'facegate';
}

function readSecret(path: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`mqtt: cannot read the ${what} file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (check the path and that the facegate user may read it)`);
  }
  return text.trim();
}

export function hmacKeyFrom(text: string, source: string): Buffer {
  if (text.length < MIN_KEY_LENGTH) throw new Error(`mqtt: the HMAC key in ${source} has ${text.length} characters, at least ${MIN_KEY_LENGTH} are needed: make one with openssl rand -hex 32`);
  return Buffer.from(text, 'utf8');
}

export function resolveMqttSettings(loaded: LoadedConfig, m: MqttConfigValues): MqttSettings {
  const path = (p: string) => loaded.resolvePath(p);
  const device = m.deviceId ?? deviceIdFromHostname(hostname());
  const key = m.commands.hmacKeyFile !== undefined ? hmacKeyFrom(readSecret(path(m.commands.hmacKeyFile), 'HMAC key'), path(m.commands.hmacKeyFile)) : m.commands.hmacKey !== undefined ? hmacKeyFrom(m.commands.hmacKey, 'mqtt.commands.hmacKey') : null;
  const password = m.passwordFile !== undefined ? readSecret(path(m.passwordFile), 'password') : m.password;
  const pem = (p: string | undefined, what: string) => (p === undefined ? {} : { [what]: Buffer.from(readSecret(path(p), `TLS ${what}`)) });
  return {
    url: m.url,
    base: m.base,
    device,
    clientId: m.clientId ?? `facegate_${device}`,
    ...(m.username !== undefined ? { username: m.username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(m.tls ? { tls: { ...pem(m.tls.ca, 'ca'), ...pem(m.tls.cert, 'cert'), ...pem(m.tls.key, 'key'), rejectUnauthorized: m.tls.rejectUnauthorized } } : {}),
    reconnect: { ...m.reconnect },
    commands: { enabled: m.commands.enabled, key, maxSkewMs: m.commands.maxSkewMs, allowUnsigned: m.commands.allowUnsigned },
    outbox: { maxEvents: m.outbox.maxEvents, whenFull: m.outbox.whenFull },
    homeAssistant: { enabled: m.homeAssistant.enabled, prefix: m.homeAssistant.prefix, lock: { ...m.homeAssistant.lock } },
  };
}

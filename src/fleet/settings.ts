// The `fleet:` config section made concrete: controller id from the host name, keys and password
// read from their files, the models this controller searches with.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { LoadedConfig } from '../config/load.js';
import type { FleetConfigValues } from '../config/schema.js';
import { deviceIdFromHostname } from '../mqtt/settings.js';
import type { FleetSettings } from './fleet-sync.js';
import { loadSiteKeys } from './site-keys.js';

const DAY_MS = 86_400_000;

export function resolveFleetSettings(loaded: LoadedConfig, f: FleetConfigValues, models: string[]): FleetSettings {
  const path = (p: string) => loaded.resolvePath(p);
  const read = (p: string, what: string) => {
    try {
      return readFileSync(path(p));
    } catch (err) {
      throw new Error(`fleet: cannot read the ${what} file ${path(p)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  return {
    url: f.url,
    site: f.site,
    controllerId: f.controllerId ?? deviceIdFromHostname(hostname()),
    role: f.role,
    keys: loadSiteKeys({
      ...(f.keys.signingKeyFile ? { signingKeyFile: path(f.keys.signingKeyFile) } : {}),
      ...(f.keys.verifyKeyFile ? { verifyKeyFile: path(f.keys.verifyKeyFile) } : {}),
      dataKeyFile: path(f.keys.dataKeyFile),
    }),
    ...(f.username !== undefined ? { username: f.username } : {}),
    ...(f.passwordFile !== undefined ? { password: read(f.passwordFile, 'password').toString('utf8').trim() } : {}),
    ...(f.tls ? { tls: { ...(f.tls.ca ? { ca: read(f.tls.ca, 'CA') } : {}), rejectUnauthorized: f.tls.rejectUnauthorized } } : {}),
    tombstoneTtlMs: f.tombstoneDays * DAY_MS,
    shareCrops: f.shareCrops,
    maxClockSkewMs: f.maxClockSkewMs,
    models,
  };
}

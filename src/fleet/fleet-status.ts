// What each controller of a site says about itself (its retained status) and the figures
// `facegate fleet status` and the metrics show. Pure: the caller feeds statuses and the time.
import { parseHlc } from '../gallery/hlc.js';

export interface ControllerStatus {
  controller: string;
  up: boolean;
  role?: 'member' | 'follower';
  galleryVersion?: string | null;
  galleryHash?: string;
  people?: number;
  tombstones?: number;
  applied?: number;
  stale?: number;
  rejected?: number;
  conflicts?: number;
  published?: number;
  /** Embedder model ids this controller searches with. */
  models?: string[];
  at?: string;
}

export interface ControllerView extends ControllerStatus {
  /** How far its gallery version trails the newest in the site (0 when it has the newest). */
  lagMs: number | null;
}

export interface FleetView {
  controllers: ControllerView[];
  up: number;
  /** Every controller that is up holds the same gallery. */
  converged: boolean;
  hashes: number;
}

export function parseStatus(controller: string, payload: Buffer): ControllerStatus | undefined {
  if (payload.length === 0 || payload.length > 64 * 1024) return undefined;
  try {
    const s = JSON.parse(payload.toString('utf8')) as ControllerStatus;
    return typeof s === 'object' && s !== null && typeof s.up === 'boolean' ? { ...s, controller } : undefined;
  } catch {
    return undefined;
  }
}

export function fleetView(statuses: ControllerStatus[]): FleetView {
  const wall = (v: string | null | undefined) => (v ? parseHlc(v).wallMs : null);
  const up = statuses.filter((s) => s.up);
  const newest = Math.max(0, ...up.map((s) => wall(s.galleryVersion) ?? 0));
  const controllers = [...statuses]
    .sort((a, b) => (a.controller < b.controller ? -1 : 1))
    .map((s) => {
      const own = wall(s.galleryVersion);
      return { ...s, lagMs: !s.up ? null : newest === 0 ? 0 : own === null ? null : newest - own };
    });
  const hashes = new Set(up.map((s) => s.galleryHash)).size;
  return { controllers, up: up.length, converged: up.length > 0 && hashes === 1, hashes };
}

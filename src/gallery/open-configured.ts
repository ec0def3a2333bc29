// How every command and the daemon open the gallery from the config: its key file, and read-only
// on a fleet follower (the site's gallery arrives by replication; local edits would be lost).
import type { Config } from '../config/schema.js';
import type { Clock } from '../util/clock.js';
import { GalleryStore } from './gallery-store.js';

export const FOLLOWER_READ_ONLY = 'this controller is a fleet follower (fleet.role: follower): its gallery is read-only; make the change on a member controller of the site';

export function openConfiguredGallery(config: Pick<Config, 'gallery' | 'fleet'>, resolvePath: (p: string) => string, options: { clock?: Clock; log?: (message: string) => void } = {}): GalleryStore {
  return GalleryStore.open(resolvePath(config.gallery.path), {
    ...(config.gallery.keyFile ? { keyFile: resolvePath(config.gallery.keyFile) } : {}),
    ...(config.fleet?.role === 'follower' ? { readOnly: FOLLOWER_READ_ONLY } : {}),
    ...options,
  });
}

// Last-writer-wins per person, decided on versions alone: pure, so every controller that sees the
// same records ends with the same gallery whatever the order they arrived in.
import { compareHlc, parseHlc } from '../gallery/hlc.js';

export interface LocalVersion {
  version: string;
  deleted: boolean;
  /** The version of the local copy's parent (null when not known). */
  baseVersion: string | null;
}

export interface IncomingVersion {
  version: string;
  baseVersion: string | null;
  deleted: boolean;
  /** Tombstones: when the person was deleted (ms). */
  deletedAtMs?: number;
}

export interface MergeContext {
  nowMs: number;
  tombstoneTtlMs: number;
  maxClockSkewMs: number;
}

export type MergeReason =
  | 'new'
  | 'newer'
  /** Newer, and not made on top of the local copy: two controllers changed the person at once; the later one wins. */
  | 'concurrent-newer'
  /** The version already here (the node id in a version makes it unique to one gallery). */
  | 'same'
  | 'older'
  | 'expired-tombstone'
  | 'from-the-future';

export interface MergeDecision {
  action: 'apply' | 'keep' | 'reject';
  reason: MergeReason;
}

export function mergeRecord(local: LocalVersion | undefined, incoming: IncomingVersion, ctx: MergeContext): MergeDecision {
  // A version far ahead of this clock would win every future edit: a broken clock or a forgery.
  if (parseHlc(incoming.version).wallMs > ctx.nowMs + ctx.maxClockSkewMs) return { action: 'reject', reason: 'from-the-future' };
  if (!local) {
    // An expired tombstone only matters where the person still exists; elsewhere it is forgotten.
    if (incoming.deleted && incoming.deletedAtMs !== undefined && incoming.deletedAtMs < ctx.nowMs - ctx.tombstoneTtlMs) return { action: 'keep', reason: 'expired-tombstone' };
    return { action: 'apply', reason: 'new' };
  }
  const order = compareHlc(incoming.version, local.version);
  if (order > 0) return { action: 'apply', reason: isDescendant(incoming, local) ? 'newer' : 'concurrent-newer' };
  return { action: 'keep', reason: order < 0 ? 'older' : 'same' };
}

/** Made after the local copy by someone who had seen it: its base is at least the local version. */
function isDescendant(incoming: IncomingVersion, local: LocalVersion): boolean {
  return incoming.baseVersion !== null && compareHlc(incoming.baseVersion, local.version) >= 0;
}

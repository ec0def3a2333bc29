// Who may open which door, and what happens around it: allow lists, cooldown, strangers in view.
// Pure: the recognition loop feeds it fused track decisions and carries out what it returns.
import type { FusedDecision } from './fusion.js';
import type { LivenessVerdict } from './liveness-slot.js';

/**
 * 'off': no presentation-attack check. 'passive': the track's fused passive score must say live.
 * 'strict': that and a temporal proof (non-planar motion) on the track; without the proof yet the
 * door waits (no decision) rather than opening.
 */
export type LivenessMode = 'off' | 'passive' | 'strict';

export interface DoorRule {
  name: string;
  /** Everyone enrolled, or only these people / members of these groups. */
  allow: { everyone: boolean; people: string[]; groups: string[] };
  /** After a grant, the same person at the same door does not pulse the relay again for this long. */
  cooldownMs: number;
  /** 'deny': an unknown face produces a denied-unknown event; 'ignore': only counted. */
  unknown: 'deny' | 'ignore';
  /**
   * Several faces in view: 'grant-allowed' opens for an allowed person whoever is with them;
   * 'deny-if-stranger' refuses while a face decided unknown is in view (anti-tailgating).
   */
  multipleFaces: 'grant-allowed' | 'deny-if-stranger';
  /** Presentation-attack check for this door; absent means 'off'. */
  liveness?: LivenessMode;
}

export type DecisionReason = 'granted' | 'denied-unknown' | 'denied-not-allowed' | 'denied-quality' | 'denied-stranger-present' | 'denied-spoof';

export interface DoorDecision {
  door: string;
  granted: boolean;
  reason: DecisionReason;
  /** What the relay does: pulse, nothing (denied), or nothing because of the cooldown. */
  relay: 'pulse' | 'none' | 'cooldown';
}

export interface DecisionInput {
  fused: Exclude<FusedDecision, { kind: 'undecided' }>;
  /** Groups of the identified person (empty for unknown). */
  groups: string[];
  nowMs: number;
  /** Another face in view was decided unknown within the last moments. */
  strangerInView: boolean;
  /** The track's presentation-attack verdict; doors with liveness passive or strict need it. */
  liveness?: LivenessVerdict;
}

/** Pure: what a door's liveness mode makes of a verdict. A missing verdict counts as no evidence yet. */
export function livenessGate(mode: LivenessMode, verdict: LivenessVerdict | undefined): 'pass' | 'deny' | 'wait' {
  if (mode === 'off') return 'pass';
  if (!verdict || verdict.state === 'pending') return 'wait';
  if (verdict.state === 'spoof') return 'deny';
  return mode === 'passive' || verdict.temporalProof ? 'pass' : 'wait';
}

export class DoorPolicy {
  private readonly lastGrant = new Map<string, number>();

  constructor(readonly doors: readonly DoorRule[]) {}

  decide(input: DecisionInput): DoorDecision[] {
    const out: DoorDecision[] = [];
    for (const door of this.doors) {
      const d = this.decideDoor(door, input);
      if (d) out.push(d);
    }
    return out;
  }

  private decideDoor(door: DoorRule, input: DecisionInput): DoorDecision | null {
    const { fused } = input;
    if (fused.kind === 'poor-quality') return { door: door.name, granted: false, reason: 'denied-quality', relay: 'none' };
    if (fused.kind === 'unknown') return door.unknown === 'ignore' ? null : { door: door.name, granted: false, reason: 'denied-unknown', relay: 'none' };
    const allowed = door.allow.everyone || door.allow.people.includes(fused.name) || input.groups.some((g) => door.allow.groups.includes(g));
    if (!allowed) return { door: door.name, granted: false, reason: 'denied-not-allowed', relay: 'none' };
    if (door.multipleFaces === 'deny-if-stranger' && input.strangerInView) return { door: door.name, granted: false, reason: 'denied-stranger-present', relay: 'none' };
    const gate = livenessGate(door.liveness ?? 'off', input.liveness);
    if (gate === 'wait') return null;
    if (gate === 'deny') return { door: door.name, granted: false, reason: 'denied-spoof', relay: 'none' };
    const key = `${door.name}\u0000${fused.name}`;
    const last = this.lastGrant.get(key);
    if (last !== undefined && input.nowMs - last < door.cooldownMs) return { door: door.name, granted: true, reason: 'granted', relay: 'cooldown' };
    this.lastGrant.set(key, input.nowMs);
    return { door: door.name, granted: true, reason: 'granted', relay: 'pulse' };
  }
}

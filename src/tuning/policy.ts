// When a tuned embedder may replace its parent. Triplet fine-tuning often makes a model worse
// (davidsandberg/facenet#1075, #403), and a door must not quietly start accepting strangers, so
// the tuned model has to beat its parent on people it never saw: a lower EER, and no lower TAR
// at FAR 1e-3 where there were enough impostor pairs to measure it.
import type { HeldOutResult, TuningRecord } from '../models/manifest.js';

export interface DeploymentCheck {
  ok: boolean;
  /** Why not, with the numbers; empty when ok. */
  reasons: string[];
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

export function compareHeldOut(base: HeldOutResult, tuned: HeldOutResult): DeploymentCheck {
  const reasons: string[] = [];
  if (!(tuned.eer < base.eer)) {
    reasons.push(`held-out EER ${pct(tuned.eer)} is ${tuned.eer === base.eer ? 'no better than' : 'worse than'} the parent's ${pct(base.eer)}`);
  }
  if (tuned.tarAtFar1e3Resolvable && base.tarAtFar1e3Resolvable && tuned.tarAtFar1e3 < base.tarAtFar1e3) {
    reasons.push(`held-out TAR at FAR 1e-3 ${pct(tuned.tarAtFar1e3)} is lower than the parent's ${pct(base.tarAtFar1e3)}`);
  }
  return { ok: reasons.length === 0, reasons };
}

export function deploymentCheck(t: TuningRecord): DeploymentCheck {
  return compareHeldOut(t.heldOut.base, t.heldOut.tuned);
}

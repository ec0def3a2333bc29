// Enrollment at the door: a button press (or an armed remote request) captures a burst of frames,
// keeps the best faces that pass the quality gate, and enrolls them under the name the burst was
// started for, or keeps them pending. The name is bound when the burst starts, never looked up
// when it ends: a second arm while a burst runs cannot redirect the faces already captured.
import { cv, type Mat } from '../vision/opencv.js';
import type { Analysis } from '../vision/face-analyzer.js';
import type { Embedder } from '../vision/embedder.js';
import { collapseNearDuplicates, commitEnrollment, qualityProblems, qualityRank, type Candidate, type EnrollmentSettings } from '../gallery/enrollment.js';
import type { GalleryStore, ModelTag } from '../gallery/gallery-store.js';
import { systemClock, type Clock, type TimerHandle } from '../util/clock.js';

export interface BurstSettings {
  /** Stop capturing after this many usable faces. */
  frames: number;
  /** Give up when no usable face appears for this long. */
  timeoutMs: number;
  /** Templates kept from one burst. */
  keep: number;
}

export type EnrollmentOutcome =
  | { kind: 'enrolled'; name: string; templates: number; trigger: string }
  | { kind: 'pending'; pendingId: number; templates: number; trigger: string }
  | { kind: 'timeout'; trigger: string; usable: number }
  | { kind: 'busy'; trigger: string; capturingFor: string | null }
  /** The daemon stopped during the burst: nothing was written. */
  | { kind: 'cancelled'; trigger: string };

export interface EnrollmentIndicator {
  capturing(): void;
  succeeded(): void;
  failed(): void;
}

export class ButtonEnrollment {
  readonly name = 'enrollment';
  private collecting: { candidates: Candidate[]; done: (cancelled: boolean) => void; name: string | null } | null = null;
  private stopped = false;

  constructor(
    private readonly store: GalleryStore,
    private readonly model: () => ModelTag,
    private readonly embedder: Embedder,
    private readonly settings: EnrollmentSettings,
    private readonly burst: BurstSettings,
    private readonly indicator: EnrollmentIndicator,
    private readonly clock: Clock = systemClock,
  ) {}

  start(): void {
    this.stopped = false;
  }

  /** Ends a burst in progress without writing anything; later triggers are refused. */
  stop(): void {
    this.stopped = true;
    this.collecting?.done(true);
  }

  get capturing(): boolean {
    return this.collecting !== null;
  }

  /** The name the running burst enrolls under (null: pending), or undefined when none runs. */
  get capturingFor(): string | null | undefined {
    return this.collecting ? this.collecting.name : undefined;
  }

  /** The recognition loop hands every analysed frame here; only used while capturing. */
  offer(analysis: Analysis, image: Mat, source: string): void {
    const c = this.collecting;
    if (!c || analysis.faces.length !== 1) return;
    const face = analysis.faces[0]!;
    if (qualityProblems(face.quality, this.settings.gate).length > 0) return;
    const crop = this.settings.keepCrops ? cv.imencode('.png', this.embedder.crop(image, face).cvtColor(cv.COLOR_RGB2BGR)) : undefined;
    c.candidates.push({ source, embedding: face.embedding!, quality: face.quality, ...(crop ? { crop } : {}) });
    if (c.candidates.length >= this.burst.frames) c.done(false);
  }

  /**
   * Captures one burst. `name`: enroll under it (a remote arm with capture now); null: keep the
   * faces pending whatever is armed (Home Assistant's capture button: it must not use up an armed
   * name); undefined: take the name armed for the next press (button), or pending when none is.
   */
  async trigger(trigger: string, name?: string | null): Promise<EnrollmentOutcome> {
    if (this.stopped) return { kind: 'cancelled', trigger };
    if (this.collecting) return { kind: 'busy', trigger, capturingFor: this.collecting.name };
    const boundName = name === undefined ? this.store.device.takeArmedEnrollment() : name;
    this.indicator.capturing();
    const candidates: Candidate[] = [];
    const cancelled = await new Promise<boolean>((resolve) => {
      let timer: TimerHandle | undefined = undefined;
      this.collecting = {
        candidates,
        name: boundName,
        done: (wasCancelled) => {
          this.clock.clearTimeout(timer);
          resolve(wasCancelled);
        },
      };
      timer = this.clock.setTimeout(() => resolve(false), this.burst.timeoutMs);
    });
    this.collecting = null;
    if (cancelled || this.stopped) return { kind: 'cancelled', trigger };
    if (candidates.length === 0) {
      this.indicator.failed();
      return { kind: 'timeout', trigger, usable: 0 };
    }
    const { kept } = collapseNearDuplicates(candidates, this.settings.dedupeSimilarity);
    const best = kept.sort((a, b) => qualityRank(b.quality) - qualityRank(a.quality)).slice(0, this.burst.keep);
    const model = this.model();
    if (boundName) {
      const templates = commitEnrollment(this.store, boundName, model, best, 'camera');
      this.indicator.succeeded();
      return { kind: 'enrolled', name: boundName, templates, trigger };
    }
    const pendingId = this.store.device.addPending(
      model,
      best.map((c) => ({ embedding: c.embedding, quality: { ...c.quality }, source: 'camera', ...(c.crop ? { crop: c.crop } : {}) })),
      trigger,
    );
    this.indicator.succeeded();
    return { kind: 'pending', pendingId, templates: best.length, trigger };
  }
}

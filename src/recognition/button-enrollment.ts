// Enrollment at the door: a button press captures a burst of frames, keeps the best faces that
// pass the quality gate, and enrolls them under the armed name or keeps them pending.
import { cv, type Mat } from '../vision/opencv.js';
import type { Analysis } from '../vision/face-analyzer.js';
import type { Embedder } from '../vision/embedder.js';
import { collapseNearDuplicates, commitEnrollment, qualityProblems, qualityRank, type Candidate, type EnrollmentSettings } from '../gallery/enrollment.js';
import type { GalleryStore, ModelTag } from '../gallery/gallery-store.js';

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
  | { kind: 'busy'; trigger: string };

export interface EnrollmentIndicator {
  capturing(): void;
  succeeded(): void;
  failed(): void;
}

export class ButtonEnrollment {
  private collecting: { candidates: Candidate[]; done: () => void } | null = null;

  constructor(
    private readonly store: GalleryStore,
    private readonly model: () => ModelTag,
    private readonly embedder: Embedder,
    private readonly settings: EnrollmentSettings,
    private readonly burst: BurstSettings,
    private readonly indicator: EnrollmentIndicator,
  ) {}

  get capturing(): boolean {
    return this.collecting !== null;
  }

  /** The recognition loop hands every analysed frame here; only used while capturing. */
  offer(analysis: Analysis, image: Mat, source: string): void {
    const c = this.collecting;
    if (!c || analysis.faces.length !== 1) return;
    const face = analysis.faces[0]!;
    if (qualityProblems(face.quality, this.settings.gate).length > 0) return;
    const crop = this.settings.keepCrops ? cv.imencode('.png', this.embedder.crop(image, face).cvtColor(cv.COLOR_RGB2BGR)) : undefined;
    c.candidates.push({ source, embedding: face.embedding!, quality: face.quality, ...(crop ? { crop } : {}) });
    if (c.candidates.length >= this.burst.frames) c.done();
  }

  async trigger(trigger: string): Promise<EnrollmentOutcome> {
    if (this.collecting) return { kind: 'busy', trigger };
    this.indicator.capturing();
    const candidates: Candidate[] = [];
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.burst.timeoutMs);
      this.collecting = {
        candidates,
        done: () => {
          clearTimeout(timer);
          resolve();
        },
      };
    });
    this.collecting = null;
    if (candidates.length === 0) {
      this.indicator.failed();
      return { kind: 'timeout', trigger, usable: 0 };
    }
    const { kept } = collapseNearDuplicates(candidates, this.settings.dedupeSimilarity);
    const best = kept.sort((a, b) => qualityRank(b.quality) - qualityRank(a.quality)).slice(0, this.burst.keep);
    const name = this.store.takeArmedEnrollment();
    const model = this.model();
    if (name) {
      const templates = commitEnrollment(this.store, name, model, best, 'camera');
      this.indicator.succeeded();
      return { kind: 'enrolled', name, templates, trigger };
    }
    const pendingId = this.store.addPending(
      model,
      best.map((c) => ({ embedding: c.embedding, quality: { ...c.quality }, source: 'camera', ...(c.crop ? { crop: c.crop } : {}) })),
      trigger,
    );
    this.indicator.succeeded();
    return { kind: 'pending', pendingId, templates: best.length, trigger };
  }
}

// Triplet loss for the embedder's final projection, after FaceNet (Schroff et al. 2015) and the
// seed's train_tripletloss.py: sample people, mine semi-hard negatives within the sample, and
// minimise max(0, |a - p|^2 - |a - n|^2 + alpha) on L2-normalised embeddings. Only the last
// linear layer (e = normalise(W f + b)) is trained, on fixed penultimate features f, so the
// gradient is written out by hand here instead of pulling in an autodiff library.
import type { Rng } from '../util/rng.js';

export type Vector = ArrayLike<number>;

/** The trainable layer: W row-major [outDim, inDim] and b [outDim], views into one parameter buffer. */
export interface Projection {
  inDim: number;
  outDim: number;
  params: Float64Array;
  w: Float64Array;
  b: Float64Array;
}

export function createProjection(inDim: number, outDim: number, params: ArrayLike<number> = new Float64Array(outDim * inDim + outDim)): Projection {
  if (params.length !== outDim * inDim + outDim) throw new Error(`projection ${inDim}->${outDim} needs ${outDim * inDim + outDim} parameters, got ${params.length}`);
  const buf = Float64Array.from(params);
  return { inDim, outDim, params: buf, w: buf.subarray(0, outDim * inDim), b: buf.subarray(outDim * inDim) };
}

export function cloneProjection(p: Projection): Projection {
  return createProjection(p.inDim, p.outDim, p.params);
}

/** u = W f + b before normalisation. */
function affine(p: Projection, f: Vector): Float64Array {
  const u = new Float64Array(p.outDim);
  for (let o = 0; o < p.outDim; o++) {
    let s = p.b[o]!;
    const row = o * p.inDim;
    for (let i = 0; i < p.inDim; i++) s += p.w[row + i]! * f[i]!;
    u[o] = s;
  }
  return u;
}

/** The L2-normalised embedding, and the norm it was divided by (the gradient needs it). */
export function embed(p: Projection, f: Vector): { e: Float64Array; norm: number } {
  const u = affine(p, f);
  let s = 0;
  for (let o = 0; o < u.length; o++) s += u[o]! * u[o]!;
  const norm = Math.sqrt(s);
  const inv = norm > 0 ? 1 / norm : 0;
  for (let o = 0; o < u.length; o++) u[o] = u[o]! * inv;
  return { e: u, norm };
}

export function squaredDistance(a: Vector, b: Vector): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s;
}

// ---------------------------------------------------------------------------------------------
// Sampling and mining

export interface PeopleSample<T> {
  /** Images grouped by person: the first perPerson[0] belong to one person, and so on. */
  images: T[];
  perPerson: number[];
}

/**
 * The seed's sample_people: visit people in random order and take up to imagesPerPerson random
 * images of each until peoplePerBatch * imagesPerPerson images are taken or people run out.
 * `people[k]` lists the images of person k.
 */
export function samplePeople<T>(people: readonly (readonly T[])[], peoplePerBatch: number, imagesPerPerson: number, rng: Rng): PeopleSample<T> {
  const wanted = peoplePerBatch * imagesPerPerson;
  const order = rng.shuffle(people.map((_, k) => k));
  const images: T[] = [];
  const perPerson: number[] = [];
  for (const k of order) {
    if (images.length >= wanted) break;
    const own = rng.shuffle([...people[k]!]);
    const take = Math.min(own.length, imagesPerPerson, wanted - images.length);
    images.push(...own.slice(0, take));
    perPerson.push(take);
  }
  return { images, perPerson };
}

/** Positions of anchor, positive and negative (indices into whatever the mining ran on). */
export type Triplet = readonly [number, number, number];

export type NegativeFallback = 'skip' | 'mildest-hard';

/**
 * Every anchor-positive pair of each person in the sample gets one negative from the other
 * people. Semi-hard (FaceNet): d(a,p) < d(a,n) < d(a,p) + alpha, one picked at random. When a
 * pair has none, 'mildest-hard' takes the violating negative closest to the semi-hard band
 * (largest d(a,n) with d(a,n) <= d(a,p)): still a real error, but not the hardest negatives
 * that FaceNet found to collapse training early; 'skip' leaves the pair out.
 * `embeddings` are L2-normalised and laid out as the sample (person blocks of perPerson).
 */
export function mineTriplets(embeddings: readonly Vector[], perPerson: readonly number[], alpha: number, rng: Rng, fallback: NegativeFallback = 'mildest-hard'): Triplet[] {
  const triplets: Triplet[] = [];
  const n = embeddings.length;
  let start = 0;
  for (const count of perPerson) {
    const end = start + count;
    for (let a = start; a < end - 1; a++) {
      const dn = new Float64Array(n);
      for (let k = 0; k < n; k++) dn[k] = k >= start && k < end ? NaN : squaredDistance(embeddings[a]!, embeddings[k]!);
      for (let p = a + 1; p < end; p++) {
        const dp = squaredDistance(embeddings[a]!, embeddings[p]!);
        const band: number[] = [];
        let mildest = -1;
        for (let k = 0; k < n; k++) {
          const d = dn[k]!;
          if (Number.isNaN(d)) continue;
          if (d > dp && d - dp < alpha) band.push(k);
          else if (d <= dp && (mildest < 0 || d > dn[mildest]!)) mildest = k;
        }
        if (band.length > 0) triplets.push([a, p, band[rng.int(band.length)]!]);
        else if (fallback === 'mildest-hard' && mildest >= 0) triplets.push([a, p, mildest]);
      }
    }
    start = end;
  }
  return triplets;
}

// ---------------------------------------------------------------------------------------------
// Loss and gradient

export interface LossAndGradient {
  /** Mean triplet loss over the batch (inactive triplets count as 0, as in the seed). */
  loss: number;
  /** Share of triplets with a positive loss: the ones that still teach something. */
  activeFraction: number;
  /** d loss / d params, laid out like Projection.params. */
  grad: Float64Array;
}

/**
 * Triplet loss over `triplets` (image ids into `features`) and its exact gradient with respect
 * to W and b, back through the L2 normalisation: for e = u / |u|, dL/du = (g - e (e.g)) / |u|.
 */
export function tripletLossAndGradient(p: Projection, features: (id: number) => Vector, triplets: readonly Triplet[], alpha: number): LossAndGradient {
  const grad = new Float64Array(p.params.length);
  if (triplets.length === 0) return { loss: 0, activeFraction: 0, grad };
  const embedded = new Map<number, { e: Float64Array; norm: number; g: Float64Array; active: boolean }>();
  const get = (id: number) => {
    let v = embedded.get(id);
    if (!v) {
      v = { ...embed(p, features(id)), g: new Float64Array(p.outDim), active: false };
      embedded.set(id, v);
    }
    return v;
  };
  let total = 0;
  let active = 0;
  const scale = 1 / triplets.length;
  for (const [ia, ip, ineg] of triplets) {
    const a = get(ia), pos = get(ip), neg = get(ineg);
    const l = squaredDistance(a.e, pos.e) - squaredDistance(a.e, neg.e) + alpha;
    if (l <= 0) continue;
    total += l;
    active++;
    a.active = pos.active = neg.active = true;
    for (let o = 0; o < p.outDim; o++) {
      a.g[o] = a.g[o]! + 2 * scale * (neg.e[o]! - pos.e[o]!);
      pos.g[o] = pos.g[o]! + 2 * scale * (pos.e[o]! - a.e[o]!);
      neg.g[o] = neg.g[o]! + 2 * scale * (a.e[o]! - neg.e[o]!);
    }
  }
  const gw = grad.subarray(0, p.outDim * p.inDim);
  const gb = grad.subarray(p.outDim * p.inDim);
  for (const [id, v] of embedded) {
    if (!v.active) continue;
    let dot = 0;
    for (let o = 0; o < p.outDim; o++) dot += v.e[o]! * v.g[o]!;
    const f = features(id);
    for (let o = 0; o < p.outDim; o++) {
      const gu = (v.g[o]! - v.e[o]! * dot) / v.norm;
      if (gu === 0) continue;
      gb[o] = gb[o]! + gu;
      const row = o * p.inDim;
      for (let i = 0; i < p.inDim; i++) gw[row + i] = gw[row + i]! + gu * f[i]!;
    }
  }
  return { loss: total * scale, activeFraction: active * scale, grad };
}

/**
 * L2-SP: decay toward the pretrained parameters rather than toward zero. Zero would shrink the
 * pretrained projection that the tuning starts from; this keeps the tuned layer close to it,
 * which is what stops a few dozen people from overwriting what millions of faces taught.
 * Adds lambda * (theta - theta0) to `grad`; returns the penalty lambda/2 |theta - theta0|^2.
 */
export function addDecayToward(grad: Float64Array, params: Float64Array, anchor: Float64Array, lambda: number): number {
  let penalty = 0;
  for (let i = 0; i < params.length; i++) {
    const d = params[i]! - anchor[i]!;
    grad[i] = grad[i]! + lambda * d;
    penalty += d * d;
  }
  return (lambda / 2) * penalty;
}

/** Adam (Kingma & Ba 2015), the seed's default optimiser for triplet training. */
export class Adam {
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private t = 0;

  constructor(
    size: number,
    private readonly lr: number,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly eps = 1e-8,
  ) {
    this.m = new Float64Array(size);
    this.v = new Float64Array(size);
  }

  step(params: Float64Array, grad: Float64Array): void {
    this.t++;
    const c1 = 1 - this.beta1 ** this.t;
    const c2 = 1 - this.beta2 ** this.t;
    for (let i = 0; i < params.length; i++) {
      const g = grad[i]!;
      this.m[i] = this.beta1 * this.m[i]! + (1 - this.beta1) * g;
      this.v[i] = this.beta2 * this.v[i]! + (1 - this.beta2) * g * g;
      params[i] = params[i]! - (this.lr * (this.m[i]! / c1)) / (Math.sqrt(this.v[i]! / c2) + this.eps);
    }
  }
}

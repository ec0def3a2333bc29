// The training loop of the seed's train_tripletloss.py over precomputed features: per step,
// sample people, embed the sample with the current weights, mine triplets, then train on them in
// batches of batch_size / 3 triplets; epoch_size batches make an epoch. Early stopping keeps the
// epoch with the best verification score on validation people (epoch 0 = the pretrained weights).
import { equalErrorRate, rocAuc, rocCurve } from '../eval/verification.js';
import { createRng, type Rng } from '../util/rng.js';
import { Adam, addDecayToward, cloneProjection, embed, mineTriplets, samplePeople, tripletLossAndGradient, type NegativeFallback, type Projection, type Triplet, type Vector } from './triplet.js';

export interface TrainSettings {
  alpha: number;
  peoplePerBatch: number;
  imagesPerPerson: number;
  /** Images per training batch; batchSize / 3 triplets. */
  batchSize: number;
  /** Batches per epoch. */
  epochSize: number;
  maxEpochs: number;
  /** Epochs without a better validation score before stopping. */
  patience: number;
  learningRate: number;
  /** L2-SP strength: decay toward the pretrained weights. */
  weightDecay: number;
  fallback: NegativeFallback;
  seed: number;
}

export interface TrainData {
  features: (id: number) => Vector;
  /** people[k][j]: feature ids of the variants of photo j of training person k (one is drawn per sample). */
  people: readonly (readonly (readonly number[])[])[];
}

export interface ValidationScore {
  eer: number;
  auc: number;
}

export interface EpochStats {
  epoch: number;
  /** Mean triplet loss and active-triplet share over the epoch's batches. */
  loss: number;
  active: number;
  validation?: ValidationScore;
}

export interface BatchStats {
  epoch: number;
  batch: number;
  loss: number;
  active: number;
}

export interface TrainResult {
  projection: Projection;
  /** Epoch whose weights are returned; 0 means none beat the pretrained weights on validation. */
  bestEpoch: number;
  baseline?: ValidationScore;
  epochs: EpochStats[];
  batches: BatchStats[];
  stoppedEarly: boolean;
}

export interface TrainHooks {
  /** Verification score of a candidate projection on validation people; without it, the last epoch wins. */
  validate?: (p: Projection) => ValidationScore;
  onBatch?: (b: BatchStats) => void;
  onEpoch?: (e: EpochStats, best: boolean) => void;
}

/** Lower EER wins; AUC breaks ties (small validation sets make equal EERs common). */
function isBetter(a: ValidationScore, b: ValidationScore): boolean {
  return a.eer < b.eer || (a.eer === b.eer && a.auc > b.auc);
}

/** A stream of training triplets (as feature ids), resampling people when one sample is used up. */
function tripletStream(p: Projection, data: TrainData, s: TrainSettings, rng: Rng): () => Triplet | undefined {
  let queue: Triplet[] = [];
  let emptySamples = 0;
  return () => {
    while (queue.length === 0) {
      // A sample where no pair finds a useful negative teaches nothing; after a run of them the
      // embedding has separated the training people and the epoch ends early.
      if (emptySamples >= 10) return undefined;
      const sample = samplePeople(data.people, s.peoplePerBatch, s.imagesPerPerson, rng);
      const ids = sample.images.map((variants) => variants[rng.int(variants.length)]!);
      const embeddings = ids.map((id) => embed(p, data.features(id)).e);
      const mined = mineTriplets(embeddings, sample.perPerson, s.alpha, rng, s.fallback);
      queue = rng.shuffle(mined.map(([a, b, c]) => [ids[a]!, ids[b]!, ids[c]!] as const));
      emptySamples = queue.length === 0 ? emptySamples + 1 : 0;
    }
    return queue.pop();
  };
}

export function trainProjection(initial: Projection, data: TrainData, s: TrainSettings, hooks: TrainHooks = {}): TrainResult {
  if (data.people.length < 2) throw new Error(`triplet training needs at least 2 people, got ${data.people.length}`);
  const tripletsPerBatch = Math.max(1, Math.floor(s.batchSize / 3));
  const rng = createRng(s.seed);
  const current = cloneProjection(initial);
  const anchor = Float64Array.from(initial.params);
  const adam = new Adam(current.params.length, s.learningRate);
  const next = tripletStream(current, data, s, rng);

  const baseline = hooks.validate?.(current);
  let best = { projection: cloneProjection(current), epoch: 0, score: baseline };
  const epochs: EpochStats[] = [];
  const batches: BatchStats[] = [];
  let stoppedEarly = false;

  for (let epoch = 1; epoch <= s.maxEpochs; epoch++) {
    let lossSum = 0;
    let activeSum = 0;
    let done = 0;
    for (let batch = 1; batch <= s.epochSize; batch++) {
      const triplets: Triplet[] = [];
      while (triplets.length < tripletsPerBatch) {
        const t = next();
        if (!t) break;
        triplets.push(t);
      }
      if (triplets.length === 0) break;
      const { loss, activeFraction, grad } = tripletLossAndGradient(current, data.features, triplets, s.alpha);
      if (s.weightDecay > 0) addDecayToward(grad, current.params, anchor, s.weightDecay);
      adam.step(current.params, grad);
      const stats = { epoch, batch, loss, active: activeFraction };
      batches.push(stats);
      hooks.onBatch?.(stats);
      lossSum += loss;
      activeSum += activeFraction;
      done++;
    }
    if (done === 0) {
      stoppedEarly = true;
      break;
    }
    const validation = hooks.validate?.(current);
    const stats: EpochStats = { epoch, loss: lossSum / done, active: activeSum / done, ...(validation ? { validation } : {}) };
    epochs.push(stats);
    const improved = !validation || !best.score || isBetter(validation, best.score);
    if (improved) best = { projection: cloneProjection(current), epoch, score: validation };
    hooks.onEpoch?.(stats, improved);
    if (validation && epoch - best.epoch >= s.patience) {
      stoppedEarly = epoch < s.maxEpochs;
      break;
    }
  }
  return { projection: best.projection, bestEpoch: best.epoch, ...(baseline ? { baseline } : {}), epochs, batches, stoppedEarly };
}

// ---------------------------------------------------------------------------------------------
// Verification over all pairs of a labelled set

/** Cosine scores of every pair of embeddings (L2-normalised), split by whether the labels match. */
export function allPairScores(embeddings: readonly Vector[], labels: readonly number[]): { genuine: number[]; impostor: number[] } {
  const genuine: number[] = [];
  const impostor: number[] = [];
  for (let i = 0; i < embeddings.length; i++) {
    for (let j = i + 1; j < embeddings.length; j++) {
      let s = 0;
      const a = embeddings[i]!, b = embeddings[j]!;
      for (let k = 0; k < a.length; k++) s += a[k]! * b[k]!;
      (labels[i] === labels[j] ? genuine : impostor).push(s);
    }
  }
  return { genuine, impostor };
}

export function validationScore(p: Projection, features: readonly Vector[], labels: readonly number[]): ValidationScore {
  const { genuine, impostor } = allPairScores(features.map((f) => embed(p, f).e), labels);
  return { eer: equalErrorRate(rocCurve(genuine, impostor)).eer, auc: rocAuc(genuine, impostor) };
}

// Enrollment: photos -> one face each -> quality gate -> near-duplicates collapsed -> templates,
// committed per person in one transaction.
import { readdirSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { cv } from '../vision/opencv.js';
import { errorReason, loadImage, type RgbImage } from '../vision/image.js';
import type { FaceAnalyzer } from '../vision/face-analyzer.js';
import type { FaceQuality } from '../vision/quality.js';
import { cosine } from '../eval/verification.js';
import type { GalleryStore, ModelTag, TemplateSource } from './gallery-store.js';
import { validatePersonName } from './names.js';

export interface QualityGate {
  minFaceSize: number;
  minSharpness: number;
  minFrontalness: number;
  minScore: number;
}

/** Reasons a face fails the gate; empty when it passes. */
export function qualityProblems(q: FaceQuality, gate: QualityGate): string[] {
  const problems: string[] = [];
  if (q.faceSize < gate.minFaceSize) problems.push(`face too small (${q.faceSize.toFixed(0)} px < ${gate.minFaceSize})`);
  if (q.sharpness < gate.minSharpness) problems.push(`too blurred (sharpness ${q.sharpness.toFixed(0)} < ${gate.minSharpness})`);
  if (q.frontalness < gate.minFrontalness) problems.push(`not facing the camera (frontalness ${q.frontalness.toFixed(2)} < ${gate.minFrontalness})`);
  if (q.score < gate.minScore) problems.push(`detector unsure (score ${q.score.toFixed(3)} < ${gate.minScore})`);
  return problems;
}

/** A composite of the gate's signals, used to keep the best photo among near-duplicates. */
export function qualityRank(q: FaceQuality): number {
  return q.frontalness * 2 + Math.min(1, q.sharpness / 400) + Math.min(1, q.faceSize / 200) + q.score;
}

export interface Candidate {
  source: string;
  embedding: Float32Array;
  quality: FaceQuality;
  crop?: Buffer;
}

export interface Rejection {
  source: string;
  reason: string;
}

/** Greedy: best-quality first; a candidate too similar to one already kept is dropped. */
export function collapseNearDuplicates(candidates: Candidate[], maxSimilarity: number): { kept: Candidate[]; dropped: Rejection[] } {
  const order = [...candidates].sort((a, b) => qualityRank(b.quality) - qualityRank(a.quality));
  const kept: Candidate[] = [];
  const dropped: Rejection[] = [];
  for (const c of order) {
    const twin = kept.find((k) => cosine(k.embedding, c.embedding) > maxSimilarity);
    if (twin) dropped.push({ source: c.source, reason: `near-duplicate of ${basename(twin.source)} (similarity ${cosine(twin.embedding, c.embedding).toFixed(3)})` });
    else kept.push(c);
  }
  return { kept, dropped };
}

export interface EnrollmentSettings {
  gate: QualityGate;
  dedupeSimilarity: number;
  keepCrops: boolean;
}

/** Analyses photos of one person; nothing is written. */
export async function prepareCandidates(analyzer: FaceAnalyzer, files: string[], settings: EnrollmentSettings): Promise<{ accepted: Candidate[]; rejected: Rejection[] }> {
  return prepareCandidatesFrom(analyzer, files.map((file) => ({ source: file, image: () => loadImage(file) })), settings);
}

/** The same for images from anywhere (uploads): each is decoded only when its turn comes. */
export async function prepareCandidatesFrom(analyzer: FaceAnalyzer, inputs: { source: string; image: () => RgbImage }[], settings: EnrollmentSettings): Promise<{ accepted: Candidate[]; rejected: Rejection[] }> {
  const accepted: Candidate[] = [];
  const rejected: Rejection[] = [];
  for (const { source: file, image } of inputs) {
    try {
      const img = image();
      const a = await analyzer.analyze(img.mat, 'all');
      if (a.faces.length === 0) {
        rejected.push({ source: file, reason: 'no face found' });
        continue;
      }
      if (a.faces.length > 1) {
        rejected.push({ source: file, reason: `${a.faces.length} faces found: enrollment photos must show one person` });
        continue;
      }
      const face = a.faces[0]!;
      const problems = qualityProblems(face.quality, settings.gate);
      if (problems.length > 0) {
        rejected.push({ source: file, reason: problems.join('; ') });
        continue;
      }
      const crop = settings.keepCrops ? cv.imencode('.png', analyzer.embedder.crop(img.mat, face).cvtColor(cv.COLOR_RGB2BGR)) : undefined;
      accepted.push({ source: file, embedding: face.embedding!, quality: face.quality, ...(crop ? { crop } : {}) });
    } catch (err) {
      rejected.push({ source: file, reason: errorReason(err) });
    }
  }
  const { kept, dropped } = collapseNearDuplicates(accepted, settings.dedupeSimilarity);
  return { accepted: kept, rejected: [...rejected, ...dropped] };
}

export interface EnrollResult {
  name: string;
  added: number;
  rejected: Rejection[];
}

/**
 * Writes one person's accepted candidates in a single transaction: all of them or none. With
 * `dedupeSimilarity`, candidates identical or near-identical to a template the person already has
 * (of the same model) are skipped: re-running an import after a kill adds nothing twice.
 */
export function commitEnrollment(store: GalleryStore, name: string, model: ModelTag, candidates: Candidate[], source: TemplateSource, dedupeSimilarity?: number): number {
  return commitCandidates(store, name, model, candidates, source, dedupeSimilarity).added;
}

export function commitCandidates(store: GalleryStore, name: string, model: ModelTag, candidates: Candidate[], source: TemplateSource, dedupeSimilarity?: number): { added: number; duplicates: number } {
  if (candidates.length === 0) return { added: 0, duplicates: 0 };
  return store.transaction(() => {
    const person = store.ensurePerson(name);
    const templates = candidates.map((c) => ({
      embedding: c.embedding,
      quality: { ...c.quality },
      source,
      sourceRef: basename(c.source),
      ...(c.crop ? { crop: c.crop } : {}),
    }));
    if (dedupeSimilarity === undefined) return { added: store.addTemplates(person, model, templates).length, duplicates: 0 };
    const r = store.addNewTemplates(person, model, templates, dedupeSimilarity);
    return { added: r.ids.length, duplicates: r.duplicates };
  });
}

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.bmp', '.webp']);

/** `DIR/<name>/*.jpg` (the seed's FaceDataSet layout): person name -> photo files. */
export function scanFaceDataSet(dir: string): { people: { name: string; files: string[] }[]; problems: Rejection[] } {
  let entries: string[];
  try {
    entries = readdirSync(dir).sort();
  } catch (err) {
    throw new Error(`cannot read ${dir}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such folder' : (err as Error).message}`);
  }
  const people: { name: string; files: string[] }[] = [];
  const problems: Rejection[] = [];
  for (const entry of entries) {
    const path = join(dir, entry);
    if (!statSync(path).isDirectory()) continue;
    try {
      validatePersonName(entry);
    } catch (err) {
      problems.push({ source: path, reason: (err as Error).message });
      continue;
    }
    const files = readdirSync(path)
      .sort()
      .filter((f) => IMAGE_EXTENSIONS.has(extname(f).toLowerCase()))
      .map((f) => join(path, f));
    if (files.length === 0) problems.push({ source: path, reason: 'no image files (.jpg, .jpeg, .png, .bmp, .webp)' });
    else people.push({ name: entry, files });
  }
  if (people.length === 0 && problems.length === 0) problems.push({ source: dir, reason: 'no person folders: expected DIR/<name>/*.jpg' });
  return { people, problems };
}

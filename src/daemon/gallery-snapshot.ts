// The daemon's view of the gallery: rebuilt whole when another process (the CLI, remote
// enrollment) commits a change, so the recognition loop always searches a consistent set.
import type { GalleryStore, ModelTag } from '../gallery/gallery-store.js';
import { SearchIndex } from '../matching/search-index.js';
import { rowScorerFor } from '../matching/ort-row-scorer.js';
import type { GallerySnapshot } from '../recognition/recognition-loop.js';

export interface LoadedSnapshot extends GallerySnapshot {
  people: number;
  templates: number;
  dataVersion: number;
}

export async function loadSnapshot(store: GalleryStore, model: ModelTag): Promise<LoadedSnapshot> {
  const dataVersion = store.dataVersion();
  const matrix = store.matrixFor(model);
  const negatives = store.negativesMatrixFor(model);
  const groups = new Map(store.listPeople().map((p) => [p.name, p.groups]));
  return {
    index: new SearchIndex(matrix, negatives, await rowScorerFor(matrix.vectors, matrix.dim)),
    modelId: model.id,
    modelSha: model.sha256,
    groupsOf: (name) => groups.get(name) ?? [],
    people: matrix.names.size,
    templates: matrix.personIds.length,
    dataVersion,
  };
}

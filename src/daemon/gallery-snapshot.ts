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
  /** The stable UUID of a person of this snapshot (local ids differ between controllers). */
  uuidOf(personId: number): string | undefined;
  /** Frees what the snapshot holds outside the JS heap (the ONNX scorer session of a large gallery). */
  release(): Promise<void>;
}

export async function loadSnapshot(store: GalleryStore, model: ModelTag): Promise<LoadedSnapshot> {
  const dataVersion = store.dataVersion();
  const matrix = store.matrixFor(model);
  const negatives = store.negativesMatrixFor(model);
  const people = store.listPeople();
  const groups = new Map(people.map((p) => [p.name, p.groups]));
  const uuids = new Map(people.map((p) => [p.id, p.uuid]));
  const scorer = await rowScorerFor(matrix.vectors, matrix.dim);
  return {
    index: new SearchIndex(matrix, negatives, scorer),
    modelId: model.id,
    modelSha: model.sha256,
    groupsOf: (name) => groups.get(name) ?? [],
    people: matrix.names.size,
    templates: matrix.personIds.length,
    dataVersion,
    uuidOf: (id) => uuids.get(id),
    release: async () => {
      await scorer?.release();
    },
  };
}

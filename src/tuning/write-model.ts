// The tuned embedder: the parent's graph, node for node, with only the projection's weight and
// bias replaced. Everything else (input spec, crop, normalisation) stays valid, and the bytes are
// a pure function of the parent, the new weights and the metadata: no timestamps.
import { decodeModel, dimsOf, encodeModel, tensorProto } from '../models/onnx/graph.js';
import type { ProjectionLayer } from './features.js';

export interface TunedModelMetadata {
  parentSha256: string;
  dataFingerprint: string;
  /** Anything else worth carrying in the file (method, seed, preset, hyper-parameters). */
  extra: Record<string, string>;
}

export function tunedModelBytes(parentBytes: Uint8Array, layer: ProjectionLayer, w: Float32Array, b: Float32Array, meta: TunedModelMetadata): Uint8Array {
  if (w.length !== layer.outDim * layer.inDim || b.length !== layer.outDim) {
    throw new Error(`tuned projection must be ${layer.outDim}x${layer.inDim} + ${layer.outDim}, got ${w.length} + ${b.length}`);
  }
  const model = decodeModel(parentBytes);
  const graph = model.graph!;
  let replaced = 0;
  const initializer = (graph.initializer ?? []).map((t) => {
    if (t.name === layer.weight) return (replaced++, tensorProto(layer.weight, w, dimsOf(t)));
    if (t.name === layer.bias) return (replaced++, tensorProto(layer.bias, b, dimsOf(t)));
    return t;
  });
  if (replaced !== 2) throw new Error(`parent model has no initializers ${layer.weight} and ${layer.bias}`);
  const props = new Map((model.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? '']));
  props.set('parent_sha256', meta.parentSha256);
  props.set('data_fingerprint', meta.dataFingerprint);
  for (const [k, v] of Object.entries(meta.extra)) props.set(k, v);
  return encodeModel({
    ...model,
    docString: `${model.docString ?? ''} Fine-tuned by facegate tune: layer ${layer.node} retrained with triplet loss (parent sha256 ${meta.parentSha256}).`.trim(),
    metadataProps: [...props].map(([key, value]) => ({ key, value })),
    graph: { ...graph, initializer },
  });
}

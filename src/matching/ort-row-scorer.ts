// Template scoring on ONNX Runtime's MatMul (SIMD, MLAS): for large galleries the dot products
// are memory-bound, and ORT reaches the bandwidth limit where a JavaScript loop does not
// (100k x 192 templates: about 10 ms vs 40 ms per query on the 2-core development VM).
import { OnnxGraphBuilder } from '../models/onnx/graph.js';
import { ort } from '../runtime/onnx-session.js';
import type { RowScorer } from './search-index.js';

/** Below this many templates the JavaScript loop is as fast and avoids the async hop. */
export const ORT_SCORER_MIN_ROWS = 4096;

export class OrtRowScorer implements RowScorer {
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly gallery: ort.Tensor,
    private readonly dim: number,
  ) {}

  static async create(vectors: Float32Array, dim: number): Promise<OrtRowScorer> {
    const g = new OnnxGraphBuilder('gallery_scores');
    g.input('templates', ['rows', dim]);
    g.input('query', [dim, 1]);
    g.node('MatMul', ['templates', 'query'], { outputs: ['scores'] });
    g.output('scores', ['rows', 1]);
    const session = await ort.InferenceSession.create(Buffer.from(g.build()), { intraOpNumThreads: 1, interOpNumThreads: 1 });
    return new OrtRowScorer(session, new ort.Tensor('float32', vectors, [vectors.length / dim, dim]), dim);
  }

  async release(): Promise<void> {
    await this.session.release();
  }

  async scores(query: Float32Array): Promise<Float32Array> {
    const out = await this.session.run({ templates: this.gallery, query: new ort.Tensor('float32', query, [this.dim, 1]) });
    return out.scores!.data as Float32Array;
  }
}

/** The scorer that suits the gallery's size. */
export async function rowScorerFor(vectors: Float32Array, dim: number): Promise<OrtRowScorer | undefined> {
  return dim > 0 && vectors.length / dim >= ORT_SCORER_MIN_ROWS ? OrtRowScorer.create(vectors, dim) : undefined;
}

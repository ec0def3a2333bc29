// The MTCNN family: its three nets of the chosen precision from the manifest.
import { findModel, mtcnnIds, type Manifest } from '../../models/manifest.js';
import { sessionFor, toPrecision, type LoadedDetector, type PipelineOptions } from '../face-pipeline.js';
import { MtcnnDetector } from './detector.js';

export async function loadMtcnn(opts: PipelineOptions, manifest: Manifest): Promise<LoadedDetector> {
  const ids = mtcnnIds(toPrecision(opts.precision ?? 'float32'));
  const entries = { pnet: findModel(manifest, ids.pnet), rnet: findModel(manifest, ids.rnet), onet: findModel(manifest, ids.onet) };
  for (const e of Object.values(entries)) if (e.family !== 'mtcnn') throw new Error(`model "${e.id}" is of family ${e.family}, not mtcnn`);
  const [pnet, rnet, onet] = await Promise.all([
    sessionFor(opts.modelsDir, entries.pnet, opts),
    sessionFor(opts.modelsDir, entries.rnet, opts),
    sessionFor(opts.modelsDir, entries.onet, opts),
  ]);
  const norm = entries.pnet.input.normalisation;
  if (norm.kind !== 'linear') throw new Error(`detector ${entries.pnet.id}: MTCNN needs linear normalisation`);
  const detector = new MtcnnDetector({ pnet: pnet.session, rnet: rnet.session, onet: onet.session }, { mean: norm.mean, scale: norm.scale }, opts.mtcnn);
  return { detector, provider: pnet.provider, ids: Object.values(ids) };
}

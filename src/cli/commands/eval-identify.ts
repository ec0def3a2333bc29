import type { Command } from 'commander';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { pipelineOptions } from '../../app/gallery-context.js';
import { describeConfigSource, loadConfigFor } from '../../config/load.js';
import { findModel, readManifest } from '../../models/manifest.js';
import { defaultEmbedderId } from '../../vision/face-pipeline.js';
import { loadAnalyzer } from '../../vision/load-analyzer.js';
import { embedFiles } from '../../eval/embed-files.js';
import { evaluateIdentification, packGallery, type Probe } from '../../eval/identification.js';
import type { Aggregation } from '../../matching/search-index.js';
import { info, printJson } from '../output.js';
import { progress } from '../progress.js';

const IMAGES = new Set(['.jpg', '.jpeg', '.png', '.bmp', '.pgm', '.webp']);

function personFolders(dir: string): { name: string; files: string[] }[] {
  return readdirSync(dir)
    .sort()
    .map((name) => ({ name, path: join(dir, name) }))
    .filter((e) => statSync(e.path).isDirectory())
    .map((e) => ({ name: e.name, files: readdirSync(e.path).sort().filter((f) => IMAGES.has(extname(f).toLowerCase())).map((f) => join(e.path, f)) }))
    .filter((p) => p.files.length > 0);
}

export function registerEvalIdentifyCommand(program: Command): void {
  program
    .command('eval-identify')
    .description('open-set 1:N test: enroll the first K photos of each person folder, identify the rest and the strangers; rank-1, correct/missed/misidentified, stranger rejection per aggregation')
    .requiredOption('--identities <dir>', 'DIR/<person>/*.jpg')
    .option('--strangers <dir>', 'DIR/<person>/*.jpg of people who are not enrolled')
    .option('--enroll <k>', 'photos per person to enroll', '3')
    .option('--hold-out', 'also use every second person folder of --identities as strangers (not enrolled)')
    .option('--threshold <t>', 'match threshold (default: the config\'s matching.threshold)')
    .option('--config <file>', 'config file')
    .option('--json', 'print JSON')
    .action(async (o: { identities: string; strangers?: string; enroll: string; holdOut?: boolean; threshold?: string; config?: string; json?: boolean }) => {
      const k = Number(o.enroll);
      if (!(Number.isInteger(k) && k >= 1)) throw new Error(`--enroll must be a whole number >= 1, got ${o.enroll}`);
      if (!existsSync(o.identities)) throw new Error(`${o.identities}: no such folder`);
      const loaded = loadConfigFor(o.config);
      info(describeConfigSource(loaded));
      const pipeline = pipelineOptions(loaded, info);
      const matching = loaded.config.matching;
      const threshold = o.threshold !== undefined ? Number(o.threshold) : matching.threshold;
      const entry = findModel(readManifest(pipeline.modelsDir), pipeline.embedderId ?? defaultEmbedderId(pipeline.precision ?? 'float32'));
      const folders = personFolders(o.identities);
      const heldOut = o.holdOut ? folders.filter((_, i) => i % 2 === 1) : [];
      const people = folders.filter((p) => !heldOut.includes(p) && p.files.length > k);
      const strangers = [...(o.strangers ? personFolders(o.strangers) : []), ...heldOut];
      const { analyzer, description } = await loadAnalyzer(pipeline);
      const all = [...people.flatMap((p) => p.files), ...strangers.flatMap((p) => p.files)];
      info(`${description}; ${people.length} people with more than ${k} photos, ${strangers.length} strangers, ${all.length} photos`);
      const bar = progress(all.length, { label: 'embedding', unit: 'images' });
      const emb = await embedFiles(analyzer, all, { onFile: () => bar.tick() });
      bar.stop();
      const enrolled = people.flatMap((p) => p.files.slice(0, k).filter((f) => emb.get(f)?.embedding).map((f) => ({ identity: p.name, embedding: emb.get(f)!.embedding! })));
      const probes: Probe[] = [
        ...people.flatMap((p) => p.files.slice(k).map((f) => ({ file: f, identity: p.name, e: emb.get(f)?.embedding }))),
        ...strangers.flatMap((p) => p.files.map((f) => ({ file: f, identity: null, e: emb.get(f)?.embedding }))),
      ]
        .filter((p) => p.e)
        .map((p) => ({ file: p.file, identity: p.identity, embedding: p.e! }));
      const gallery = packGallery(enrolled, entry.sha256);
      const reports = await Promise.all((['max', 'mean-top2', 'centroid'] as Aggregation[]).map((aggregation) => evaluateIdentification(gallery, probes, { ...matching, threshold, aggregation })));
      const noFace = all.filter((f) => !emb.get(f)?.embedding).length;
      if (o.json) return printJson({ models: description, enrollPerPerson: k, noFace, reports });
      console.log(`${gallery.names.size} people enrolled with up to ${k} photos (${gallery.personIds.length} templates); ${reports[0]!.genuineProbes} probes of enrolled people, ${reports[0]!.strangerProbes} of strangers; ${noFace} photos without a face; threshold ${threshold}, margin ${matching.margin}`);
      console.log('aggregation   rank-1   correct  missed  misidentified  strangers rejected');
      for (const r of reports) {
        const pct = (v: number) => `${(v * 100).toFixed(1)}%`.padStart(7);
        console.log(`${r.aggregation.padEnd(12)} ${pct(r.rank1)}  ${pct(r.correct)} ${pct(r.missed)}  ${pct(r.misidentified)}        ${pct(r.strangerRejection)}`);
      }
      const fa = reports[0]!.strangerFalseAccepts;
      if (fa.length > 0) console.log(`strangers accepted (max): ${fa.join('; ')}`);
    });
}

import type { Command } from 'commander';
import { readFileSync, statSync } from 'node:fs';
import { analyzerFor, openGalleryContext, type GalleryContext } from '../../app/gallery-context.js';
import { commitCandidates, prepareCandidates, scanFaceDataSet, type Rejection } from '../../gallery/enrollment.js';
import { exportGallery, importGallery } from '../../gallery/exchange.js';
import { validatePersonName } from '../../gallery/names.js';
import { writePrivateFile } from '../../util/private-file.js';
import { secondsOption } from '../units.js';
import { loadImage } from '../../vision/image.js';
import { cv } from '../../vision/opencv.js';
import { info, printJson } from '../output.js';

async function withContext<T>(configOption: string | undefined, fn: (ctx: GalleryContext) => Promise<T> | T): Promise<T> {
  const ctx = openGalleryContext(configOption, info);
  try {
    return await fn(ctx);
  } finally {
    ctx.close();
  }
}

function printRejections(rejected: Rejection[]): void {
  for (const r of rejected) console.log(`  skipped ${r.source}: ${r.reason}`);
}

export function registerGalleryCommands(program: Command): void {
  program
    .command('enroll')
    .description('enroll a person from photos (one face per photo, quality-gated, near-duplicates collapsed)')
    .argument('<name>', 'person name')
    .argument('<images...>', 'photos of that person')
    .option('--config <file>', 'config file (default ./facegate.yaml)')
    .option('--json', 'print JSON')
    .action(async (rawName: string, images: string[], o: { config?: string; json?: boolean }) => {
      const name = validatePersonName(rawName);
      await withContext(o.config, async (ctx) => {
        const { accepted, rejected } = await prepareCandidates(await analyzerFor(ctx), images, ctx.settings);
        const { added, duplicates } = commitCandidates(ctx.store, name, ctx.model, accepted, 'cli', ctx.settings.dedupeSimilarity);
        if (o.json) printJson({ name, added, duplicates, rejected });
        else {
          console.log(`${name}: ${added} template${added === 1 ? '' : 's'} added from ${images.length} photo${images.length === 1 ? '' : 's'}${duplicates ? ` (${duplicates} already enrolled)` : ''}`);
          printRejections(rejected);
        }
        if (added + duplicates === 0) process.exitCode = 1;
      });
    });

  const gallery = program.command('gallery').description('list, inspect, change, export and import the enrolled people');

  gallery
    .command('list')
    .option('--config <file>', 'config file')
    .option('--json', 'print JSON')
    .action((o: { config?: string; json?: boolean }) =>
      withContext(o.config, (ctx) => {
        const people = ctx.store.listPeople();
        if (o.json) return printJson(people);
        if (people.length === 0) console.log('the gallery is empty (facegate enroll NAME PHOTO... adds people)');
        for (const p of people) console.log(`${p.name.padEnd(24)} ${String(p.templates).padStart(3)} templates  ${p.negatives} negatives  ${p.groups.length ? `groups ${p.groups.join(',')}  ` : ''}models ${p.models.join(',') || '-'}`);
        for (const m of ctx.store.modelsInUse().filter((x) => x.modelSha !== ctx.model.sha256)) {
          console.log(`note: ${m.templates} templates were made by model ${m.modelId}, not the configured ${ctx.model.id}; they are ignored until re-enrolled${m.withCrops ? ` (${m.withCrops} have crops: facegate gallery reembed)` : ''}`);
        }
      }),
    );

  gallery
    .command('show')
    .argument('<name>')
    .option('--config <file>', 'config file')
    .option('--json', 'print JSON')
    .action((name: string, o: { config?: string; json?: boolean }) =>
      withContext(o.config, (ctx) => {
        const p = ctx.store.requirePerson(name);
        const templates = ctx.store.templatesOf(p).map(({ embedding: _e, crop, ...t }) => ({ ...t, hasCrop: crop !== null }));
        const negatives = ctx.store.negativesOf(p).map(({ embedding: _e, ...n }) => n);
        if (o.json) return printJson({ ...p, templates, negatives });
        console.log(`${p.name}  (uuid ${p.uuid}, added ${p.createdAt}${p.groups.length ? `, groups ${p.groups.join(',')}` : ''})`);
        for (const t of templates) {
          console.log(`  template ${t.id}: ${t.source}${t.sourceRef ? ` ${t.sourceRef}` : ''}, model ${t.modelId}, face ${Number(t.quality.faceSize).toFixed(0)} px, sharpness ${Number(t.quality.sharpness).toFixed(0)}, frontal ${Number(t.quality.frontalness).toFixed(2)}${t.hasCrop ? ', crop kept' : ''}`);
        }
        for (const n of negatives) console.log(`  negative ${n.id}: model ${n.modelId}${n.note ? ` (${n.note})` : ''}`);
      }),
    );

  gallery
    .command('rename')
    .argument('<old>')
    .argument('<new>')
    .option('--config <file>', 'config file')
    .action((oldName: string, newName: string, o: { config?: string }) =>
      withContext(o.config, (ctx) => {
        ctx.store.renamePerson(oldName, newName);
        console.log(`renamed ${oldName} to ${validatePersonName(newName)}`);
      }),
    );

  gallery
    .command('groups')
    .description('show or set the door groups of a person (doors[].allow.groups): NAME a,b sets them; --add/--remove change them')
    .argument('<name>')
    .argument('[groups]', 'comma-separated groups to set ("" for none)')
    .option('--add <groups>', 'comma-separated groups to add')
    .option('--remove <groups>', 'comma-separated groups to remove')
    .option('--config <file>', 'config file')
    .option('--json', 'print JSON')
    .action((name: string, set: string | undefined, o: { add?: string; remove?: string; config?: string; json?: boolean }) =>
      withContext(o.config, (ctx) => {
        const list = (text: string | undefined) => (text ?? '').split(',').map((g) => g.trim()).filter((g) => g !== '');
        if (set !== undefined && (o.add !== undefined || o.remove !== undefined)) throw new Error('give the groups to set, or --add/--remove, not both');
        let groups: string[];
        if (set !== undefined) {
          ctx.store.setGroups(name, list(set));
          groups = ctx.store.requirePerson(name).groups;
        } else if (o.add !== undefined || o.remove !== undefined) groups = ctx.store.updateGroups(name, list(o.add), list(o.remove));
        else groups = ctx.store.requirePerson(name).groups;
        if (o.json) printJson({ name, groups });
        else console.log(`${name}: ${groups.length ? `groups ${groups.join(',')}` : 'no groups'}`);
      }),
    );

  gallery
    .command('rekey')
    .description('rotate the gallery key: re-encrypt every template, negative, crop and pending capture under a new random key (stop the daemon first or not: it picks the new key up)')
    .option('--config <file>', 'config file')
    .option('--json', 'print JSON')
    .action((o: { config?: string; json?: boolean }) =>
      withContext(o.config, (ctx) => {
        const r = ctx.store.rekey(ctx.store.device);
        if (o.json) return printJson(r);
        console.log(`re-encrypted ${r.rows} rows under key ${r.keyId}; the old key is gone from ${ctx.store.keys.path ?? 'memory'} (back up the new key file)`);
      }),
    );

  gallery
    .command('remove')
    .argument('<name>')
    .option('--config <file>', 'config file')
    .option('--json', 'print JSON')
    .action((name: string, o: { config?: string; json?: boolean }) =>
      withContext(o.config, (ctx) => {
        const removed = ctx.store.removePerson(name);
        if (o.json) printJson({ name, ...removed });
        else console.log(`removed ${name}: ${removed.templates} templates, ${removed.negatives} negatives deleted`);
      }),
    );

  gallery
    .command('export')
    .argument('<file>', 'JSON file to write (- for stdout)')
    .option('--config <file>', 'config file')
    .action((file: string, o: { config?: string }) =>
      withContext(o.config, (ctx) => {
        const data = JSON.stringify(exportGallery(ctx.store), null, 1);
        if (file === '-') process.stdout.write(`${data}\n`);
        else {
          // Templates are biometric data: the export is readable by its owner only.
          writePrivateFile(file, `${data}\n`);
          info(`exported ${ctx.store.listPeople().length} people to ${file} (mode 0600; the embeddings in it are not encrypted)`);
        }
      }),
    );

  gallery
    .command('import')
    .description('import a FaceDataSet folder (DIR/<name>/*.jpg) or a JSON export')
    .argument('<source>', 'folder or .json file')
    .option('--config <file>', 'config file')
    .option('--json', 'print JSON')
    .action(async (source: string, o: { config?: string; json?: boolean }) => {
      await withContext(o.config, async (ctx) => {
        if (statSync(source, { throwIfNoEntry: false })?.isDirectory()) {
          const { people, problems } = scanFaceDataSet(source);
          const analyzer = people.length > 0 ? await analyzerFor(ctx) : undefined;
          const results: { name: string; added: number; duplicates: number; rejected: Rejection[] }[] = [];
          for (const person of people) {
            const { accepted, rejected } = await prepareCandidates(analyzer!, person.files, ctx.settings);
            // One transaction per person: a crash leaves whole people, never half of one. Faces
            // already enrolled (an import run again after a kill) are not added twice.
            const { added, duplicates } = commitCandidates(ctx.store, person.name, ctx.model, accepted, 'folder', ctx.settings.dedupeSimilarity);
            results.push({ name: person.name, added, duplicates, rejected });
            if (!o.json) {
              console.log(`${person.name}: ${added} of ${person.files.length} photos enrolled${duplicates ? ` (${duplicates} already enrolled)` : ''}`);
              printRejections(rejected);
            }
          }
          if (o.json) printJson({ people: results, problems });
          else for (const p of problems) console.log(`skipped ${p.source}: ${p.reason}`);
          if (results.every((r) => r.added + r.duplicates === 0)) process.exitCode = 1;
          return;
        }
        let raw: unknown;
        try {
          raw = JSON.parse(readFileSync(source, 'utf8'));
        } catch (err) {
          throw new Error(`${source}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or folder' : `not JSON (${(err as Error).message})`}`);
        }
        const r = importGallery(ctx.store, raw, ctx.model, ctx.embedderEntry.embeddingDim!, ctx.settings.dedupeSimilarity);
        if (o.json) printJson(r);
        else console.log(`imported ${r.people} people: ${r.templates} templates, ${r.negatives} negatives${r.duplicates ? ` (${r.duplicates} already in the gallery, not added again)` : ''}`);
      });
    });

  gallery
    .command('negative')
    .description('store a negative template: the face in this photo is NOT this person (vetoes look-alike matches)')
    .argument('<name>', 'the person this face must not match')
    .argument('<image>', 'photo with exactly one face')
    .option('--note <text>', 'why (kept in the gallery)')
    .option('--config <file>', 'config file')
    .action(async (name: string, image: string, o: { config?: string; note?: string }) => {
      await withContext(o.config, async (ctx) => {
        const person = ctx.store.requirePerson(name);
        const a = await (await analyzerFor(ctx)).analyze(loadImage(image).mat, 'all');
        if (a.faces.length !== 1) throw new Error(`${image}: ${a.faces.length} faces found; a negative template needs exactly one`);
        ctx.store.transaction(() => ctx.store.addNegative(person, ctx.model, a.faces[0]!.embedding!, o.note));
        console.log(`stored: the face in ${image} is not ${person.name}`);
      });
    });

  gallery
    .command('reembed')
    .description('after a model switch: re-embed templates from their stored face crops (only when gallery.keepCrops was on when they were enrolled)')
    .option('--config <file>', 'config file')
    .option('--json', 'print JSON')
    .action(async (o: { config?: string; json?: boolean }) => {
      await withContext(o.config, async (ctx) => {
        const todo = ctx.store.templatesToReembed(ctx.model);
        const others = ctx.store.modelsInUse().filter((m) => m.modelSha !== ctx.model.sha256);
        const withoutCrops = others.reduce((n, m) => n + m.templates - m.withCrops, 0);
        if (ctx.embedderEntry.input.crop.method !== 'similarity-5pt' && todo.length > 0) {
          throw new Error(`stored crops are 5-point aligned; model ${ctx.model.id} needs ${ctx.embedderEntry.input.crop.method} crops: re-enroll from photos`);
        }
        const embedder = (await analyzerFor(ctx)).embedder;
        let done = 0;
        for (const t of todo) {
          const rgb = cv.imdecode(t.crop!, cv.IMREAD_COLOR).cvtColor(cv.COLOR_BGR2RGB).resize(embedder.height, embedder.width);
          const [embedding] = await embedder.embedCrops([rgb]);
          ctx.store.transaction(() =>
            ctx.store.addTemplates(ctx.store.requirePerson(t.personName), ctx.model, [{ embedding: embedding!, quality: t.quality, source: 'reembed', sourceRef: `template:${t.id}`, crop: t.crop! }]),
          );
          done++;
        }
        const result = { reembedded: done, model: ctx.model.id, notReembeddable: withoutCrops };
        if (o.json) return printJson(result);
        console.log(`re-embedded ${done} templates with ${ctx.model.id}`);
        if (withoutCrops > 0) console.log(`${withoutCrops} templates of other models have no stored crop: re-enroll those people from photos (facegate gallery list shows who)`);
      });
    });

  gallery
    .command('arm')
    .description('arm enrollment: the next press of the enrollment button enrolls this name')
    .argument('<name>')
    .option('--ttl <seconds>', 'how long the arming lasts, in seconds', '300')
    .option('--config <file>', 'config file')
    .action((name: string, o: { ttl: string; config?: string }) =>
      withContext(o.config, (ctx) => {
        const seconds = secondsOption('--ttl', o.ttl, { max: 86_400 });
        const armed = ctx.store.device.armEnrollment(name, seconds * 1000);
        console.log(`armed: the next button press enrolls ${armed.name} (until ${armed.expiresAt})`);
      }),
    );

  const pending = gallery.command('pending').description('captures from the enrollment button that were not armed with a name');
  pending
    .command('list')
    .option('--config <file>', 'config file')
    .option('--json', 'print JSON')
    .action((o: { config?: string; json?: boolean }) =>
      withContext(o.config, (ctx) => {
        const list = ctx.store.device.listPending();
        if (o.json) return printJson(list);
        if (list.length === 0) console.log('no pending captures');
        for (const p of list) console.log(`${p.id}: ${p.templates} faces captured ${p.createdAt} (${p.source})${p.note ? ` ${p.note}` : ''}`);
      }),
    );
  pending
    .command('name')
    .argument('<id>')
    .argument('<name>')
    .option('--config <file>', 'config file')
    .action((id: string, name: string, o: { config?: string }) =>
      withContext(o.config, (ctx) => {
        const r = ctx.store.device.namePending(Number(id), name);
        console.log(`pending ${id} enrolled as ${r.person} (${r.templates} templates)`);
      }),
    );
  pending
    .command('discard')
    .argument('<id>')
    .option('--config <file>', 'config file')
    .action((id: string, o: { config?: string }) =>
      withContext(o.config, (ctx) => {
        ctx.store.device.discardPending(Number(id));
        console.log(`pending ${id} discarded`);
      }),
    );

  gallery
    .command('audit')
    .description('recent gallery changes')
    .option('--config <file>', 'config file')
    .option('--limit <n>', 'entries', '50')
    .option('--json', 'print JSON')
    .action((o: { config?: string; limit: string; json?: boolean }) =>
      withContext(o.config, (ctx) => {
        const log = ctx.store.auditLog(Number(o.limit));
        if (o.json) return printJson(log);
        for (const e of log) console.log(`${e.at}  ${e.action.padEnd(16)} ${e.person ?? ''}  ${JSON.stringify(e.details)}`);
      }),
    );
}

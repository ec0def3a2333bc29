import type { Command } from 'commander';
import { availableParallelism } from 'node:os';
import { DEFAULT_MODELS_DIR, SOURCES_CACHE_DIR } from '../../paths.js';
import { fetchSamplePhotos } from '../../fixtures/sample-photos.js';
import { loadDetector, type PrecisionChoice } from '../../vision/face-pipeline.js';
import { buildBenchFrames } from '../../bench/frames.js';
import { machineFacts, peakRssKiB, PRECISIONS, runStageBench, STAGES, WARMUP_RUNS, type MachineFacts, type Summary } from '../../bench/stage-bench.js';
import { runGalleryBench } from '../../bench/gallery-bench.js';
import { CAMERA_FPS, runDaemonBench, type DaemonBenchResult } from '../../bench/daemon-bench.js';
import { profileModels } from '../../bench/node-profile.js';
import { fleetBench, liveViewBench, livenessBench } from '../../bench/extra-bench.js';
import { info, printJson } from '../output.js';

interface BenchOptions {
  modelsDir: string;
  runs: string;
  precision: string;
  threads: string;
  gallery?: boolean;
  daemon?: boolean;
  profile?: boolean;
  liveness?: boolean;
  liveView?: boolean;
  fleet?: boolean;
  controllers: string;
  people: string;
  json?: boolean;
}

/** One part of the report; each runs on its own and renders its own JSON and text. */
interface BenchSection {
  name: string;
  run(): Promise<{ json: unknown; text: string[] }>;
}

export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description('measure per-stage latency of the vision pipeline on this machine (decode, MTCNN stages, alignment, embedding)')
    .option('--models-dir <dir>', 'models folder with manifest.json', DEFAULT_MODELS_DIR)
    .option('--runs <n>', 'timed runs per configuration, after a few untimed warm-up runs', '30')
    .option('--precision <list>', `model precisions, comma-separated (${PRECISIONS.join(', ')})`, PRECISIONS.join(','))
    .option('--threads <list>', 'intra-op thread counts, comma-separated', `1,${availableParallelism()}`)
    .option('--gallery', 'measure 1:N search over 1k, 10k and 100k templates instead of the vision stages')
    .option('--daemon', 'measure end-to-end frames per second of the daemon loop on a 640x480 video instead of the vision stages')
    .option('--profile', 'profile each model per ONNX operator type (ONNX Runtime profiler), float32 against static int8 on the same shapes')
    .option('--liveness', 'milliseconds per face of each presentation-attack scorer (DTN, texture, planarity, fusion)')
    .option('--live-view', 'recognition fps of the real daemon with and without a web console live-view viewer')
    .option('--fleet', 'fleet sync: full resync of many simulated controllers on one local mosquitto (convergence time, message volume)')
    .option('--controllers <n>', 'controllers for --fleet', '50')
    .option('--people <n>', 'people for --fleet', '10000')
    .option('--json', 'print JSON')
    .action(async (o: BenchOptions) => {
      const sections: BenchSection[] = o.liveness
        ? [simpleSection('liveness', () => livenessBench(o.modelsDir, info), (r) => [`liveness, median ms per face over ${r.faces} faces x ${r.iterations}: crop ${fmtMs(r.msPerFace.crop)}, DTN ${r.msPerFace.dtn === null ? '-' : fmtMs(r.msPerFace.dtn)} (first liveness.passiveFrames faces of a track only), texture ${fmtMs(r.msPerFace.texture)}, planarity ${fmtMs(r.msPerFace.planarity)} (every usable face), fusion ${r.msPerFace.fusion === null ? '-' : fmtMs(r.msPerFace.fusion)}`])]
        : o.liveView
        ? [simpleSection('liveView', () => liveViewBench(o.modelsDir, info), (r) => [`live view: recognition ${r.fpsWithout.toFixed(2)} fps without a viewer, ${r.fpsWith.toFixed(2)} fps with one (ratio ${r.ratio.toFixed(2)}; ${r.rounds} rounds of ${r.secondsPerRound} s, alternating; ${r.encoded} frames encoded)`])]
        : o.fleet
        ? [simpleSection('fleet', () => fleetBench({ controllers: positiveInt('controllers', o.controllers), people: positiveInt('people', o.people) }, info), (r) => [`fleet: ${r.controllers} controllers, ${r.people} people, ${r.recordBytes} bytes per record; seed publishes all in ${(r.publishMs / 1000).toFixed(1)} s; full resync to the last controller ${(r.fanoutMs / 1000).toFixed(1)} s; one controller applies all in ${(r.applyMs / 1000).toFixed(1)} s`, JSON.stringify(r)])]
        : o.daemon
        ? [daemonSection(o.modelsDir, parsePrecisions(o.precision), parseThreads(o.threads))]
        : o.profile
        ? [profileSection(o.modelsDir, positiveInt('runs', o.runs))]
        : o.gallery
        ? [gallerySection()]
        : [stageSection({ modelsDir: o.modelsDir, runs: positiveInt('runs', o.runs), precisions: parsePrecisions(o.precision), threads: parseThreads(o.threads) })];
      const machine = machineFacts();
      const results: Record<string, unknown> = {};
      const text: string[] = [machineLine(machine)];
      for (const section of sections) {
        const r = await section.run();
        results[section.name] = r.json;
        text.push('', ...r.text);
      }
      const rss = peakRssKiB();
      if (o.json) {
        printJson({ machine, sections: results, peakRssKiB: rss });
      } else {
        text.push('', `peak RSS: ${(rss / 1024).toFixed(1)} MiB`);
        console.log(text.join('\n'));
      }
    });
}

function daemonSection(modelsDir: string, precisions: PrecisionChoice[], threads: number[]): BenchSection {
  return {
    name: 'daemon',
    async run() {
      const rows: DaemonBenchResult[] = [];
      for (const precision of precisions) {
        for (const t of threads) {
          info(`bench: daemon loop, ${precision}, ${t} thread${t === 1 ? '' : 's'}`);
          rows.push(await runDaemonBench({ modelsDir, precision, threads: t, log: info }));
        }
      }
      const text = [
        `daemon loop end to end on 640x480 videos: detect (ROI tracking on/off), quality, liveness slot, embed, identify, track, fuse, decide.`,
        `1-face and 5-face: one still zoomed slowly, every frame with its faces, played unpaced; visits: 8 visits of 1.5 s (5 enrolled, 3 strangers) with 1 s of empty doorway, played at ${CAMERA_FPS} fps like a camera.`,
        `frame ms and latency (first sighting to decision, capture-time difference plus the deciding frame's processing): median/p90 (latency also p99/max)`,
      ];
      for (const r of rows) {
        text.push('', `${r.precision}, ${r.threads} thread${r.threads === 1 ? '' : 's'}: cold start ${(r.coldStartMs / 1000).toFixed(2)} s (models + gallery, in-process), RSS after the runs ${r.rssMiB.toFixed(0)} MiB`);
        text.push(
          ...formatTable(
            ['video', 'roi', 'paced', 'frames', 'fps', 'faces/frame', 'full-frame', 'frame ms', 'decisions', 'latency ms'],
            r.runs.map((x) => [
              x.video,
              x.roi ? 'on' : 'off',
              x.paced ? 'yes' : 'no',
              String(x.frames),
              x.fps.toFixed(1),
              x.facesPerFrame.toFixed(2),
              `${(x.fullFrameShare * 100).toFixed(0)}%`,
              medianP90(x.frameMs),
              String(x.decisions),
              x.latencyMs ? `${medianP90(x.latencyMs)} p99 ${ms((x.latencyMs as Summary & { p99: number }).p99)}` : '-',
            ]),
          ),
        );
      }
      return { json: rows, text };
    },
  };
}

function profileSection(modelsDir: string, runs: number): BenchSection {
  return {
    name: 'profile',
    async run() {
      info(`bench: ONNX Runtime node profile, ${runs} runs per model, 1 thread`);
      const models = await profileModels({ modelsDir, suffixes: ['fp32', 'int8'], runs });
      const text = ['time per run by operator type (ms, ONNX Runtime profiler, 1 thread; nodes in brackets), largest first'];
      for (const m of models) {
        text.push(`${m.id.padEnd(20)} ${m.shape.join('x').padEnd(12)} ${ms(m.totalMs).padStart(6)}  ${m.byOpType.slice(0, 7).map((t) => `${t.opType} ${ms(t.ms)} (${t.nodes})`).join(', ')}`);
      }
      return { json: models, text };
    },
  };
}

function simpleSection<T>(name: string, run: () => Promise<T>, render: (r: T) => string[]): BenchSection {
  return {
    name,
    async run() {
      const r = await run();
      return { json: r, text: render(r) };
    },
  };
}

function gallerySection(): BenchSection {
  return {
    name: 'gallery',
    async run() {
      info('bench: 1:N search over synthetic galleries (random 192-d unit vectors, 5 templates per person), 100 queries each');
      const rows = await runGalleryBench({});
      const text = [
        'gallery search: full open-set decision per query, ms median/p90 over 100 queries (single thread, brute force over contiguous Float32Array rows; ONNX Runtime MatMul from 4096 templates)',
        'templates  people   dim  scorer       aggregation  identify',
        ...rows.map((r) => `${String(r.templates).padStart(9)}  ${String(r.people).padStart(6)}  ${String(r.dim).padStart(4)}  ${r.scorer.padEnd(11)}  ${r.aggregation.padEnd(11)}  ${fmtMs(r.identifyMs.median)}/${fmtMs(r.identifyMs.p90)}`),
      ];
      return { json: rows, text };
    },
  };
}

function fmtMs(v: number): string {
  return v < 10 ? v.toFixed(2) : v.toFixed(1);
}

function stageSection(o: { modelsDir: string; runs: number; precisions: PrecisionChoice[]; threads: number[] }): BenchSection {
  return {
    name: 'stages',
    async run() {
      info('bench: building the test frames and checking their face counts with the float32 detector');
      const photos = await fetchSamplePhotos({ cacheDir: SOURCES_CACHE_DIR });
      const { detector } = await loadDetector({ modelsDir: o.modelsDir, precision: 'float32', log: info });
      const frames = await buildBenchFrames(photos, detector);
      const configs = await runStageBench({ ...o, frames, onProgress: (line) => info(`bench: ${line}`), log: info });
      const providers = [...new Set(configs.flatMap((c) => [c.providers.detector, c.providers.embedder]))];
      const text = [
        `stage latency in ms, median/p90 of ${o.runs} runs per configuration after ${WARMUP_RUNS} warm-up runs; provider ${providers.join(', ')}`,
        'inference: ONNX Runtime alone on the same tensors (the limit); overhead: (total - decode) / inference, median over runs',
      ];
      for (const frame of frames) {
        text.push('', `${frame.name} frame (${frame.width}x${frame.height}, ${frame.sources.join(', ')})`);
        const rows = configs
          .filter((c) => c.frame === frame.name)
          .map((c) => [c.precision, String(c.threads), String(c.faces), ...STAGES.map((s) => medianP90(c.stages[s])), `${c.overhead.toFixed(2)}x`]);
        text.push(...formatTable(['precision', 'threads', 'faces', ...STAGES, 'overhead'], rows));
      }
      return {
        json: { runs: o.runs, warmupRuns: WARMUP_RUNS, providers, frames: frames.map(({ jpeg, ...f }) => ({ ...f, jpegBytes: jpeg.length })), configs },
        text,
      };
    },
  };
}

function machineLine(m: MachineFacts): string {
  const gib = (m.totalMemoryBytes / 1024 ** 3).toFixed(1);
  return `machine: ${m.cpuModel}, ${m.cores} cores, ${gib} GiB RAM, ${m.os} ${m.arch}, node ${m.node}, onnxruntime-node ${m.onnxruntimeNode}`;
}

/** Few digits on big numbers, more on small ones: a stage of 0.05 ms and one of 250 ms both stay readable. */
function ms(v: number): string {
  return v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0);
}

function medianP90(s: Summary): string {
  return `${ms(s.median)}/${ms(s.p90)}`;
}

/** Columns padded to their widest cell; the first (a name) left-aligned, the numbers right-aligned. */
function formatTable(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

function positiveInt(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive whole number, got "${v}"`);
  return n;
}

function parseThreads(list: string): number[] {
  // Deduplicated: on a one-core machine the default "1,1" would otherwise run everything twice.
  return [...new Set(list.split(',').map((v) => positiveInt('threads', v.trim())))];
}

function parsePrecisions(list: string): PrecisionChoice[] {
  const items = [...new Set(list.split(',').map((p) => p.trim()))];
  const bad = items.filter((p) => !(PRECISIONS as string[]).includes(p));
  if (bad.length > 0) throw new Error(`--precision: unknown ${bad.join(', ')} (choose from ${PRECISIONS.join(', ')})`);
  return items as PrecisionChoice[];
}

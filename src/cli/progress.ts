// Progress for long commands (eval, calibrate, gallery import) on stderr: a cli-progress bar on a
// terminal, else a plain line every `every` items or `seconds` seconds (journald, CI and `2>log`
// keep a record a bar's carriage returns would garble). stdout stays for results.
import cliProgress from 'cli-progress';
import { systemClock, type Clock } from '../util/clock.js';

export interface Progress {
  tick(n?: number): void;
  stop(): void;
}

export interface ProgressOptions {
  label: string;
  unit: string;
  /** A plain line at least every this many items ... */
  every?: number;
  /** ... or when this many seconds passed since the last one. */
  seconds?: number;
  tty?: boolean;
  write?: (line: string) => void;
  clock?: Clock;
}

export function progress(total: number, opts: ProgressOptions): Progress {
  const tty = opts.tty ?? process.stderr.isTTY === true;
  if (tty) {
    const bar = new cliProgress.SingleBar({ format: `${opts.label} |{bar}| {value}/{total} ${opts.unit} {eta_formatted}`, stream: process.stderr, clearOnComplete: true }, cliProgress.Presets.shades_classic);
    bar.start(total, 0);
    return { tick: (n = 1) => bar.increment(n), stop: () => bar.stop() };
  }
  const write = opts.write ?? ((l: string) => process.stderr.write(`${l}\n`));
  const clock = opts.clock ?? systemClock;
  const every = opts.every ?? Math.max(1, Math.ceil(total / 20));
  const intervalMs = (opts.seconds ?? 10) * 1000;
  let done = 0;
  let lastAt = clock.now();
  let lastDone = 0;
  const line = () => {
    write(`${opts.label}: ${done}/${total} ${opts.unit} (${total ? Math.floor((done / total) * 100) : 100}%)`);
    lastAt = clock.now();
    lastDone = done;
  };
  return {
    tick(n = 1) {
      done += n;
      if (done - lastDone >= every || clock.now() - lastAt >= intervalMs || done === total) line();
    },
    stop() {
      if (done !== lastDone) line();
    },
  };
}

// For `facegate bench`: what an open live view costs the recognition loop. Counts the frames the
// daemon analyses in alternating rounds without and with a viewer that gets every live-view
// frame encoded like a browser watching (then discards it); alternating evens out drift on a
// busy machine. The bar: with the live view open, fps stays within 10% of without.
import type { EventBus } from '../core/event-bus.js';
import { systemClock } from '../util/clock.js';
import { LiveView, type LiveViewOptions } from './live-view.js';

export interface LiveViewOverhead {
  rounds: number;
  secondsPerRound: number;
  fpsWithout: number;
  fpsWith: number;
  /** fpsWith / fpsWithout: 0.9 or more meets the bar. */
  ratio: number;
  /** Live-view frames encoded while the viewer watched, and their mean JPEG size. */
  encoded: number;
  meanJpegBytes: number;
}

export const BENCH_LIVE_VIEW: LiveViewOptions = { fps: 5, maxWidth: 640, jpegQuality: 70 };

/** `bus`: a running daemon's bus (frames must be flowing). Takes 2 x rounds x seconds. */
export async function measureLiveViewOverhead(bus: EventBus, opts: { rounds?: number; seconds?: number; liveView?: LiveViewOptions } = {}): Promise<LiveViewOverhead> {
  const rounds = opts.rounds ?? 3;
  const seconds = opts.seconds ?? 5;
  let failure: Error | undefined;
  const live = new LiveView(bus, systemClock, opts.liveView ?? BENCH_LIVE_VIEW, (err) => void (failure ??= err));
  let frames = 0;
  const off = bus.on('frame.analysed', () => void frames++);
  const counted = async (withViewer: boolean) => {
    let bytes = 0;
    const remove = withViewer ? live.addViewer({ wantsImage: true, push: (f) => void (bytes += f.jpeg!.length) }) : () => undefined;
    const start = frames;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const fps = (frames - start) / ((performance.now() - t0) / 1000);
    remove();
    return { fps, bytes };
  };
  let without = 0;
  let withViewer = 0;
  let bytes = 0;
  try {
    for (let i = 0; i < rounds; i++) {
      without += (await counted(false)).fps;
      const w = await counted(true);
      withViewer += w.fps;
      bytes += w.bytes;
    }
  } finally {
    off();
    live.close();
  }
  if (failure) throw new Error(`live view bench: encoding failed: ${failure.message}`);
  const fpsWithout = without / rounds;
  const fpsWith = withViewer / rounds;
  return { rounds, secondsPerRound: seconds, fpsWithout, fpsWith, ratio: fpsWithout > 0 ? fpsWith / fpsWithout : 0, encoded: live.encoded, meanJpegBytes: live.encoded ? Math.round(bytes / live.encoded) : 0 };
}

// Time as a dependency: components take a Clock so tests advance time instead of waiting for it.
// `systemClock` is the real one; ManualClock (manual-clock.ts) is the one tests drive.

export type TimerHandle = { readonly __timer: unique symbol } | NodeJS.Timeout;

export interface Clock {
  /** Milliseconds since the epoch (wall clock: event times, TTLs). */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
  setInterval(fn: () => void, ms: number): TimerHandle;
  clearInterval(handle: TimerHandle | undefined): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout | undefined),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (h) => clearInterval(h as NodeJS.Timeout | undefined),
};

/** Lets the process exit while this timer is pending; a fake clock's handles hold nothing open. */
export function unrefTimer(handle: TimerHandle): void {
  if (typeof handle === 'object' && 'unref' in handle) handle.unref();
}

/** Resolves after `ms` on the given clock (a fake clock resolves it when advanced past). */
export function sleepOn(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}

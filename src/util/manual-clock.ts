// A clock that only moves when told to: timers fire in due order, each at its due time. Tests drive
// it instead of waiting on wall-clock windows; `facegate demo --fast` runs the daemon on it in
// video time, advanced one frame period per frame (src/camera/video-time.ts).
import type { Clock, TimerHandle } from './clock.js';

interface Timer {
  id: number;
  dueMs: number;
  fn: () => void;
  everyMs: number | null;
}

/** One turn of the event loop: promise chains settle and already-finished I/O callbacks run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

export class ManualClock implements Clock {
  private timers: Timer[] = [];
  private nextId = 1;
  private onTimerSet: { count: number; resolve: () => void }[] = [];

  constructor(private nowMs = Date.UTC(2026, 0, 1)) {}

  now(): number {
    return this.nowMs;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.add(fn, ms, null);
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    return this.add(fn, ms, Math.max(1, ms));
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    const id = handle as unknown as number | undefined;
    this.timers = this.timers.filter((t) => t.id !== id);
  }

  clearInterval(handle: TimerHandle | undefined): void {
    this.clearTimeout(handle);
  }

  /** Timers not yet fired (an interval counts until cleared). */
  get pending(): number {
    return this.timers.length;
  }

  /** How long until the next timer falls due; undefined when none is pending. */
  nextDueInMs(): number | undefined {
    const next = this.earliest(Infinity);
    return next && next.dueMs - this.nowMs;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, in order (intervals repeatedly). */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`a clock only moves forward: advance(${ms})`);
    const end = this.nowMs + ms;
    for (let due = this.earliest(end); due; due = this.earliest(end)) this.fire(due);
    this.nowMs = end;
  }

  /** advance() to an absolute time; a time already past leaves the clock where it is. */
  advanceTo(atMs: number): void {
    this.advance(Math.max(0, atMs - this.nowMs));
  }

  /** Moves time to the next timer and fires it; returns how far time moved. Throws when nothing is pending. */
  advanceToNext(): number {
    const due = this.earliest(Infinity);
    if (!due) throw new Error('advanceToNext: no timer is pending');
    const from = this.nowMs;
    this.fire(due);
    return this.nowMs - from;
  }

  /**
   * advance() for code that awaits between timers: each timer fires at its own due time and
   * promises settle after it, so a timer the code sets in response is due from the right moment.
   * Time also settles at least every `stepMs`, for code that reads now() after an await.
   */
  async advanceAsync(ms: number, stepMs = 10): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`a clock only moves forward: advanceAsync(${ms})`);
    const end = this.nowMs + ms;
    await settle();
    while (this.nowMs < end) {
      const stepEnd = Math.min(end, this.nowMs + stepMs);
      const due = this.earliest(stepEnd);
      if (due) this.fire(due);
      else this.nowMs = stepEnd;
      await settle();
    }
    // Timers due exactly at `end` that were set by what ran at `end`.
    for (let due = this.earliest(end); due; due = this.earliest(end)) {
      this.fire(due);
      await settle();
    }
  }

  /** How many timers have been set so far, fired, cleared or pending. */
  get timersSet(): number {
    return this.nextId - 1;
  }

  /**
   * Resolves once more than `count` timers have been set (at once if there already are). For code
   * that sets its timer after real I/O (a file read, a socket): the test waits for the timer
   * instead of guessing how long the I/O takes.
   */
  whenTimerSet(count: number): Promise<void> {
    if (this.timersSet > count) return Promise.resolve();
    return new Promise((resolve) => this.onTimerSet.push({ count, resolve }));
  }

  private earliest(untilMs: number): Timer | undefined {
    let best: Timer | undefined;
    for (const t of this.timers) {
      if (t.dueMs <= untilMs && (!best || t.dueMs < best.dueMs || (t.dueMs === best.dueMs && t.id < best.id))) best = t;
    }
    return best;
  }

  private fire(due: Timer): void {
    this.nowMs = Math.max(this.nowMs, due.dueMs);
    if (due.everyMs === null) this.timers = this.timers.filter((t) => t !== due);
    else due.dueMs += due.everyMs;
    due.fn();
  }

  private add(fn: () => void, ms: number, everyMs: number | null): TimerHandle {
    const id = this.nextId++;
    this.timers.push({ id, dueMs: this.nowMs + Math.max(0, ms), fn, everyMs });
    const waiting = this.onTimerSet;
    this.onTimerSet = waiting.filter((w) => w.count >= id);
    for (const w of waiting) if (w.count < id) w.resolve();
    return id as unknown as TimerHandle;
  }
}

// A clock that only moves when a test says so: timers fire in due order during advance().
import type { Clock, TimerHandle } from '../../src/util/clock.js';

interface Timer {
  id: number;
  dueMs: number;
  fn: () => void;
  everyMs: number | null;
}

export class FakeClock implements Clock {
  private timers: Timer[] = [];
  private nextId = 1;

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

  /** Timers not yet fired. */
  get pending(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, in order (intervals repeatedly). */
  advance(ms: number): void {
    const end = this.nowMs + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.dueMs <= end).sort((a, b) => a.dueMs - b.dueMs || a.id - b.id)[0];
      if (!due) break;
      this.nowMs = Math.max(this.nowMs, due.dueMs);
      if (due.everyMs === null) this.timers = this.timers.filter((t) => t !== due);
      else due.dueMs += due.everyMs;
      due.fn();
    }
    this.nowMs = end;
  }

  /** advance() in steps, letting promises settle between them (for code that awaits between timers). */
  async advanceAsync(ms: number, stepMs = 10): Promise<void> {
    for (let done = 0; done < ms; done += stepMs) {
      this.advance(Math.min(stepMs, ms - done));
      await new Promise<void>((r) => setImmediate(r));
    }
  }

  private add(fn: () => void, ms: number, everyMs: number | null): TimerHandle {
    const id = this.nextId++;
    this.timers.push({ id, dueMs: this.nowMs + Math.max(0, ms), fn, everyMs });
    return id as unknown as TimerHandle;
  }
}

// A GPIO backend with no hardware: it keeps each line's level, records every edge with its time,
// and lets tests drive inputs. It enforces what real hardware would (no double-open, no use after
// close) so code that passes here does not clash on a device.
import type { GpioBackend, InputPin, Level, OutputPin, Pull } from './gpio.js';
import { sleepOn, systemClock, type Clock } from '../../util/clock.js';

export interface Edge {
  pin: number;
  level: Level;
  /** clock.now() when the level changed */
  atMs: number;
}

export interface SimulatedGpioOptions {
  /** Called synchronously on every recorded edge. */
  onEdge?: (edge: Edge) => void;
  /** Dates edges and times press(); default the system clock. */
  clock?: Clock;
}

type Watcher = (level: Level, atMs: number) => void;

interface SimLine {
  pin: number;
  direction: 'output' | 'input';
  level: Level;
  watchers: Set<Watcher>;
}

export class SimulatedGpio implements GpioBackend {
  readonly name = 'simulated';
  /**
   * Every edge in time order: a level change on any line, and the level an output is first driven
   * to when it is opened (the moment a scope on the pin would see it driven).
   */
  readonly edges: Edge[] = [];
  private readonly lines = new Map<number, SimLine>();
  private closed = false;
  private readonly clock: Clock;

  constructor(private readonly opts: SimulatedGpioOptions = {}) {
    this.clock = opts.clock ?? systemClock;
  }

  edgesFor(pin: number): Edge[] {
    return this.edges.filter((e) => e.pin === pin);
  }

  openOutput(pin: number, initial: Level): OutputPin {
    const line = this.claim(pin, 'output', initial);
    this.record(pin, initial);
    return {
      pin,
      write: (v) => void this.drive(this.use(line), v),
      read: () => this.use(line).level,
      close: () => this.release(line),
    };
  }

  openInput(pin: number, opts: { pull: Pull }): InputPin {
    // An unconnected input reads its bias; with no bias a floating input reads 0 here.
    const line = this.claim(pin, 'input', opts.pull === 'up' ? 1 : 0);
    return {
      pin,
      read: () => this.use(line).level,
      watch: (cb) => {
        this.use(line).watchers.add(cb);
        return () => void line.watchers.delete(cb);
      },
      close: () => this.release(line),
    };
  }

  close(): void {
    for (const line of this.lines.values()) line.watchers.clear();
    this.lines.clear();
    this.closed = true;
  }

  /** Drives an open input from outside (a button, a door contact): fires its watchers and records the edge. */
  setInput(pin: number, level: Level): void {
    const line = this.lines.get(pin);
    if (!line) throw new Error(`simulated GPIO ${pin} is not open`);
    if (line.direction !== 'input') throw new Error(`simulated GPIO ${pin} is an output; only inputs can be driven from outside`);
    const edge = this.drive(line, level);
    if (edge) for (const cb of [...line.watchers]) cb(edge.level, edge.atMs);
  }

  /** Presses and releases a button on an open input: active for `ms` on the backend's clock, then back to inactive. */
  async press(pin: number, ms: number, opts: { activeLow?: boolean } = {}): Promise<void> {
    const active: Level = opts.activeLow ? 0 : 1;
    this.setInput(pin, active);
    await sleepOn(this.clock, ms);
    this.setInput(pin, active === 1 ? 0 : 1);
  }

  private claim(pin: number, direction: SimLine['direction'], level: Level): SimLine {
    if (this.closed) throw new Error('simulated GPIO backend is closed');
    if (!Number.isInteger(pin) || pin < 0) throw new Error(`GPIO ${pin} is not a line offset`);
    const held = this.lines.get(pin);
    // Two owners of one line would fight over it on a device (libgpiod answers EBUSY).
    if (held) throw new Error(`GPIO ${pin} is already open as an ${held.direction}`);
    const line: SimLine = { pin, direction, level, watchers: new Set() };
    this.lines.set(pin, line);
    return line;
  }

  private use(line: SimLine): SimLine {
    if (this.lines.get(line.pin) !== line) throw new Error(`GPIO ${line.pin} is closed`);
    return line;
  }

  private release(line: SimLine): void {
    if (this.lines.get(line.pin) !== line) return;
    line.watchers.clear();
    this.lines.delete(line.pin);
  }

  private drive(line: SimLine, level: Level): Edge | null {
    if (line.level === level) return null;
    line.level = level;
    return this.record(line.pin, level);
  }

  private record(pin: number, level: Level): Edge {
    const edge: Edge = { pin, level, atMs: this.clock.now() };
    this.edges.push(edge);
    this.opts.onEdge?.(edge);
    return edge;
  }
}

// Hybrid logical clock (Kulkarni et al. 2014): versions that follow wall time where clocks agree
// and still order causally where they do not. A version is wall milliseconds, a counter for events
// in the same millisecond, and the node that made it (which breaks the last ties). Pure: the caller
// keeps the last version (the gallery stores it) and passes the time in.

export interface Hlc {
  wallMs: number;
  counter: number;
  /** 16 hex characters, one per gallery. */
  node: string;
}

const PATTERN = /^(\d{15})-(\d{5})-([0-9a-f]{16})$/;
export const MAX_COUNTER = 99_999;

/** Fixed-width text, so versions also sort as strings; SQL migrations write the same format. */
export function formatHlc(h: Hlc): string {
  return `${String(h.wallMs).padStart(15, '0')}-${String(h.counter).padStart(5, '0')}-${h.node}`;
}

export function parseHlc(text: string): Hlc {
  const m = PATTERN.exec(text);
  if (!m) throw new Error(`not a version: ${JSON.stringify(text.slice(0, 60))}`);
  return { wallMs: Number(m[1]), counter: Number(m[2]), node: m[3]! };
}

export function isHlc(text: unknown): text is string {
  return typeof text === 'string' && PATTERN.test(text);
}

export function compareHlc(a: string, b: string): number {
  // Fixed width: string order is version order.
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The version of a change made here now. */
export function tickHlc(last: Hlc | undefined, nowMs: number, node: string): Hlc {
  const wall = Math.max(nowMs, last?.wallMs ?? 0);
  const counter = last && wall === last.wallMs ? last.counter + 1 : 0;
  return bump({ wallMs: wall, counter, node });
}

/** The clock after seeing a remote version: later than both, so the next local change orders after it. */
export function receiveHlc(last: Hlc | undefined, remote: Hlc, nowMs: number, node: string): Hlc {
  const lastWall = last?.wallMs ?? 0;
  const wall = Math.max(nowMs, lastWall, remote.wallMs);
  let counter = 0;
  if (wall === lastWall && wall === remote.wallMs) counter = Math.max(last!.counter, remote.counter) + 1;
  else if (wall === lastWall) counter = last!.counter + 1;
  else if (wall === remote.wallMs) counter = remote.counter + 1;
  return bump({ wallMs: wall, counter, node });
}

function bump(h: Hlc): Hlc {
  // A counter overflow (100,000 changes in one millisecond) borrows the next millisecond.
  return h.counter > MAX_COUNTER ? { wallMs: h.wallMs + 1, counter: 0, node: h.node } : h;
}

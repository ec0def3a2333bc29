// What a changed config means for a running daemon: which changed keys it can apply in place and
// which need a restart, read from the schema's `.meta(LIVE)` marks (schema.ts) rather than from a
// list kept by hand, so a new option is "restart required" until someone marks it live.
import type { z } from 'zod';
import { ConfigSchema, LIVE, type Config } from './schema.js';

export interface ReloadPlan {
  /** Changed keys the daemon applies in place, e.g. "matching", "doors[front].cooldownMs". */
  live: string[];
  /** Changed keys that only take effect after a restart. */
  restart: string[];
}

type AnySchema = z.ZodType & { meta(): Record<string, unknown> | undefined; unwrap?: () => AnySchema; shape?: Record<string, AnySchema>; element?: AnySchema };

function isLive(schema: AnySchema | undefined): boolean {
  for (let s = schema; s; s = s.unwrap?.()) if (s.meta()?.reload === LIVE.reload) return true;
  return false;
}

function unwrap(schema: AnySchema): AnySchema {
  let s = schema;
  while (s.unwrap && !s.shape && !s.element) s = s.unwrap();
  return s;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function diff(schema: AnySchema, running: unknown, next: unknown, key: string, plan: ReloadPlan): void {
  if (same(running, next)) return;
  if (isLive(schema)) {
    plan.live.push(key);
    return;
  }
  const inner = unwrap(schema);
  if (inner.shape && running && next && typeof running === 'object' && typeof next === 'object') {
    for (const [field, fieldSchema] of Object.entries(inner.shape)) diff(fieldSchema, (running as Record<string, unknown>)[field], (next as Record<string, unknown>)[field], `${key}.${field}`, plan);
    return;
  }
  if (inner.element && Array.isArray(running) && Array.isArray(next) && running.length === next.length) {
    running.forEach((item, i) => {
      const label = typeof (item as { name?: unknown }).name === 'string' ? (item as { name: string }).name : String(i);
      diff(inner.element!, item, next[i], `${key}[${label}]`, plan);
    });
    return;
  }
  plan.restart.push(key);
}

export function reloadPlan(running: Config, next: Config): ReloadPlan {
  const plan: ReloadPlan = { live: [], restart: [] };
  const shape = (ConfigSchema as unknown as AnySchema).shape!;
  for (const [section, schema] of Object.entries(shape)) diff(schema, running[section as keyof Config], next[section as keyof Config], section, plan);
  return plan;
}

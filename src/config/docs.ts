// Renders every config option with its default and description, straight from the schema.
import { z } from 'zod';
import { ConfigSchema } from './schema.js';

export interface OptionDoc {
  key: string;
  default: unknown;
  description: string;
}

function unwrap(s: z.ZodType): z.ZodType {
  let cur = s;
  while (cur instanceof z.ZodDefault || cur instanceof z.ZodPrefault || cur instanceof z.ZodOptional) cur = cur.unwrap() as z.ZodType;
  return cur;
}

function defaultOf(s: z.ZodType): unknown {
  const r = s.safeParse(undefined);
  return r.success ? r.data : undefined;
}

/** Walks nested objects and arrays of objects; leaves are the documented options. */
function walk(prefix: string, schema: z.ZodType, description: string, out: OptionDoc[]): void {
  const inner = unwrap(schema);
  if (inner instanceof z.ZodObject) {
    if (description && prefix) out.push({ key: prefix, default: defaultOf(schema), description });
    for (const [key, field] of Object.entries(inner.shape as Record<string, z.ZodType>)) walk(prefix ? `${prefix}.${key}` : key, field, field.description ?? '', out);
    return;
  }
  if (inner instanceof z.ZodArray && unwrap(inner.element as z.ZodType) instanceof z.ZodObject) {
    out.push({ key: prefix, default: defaultOf(schema), description });
    walk(`${prefix}[]`, inner.element as z.ZodType, '', out);
    return;
  }
  out.push({ key: prefix, default: defaultOf(schema), description });
}

export function configOptions(): OptionDoc[] {
  const out: OptionDoc[] = [];
  walk('', ConfigSchema, '', out);
  return out;
}

export function configDocsText(): string {
  return configOptions()
    .map((o) => `${o.key}  (default: ${o.default === undefined ? 'none' : JSON.stringify(o.default)})\n    ${o.description}`)
    .join('\n');
}

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
  while (cur instanceof z.ZodDefault || cur instanceof z.ZodOptional) cur = cur.unwrap() as z.ZodType;
  return cur;
}

export function configOptions(): OptionDoc[] {
  const defaults = ConfigSchema.parse({}) as Record<string, Record<string, unknown>>;
  const out: OptionDoc[] = [];
  for (const [section, schema] of Object.entries(ConfigSchema.shape)) {
    const obj = unwrap(schema as z.ZodType);
    if (!(obj instanceof z.ZodObject)) continue;
    for (const [key, field] of Object.entries(obj.shape as Record<string, z.ZodType>)) {
      out.push({ key: `${section}.${key}`, default: defaults[section]?.[key], description: field.description ?? '' });
    }
  }
  return out;
}

export function configDocsText(): string {
  return configOptions()
    .map((o) => `${o.key}  (default: ${o.default === undefined ? 'none' : JSON.stringify(o.default)})\n    ${o.description}`)
    .join('\n');
}

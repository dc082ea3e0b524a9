/**
 * The field paths of a zod (v4) schema, for the test that every catalog field is documented
 * (test/unit/catalog-reference.test.ts). A path names an object's key with `.`, an array's items
 * with `[]` and a record's entries with `.<name>`; an object whose keys are exactly the three phases
 * is written once as `.<phase>` (its three members must have the same fields). Wrappers (optional,
 * default, refinements, pipes) are looked through; union members contribute all their fields.
 */
import type { z } from 'zod';

const PHASES = ['canary', 'staging', 'production'];

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  options?: z.ZodType[];
  element?: z.ZodType;
  valueType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  getter?: () => z.ZodType;
  defaultValue?: unknown;
}

const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/**
 * Every field path of `schema` (objects' own paths included), in schema order, without repeats.
 * `defaults` receives the schema's own default (`.default(...)`) of each path that has one.
 */
export function fieldPaths(schema: z.ZodType, prefix = '', defaults?: Map<string, unknown>): string[] {
  const out: string[] = [];
  const add = (paths: string[]) => {
    for (const p of paths) if (!out.includes(p)) out.push(p);
  };
  const def = defOf(schema);
  switch (def.type) {
    case 'object': {
      const shape = def.shape ?? {};
      const keys = Object.keys(shape);
      if (keys.length === PHASES.length && PHASES.every((p) => keys.includes(p))) {
        const per = PHASES.map((p) => fieldPaths(shape[p]!, `${prefix}.<phase>`, defaults));
        for (const other of per.slice(1)) {
          if (JSON.stringify(other) !== JSON.stringify(per[0])) {
            throw new Error(`${prefix}: the phases differ in their fields`);
          }
        }
        add([`${prefix}.<phase>`, ...per[0]!]);
        break;
      }
      for (const key of keys) {
        const path = prefix ? `${prefix}.${key}` : key;
        add([path, ...fieldPaths(shape[key]!, path, defaults)]);
      }
      break;
    }
    case 'default':
      defaults?.set(prefix, def.defaultValue);
      add(fieldPaths(def.innerType!, prefix, defaults));
      break;
    case 'optional':
    case 'nullable':
    case 'prefault':
    case 'nonoptional':
    case 'readonly':
    case 'catch':
      add(fieldPaths(def.innerType!, prefix, defaults));
      break;
    case 'union':
      for (const option of def.options ?? []) add(fieldPaths(option, prefix, defaults));
      break;
    case 'array':
      add(fieldPaths(def.element!, `${prefix}[]`, defaults).filter((p) => p !== `${prefix}[]`));
      break;
    case 'record':
      add(fieldPaths(def.valueType!, `${prefix}.<name>`, defaults));
      break;
    case 'pipe':
      add(fieldPaths(def.in!, prefix, defaults));
      break;
    case 'lazy':
      add(fieldPaths(def.getter!(), prefix, defaults));
      break;
    default:
      // A leaf: string, number, boolean, literal, enum, url...
      break;
  }
  return out;
}

/**
 * Every field of the catalog's schema (functions/domain/config.ts, walked with zod) has a row in
 * docs/onboarding.md's "The catalog, field by field", and every row is a field of the schema; the
 * defaults a row states are the schema's own (`.default(...)`) and RUNBOOK's
 * (functions/domain/defaults.ts), so neither can change without the reference noticing.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from '@jest/globals';
import { TESTS_OUTPUT_VARIABLES } from '../../functions/domain/build-outputs.js';
import { catalogSchema } from '../../functions/domain/config.js';
import { RUNBOOK } from '../../functions/domain/defaults.js';
import { fieldPaths } from '../helpers/schema-fields.js';

const DOC = fileURLToPath(new URL('../../docs/onboarding.md', import.meta.url));
const SECTION = 'The catalog, field by field';
const SERVICE_PREFIX = 'services.<name>.';

interface Row {
  readonly field: string;
  readonly cells: readonly string[];
}

/** The rows of the tables in the reference section whose first cell is one code span. */
function referenceRows(markdown: string): Row[] {
  const section = markdown.split(/^## /m).find((s) => s.startsWith(SECTION));
  if (!section) throw new Error(`docs/onboarding.md has no "## ${SECTION}" section`);
  const rows: Row[] = [];
  for (const line of section.split('\n')) {
    if (!line.startsWith('|')) continue;
    const cells = line
      .slice(1, line.trimEnd().endsWith('|') ? line.trimEnd().length - 1 : undefined)
      .split(/(?<!\\)\|/)
      .map((c) => c.trim());
    const m = /^`([^`]+)`$/.exec(cells[0] ?? '');
    if (m?.[1]) rows.push({ field: m[1], cells });
  }
  return rows;
}

/** The schema's paths as the reference writes them: a service's fields relative to `services.<name>`. */
function schemaFields(defaults?: Map<string, unknown>): string[] {
  const full = new Map<string, unknown>();
  const paths = fieldPaths(catalogSchema, '', full).map((p) =>
    p.startsWith(SERVICE_PREFIX) ? p.slice(SERVICE_PREFIX.length) : p,
  );
  for (const [p, v] of full)
    defaults?.set(p.startsWith(SERVICE_PREFIX) ? p.slice(SERVICE_PREFIX.length) : p, v);
  return paths;
}

/** The value of `RUNBOOK.a.b.c` (undefined when there is none). */
function runbookValue(path: string): unknown {
  let v: unknown = RUNBOOK;
  for (const k of path.split('.').slice(1)) v = (v as Record<string, unknown> | undefined)?.[k];
  return v;
}

const rows = referenceRows(readFileSync(DOC, 'utf8'));

describe('docs/onboarding.md documents every field of the catalog', () => {
  test('the walk of the schema finds the fields it should (the walker itself)', () => {
    const fields = schemaFields();
    // One from each shape the walker handles: object, record, union, array, the phases, a record of unions.
    for (const f of [
      'appName',
      'services',
      'cluster.region',
      'router.actionName',
      'metrics.profile',
      'onCall.schedule[].days',
      'onCall.url',
      'freezeWindows[].cron',
      'phases.<phase>.extendedWindowSeconds',
      'tests.<phase>.env.<name>.secretKeyRef.key',
      'jobs.resources.limits.memory',
      'duties.requireTestsFrom',
    ]) {
      expect(fields).toContain(f);
    }
    expect(new Set(fields).size).toBe(fields.length);
    expect(fields.length).toBeGreaterThan(100);
  });

  test('one row per field of the schema, and no row for a field the schema does not have', () => {
    const fields = schemaFields();
    const documented = rows.map((r) => r.field);
    expect({
      missing: fields.filter((f) => !documented.includes(f)),
      unknown: documented.filter((f) => !fields.includes(f)),
      twice: documented.filter((f, i) => documented.indexOf(f) !== i),
    }).toEqual({ missing: [], unknown: [], twice: [] });
  });

  test('every row says the type, the default, what the field does and which step uses it', () => {
    const incomplete = rows.filter((r) => r.cells.length !== 5 || r.cells.some((c) => c.length === 0));
    expect(incomplete.map((r) => `${r.field}: ${r.cells.length} cells`)).toEqual([]);
  });

  test("a default the schema sets is the row's default", () => {
    const defaults = new Map<string, unknown>();
    schemaFields(defaults);
    expect(defaults.size).toBeGreaterThan(5);
    const wrong: string[] = [];
    for (const [field, value] of defaults) {
      const cell = rows.find((r) => r.field === field)?.cells[2] ?? '';
      const shown = typeof value === 'string' ? value : JSON.stringify(value);
      if (!cell.includes(`\`${shown}\``)) wrong.push(`${field}: default \`${shown}\`, row says "${cell}"`);
    }
    expect(wrong).toEqual([]);
  });

  test('a default taken from RUNBOOK names an existing setting and states its value', () => {
    const wrong: string[] = [];
    let named = 0;
    for (const r of rows) {
      const cell = r.cells[2] ?? '';
      for (const [, ref] of cell.matchAll(/`(RUNBOOK(?:\.[\w<>]+)+)`/g)) {
        named++;
        const paths = ref!.includes('<phase>')
          ? ['canary', 'staging', 'production'].map((p) => ref!.replace('<phase>', p))
          : [ref!];
        for (const p of paths) {
          const v = runbookValue(p);
          if (v === undefined) wrong.push(`${r.field}: ${p} is not in RUNBOOK`);
          // A group of settings (an object) is named, not stated; a single setting's value is stated.
          else if (typeof v === 'object') continue;
          else if (!new RegExp(`(^|[^\\d.])${String(v).replace('.', '\\.')}([^\\d]|$)`).test(cell)) {
            wrong.push(`${r.field}: ${p} is ${v}, row says "${cell}"`);
          }
        }
      }
    }
    expect(named).toBeGreaterThan(10);
    expect(wrong).toEqual([]);
  });

  test('the requireTestsFrom row names the output variables the tests provenance gate reads', () => {
    const cells = rows.find((r) => r.field === 'duties.requireTestsFrom.action')?.cells.join(' ') ?? '';
    for (const name of Object.values(TESTS_OUTPUT_VARIABLES)) expect(cells).toContain(`\`${name}\``);
  });
});

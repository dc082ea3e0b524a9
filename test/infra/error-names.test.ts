/**
 * Error names are an API (functions/domain/errors.ts): every name the synthesized state machines
 * spell (a Fail state's `Error`, a Retry's or Catch's `ErrorEquals`, the `Error` a Pass state
 * writes into `$.failure`) must be a value of the catalogue, so that no name is spelled twice.
 */

import { parseCatalog } from '../../functions/domain/config.js';
import {
  ERROR_NAMES,
  FAILURE_NAMES,
  FINAL_ERROR_NAMES,
  LAMBDA_SERVICE_ERROR_NAMES,
  SFN_API_ERROR_NAMES,
  STATES_ERROR_NAMES,
  TASK_TOKEN_ERROR_NAMES,
  THROWN_ERROR_NAMES,
} from '../../functions/domain/errors.js';
import sample from '../../tps.config.js';
import { type CfnTemplate, extractAsl, synthTemplate } from '../helpers/synth.js';

/** Where a state names an error, and which name. */
interface ErrorUse {
  readonly state: string;
  readonly where: 'Fail' | 'Retry' | 'Catch' | 'Pass';
  readonly name: string;
}

interface AnyState {
  readonly Type?: string;
  readonly Error?: unknown;
  readonly Parameters?: { readonly Error?: unknown };
  readonly Retry?: readonly { readonly ErrorEquals: readonly string[] }[];
  readonly Catch?: readonly { readonly ErrorEquals: readonly string[] }[];
  readonly Branches?: readonly { readonly States: Record<string, AnyState> }[];
  readonly Iterator?: { readonly States: Record<string, AnyState> };
  readonly ItemProcessor?: { readonly States: Record<string, AnyState> };
}

/** Every error name of every state, nested states (Parallel branches, Map) included. */
function errorUses(states: Record<string, AnyState>): ErrorUse[] {
  const uses: ErrorUse[] = [];
  for (const [state, s] of Object.entries(states)) {
    if (s.Type === 'Fail') uses.push({ state, where: 'Fail', name: String(s.Error) });
    if (s.Type === 'Pass' && s.Parameters?.Error !== undefined)
      uses.push({ state, where: 'Pass', name: String(s.Parameters.Error) });
    for (const r of s.Retry ?? [])
      for (const name of r.ErrorEquals) uses.push({ state, where: 'Retry', name });
    for (const c of s.Catch ?? [])
      for (const name of c.ErrorEquals) uses.push({ state, where: 'Catch', name });
    for (const b of s.Branches ?? []) uses.push(...errorUses(b.States));
    if (s.Iterator) uses.push(...errorUses(s.Iterator.States));
    if (s.ItemProcessor) uses.push(...errorUses(s.ItemProcessor.States));
  }
  return uses;
}

const services = Object.keys(parseCatalog(sample).services);
const catalogue = new Set<string>(Object.values(ERROR_NAMES));
const describeUse = (u: ErrorUse) => `${u.state} (${u.where}): ${u.name}`;
let template: CfnTemplate;

beforeAll(() => {
  template = synthTemplate();
});

describe('error names in the synthesized state machines', () => {
  test.each(services)(
    '%s: every Fail, Retry, Catch and failure Pass names an error of the catalogue',
    (svc) => {
      const uses = errorUses(extractAsl(template, svc).States as Record<string, AnyState>);
      // The walk sees every kind of use (a walk that found nothing would pass vacuously).
      for (const where of ['Fail', 'Retry', 'Catch', 'Pass'] as const)
        expect(uses.filter((u) => u.where === where).length).toBeGreaterThan(0);
      expect(uses.filter((u) => !catalogue.has(u.name)).map(describeUse)).toEqual([]);
    },
  );

  test.each(services)('%s: each kind of use draws on its group of the catalogue', (svc) => {
    const uses = errorUses(extractAsl(template, svc).States as Record<string, AnyState>);
    const final = new Set<string>(Object.values(FINAL_ERROR_NAMES));
    const failures = new Set<string>(Object.values(FAILURE_NAMES));
    const matchable = new Set<string>([
      ...Object.values(THROWN_ERROR_NAMES),
      ...Object.values(STATES_ERROR_NAMES),
      ...Object.values(LAMBDA_SERVICE_ERROR_NAMES),
      ...Object.values(TASK_TOKEN_ERROR_NAMES),
    ]);
    const misplaced = uses.filter((u) =>
      u.where === 'Fail'
        ? !final.has(u.name)
        : u.where === 'Pass'
          ? !failures.has(u.name)
          : !matchable.has(u.name),
    );
    expect(misplaced.map(describeUse)).toEqual([]);
    // Every Fail-state name of the catalogue is used, so the CLI's exit codes map real errors.
    expect(new Set(uses.filter((u) => u.where === 'Fail').map((u) => u.name))).toEqual(final);
  });
});

describe('the catalogue', () => {
  const groups = [
    THROWN_ERROR_NAMES,
    FINAL_ERROR_NAMES,
    FAILURE_NAMES,
    TASK_TOKEN_ERROR_NAMES,
    STATES_ERROR_NAMES,
    LAMBDA_SERVICE_ERROR_NAMES,
    SFN_API_ERROR_NAMES,
  ];

  test('no two groups share a key (a spread would silently drop one) and no name is spelled twice', () => {
    const keys = groups.flatMap((g) => Object.keys(g));
    const names = groups.flatMap((g) => Object.values(g) as string[]);
    expect(Object.keys(ERROR_NAMES)).toHaveLength(keys.length);
    expect(new Set(keys).size).toBe(keys.length);
    expect(new Set(names).size).toBe(names.length);
  });
});

/**
 * One root error class: every error class exported from functions/ (and the CLI's and the local
 * tooling's) is a TpsError whose `name` is a value of the catalogue (functions/domain/errors.ts),
 * the name Step Functions' Retry and Catch match.
 */
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, test } from '@jest/globals';
import { ERROR_NAMES, TpsError } from '../../functions/domain/errors.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** Modules outside functions/ that declare error classes. */
const MORE_MODULES = ['cli/io.ts', 'cli/runbook-source.ts', 'local/runner.ts', 'local/cluster/cluster.ts'];

/** Constructor arguments of classes whose constructor does not take a message first. */
const ARGS: Readonly<Record<string, readonly unknown[]>> = {
  InvalidInputError: [[{ path: 'images.api', message: 'required' }]],
  KubernetesRequestError: [
    'reading deployment',
    { kind: 'other', status: 403, reason: 'Forbidden', message: 'no' },
  ],
  CleanupIncompleteError: [['deployment shop/api-canary']],
  UnmanagedObjectError: ['service shop/web-tps-canary', 'service shop/web-tps-canary exists'],
  ClusterAlreadyRunningError: [undefined, 'cluster x runs already'],
  LocalTaskTokenError: [ERROR_NAMES.taskDoesNotExist, 'no task waits for token t'],
  RunbookSourceError: ['no-output', 'stack x has no output TpsDeployRunbook'],
};

type Constructor = new (...args: unknown[]) => Error;

/** Every exported class that extends Error, as `module: Class`. */
async function exportedErrorClasses(): Promise<[string, Constructor][]> {
  const files = readdirSync(join(ROOT, 'functions'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join('functions', f));
  const found: [string, Constructor][] = [];
  for (const file of [...files, ...MORE_MODULES]) {
    const mod = (await import(pathToFileURL(join(ROOT, file)).href)) as Record<string, unknown>;
    for (const [name, value] of Object.entries(mod)) {
      if (typeof value === 'function' && value.prototype instanceof Error)
        found.push([`${relative(ROOT, join(ROOT, file))}: ${name}`, value as Constructor]);
    }
  }
  return found;
}

describe('error classes', () => {
  test('every exported error class is a TpsError named from the catalogue', async () => {
    const classes = await exportedErrorClasses();
    // The walk finds the classes it should (a walk that found nothing would pass vacuously).
    expect(classes.map(([where]) => where)).toEqual(
      expect.arrayContaining([
        'functions/domain/errors.ts: InvalidInputError',
        'functions/release/approval.ts: AnswerNotDeliveredError',
        'functions/adapters/kubernetes/client.ts: KubernetesRequestError',
        'cli/io.ts: CliError',
        'local/runner.ts: LocalTaskTokenError',
      ]),
    );
    const catalogue = new Set<string>(Object.values(ERROR_NAMES));
    const wrong: string[] = [];
    for (const [where, Class] of classes) {
      if (Class === (TpsError as unknown as Constructor)) continue;
      const e = new Class(...(ARGS[Class.name] ?? ['a message']));
      if (!(e instanceof TpsError)) wrong.push(`${where} does not extend TpsError`);
      if (!catalogue.has(e.name)) wrong.push(`${where} is named ${e.name}, not a name of the catalogue`);
    }
    expect(wrong).toEqual([]);
  });
});

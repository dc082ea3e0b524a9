/**
 * The CLI reads error names from the catalogue (functions/domain/errors.ts), never from the state
 * machine definition: nothing it imports, statically or by a command's dynamic import, reaches
 * statemachine/ or the CDK. The one exception is `tps-deploy local`, whose local environment
 * synthesizes the stack to run its ASL: cli/commands/local.ts imports it dynamically, only when
 * that command runs.
 */
import { describe, expect, test } from '@jest/globals';
import { build, type Metafile } from 'esbuild';

/** Imports that load the CDK or the state machine definition. */
const FORBIDDEN = (path: string) =>
  path.startsWith('statemachine/') || /^(aws-cdk-lib|constructs|cdk-nag)(\/|$)/.test(path);

/** The `local` command's environment: it synthesizes the stack, by design. */
const LOCAL_ENVIRONMENT = { importer: 'cli/commands/local.ts', path: 'local/environment.ts' } as const;

let metafile: Metafile;

beforeAll(async () => {
  const r = await build({
    entryPoints: ['cli/main.ts'],
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  metafile = r.metafile;
});

/**
 * Breadth-first from cli/main.ts over static and dynamic imports; returns, for each forbidden
 * import reached, the chain of modules that leads to it.
 */
function forbiddenChains(skip: (importer: string, path: string) => boolean): string[] {
  const from = new Map<string, string | null>([['cli/main.ts', null]]);
  const queue = ['cli/main.ts'];
  const chains: string[] = [];
  const chainTo = (m: string): string[] => {
    const parent = from.get(m);
    return parent ? [...chainTo(parent), m] : [m];
  };
  while (queue.length > 0) {
    const m = queue.shift()!;
    for (const imp of metafile.inputs[m]?.imports ?? []) {
      if (skip(m, imp.path)) continue;
      if (FORBIDDEN(imp.path)) chains.push([...chainTo(m), imp.path].join(' -> '));
      if (imp.external || from.has(imp.path)) continue;
      from.set(imp.path, m);
      queue.push(imp.path);
    }
  }
  return chains;
}

describe('the CLI import graph', () => {
  test('never reaches statemachine/ or the CDK (but through the local command environment)', () => {
    const chains = forbiddenChains(
      (importer, path) => importer === LOCAL_ENVIRONMENT.importer && path === LOCAL_ENVIRONMENT.path,
    );
    expect(chains).toEqual([]);
  });

  test('the check is live: the local environment does reach the CDK, and only through that import', () => {
    const chains = forbiddenChains(() => false);
    expect(chains.length).toBeGreaterThan(0);
    for (const chain of chains)
      expect(chain).toContain(`${LOCAL_ENVIRONMENT.importer} -> ${LOCAL_ENVIRONMENT.path}`);
  });
});

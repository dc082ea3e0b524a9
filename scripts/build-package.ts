/**
 * Builds dist/, what the npm package ships (`npm run build:package`; `npm pack` runs it as `prepack`):
 *
 * - dist/functions: the Lambda code, bundled by esbuild with the options of FUNCTION_BUNDLING
 *   (ESM, the createRequire banner, node24, minify, source maps, the AWS SDK bundled): one entry
 *   per handler (`<handler file>.mjs`) and the chunks they share (code splitting), so the package
 *   carries the code once (~15 MB with maps) instead of once per function (~300 MB). The
 *   ReleaseRunbook stages this folder with the catalog file into one asset (infra/constructs/function-code.ts).
 * - dist/lib/index.mjs: the construct library (infra/index.ts); aws-cdk-lib and constructs (peer
 *   dependencies) and zod (a dependency: parseCatalog at synth, and the catalog types) stay imports.
 * - dist/types: the library's declarations (tsc, tsconfig.package.json).
 * - dist/cli/tps-deploy.mjs: the CLI (cli/bin.ts) as one file with `#!/usr/bin/env node`; `local`
 *   and `cluster`, which run a local control plane from the repository, are left out.
 */
import { spawn } from 'node:child_process';
import { chmodSync, readFileSync, rmSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { TASK_KEYS, TASKS } from '../functions/contract/tasks.js';
import { ANSWER_ENTRY } from '../infra/constructs/answer-endpoint.js';
import { ESM_BANNER, FUNCTION_BUNDLING } from '../infra/constructs/function-code.js';

const ROOT = resolve(import.meta.dirname, '..');
const DIST = join(ROOT, 'dist');

/** The bare imports the library may keep: its peer dependencies and dependencies (package.json). */
function allowedLibraryImports(): Set<string> {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
  };
  return new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})]);
}

const packageOf = (path: string) => {
  const parts = path.split('/');
  return path.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
};

/** The `local` and `cluster` commands' modules, replaced in the packaged CLI by one that says so. */
const repositoryOnly: Plugin = {
  name: 'repository-only',
  setup(b) {
    b.onResolve({ filter: /\/local\/(environment|demo-app|cluster\/index)\.js$/ }, (args) => ({
      path: args.path,
      namespace: 'repository-only',
    }));
    b.onLoad({ filter: /.*/, namespace: 'repository-only' }, () => ({
      contents:
        "throw new Error('tps-deploy local and tps-deploy cluster start a local Kubernetes control plane and run from a clone of the tps-deploy repository (npx tps-deploy local there); the installed package leaves them out.');",
      loader: 'js',
    }));
  },
};

async function main(): Promise<void> {
  const started = Date.now();
  rmSync(DIST, { recursive: true, force: true });
  const banner = { js: ESM_BANNER };
  const common = {
    bundle: true,
    platform: 'node' as const,
    format: 'esm' as const,
    target: FUNCTION_BUNDLING.target,
    mainFields: [...(FUNCTION_BUNDLING.mainFields ?? [])],
    logLevel: 'warning' as const,
  };

  const timed = async (what: string, step: () => Promise<unknown>) => {
    const t0 = Date.now();
    await step();
    return `${what} ${((Date.now() - t0) / 1000).toFixed(1)} s`;
  };
  // The four parts are independent: built at once (esbuild and tsc each use their own cores).
  const steps = await Promise.all([
    timed('functions', buildFunctions),
    timed('library', buildLibrary),
    timed('cli', buildCli),
    timed('types', buildTypes),
  ]);
  process.stderr.write(
    `[build-package] dist/ built in ${((Date.now() - started) / 1000).toFixed(1)} s (${steps.join(', ')}): ${relative(ROOT, DIST)}/{functions,lib,types,cli}\n`,
  );

  // ---- the functions: the options of FUNCTION_BUNDLING, code split --------------------------------
  async function buildFunctions() {
    const entries = [...new Set([...TASK_KEYS.map((k) => TASKS[k].entry), ANSWER_ENTRY])];
    await build({
      ...common,
      entryPoints: entries.map((e) => join(ROOT, e)),
      outdir: join(DIST, 'functions'),
      entryNames: '[name]',
      chunkNames: 'chunks/[name]-[hash]',
      outExtension: { '.js': '.mjs' },
      splitting: true,
      minify: FUNCTION_BUNDLING.minify,
      sourcemap: FUNCTION_BUNDLING.sourceMap,
      banner,
      // bundleAwsSDK: true and no externalModules: every dependency, the AWS SDK too, is bundled.
      external: [...(FUNCTION_BUNDLING.externalModules ?? [])],
    });
  }

  // ---- the library -----------------------------------------------------------------------------
  async function buildLibrary() {
    const lib = await build({
      ...common,
      entryPoints: [join(ROOT, 'infra', 'index.ts')],
      outfile: join(DIST, 'lib', 'index.mjs'),
      packages: 'external',
      sourcemap: true,
      metafile: true,
    });
    const allowed = allowedLibraryImports();
    const stray = [
      ...new Set(
        Object.values(lib.metafile.inputs)
          .flatMap((i) => i.imports)
          .filter((i) => i.external && !i.path.startsWith('node:'))
          .map((i) => packageOf(i.path))
          .filter((p) => !allowed.has(p)),
      ),
    ];
    if (stray.length > 0) {
      throw new Error(
        `build-package: the library imports ${stray.join(', ')}, which package.json lists neither in dependencies nor peerDependencies. Add it there, or stop importing it from infra/index.ts.`,
      );
    }
  }

  // ---- the CLI ---------------------------------------------------------------------------------
  async function buildCli() {
    const cli = join(DIST, 'cli', 'tps-deploy.mjs');
    await build({
      ...common,
      entryPoints: [join(ROOT, 'cli', 'bin.ts')],
      outfile: cli,
      minify: true,
      banner: { js: `#!/usr/bin/env node\n${ESM_BANNER}` },
      plugins: [repositoryOnly],
    });
    chmodSync(cli, 0o755);
  }

  // ---- the declarations ------------------------------------------------------------------------
  async function buildTypes() {
    const tsc = spawn(
      process.execPath,
      [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.package.json'],
      { cwd: ROOT, stdio: 'inherit' },
    );
    const code = await new Promise<number | null>((done) => tsc.on('close', done));
    if (code !== 0) throw new Error(`build-package: tsc -p tsconfig.package.json exited with ${code}`);
  }
}

await main();

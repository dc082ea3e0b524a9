import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SymlinkFollowMode } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { type BundlingOptions, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';
import type { Catalog } from '../../functions/domain/config.js';
import { CATALOG_FILE } from '../../functions/handlers/catalog-file.js';

/**
 * The esbuild banner of an ESM bundle: bundled CommonJS dependencies call `require`, which ESM
 * does not define.
 */
export const ESM_BANNER =
  "import { createRequire } from 'module'; const require = createRequire(import.meta.url);";

/**
 * How every function is bundled (the task functions and the answer endpoint), from the sources
 * at synth (NodejsFunction) and for the package's prebuilt bundles (scripts/build-package.ts).
 */
export const FUNCTION_BUNDLING: BundlingOptions = {
  format: OutputFormat.ESM,
  banner: ESM_BANNER,
  mainFields: ['module', 'main'],
  target: 'node24',
  minify: true,
  sourceMap: true,
  // The SDK is bundled: the functions run the versions the tests ran (package-lock.json),
  // not whichever v3 release the Lambda runtime happens to carry.
  bundleAwsSDK: true,
  externalModules: [],
};

/**
 * Where the functions' code comes from.
 * - `prebuilt`: the installed package's bundles (`dist/functions`: one ESM entry per handler,
 *   `<handler file>.mjs`, and the chunks they share), staged at synth with the catalog file into
 *   one asset that every function of the runbook uses, each with its own handler.
 * - `source`: this repository's handlers, each bundled at synth by NodejsFunction (local esbuild)
 *   with {@link FUNCTION_BUNDLING}, the catalog file copied into each bundle.
 */
export type FunctionCodeSource =
  | { readonly kind: 'prebuilt'; readonly dir: string }
  | { readonly kind: 'source'; readonly projectRoot: string };

/** Folder of the prebuilt bundles relative to the compiled library (dist/lib/index.mjs -> dist/functions). */
const PREBUILT_FROM_LIBRARY = join('..', 'functions');

/**
 * The default code source: when this code runs compiled (the installed package, dist/lib), the
 * prebuilt bundles next to it; when it runs from the TypeScript sources (this repository), the
 * sources at the repository root, so a stale dist/ is never deployed from the repository.
 */
export function functionCodeSource(moduleUrl: string = import.meta.url): FunctionCodeSource {
  const here = fileURLToPath(moduleUrl);
  if (here.endsWith('.ts')) return { kind: 'source', projectRoot: resolve(dirname(here), '..', '..') };
  return { kind: 'prebuilt', dir: resolve(dirname(here), PREBUILT_FROM_LIBRARY) };
}

/** The prebuilt entry of a handler source file: `functions/handlers/shift-traffic.ts` -> `shift-traffic`. */
export function prebuiltEntryName(entry: string): string {
  return basename(entry).replace(/\.ts$/, '');
}

/** Checks a code source; returns the problems, each naming the field, the value and the fix. */
export function codeSourceProblems(source: FunctionCodeSource, entries: readonly string[]): string[] {
  if (source.kind === 'source') {
    if (!isAbsolute(source.projectRoot) || !existsSync(join(source.projectRoot, 'package-lock.json'))) {
      return [
        `projectRoot must be the absolute path of the repository root (the folder with package-lock.json); got "${source.projectRoot}". Pass the folder that holds package.json and functions/`,
      ];
    }
    const missing = entries.filter((e) => !existsSync(join(source.projectRoot, e)));
    return missing.length > 0
      ? [
          `handler files are missing: ${missing.join(', ')}. Create them or fix the entries in functions/contract/tasks.ts`,
        ]
      : [];
  }
  if (!isAbsolute(source.dir) || !existsSync(source.dir)) {
    return [
      `the prebuilt function bundles are not at "${source.dir}": the package ships them in dist/functions. Reinstall tps-deploy, or build them in the repository with npm run build:package`,
    ];
  }
  const missing = entries.map(prebuiltEntryName).filter((n) => !existsSync(join(source.dir, `${n}.mjs`)));
  return missing.length > 0
    ? [
        `the prebuilt bundles in ${source.dir} lack ${missing.map((n) => `${n}.mjs`).join(', ')}. Rebuild them with npm run build:package`,
      ]
    : [];
}

/**
 * Writes the catalog file the functions read at run time (functions/handlers/catalog-file.ts), the
 * parsed catalog as JSON, and returns its path. The folder is named by the content's hash, so the
 * same catalog gives the same path (and the same asset hashes) in every synth.
 */
export function writeCatalogFile(catalog: Catalog): string {
  const json = `${JSON.stringify(catalog, null, 1)}\n`;
  const dir = join(tmpdir(), `tps-deploy-catalog-${sha256(json).slice(0, 16)}`);
  const file = join(dir, CATALOG_FILE);
  if (!existsSync(file)) {
    placeFolder(dir, (tmp) => writeFileSync(join(tmp, CATALOG_FILE), json));
  }
  return file;
}

/**
 * Stages the asset folder of the prebuilt functions: a link to every file of the bundles and the
 * catalog file. `lambda.Code.fromAsset` copies the linked files (SymlinkFollowMode.ALWAYS), so the
 * asset holds the bundles themselves; every function of a runbook shares the one asset.
 */
export function stagePrebuiltAsset(bundles: string, catalogFile: string): string {
  const dir = join(dirname(catalogFile), `asset-${sha256(bundles).slice(0, 16)}`);
  if (!existsSync(dir)) {
    placeFolder(dir, (tmp) => {
      for (const name of readdirSync(bundles)) {
        if (name !== CATALOG_FILE) symlinkSync(join(bundles, name), join(tmp, name));
      }
      symlinkSync(catalogFile, join(tmp, CATALOG_FILE));
    });
  }
  return dir;
}

/** Fills a fresh folder and renames it to `dir`; when another process placed `dir` first, keeps theirs. */
function placeFolder(dir: string, fill: (tmp: string) => void): void {
  const tmp = mkdtempSync(join(dirname(dir), 'tps-deploy-staging-'));
  fill(tmp);
  try {
    renameSync(tmp, dir);
  } catch (error) {
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(dir)) throw error;
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** What every function is built with, whatever its code's source. */
export type CommonFunctionProps = Omit<lambda.FunctionProps, 'code' | 'handler'>;

/** The code of one runbook's functions: the source, and the catalog file shipped with each. */
export class RunbookCode {
  private asset?: lambda.Code;

  constructor(
    readonly source: FunctionCodeSource,
    readonly catalogFile: string,
  ) {}

  /**
   * The function of one handler (`entry`, relative to the repository root): a NodejsFunction
   * bundled from the sources with the catalog file copied into its bundle, or a lambda.Function
   * of the prebuilt asset with `<handler file>.handler`. Same runtime, role, log group, network
   * and environment either way (`props`).
   */
  createFunction(scope: Construct, id: string, entry: string, props: CommonFunctionProps): lambda.Function {
    if (this.source.kind === 'source') {
      const catalogFile = this.catalogFile;
      return new NodejsFunction(scope, id, {
        ...props,
        entry: join(this.source.projectRoot, entry),
        handler: 'handler',
        projectRoot: this.source.projectRoot,
        depsLockFilePath: join(this.source.projectRoot, 'package-lock.json'),
        bundling: {
          ...FUNCTION_BUNDLING,
          commandHooks: {
            beforeBundling: () => [],
            beforeInstall: () => [],
            afterBundling: (_input: string, output: string) => [
              `cp "${catalogFile}" "${join(output, CATALOG_FILE)}"`,
            ],
          },
        },
      });
    }
    this.asset ??= lambda.Code.fromAsset(stagePrebuiltAsset(this.source.dir, this.catalogFile), {
      followSymlinks: SymlinkFollowMode.ALWAYS,
    });
    return new lambda.Function(scope, id, {
      ...props,
      code: this.asset,
      handler: `${prebuiltEntryName(entry)}.handler`,
    });
  }
}

/**
 * The catalog the Lambda functions run with: a JSON file shipped in their code asset, next to the
 * handler (`catalog.json` beside `index.mjs`), written at synth time by the ReleaseRunbook
 * construct from the catalog it was given (infra/constructs/function-code.ts). The functions no
 * longer bundle tps.config.ts, so one prebuilt bundle serves every app's catalog.
 *
 * It is read and checked with `parseCatalog` once per container, on the first invocation (the
 * ports are built then and cached): a missing or invalid file fails that invocation with a
 * ConfigError that names the file and every bad field, which "Check Gates" catches into "Mark
 * Release Failed" like any other catalog error.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Catalog, parseCatalog } from '../domain/config.js';
import { ConfigError } from '../domain/errors.js';

/** Name of the catalog file in each function's code asset, next to the handler's `index.mjs`. */
export const CATALOG_FILE = 'catalog.json';

/** Environment variable that overrides where the catalog file is (tests, local runs). */
export const CATALOG_PATH_ENV = 'TPS_CATALOG_PATH';

/**
 * Where the catalog file is: `TPS_CATALOG_PATH` when set, else `catalog.json` in the folder of the
 * running code (in a bundle, the folder of `index.mjs`: the function's code asset).
 */
export function catalogPath(env: NodeJS.ProcessEnv = process.env): string {
  const override = env[CATALOG_PATH_ENV];
  if (override) return override;
  return join(dirname(fileURLToPath(import.meta.url)), CATALOG_FILE);
}

/**
 * Reads and parses the catalog file. Throws a {@link ConfigError} that names the file and says
 * what is wrong: missing (and how it gets there), not JSON, or not a valid catalog (every bad
 * field, as `parseCatalog` names them, also in `issues`).
 */
export function loadCatalogFile(path: string = catalogPath()): Catalog {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'is missing' : `cannot be read (${code ?? (error as Error).message})`;
    throw new ConfigError(
      `the catalog file ${path} ${why}: the ReleaseRunbook construct writes ${CATALOG_FILE} next to each function's handler at synth time. Deploy the stack again, or set ${CATALOG_PATH_ENV} to the file's path.`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(
      `the catalog file ${path} is not JSON (${(error as Error).message}); it must hold the parsed catalog the construct wrote. Deploy the stack again.`,
    );
  }
  try {
    return parseCatalog(json);
  } catch (error) {
    if (error instanceof ConfigError) {
      throw new ConfigError(
        `the catalog file ${path} is not a valid catalog: ${error.message}`,
        error.issues,
      );
    }
    throw error;
  }
}

let cached: Catalog | undefined;

/** The container's catalog: {@link loadCatalogFile} on first use, then the same object. */
export function runtimeCatalog(): Catalog {
  cached ??= loadCatalogFile();
  return cached;
}

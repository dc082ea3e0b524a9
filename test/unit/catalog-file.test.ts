/**
 * The functions read the catalog at run time from the `catalog.json` of their code asset
 * (functions/handlers/catalog-file.ts), not from a tps.config.ts bundled in: a good file is the
 * parsed catalog, a missing, non-JSON or invalid one is a ConfigError naming the file and every bad field.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from '@jest/globals';
import { parseCatalog } from '../../functions/domain/config.js';
import { ConfigError } from '../../functions/domain/errors.js';
import {
  CATALOG_FILE,
  CATALOG_PATH_ENV,
  catalogPath,
  loadCatalogFile,
} from '../../functions/handlers/catalog-file.js';
import sample from '../../tps.config.js';
import { catalogWithDatabases } from '../helpers/catalogs.js';

const dir = mkdtempSync(join(tmpdir(), 'tps-catalog-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

function thrown(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('the catalog file of a function', () => {
  test.each([
    ['the sample catalog', sample],
    ['a catalog with databases and attestations', catalogWithDatabases],
  ])('%s: the file the construct writes reads back as the same parsed catalog', (_, input) => {
    const parsed = parseCatalog(input);
    const path = write('good.json', JSON.stringify(parsed));
    expect(loadCatalogFile(path)).toEqual(parsed);
  });

  test('the path is catalog.json next to the running code, unless TPS_CATALOG_PATH says otherwise', () => {
    expect(catalogPath({})).toMatch(new RegExp(`functions/handlers/${CATALOG_FILE}$`));
    expect(catalogPath({ [CATALOG_PATH_ENV]: '/tmp/elsewhere.json' })).toBe('/tmp/elsewhere.json');
  });

  test('a missing file is a ConfigError naming the path, who writes it and the override', () => {
    const path = join(dir, 'absent', CATALOG_FILE);
    const error = thrown(() => loadCatalogFile(path));
    expect(error.name).toBe('ConfigError');
    expect(error.message).toContain(`the catalog file ${path} is missing`);
    expect(error.message).toContain('ReleaseRunbook construct writes catalog.json');
    expect(error.message).toContain(CATALOG_PATH_ENV);
  });

  test('a file that is not JSON is a ConfigError naming the path', () => {
    const path = write('broken.json', '{ "appName": ');
    expect(thrown(() => loadCatalogFile(path)).message).toMatch(
      new RegExp(`the catalog file ${path} is not JSON`),
    );
  });

  test('an invalid catalog names the file and every bad field, also as issues', () => {
    const parsed = JSON.parse(JSON.stringify(parseCatalog(sample)));
    parsed.appName = '9-starts-with-a-digit';
    parsed.services.api.namespace = 'Not_A_Label';
    parsed.services.web.slo = { p99Ms: -1 };
    delete parsed.services.web.deployment;
    const path = write('invalid.json', JSON.stringify(parsed));
    const error = thrown(() => loadCatalogFile(path));
    expect(error.message).toContain(`the catalog file ${path} is not a valid catalog`);
    const paths = error.issues.map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'appName',
        'services.api.namespace',
        'services.web.slo.p99Ms',
        'services.web.deployment',
      ]),
    );
    for (const p of paths) expect(error.message).toContain(p);
  });

  test('the Lambda runtimes import no tps.config: the catalog comes from the file', () => {
    for (const file of ['functions/handlers/aws-runtime.ts', 'functions/handlers/answer-runtime.ts']) {
      const source = readFileSync(file, 'utf8');
      expect(source).not.toMatch(/tps\.config/);
      expect(source).toContain('runtimeCatalog()');
    }
  });
});

/**
 * The environment of a release's Jobs (a migration's `env` in the execution input, a test Job's
 * `env` in the catalog): plaintext values or references to a key of a Kubernetes Secret. The
 * execution input is in the execution history and the state machine's logs, and the catalog is in
 * the repository and the functions' bundle, so a plaintext value that looks like a credential is
 * refused, naming each field, and the error never repeats the value.
 */
import { describe, expect, test } from '@jest/globals';
import { jobManifest, jobPodLabels } from '../../functions/adapters/kubernetes/jobs.js';
import { type CatalogInput, parseCatalog } from '../../functions/domain/config.js';
import { ConfigError, InvalidInputError } from '../../functions/domain/errors.js';
import { parseExecutionInput } from '../../functions/domain/input.js';
import { migrationJob } from '../../functions/release/migration.js';
import { JOB_POD, JOBS, serviceInput } from '../helpers/catalogs.js';

const service = serviceInput;
const CATALOG = parseCatalog({
  services: { api: service({ jobs: { ...JOBS, secrets: ['shop-db', 'shop-db.v2', 'x'] } }) },
} satisfies CatalogInput);

const migration = (env: Record<string, unknown>) => ({
  service: 'api',
  image: 'registry.local/api:v2',
  migration: { image: 'registry.local/migrate:v2', command: ['up'], rollbackCommand: ['down'], env },
});

function refusal(env: Record<string, unknown>): InvalidInputError {
  try {
    parseExecutionInput(migration(env), CATALOG, 'd-1');
  } catch (e) {
    if (e instanceof InvalidInputError) return e;
    throw e;
  }
  throw new Error('expected InvalidInputError, the input was accepted');
}

const SECRETS = {
  password: 'hunter2-correct-horse',
  url: 'postgres://app:s3cr3t-pw@db.internal:5432/shop',
  accessKey: 'AKIAIOSFODNN7EXAMPLE',
  pem: '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx\n-----END RSA PRIVATE KEY-----',
};

describe('migration env: plaintext that looks like a credential is refused at Validate Input', () => {
  test('each credential is named by its field, and no value is repeated in the error', () => {
    const err = refusal({
      DB_PASSWORD: SECRETS.password,
      api_token: 'x',
      GITHUB_SECRET: 'y',
      STRIPE_API_KEY: 'z',
      GOOGLE_APPLICATION_CREDENTIALS_JSON: '{}',
      DATABASE_URL: SECRETS.url,
      UPLOADER: SECRETS.accessKey,
      TLS: SECRETS.pem,
      DATABASE: 'shop',
    });
    expect(err.issues.map((i) => i.path).sort()).toEqual([
      'migration.env.DATABASE_URL',
      'migration.env.DB_PASSWORD',
      'migration.env.GITHUB_SECRET',
      'migration.env.GOOGLE_APPLICATION_CREDENTIALS_JSON',
      'migration.env.STRIPE_API_KEY',
      'migration.env.TLS',
      'migration.env.UPLOADER',
      'migration.env.api_token',
    ]);
    const byPath = Object.fromEntries(err.issues.map((i) => [i.path, i.message]));
    expect(byPath['migration.env.DB_PASSWORD']).toMatch(/name looks like a credential \(PASSWORD\)/);
    expect(byPath['migration.env.DATABASE_URL']).toMatch(/a URL with a user and password/);
    expect(byPath['migration.env.UPLOADER']).toMatch(/an AWS access key id/);
    expect(byPath['migration.env.TLS']).toMatch(/a PEM private key/);
    for (const message of Object.values(byPath)) expect(message).toMatch(/secretKeyRef: \{ name, key \}/);
    for (const value of [...Object.values(SECRETS), 's3cr3t', 'MIIEow', 'hunter2']) {
      expect(err.message).not.toContain(value);
    }
    expect(err.name).toBe('InvalidInputError');
  });

  test('other fields are named with them', () => {
    const raw = { ...migration({ DB_PASSWORD: 'pw' }), mode: 'yolo' };
    const err = (() => {
      try {
        parseExecutionInput(raw, CATALOG, 'd-1');
      } catch (e) {
        return e as InvalidInputError;
      }
      throw new Error('accepted');
    })();
    expect(err.issues.map((i) => i.path).sort()).toEqual(['migration.env.DB_PASSWORD', 'mode']);
  });

  test('Secret references, plain settings and Secrets Manager ARNs are accepted', () => {
    const plan = parseExecutionInput(
      migration({
        DB_PASSWORD: { secretKeyRef: { name: 'shop-db', key: 'password' } },
        DATABASE_URL: { secretKeyRef: { name: 'shop-db.v2', key: 'url.txt' } },
        DB_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:shop-db-AbCdEf',
        DATABASE: 'shop',
        DB_HOST: 'db.internal',
        DOCS: 'https://example.com/migrations?x=1',
        TOKENS_PER_BATCH: { secretKeyRef: { name: 'x', key: 'y' } },
      }),
      CATALOG,
      'd-1',
    );
    const job = migrationJob(plan, CATALOG.services.api!.jobs, false);
    expect(job.env).toMatchObject({
      DB_PASSWORD: { secretKeyRef: { name: 'shop-db', key: 'password' } },
      DATABASE: 'shop',
      TPS_MIGRATION: 'migrate',
    });
  });

  test('a malformed Secret reference is refused, naming the bad part', () => {
    const err = refusal({
      A: { secretKeyRef: { name: 'Bad_Name', key: 'k' } },
      B: { secretKeyRef: { name: 'ok', key: 'a key' } },
      C: { secretKeyRef: { name: 'ok' } },
      D: { secretKeyRef: { name: 'ok', key: 'k', optional: true } },
      E: { value: 'x' },
    });
    const paths = err.issues.map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'migration.env.A.secretKeyRef.name',
        'migration.env.B.secretKeyRef.key',
        'migration.env.C',
        'migration.env.D.secretKeyRef.optional',
        'migration.env.E',
      ]),
    );
    expect(err.issues.find((i) => i.path === 'migration.env.C')?.message).toMatch(
      /must be a string or \{ secretKeyRef: \{ name, key \} \}/,
    );
  });
});

describe('test Job env in the catalog', () => {
  test('the same refusal, as a ConfigError naming the service, the phase and the variable', () => {
    let err: unknown;
    try {
      parseCatalog({
        services: {
          api: service({
            jobs: { ...JOBS, secrets: ['smoke'] },
            tests: {
              canary: {
                image: 'registry.local/smoke:v1',
                env: {
                  SMOKE_TOKEN: 'abc',
                  TARGET: 'api',
                  KEY: { secretKeyRef: { name: 'smoke', key: 'token' } },
                },
              },
            },
          }),
        },
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues.map((i) => i.path)).toEqual([
      'services.api.tests.canary.env.SMOKE_TOKEN',
    ]);
    expect((err as ConfigError).message).not.toContain('abc');
  });
});

describe('the Job manifest', () => {
  test('a Secret reference becomes the container env valueFrom.secretKeyRef; plaintext stays value', () => {
    const job = jobManifest(
      {
        namespace: 'shop',
        name: 'api-tps-migrate-1',
        image: 'registry.local/migrate:v2',
        env: { DATABASE: 'shop', DB_PASSWORD: { secretKeyRef: { name: 'shop-db', key: 'password' } } },
        kind: 'migrate',
        service: 'api',
        timeoutSeconds: 60,
        pod: JOB_POD,
      },
      jobPodLabels({ kind: 'migrate' }),
    );
    expect(job.spec?.template.spec?.containers[0]?.env).toEqual([
      { name: 'DATABASE', value: 'shop' },
      { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'shop-db', key: 'password' } } },
    ]);
  });
});

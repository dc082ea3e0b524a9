/**
 * Jobs that cannot be a way in: the catalog's `jobs` block (ServiceAccount, allowed images,
 * Secrets, resources), the image allow-list's matching, the refusals at the catalog and at
 * Validate Input (every bad field named, nothing built), and the restricted Pod Security profile
 * of every Job manifest.
 */
import { describe, expect, test } from '@jest/globals';
import {
  JOB_CONTAINER_SECURITY_CONTEXT,
  jobManifest,
  jobPodLabels,
} from '../../functions/adapters/kubernetes/jobs.js';
import { type CatalogInput, parseCatalog, type ServiceConfigInput } from '../../functions/domain/config.js';
import { RUNBOOK } from '../../functions/domain/defaults.js';
import { ConfigError, InvalidInputError } from '../../functions/domain/errors.js';
import { imageAllowed, imageMatches, imageRepository } from '../../functions/domain/image-allow-list.js';
import { parseExecutionInput } from '../../functions/domain/input.js';
import { quantityValue } from '../../functions/domain/job-policy.js';
import { releaseJob } from '../../functions/release/jobs.js';
import { migrationJob } from '../../functions/release/migration.js';
import { JOBS, serviceInput } from '../helpers/catalogs.js';

const ECR = '123456789012.dkr.ecr.us-east-1.amazonaws.com';

/** The error `f` throws (it must throw one). */
function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error; none was thrown');
}

describe('the image allow-list', () => {
  test.each<[string, string]>([
    ['nginx:1.27', 'docker.io/library/nginx'],
    ['team/tool:v1', 'docker.io/team/tool'],
    [`${ECR}/shop/migrate:v2`, `${ECR}/shop/migrate`],
    ['registry.local:5000/team/smoke:1.2.3', 'registry.local:5000/team/smoke'],
    [`registry.local/shop/api@sha256:${'a'.repeat(64)}`, 'registry.local/shop/api'],
    ['localhost/x/y:1', 'localhost/x/y'],
    ['Registry.Local/shop/api:v1', 'registry.local/shop/api'],
  ])('%s is repository %s', (image, repo) => {
    expect(imageRepository(image)).toBe(repo);
  });

  test.each<[string, string, boolean]>([
    // exact repository: any tag or digest, nothing else
    [`${ECR}/shop/migrate:v2`, `${ECR}/shop/migrate`, true],
    [`${ECR}/shop/migrate-evil:v2`, `${ECR}/shop/migrate`, false],
    [`${ECR}/shop/migrate/sub:v2`, `${ECR}/shop/migrate`, false],
    // one level below
    [`${ECR}/shop/migrate:v2`, `${ECR}/shop/*`, true],
    [`${ECR}/shop/team/migrate:v2`, `${ECR}/shop/*`, false],
    [`${ECR}/shop-evil/migrate:v2`, `${ECR}/shop/*`, false],
    [`${ECR}/shop:v2`, `${ECR}/shop/*`, false],
    // any depth below
    [`${ECR}/shop/team/migrate:v2`, `${ECR}/shop/**`, true],
    [`${ECR}/shopping/migrate:v2`, `${ECR}/shop/**`, false],
    [`${ECR}/anything:v1`, `${ECR}/**`, true],
    // the registry host is part of the repository: no look-alike host, no Docker Hub by accident
    [`${ECR}.evil.io/shop/migrate:v2`, `${ECR}/shop/**`, false],
    ['evil.io/123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/x:v1', `${ECR}/**`, false],
    ['shop/migrate:v2', `${ECR}/shop/**`, false],
    ['nginx:1', 'docker.io/library/nginx', true],
    ['nginx:1', 'docker.io/library/*', true],
    ['registry.local:5000/team/smoke:1', 'registry.local/team/*', false],
  ])('%s against %s: %s', (image, entry, allowed) => {
    expect(imageMatches(image, entry)).toBe(allowed);
  });

  test('an empty list allows nothing; any matching entry allows', () => {
    expect(imageAllowed('registry.local/x:1', [])).toBe(false);
    expect(imageAllowed('registry.local/x:1', ['other.io/x', 'registry.local/*'])).toBe(true);
  });

  test('entries must name a registry host and a repository, with no tag or digest', () => {
    const err = thrown(() =>
      parseCatalog({
        services: {
          api: serviceInput({
            jobs: {
              serviceAccountName: 'jobs',
              allowedImages: [
                'shop/migrate',
                'registry.local',
                'registry.local/shop/migrate:v2',
                'registry.local/shop*',
                `${ECR}/shop/**`,
              ],
            },
          }),
        },
      }),
    ) as ConfigError;
    expect(err.issues.map((i) => i.path)).toEqual([
      'services.api.jobs.allowedImages.0',
      'services.api.jobs.allowedImages.1',
      'services.api.jobs.allowedImages.2',
      'services.api.jobs.allowedImages.3',
    ]);
    expect(err.issues[0]!.message).toMatch(/registry host and no tag or digest/);
  });
});

describe('the catalog: jobs block', () => {
  const parse = (over: Partial<ServiceConfigInput>) =>
    parseCatalog({ services: { api: serviceInput(over) } } satisfies CatalogInput).services.api!;

  test('defaults: no token mounted, no Secrets, the runbook resources; catalogs without Jobs stay valid', () => {
    expect(parse({}).jobs).toBeUndefined();
    expect(parse({ jobs: JOBS }).jobs).toEqual({
      serviceAccountName: 'release-jobs',
      automountServiceAccountToken: false,
      allowedImages: ['registry.local/**'],
      secrets: [],
    });
    const job = releaseJob(
      { service: 'api', namespace: 'shop', deployment: 'api', deploymentId: 'd-1', version: 'v2' },
      parse({ jobs: { ...JOBS, resources: { limits: { memory: '1Gi' } }, runAsUser: 10001 } }).jobs,
      'migrate',
      { image: 'registry.local/migrate:v2' },
      60,
    );
    expect(job.pod).toEqual({
      serviceAccountName: 'release-jobs',
      automountServiceAccountToken: false,
      resources: {
        requests: RUNBOOK.jobs.resources.requests,
        limits: { cpu: RUNBOOK.jobs.resources.limits.cpu, memory: '1Gi' },
      },
      runAsUser: 10001,
    });
  });

  test('tests without a jobs block are refused: nothing says what the test Jobs run as', () => {
    const err = thrown(() =>
      parse({ tests: { canary: { image: 'registry.local/smoke:v1' } } }),
    ) as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.issues.map((i) => i.path)).toEqual(['services.api.jobs']);
    expect(err.message).toMatch(/serviceAccountName.*allowedImages/);
  });

  test('a test image outside the allow-list and an unlisted Secret are named, with the other bad fields', () => {
    const err = thrown(() =>
      parse({
        jobs: { ...JOBS, allowedImages: [`${ECR}/shop/**`], secrets: ['smoke'] },
        tests: {
          canary: {
            image: `${ECR}/shop/smoke:v1`,
            env: { OK: { secretKeyRef: { name: 'smoke', key: 'token' } } },
          },
          staging: {
            image: 'docker.io/attacker/tool:latest',
            env: { DB: { secretKeyRef: { name: 'payments-signing-key', key: 'pem' } } },
          },
          production: { image: `${ECR}.evil.io/shop/smoke:v1` },
        },
        slo: { p99Ms: -1 },
      }),
    ) as ConfigError;
    expect(err.issues.map((i) => i.path).sort()).toEqual([
      'services.api.slo.p99Ms',
      'services.api.tests.production.image',
      'services.api.tests.staging.env.DB',
      'services.api.tests.staging.image',
    ]);
    const byPath = Object.fromEntries(err.issues.map((i) => [i.path, i.message]));
    expect(byPath['services.api.tests.staging.image']).toBe(
      `docker.io/attacker/tool:latest is not from a repository in services.api.jobs.allowedImages (${ECR}/shop/**)`,
    );
    expect(byPath['services.api.tests.staging.env.DB']).toMatch(
      /Secret "payments-signing-key" is not in services\.api\.jobs\.secrets \(smoke\)/,
    );
  });

  test('bad fields of the block are named: ServiceAccount, quantities, a request above its limit, root', () => {
    const err = thrown(() =>
      parse({
        jobs: {
          serviceAccountName: 'Release_Jobs',
          allowedImages: [],
          resources: { requests: { cpu: 'lots', memory: '1Gi' }, limits: { memory: '512Mi' } },
          runAsUser: 0,
        },
      }),
    ) as ConfigError;
    expect(err.issues.map((i) => i.path).sort()).toEqual([
      'services.api.jobs.allowedImages',
      'services.api.jobs.resources.requests.cpu',
      'services.api.jobs.resources.requests.memory',
      'services.api.jobs.runAsUser',
      'services.api.jobs.serviceAccountName',
    ]);
    const request = thrown(() =>
      parse({ jobs: { ...JOBS, resources: { requests: { memory: '1Gi' }, limits: { memory: '512Mi' } } } }),
    ) as ConfigError;
    expect(request.issues).toEqual([
      {
        path: 'services.api.jobs.resources.requests.memory',
        message: '1Gi is more than the limit 512Mi (Kubernetes refuses a request above its limit)',
      },
    ]);
  });

  test.each<[string, number | null]>([
    ['100m', 0.1],
    ['1', 1],
    ['0.5', 0.5],
    ['512Mi', 512 * 2 ** 20],
    ['1Gi', 2 ** 30],
    ['1G', 1e9],
    ['lots', null],
  ])('quantity %s = %s', (q, v) => {
    expect(quantityValue(q)).toBe(v);
  });
});

describe('Validate Input: the migration against the service jobs block', () => {
  const CATALOG = parseCatalog({
    services: {
      api: serviceInput({ jobs: { ...JOBS, allowedImages: [`${ECR}/shop/**`], secrets: ['shop-db'] } }),
      nojobs: serviceInput({ deployment: 'nojobs' }),
    },
  });
  const input = (migration: Record<string, unknown>, over: Record<string, unknown> = {}) => ({
    service: 'api',
    image: `${ECR}/shop/api:v2`,
    migration: { command: ['up'], rollbackCommand: ['down'], ...migration },
    ...over,
  });
  const refusal = (raw: unknown) =>
    thrown(() => parseExecutionInput(raw, CATALOG, 'd-1')) as InvalidInputError;

  test('an image outside the allow-list is refused, naming it and the allow-list', () => {
    const err = refusal(input({ image: 'docker.io/attacker/miner:latest' }));
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(err.name).toBe('InvalidInputError');
    expect(err.issues).toEqual([
      {
        path: 'migration.image',
        message: `docker.io/attacker/miner:latest is not from a repository in the catalog's services.api.jobs.allowedImages (${ECR}/shop/**)`,
      },
    ]);
  });

  test('every bad field is named at once: image, an unlisted Secret, a ServiceAccount, a security context', () => {
    const err = refusal(
      input(
        {
          image: `${ECR}/shopping/migrate:v2`,
          env: {
            OK: { secretKeyRef: { name: 'shop-db', key: 'url' } },
            SIGNING: { secretKeyRef: { name: 'payments-signing-key', key: 'pem' } },
          },
          serviceAccountName: 'payments-admin',
          securityContext: { privileged: true },
        },
        { serviceAccountName: 'payments-admin', mode: 'yolo' },
      ),
    );
    expect(err.issues.map((i) => i.path).sort()).toEqual([
      'migration.env.SIGNING',
      'migration.image',
      'migration.securityContext',
      'migration.serviceAccountName',
      'mode',
      'serviceAccountName',
    ]);
    const byPath = Object.fromEntries(err.issues.map((i) => [i.path, i.message]));
    expect(byPath['migration.serviceAccountName']).toBe('unknown field');
    expect(byPath.serviceAccountName).toBe('unknown field');
  });

  test('a service with no jobs block runs no migration', () => {
    const err = refusal(input({ image: 'registry.local/migrate:v2' }, { service: 'nojobs' }));
    expect(err.issues).toEqual([
      {
        path: 'migration',
        message:
          'service nojobs declares no jobs block (its ServiceAccount and allowed images) in the catalog, so it runs no migration Jobs',
      },
    ]);
  });

  test("an allowed migration runs as the catalog's ServiceAccount, whatever the input", () => {
    const plan = parseExecutionInput(
      input({
        image: `${ECR}/shop/tools/migrate:v2`,
        env: { DB: { secretKeyRef: { name: 'shop-db', key: 'url' } } },
      }),
      CATALOG,
      'd-1',
    );
    const job = migrationJob(plan, CATALOG.services.api!.jobs, false);
    expect(job.pod.serviceAccountName).toBe('release-jobs');
    expect(job.pod.automountServiceAccountToken).toBe(false);
    // The same check again where the Job is built: a catalog that no longer allows the image refuses it.
    const err = thrown(() =>
      migrationJob(plan, { ...CATALOG.services.api!.jobs!, allowedImages: ['registry.local/**'] }, true),
    );
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(err.message).toMatch(/migrate-rollback\.image: .* is not from a repository/);
    expect(() => migrationJob(plan, undefined, false)).toThrow(ConfigError);
  });
});

describe("Validate Input: the release's own images against the service's allowedImages", () => {
  const CATALOG = parseCatalog({
    services: {
      api: serviceInput({ containers: ['api', 'proxy'], allowedImages: [`${ECR}/shop/*`] }),
      open: serviceInput({ deployment: 'open' }),
    },
  });
  const refusal = (raw: unknown) =>
    thrown(() => parseExecutionInput(raw, CATALOG, 'd-1')) as InvalidInputError;

  test('an image from another repository is refused, each one named, with the other bad fields', () => {
    const err = refusal({
      service: 'api',
      images: { api: 'docker.io/attacker/api:v2', proxy: `${ECR}/shop-evil/proxy:1` },
      mode: 'yolo',
    });
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(err.issues).toEqual(
      expect.arrayContaining([
        {
          path: 'images.api',
          message: `docker.io/attacker/api:v2 is not from a repository in the service's allowedImages (${ECR}/shop/*)`,
        },
        {
          path: 'images.proxy',
          message: `${ECR}/shop-evil/proxy:1 is not from a repository in the service's allowedImages (${ECR}/shop/*)`,
        },
      ]),
    );
    expect(err.issues.map((i) => i.path).sort()).toEqual(['images.api', 'images.proxy', 'mode']);
    expect(refusal({ service: 'api', image: 'nginx:1.27' }).issues.map((i) => i.path)).toEqual(['image']);
  });

  test('images from the listed repositories pass; a service without the list takes any image', () => {
    expect(
      parseExecutionInput({ service: 'api', images: { api: `${ECR}/shop/api:v2` } }, CATALOG, 'd-2').images,
    ).toEqual({ api: `${ECR}/shop/api:v2` });
    expect(parseExecutionInput({ service: 'open', image: 'nginx:1.27' }, CATALOG, 'd-3').images).toEqual({
      api: 'nginx:1.27',
    });
  });

  test('the catalog refuses an entry without its registry host', () => {
    const err = thrown(() =>
      parseCatalog({ services: { api: serviceInput({ allowedImages: ['shop/api'] }) } }),
    ) as ConfigError;
    expect(err.issues.map((i) => i.path)).toEqual(['services.api.allowedImages.0']);
  });
});

describe('the Job manifest: the restricted Pod Security profile, always', () => {
  const jobs = parseCatalog({ services: { api: serviceInput({ jobs: { ...JOBS, runAsUser: 10001 } }) } })
    .services.api!.jobs;
  const request = releaseJob(
    { service: 'api', namespace: 'shop', deployment: 'api', deploymentId: 'd-1', version: 'v2' },
    jobs,
    'test-canary',
    { image: 'registry.local/smoke:v1', command: ['smoke'] },
    60,
  );
  const spec = jobManifest(request, jobPodLabels(request)).spec!.template.spec!;

  test('pod: the catalog ServiceAccount, no token, non-root with seccomp RuntimeDefault', () => {
    expect(spec.serviceAccountName).toBe('release-jobs');
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(spec.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 10001,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(spec.hostNetwork ?? false).toBe(false);
    expect(spec.hostPID ?? false).toBe(false);
    // The only volume is an emptyDir for /tmp (the root file system is read-only).
    expect(spec.volumes).toEqual([{ name: 'tmp', emptyDir: { sizeLimit: RUNBOOK.jobs.tmpSizeLimit } }]);
  });

  test('container: no escalation, read-only root, every capability dropped, resources set', () => {
    const c = spec.containers[0]!;
    expect(c.securityContext).toEqual({
      runAsNonRoot: true,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.securityContext).toEqual(JOB_CONTAINER_SECURITY_CONTEXT);
    expect(c.resources).toEqual(RUNBOOK.jobs.resources);
    expect(c.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    expect(spec.containers).toHaveLength(1);
    expect(spec.initContainers).toBeUndefined();
  });

  test('a catalog that mounts the token gets it mounted', () => {
    const withToken = releaseJob(
      { service: 'api', namespace: 'shop', deployment: 'api', deploymentId: 'd-1', version: 'v2' },
      { ...jobs!, automountServiceAccountToken: true },
      'migrate',
      { image: 'registry.local/m:v1' },
      60,
    );
    expect(jobManifest(withToken, {}).spec!.template.spec!.automountServiceAccountToken).toBe(true);
  });
});

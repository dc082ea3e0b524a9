/**
 * Per-function Kubernetes identities on the local control plane (issue #15, the Kubernetes side):
 * - each identity of an app (read, write: client certificates in the groups
 *   tps-deploy-<appName>-read|write) has, by SelfSubjectRulesReview in a release namespace, exactly
 *   the rules of its shipped Role (infra/k8s/tps-deploy-role.yaml), beyond what any authenticated
 *   user has;
 * - two apps in one cluster are Forbidden in each other's namespaces;
 * - the Roles are exactly what the tasks call: every request each task's function sends during
 *   releases, rollbacks, test and migration Jobs (both routers) is recorded, and the union per
 *   access equals its Role (nothing granted that is not used); a Role lacking a verb a task needs
 *   fails the release with Forbidden, so the runs passing under split identities show none is
 *   missing.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { KubernetesRequestError } from '../../functions/adapters/kubernetes/client.js';
import { CLUSTER_ACCESS, CLUSTER_ACCESS_KINDS, CLUSTER_TASKS } from '../../functions/contract/tasks.js';
import type { ServiceConfigInput } from '../../functions/domain/config.js';
import { NotConfiguredError } from '../../functions/domain/errors.js';
import { parseExecutionInput } from '../../functions/domain/input.js';
import { jobPodPolicy } from '../../functions/domain/job-policy.js';
import { beginRelease } from '../../functions/release/begin.js';
import { checkReadiness, shiftTraffic } from '../../functions/release/shift.js';
import { kubernetesGroup } from '../../infra/names.js';
import { functionUser } from '../../local/cluster/identities.js';
import { applyRestrictedRole } from '../../local/cluster/restricted-role.js';
import {
  clusterEnv,
  createNamespace,
  deleteNamespace,
  eventually,
  TEST_APP_NAME,
} from '../helpers/cluster-env.js';
import {
  adminApis,
  functionIdentities,
  liveTemplate,
  namespaceWithShippedRole,
  ROLE_MANIFEST,
} from '../helpers/k8s.js';
import {
  expandRules,
  type Permission,
  requestRecorder,
  shippedPermissions,
  sorted,
} from '../helpers/kube-requests.js';
import { type ReleaseFixture, releaseFixture } from '../helpers/release.js';
import { ALWAYS_ON_CALL, ATTESTED, NEW_IMAGES } from '../helpers/runbook.js';

jest.setTimeout(300_000);

const OTHER_APP = 'tps-other';
const CRASH = { ...NEW_IMAGES, api: 'registry.local/shop/api:v3-crash' };
const DB = { kind: 'aurora-cluster', identifier: 'shop-db' } as const;
const JOBS: Partial<ServiceConfigInput> = {
  approval: false,
  onCall: ALWAYS_ON_CALL,
  databases: [DB],
  tests: { canary: { image: 'registry.local/shop/smoke:v1', command: ['smoke'] } },
};
const MIGRATION = {
  image: 'registry.local/shop/migrate:v2',
  command: ['migrate', 'up'],
  rollbackCommand: ['migrate', 'down'],
  when: 'before',
  env: { DATABASE: 'shop' },
  database: DB,
} as const;

function kubeConfigOf(path: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

async function rulesIn(kc: k8s.KubeConfig, namespace: string): Promise<Set<Permission>> {
  const review = await kc
    .makeApiClient(k8s.AuthorizationV1Api)
    .createSelfSubjectRulesReview({ body: { spec: { namespace } } });
  expect(review.status?.incomplete).toBe(false);
  return expandRules(review.status?.resourceRules ?? []);
}

/** HTTP status of a client-node call ('ok' when it succeeded). */
async function statusOf(p: Promise<unknown>): Promise<number | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return (e as { code?: number }).code ?? -1;
  }
}

const namespaces: string[] = [];
const fixtures: ReleaseFixture[] = [];
afterAll(async () => {
  for (const f of fixtures) await f.env.stop();
  for (const ns of [...namespaces, ...fixtures.map((f) => f.app.namespace)]) await deleteNamespace(ns);
});

describe('each identity has exactly its shipped Role', () => {
  let ns: string;
  let bare: string;
  beforeAll(async () => {
    ns = await namespaceWithShippedRole('ids-rules');
    bare = await createNamespace('ids-bare', { restricted: false });
    namespaces.push(ns, bare);
  });

  test.each(CLUSTER_ACCESS_KINDS)(
    '%s: SelfSubjectRulesReview in a release namespace equals the Role',
    async (access) => {
      const kc = kubeConfigOf((await functionIdentities())[access]);
      const who = await kc.makeApiClient(k8s.AuthenticationV1Api).createSelfSubjectReview({
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
      });
      expect(who.status?.userInfo?.username).toBe(functionUser(TEST_APP_NAME, access));
      expect(who.status?.userInfo?.groups).toContain(kubernetesGroup(TEST_APP_NAME, access));
      expect(who.status?.userInfo?.groups).not.toContain('system:masters');

      // What every authenticated user has (system:basic-user, discovery): the same identity where
      // no Role binds it.
      const baseline = await rulesIn(kc, bare);
      const granted = new Set([...(await rulesIn(kc, ns))].filter((p) => !baseline.has(p)));
      expect(sorted(granted)).toEqual(sorted(shippedPermissions(TEST_APP_NAME)[access]));
    },
  );

  test('the read Role only looks, and the write Role holds everything the read Role does', () => {
    const { read, write } = shippedPermissions(TEST_APP_NAME);
    for (const p of read) expect(p).toMatch(/\|(get|list|watch)$/);
    expect(sorted([...read].filter((p) => !write.has(p)))).toEqual([]);
    expect(sorted(write).some((p) => /\|(create|patch|delete)$/.test(p))).toBe(true);
    // No Secrets, ConfigMaps, RBAC or pod exec for anyone.
    for (const p of [...read, ...write]) expect(p).not.toMatch(/secrets|configmaps|rbac|pods\/exec/);
  });
});

describe('two apps in one cluster', () => {
  test("app A's identities are Forbidden in app B's namespace, and B's in A's", async () => {
    const nsA = await namespaceWithShippedRole('ids-app-a', TEST_APP_NAME);
    const nsB = await namespaceWithShippedRole('ids-app-b', OTHER_APP);
    namespaces.push(nsA, nsB);
    const a = await functionIdentities(TEST_APP_NAME);
    const b = await functionIdentities(OTHER_APP);
    const body = {
      metadata: { name: 'intruder' },
      spec: {
        selector: { matchLabels: { app: 'x' } },
        template: { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'x', image: 'x:1' }] } },
      },
    };
    for (const [ids, own, other] of [
      [a, nsA, nsB],
      [b, nsB, nsA],
    ] as const) {
      for (const access of CLUSTER_ACCESS_KINDS) {
        const core = kubeConfigOf(ids[access]).makeApiClient(k8s.CoreV1Api);
        expect(await statusOf(core.listNamespacedPod({ namespace: own }))).toBe('ok');
        expect(await statusOf(core.listNamespacedPod({ namespace: other }))).toBe(403);
      }
      const writer = kubeConfigOf(ids.write).makeApiClient(k8s.AppsV1Api);
      expect(await statusOf(writer.createNamespacedDeployment({ namespace: other, body }))).toBe(403);
    }
    // The read identity cannot write even in its own namespace.
    const reader = kubeConfigOf(a.read).makeApiClient(k8s.AppsV1Api);
    expect(await statusOf(reader.createNamespacedDeployment({ namespace: nsA, body }))).toBe(403);
  });
});

describe('Check Pods Ready changes the cluster when it finishes a held-back shift', () => {
  test('so it needs the write identity: the read identity is refused (403), the write one completes the shift', async () => {
    // Pods Ready only after 35 s: longer than the shift's canary wait (30 s), so the staging shift
    // (50%) keeps the stable Deployment at its size and leaves the rest to "Check Staging Pods Ready".
    const f = await releaseFixture('ids-held', 'replica-ratio', {
      service: { approval: false, onCall: ALWAYS_ON_CALL },
      podAnnotations: { 'local.tps-deploy.dev/ready-delay': '35s' },
    });
    fixtures.push(f);
    const plan = parseExecutionInput(
      { ...ATTESTED, service: 'shop', images: NEW_IMAGES },
      f.env.catalog,
      'ids-held-1',
    );
    await beginRelease(f.env.portsFor('beginRelease'), { plan, executionArn: null });
    const weight = plan.phases.staging.weight;
    const shift = await shiftTraffic(f.env.portsFor('shiftTraffic'), { plan, phase: 'staging', weight });
    expect(shift.detail).toMatch(/stable kept at 4 instead of \d; call again to finish/);
    expect(shift.stableReplicas).toBe(4);
    const { apps } = adminApis();
    await eventually(
      'the canary pods Ready',
      async () =>
        (
          await apps.readNamespacedDeployment({
            name: `${f.app.name}-tps-canary`,
            namespace: f.app.namespace,
          })
        ).status?.readyReplicas === shift.canaryReplicas,
      { timeoutMs: 90_000 },
    );
    const event = { plan, phase: 'staging' as const, since: shift.shiftedAt };
    const asReader = f.env.portsWith({ kubeAccess: kubeConfigOf((await functionIdentities()).read) });
    const refused = await checkReadiness(asReader, event).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(KubernetesRequestError);
    expect((refused as KubernetesRequestError).failure).toMatchObject({ status: 403 });

    expect(CLUSTER_ACCESS.checkReadiness).toBe('write');
    const done = await checkReadiness(f.env.portsFor('checkReadiness'), event);
    expect(done.status).toBe('ready');
    const stable = await apps.readNamespacedDeployment({ name: f.app.name, namespace: f.app.namespace });
    expect(stable.spec?.replicas).toBe(4 - shift.canaryReplicas);
  });
});

describe('the Roles are exactly what the tasks call', () => {
  const recorder = requestRecorder();
  let jobsFixture: ReleaseFixture | undefined;
  let albFixture: ReleaseFixture | undefined;

  test('releases and rollbacks under split identities: every request recorded, union per access = its Role', async () => {
    // Replica-ratio with a test Job and a migration before the deploy; then a rollback.
    const jobs = await releaseFixture('ids-jobs', 'replica-ratio', {
      service: JOBS,
      env: { taskKubeMiddleware: recorder.middleware },
    });
    fixtures.push(jobs);
    jobsFixture = jobs;
    // ALB: the canary Service and the Ingress's forward action; then a rollback.
    const alb = await releaseFixture('ids-alb', 'alb', {
      service: { approval: false, onCall: ALWAYS_ON_CALL },
      env: { taskKubeMiddleware: recorder.middleware },
    });
    fixtures.push(alb);
    albFixture = alb;

    const runs = [
      await jobs.env.run({ ...ATTESTED, service: 'shop', images: NEW_IMAGES, migration: MIGRATION }),
      await jobs.env.run({ ...ATTESTED, service: 'shop', images: CRASH }),
      await alb.env.run({ ...ATTESTED, service: 'shop', images: NEW_IMAGES }),
      await alb.env.run({ ...ATTESTED, service: 'shop', images: CRASH }),
    ];
    expect(runs.map((r) => [r.status, r.record?.outcome, r.cause])).toEqual([
      ['SUCCEEDED', 'SUCCEEDED', null],
      ['FAILED', 'ROLLED_BACK', expect.anything()],
      ['SUCCEEDED', 'SUCCEEDED', null],
      ['FAILED', 'ROLLED_BACK', expect.anything()],
    ]);
    expect(runs[0]!.record?.migration).toMatchObject({ status: 'applied' });
    expect(runs[0]!.record?.phases[0]?.tests).toMatchObject({ passed: true });
    for (const f of [jobs, alb])
      expect(JSON.stringify(await liveTemplate(f.app.namespace, f.app.name))).toContain(NEW_IMAGES.api);

    // Lambda retries a Start Tests whose create landed: the runner then reads the Job it made.
    const svc = jobs.env.catalog.services.shop!;
    const runner = (await jobs.env.portsFor('startTests').workloads(svc)).jobs;
    const retried = {
      namespace: jobs.app.namespace,
      name: 'shop-tps-test-retried',
      image: 'registry.local/shop/smoke:v1',
      command: ['smoke'],
      env: {},
      kind: 'test-canary',
      service: 'shop',
      timeoutSeconds: 60,
      pod: jobPodPolicy(svc.jobs!),
    };
    await runner.start(retried);
    expect((await runner.start(retried)).name).toBe(retried.name);

    const requests = recorder.requests;
    // Only cluster tasks sent anything, each as the identity of its access, only in its namespace.
    for (const r of requests) {
      expect(CLUSTER_TASKS).toContain(r.task);
      expect(r.access).toBe(CLUSTER_ACCESS[r.task]);
      expect([jobs.app.namespace, alb.app.namespace]).toContain(r.namespace);
    }
    const used = (access: string) =>
      new Set(requests.filter((r) => r.access === access).map((r) => r.permission));
    const shipped = shippedPermissions(TEST_APP_NAME);
    // Not too many: every permission a Role grants was used by a task of its access.
    expect(sorted(used('read'))).toEqual(sorted(shipped.read));
    expect(sorted(used('write'))).toEqual(sorted(shipped.write));
    // The runs covered the tasks of both accesses (the recording is not vacuous).
    const tasks = new Set(requests.map((r) => r.task));
    for (const t of [
      'checkGates',
      'checkReadiness',
      'validateWindow',
      'checkTests',
      'checkMigration',
    ] as const)
      expect(tasks).toContain(t);
    for (const t of [
      'beginRelease',
      'shiftTraffic',
      'finalize',
      'rollBack',
      'startTests',
      'startMigration',
    ] as const)
      expect(tasks).toContain(t);
  });

  test('a task with no cluster access gets no Kubernetes client at all', async () => {
    const f = jobsFixture!;
    const svc = f.env.catalog.services.shop!;
    for (const task of ['validateInput', 'requestApproval', 'completeRelease', 'snapshotDatabase'] as const) {
      expect(CLUSTER_ACCESS[task]).toBeUndefined();
      await expect(f.env.portsFor(task).workloads(svc)).rejects.toBeInstanceOf(NotConfiguredError);
    }
    await expect(f.env.portsFor('checkReadiness').workloads(svc)).resolves.toBeDefined();
  });

  test('a write Role lacking a verb the write tasks need fails the release with Forbidden, changing nothing', async () => {
    const f = albFixture!;
    const before = await liveTemplate(f.app.namespace, f.app.name);
    // The write Role narrowed to the read Role's rules (the binding is unchanged).
    const manifest = readFileSync(ROLE_MANIFEST, 'utf8');
    const docs = k8s.loadAllYaml(manifest) as { kind: string; metadata: { name: string }; rules?: unknown }[];
    const readRules = docs.find((d) => d.kind === 'Role' && d.metadata.name === 'tps-deploy-read')!.rules;
    const narrowed = docs.map((d) =>
      d.kind === 'Role' && d.metadata.name === 'tps-deploy-write' ? { ...d, rules: readRules } : d,
    );
    await applyRestrictedRole(
      clusterEnv().kubeconfig,
      f.app.namespace,
      narrowed.map((d) => k8s.dumpYaml(d)).join('---\n'),
      TEST_APP_NAME,
    );
    const answered = recorder.answers.length;
    try {
      const run = await f.env.run({
        ...ATTESTED,
        service: 'shop',
        images: { ...NEW_IMAGES, api: 'registry.local/shop/api:v4' },
      });
      expect(run.status).toBe('FAILED');
      // The shift's first write is refused (and so is the rollback's restore, with the same Role).
      expect(run.states).toContain('Shift 10% To Canary');
      expect(run.states).not.toContain('Canary Validation Window');
      const refused = new Set(
        recorder.answers
          .slice(answered)
          .filter((a) => a.status === 403)
          .map((a) => a.task),
      );
      expect(refused).toContain('shiftTraffic');
      for (const task of refused) expect(CLUSTER_ACCESS[task]).toBe('write');
      expect(await liveTemplate(f.app.namespace, f.app.name)).toEqual(before);
      const { apps } = adminApis();
      const canaries = (await apps.listNamespacedDeployment({ namespace: f.app.namespace })).items.filter(
        (d) => d.metadata?.name?.endsWith('-tps-canary'),
      );
      expect(canaries).toEqual([]);
    } finally {
      await applyRestrictedRole(clusterEnv().kubeconfig, f.app.namespace, ROLE_MANIFEST, TEST_APP_NAME);
    }
  });
});

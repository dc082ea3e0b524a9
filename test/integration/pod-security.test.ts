/**
 * The release namespaces enforce the restricted Pod Security profile through the local
 * kube-apiserver's own PodSecurity admission (local/pod-security.ts), and tps-deploy's Jobs pass
 * it: the Job manifest the runner sends is admitted and runs as the catalog's ServiceAccount,
 * while the same Job made privileged, or in the shape Jobs had before the `jobs` block (no
 * security context, the namespace's default ServiceAccount), gets no pod at all.
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { jobManifest, jobPodLabels, KubernetesJobRunner } from '../../functions/adapters/kubernetes/jobs.js';
import type { JobRequest } from '../../functions/ports/jobs.js';
import { JOB_POD } from '../helpers/catalogs.js';
import { adminKubeConfig, eventually } from '../helpers/cluster-env.js';
import {
  adminApis,
  deleteNamespace,
  JOBS_SERVICE_ACCOUNT,
  namespaceWithShippedRole,
  restrictedClients,
} from '../helpers/k8s.js';

jest.setTimeout(120_000);

let ns: string;
beforeAll(async () => {
  ns = await namespaceWithShippedRole('podsec');
});
afterAll(async () => {
  if (ns) await deleteNamespace(ns);
});

const batch = () => adminKubeConfig().makeApiClient(k8s.BatchV1Api);

/** A Job request as the release steps build it (test/helpers/catalogs.ts JOBS: ServiceAccount release-jobs). */
function request(name: string): JobRequest {
  return {
    namespace: ns,
    name,
    image: 'registry.local/shop/smoke:v1',
    command: ['smoke'],
    env: { TARGET: 'shop' },
    kind: 'test-canary',
    service: 'shop',
    timeoutSeconds: 60,
    pod: JOB_POD,
  };
}

/** The status code and message of a refused API call. */
async function refusal(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (e) {
    const err = e as { code?: number; body?: unknown };
    const body = typeof err.body === 'string' ? (JSON.parse(err.body) as { message?: string }) : {};
    return { code: err.code ?? -1, message: body.message ?? String(e) };
  }
  throw new Error('the API server admitted it');
}

/** The messages of the FailedCreate events of Job `name` (the Job controller could not create its pod). */
async function failedCreates(name: string): Promise<string[]> {
  const events = await adminApis().core.listNamespacedEvent({
    namespace: ns,
    fieldSelector: `involvedObject.kind=Job,involvedObject.name=${name}`,
  });
  return events.items.filter((e) => e.reason === 'FailedCreate').map((e) => e.message ?? '');
}

async function podsOf(job: string) {
  return (await adminApis().core.listNamespacedPod({ namespace: ns, labelSelector: `job-name=${job}` }))
    .items;
}

describe('PodSecurity admission at restricted in a release namespace', () => {
  test('the namespace carries the enforce label', async () => {
    const n = await adminApis().core.readNamespace({ name: ns });
    expect(n.metadata?.labels).toMatchObject({
      'pod-security.kubernetes.io/enforce': 'restricted',
      'pod-security.kubernetes.io/enforce-version': 'latest',
    });
  });

  test("tps-deploy's Job is admitted and runs, as the catalog's ServiceAccount", async () => {
    const runner = new KubernetesJobRunner(restrictedClients());
    await runner.start(request('own-job'));
    const done = await eventually('own-job finished', async () => {
      const s = await runner.status(ns, 'own-job');
      return s.state === 'running' ? undefined : s;
    });
    expect(done.state).toBe('succeeded');
    expect(await failedCreates('own-job')).toEqual([]);
    const pods = await podsOf('own-job');
    expect(pods).toHaveLength(1);
    expect(pods[0]!.spec?.serviceAccountName).toBe(JOBS_SERVICE_ACCOUNT);
    expect(pods[0]!.spec?.automountServiceAccountToken).toBe(false);
    // No token volume: the pod cannot call the API server as anyone.
    expect((pods[0]!.spec?.volumes ?? []).map((v) => v.name)).toEqual(['tmp']);
  });

  test('the same Job made privileged gets no pod: the Job controller is refused (FailedCreate)', async () => {
    const job = jobManifest(request('privileged-job'), jobPodLabels({ kind: 'test-canary' }));
    const container = job.spec!.template.spec!.containers[0]!;
    container.securityContext = {
      ...container.securityContext,
      privileged: true,
      allowPrivilegeEscalation: true,
    };
    await batch().createNamespacedJob({ namespace: ns, body: job });
    const messages = await eventually('FailedCreate of privileged-job', async () => {
      const m = await failedCreates('privileged-job');
      return m.length > 0 ? m : undefined;
    });
    expect(messages[0]).toMatch(/forbidden: violates PodSecurity "restricted:latest": .*privileged/);
    expect(messages[0]).toMatch(/allowPrivilegeEscalation != false/);
    expect(await podsOf('privileged-job')).toEqual([]);
  });

  test('a Job as tps-deploy built it before the jobs block (no security context, default ServiceAccount) gets no pod', async () => {
    const old = jobManifest(request('unconfined-job'), jobPodLabels({ kind: 'migrate' }));
    const spec = old.spec!.template.spec!;
    delete spec.securityContext;
    delete spec.serviceAccountName;
    delete spec.automountServiceAccountToken;
    delete spec.containers[0]!.securityContext;
    await batch().createNamespacedJob({ namespace: ns, body: old });
    const messages = await eventually('FailedCreate of unconfined-job', async () => {
      const m = await failedCreates('unconfined-job');
      return m.length > 0 ? m : undefined;
    });
    expect(messages[0]).toMatch(/violates PodSecurity "restricted:latest"/);
    expect(messages[0]).toMatch(/runAsNonRoot != true/);
    expect(messages[0]).toMatch(/seccompProfile/);
    expect(await podsOf('unconfined-job')).toEqual([]);
  });

  test("a pod of tps-deploy's Job template is admitted (server dry run); with a dropped capability added back it is refused", async () => {
    const template = jobManifest(request('dry-run'), {}).spec!.template;
    const pod = (spec: k8s.V1PodSpec): k8s.V1Pod => ({ metadata: { name: 'dry-run' }, spec });
    const { core } = adminApis();
    await expect(
      core.createNamespacedPod({ namespace: ns, body: pod(template.spec!), dryRun: 'All' }),
    ).resolves.toBeDefined();
    const withCapability = structuredClone(template.spec!);
    withCapability.containers[0]!.securityContext!.capabilities = { drop: ['ALL'], add: ['NET_ADMIN'] };
    const refused = await refusal(
      core.createNamespacedPod({ namespace: ns, body: pod(withCapability), dryRun: 'All' }),
    );
    expect(refused.code).toBe(403);
    expect(refused.message).toMatch(/violates PodSecurity "restricted:latest": unrestricted capabilities/);
  });
});

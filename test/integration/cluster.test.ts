/**
 * The local control plane behaves like a real cluster where the product depends on it: the
 * Deployment -> ReplicaSet -> Pod controllers, readiness, EndpointSlices, rollouts, progress
 * deadlines, the failure modes chosen by image tag, Jobs, and RBAC for the restricted identity.
 * Everything runs against the real programs the global setup started (no mocks).
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import {
  ClusterAlreadyRunningError,
  clusterStatus,
  startCluster,
  stopCluster,
} from '../../local/cluster/index.js';
import {
  adminKubeConfig,
  clusterEnv,
  createNamespace,
  deleteNamespace,
  eventually,
  genericRestrictedKubeConfig,
} from '../helpers/cluster-env.js';

const run = promisify(execFile);

const apps = () => adminKubeConfig().makeApiClient(k8s.AppsV1Api);
const core = () => adminKubeConfig().makeApiClient(k8s.CoreV1Api);
const discovery = () => adminKubeConfig().makeApiClient(k8s.DiscoveryV1Api);
const batch = () => adminKubeConfig().makeApiClient(k8s.BatchV1Api);

function deployment(
  name: string,
  image: string,
  replicas: number,
  extra: Partial<k8s.V1DeploymentSpec> = {},
): k8s.V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image, ports: [{ containerPort: 8080 }] }] },
      },
      ...extra,
    },
  };
}

async function pods(namespace: string, app: string): Promise<k8s.V1Pod[]> {
  return (await core().listNamespacedPod({ namespace, labelSelector: `app=${app}` })).items;
}

const isReady = (p: k8s.V1Pod) =>
  p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/** The process exists and is not a zombie (PID 1 here reaps orphans lazily). */
function pidRunning(pid: number): boolean {
  try {
    return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function statusCode(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
    return 200;
  } catch (err) {
    if (err instanceof k8s.ApiException) return err.code;
    throw err;
  }
}

describe('local control plane', () => {
  const namespaces: string[] = [];
  const ns = async (prefix: string, opts?: { restricted?: boolean }) => {
    const name = await createNamespace(prefix, opts);
    namespaces.push(name);
    return name;
  };
  afterAll(async () => {
    await Promise.all(namespaces.map(deleteNamespace));
  });

  test('a Deployment with 4 replicas gets 4 Ready pods on the fake nodes and 4 ready endpoints', async () => {
    const namespace = await ns('ready');
    await apps().createNamespacedDeployment({ namespace, body: deployment('web', 'example/web:v1', 4) });
    await core().createNamespacedService({
      namespace,
      body: {
        metadata: { name: 'web' },
        spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] },
      },
    });

    const d = await eventually('4 available replicas', async () => {
      const dep = await apps().readNamespacedDeployment({ name: 'web', namespace });
      return dep.status?.readyReplicas === 4 && dep.status.availableReplicas === 4 ? dep : undefined;
    });
    expect(d.status?.updatedReplicas).toBe(4);

    const running = await pods(namespace, 'web');
    expect(running).toHaveLength(4);
    for (const p of running) {
      expect(isReady(p)).toBe(true);
      expect(p.status?.phase).toBe('Running');
      expect(p.spec?.nodeName).toMatch(/^kwok-node-\d$/);
      expect(p.status?.podIP).toMatch(/^10\.244\./);
      expect(p.status?.containerStatuses?.[0]?.state?.running?.startedAt).toBeDefined();
    }
    // The scheduler spreads them over more than one of the 3 fake nodes.
    expect(new Set(running.map((p) => p.spec?.nodeName)).size).toBeGreaterThan(1);

    const endpoints = await eventually('an EndpointSlice with 4 ready endpoints', async () => {
      const slices = await discovery().listNamespacedEndpointSlice({
        namespace,
        labelSelector: 'kubernetes.io/service-name=web',
      });
      const eps = slices.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready === true);
      return eps.length === 4 ? eps : undefined;
    });
    expect(new Set(endpoints.map((e) => e.addresses[0]))).toEqual(
      new Set(running.map((p) => p.status?.podIP)),
    );
    expect(new Set(endpoints.map((e) => e.targetRef?.name))).toEqual(
      new Set(running.map((p) => p.metadata?.name)),
    );
  });

  test('changing the image rolls out a new ReplicaSet and kubectl rollout status succeeds', async () => {
    const namespace = await ns('rollout');
    const { kubectl, kubeconfig } = clusterEnv();
    await apps().createNamespacedDeployment({ namespace, body: deployment('api', 'example/api:v1', 3) });
    await run(kubectl, [
      `--kubeconfig=${kubeconfig}`,
      '-n',
      namespace,
      'rollout',
      'status',
      'deployment/api',
      '--timeout=60s',
    ]);
    const before = (await apps().listNamespacedReplicaSet({ namespace, labelSelector: 'app=api' })).items;
    expect(before).toHaveLength(1);
    const oldPods = new Set((await pods(namespace, 'api')).map((p) => p.metadata?.name));

    await apps().patchNamespacedDeployment(
      {
        name: 'api',
        namespace,
        body: { spec: { template: { spec: { containers: [{ name: 'app', image: 'example/api:v2' }] } } } },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
    );
    const { stdout } = await run(kubectl, [
      `--kubeconfig=${kubeconfig}`,
      '-n',
      namespace,
      'rollout',
      'status',
      'deployment/api',
      '--timeout=60s',
    ]);
    expect(stdout).toContain('successfully rolled out');

    const after = (await apps().listNamespacedReplicaSet({ namespace, labelSelector: 'app=api' })).items;
    expect(after).toHaveLength(2);
    const newRs = after.find((rs) => rs.spec?.template?.spec?.containers[0]?.image === 'example/api:v2');
    const oldRs = after.find((rs) => rs.spec?.template?.spec?.containers[0]?.image === 'example/api:v1');
    expect(newRs?.status?.readyReplicas).toBe(3);
    expect(oldRs?.spec?.replicas).toBe(0);
    expect(newRs?.metadata?.annotations?.['deployment.kubernetes.io/revision']).toBe('2');

    // The old pods were deleted and are gone (pod deletion completes on the fake kubelets).
    const current = await eventually('only the 3 new pods', async () => {
      const list = await pods(namespace, 'api');
      return list.length === 3 ? list : undefined;
    });
    for (const p of current) {
      expect(oldPods.has(p.metadata?.name)).toBe(false);
      expect(p.spec?.containers[0]?.image).toBe('example/api:v2');
      expect(isReady(p)).toBe(true);
    }
  });

  test('an image ending -crash exceeds the progress deadline and its pods crash-loop', async () => {
    const namespace = await ns('crash');
    const { kubectl, kubeconfig } = clusterEnv();
    await apps().createNamespacedDeployment({
      namespace,
      body: deployment('bad', 'example/bad:v1-crash', 2, { progressDeadlineSeconds: 5 }),
    });

    const progressing = await eventually('Progressing=False', async () => {
      const dep = await apps().readNamespacedDeployment({ name: 'bad', namespace });
      const c = dep.status?.conditions?.find((x) => x.type === 'Progressing');
      return c?.status === 'False' ? c : undefined;
    });
    expect(progressing.reason).toBe('ProgressDeadlineExceeded');
    const dep = await apps().readNamespacedDeployment({ name: 'bad', namespace });
    expect(dep.status?.readyReplicas ?? 0).toBe(0);
    expect(dep.status?.conditions?.find((x) => x.type === 'Available')?.status).toBe('False');

    // kubectl agrees: rollout status fails with the deadline message.
    const rollout = await run(kubectl, [
      `--kubeconfig=${kubeconfig}`,
      '-n',
      namespace,
      'rollout',
      'status',
      'deployment/bad',
      '--timeout=20s',
    ]).then(
      () => ({ failed: false, stderr: '' }),
      (err: { stderr: string }) => ({ failed: true, stderr: err.stderr }),
    );
    expect(rollout.failed).toBe(true);
    expect(rollout.stderr).toContain('exceeded its progress deadline');

    const first = await pods(namespace, 'bad');
    expect(first).toHaveLength(2);
    for (const p of first) {
      expect(p.status?.phase).toBe('Running');
      expect(isReady(p)).toBe(false);
      const cs = p.status?.containerStatuses?.[0];
      expect(cs?.ready).toBe(false);
      expect(cs?.state?.waiting?.reason).toBe('CrashLoopBackOff');
      expect(cs?.lastState?.terminated?.exitCode).toBe(1);
      expect(cs?.lastState?.terminated?.reason).toBe('Error');
    }
    const restarts = (list: k8s.V1Pod[]) =>
      new Map(list.map((p) => [p.metadata?.name, p.status?.containerStatuses?.[0]?.restartCount ?? 0]));
    const before = restarts(first);
    await eventually('restartCount to grow on every pod', async () => {
      const now = restarts(await pods(namespace, 'bad'));
      return [...before].every(([name, n]) => (now.get(name) ?? 0) >= n + 2);
    });
  });

  test('an image ending -oom restarts with lastState OOMKilled (exit 137)', async () => {
    const namespace = await ns('oom');
    await apps().createNamespacedDeployment({
      namespace,
      body: deployment('hungry', 'example/hungry:v3-oom', 1),
    });
    const cs = await eventually('an OOMKilled restart', async () => {
      const s = (await pods(namespace, 'hungry'))[0]?.status?.containerStatuses?.[0];
      return s?.lastState?.terminated?.reason === 'OOMKilled' ? s : undefined;
    });
    expect(cs.lastState?.terminated?.exitCode).toBe(137);
    expect(cs.ready).toBe(false);
    expect(cs.state?.waiting?.reason).toBe('CrashLoopBackOff');
    const n = cs.restartCount;
    await eventually('restartCount to grow', async () => {
      const s = (await pods(namespace, 'hungry'))[0]?.status?.containerStatuses?.[0];
      return (s?.restartCount ?? 0) > n;
    });
  });

  test('an image ending -unready runs but never becomes Ready', async () => {
    const namespace = await ns('unready');
    await apps().createNamespacedDeployment({
      namespace,
      body: deployment('shy', 'example/shy:v1-unready', 2),
    });
    const list = await eventually('2 running pods', async () => {
      const l = await pods(namespace, 'shy');
      return l.length === 2 && l.every((p) => p.status?.phase === 'Running') ? l : undefined;
    });
    // Still not ready well after the ready delay.
    await new Promise((r) => setTimeout(r, 3000));
    for (const p of await pods(namespace, 'shy')) {
      expect(isReady(p)).toBe(false);
      expect(p.status?.containerStatuses?.[0]?.ready).toBe(false);
      expect(p.status?.containerStatuses?.[0]?.state?.running).toBeDefined();
      expect(p.status?.containerStatuses?.[0]?.restartCount).toBe(0);
    }
    expect(list).toHaveLength(2);
    const dep = await apps().readNamespacedDeployment({ name: 'shy', namespace });
    expect(dep.status?.readyReplicas ?? 0).toBe(0);
  });

  test('Job pods complete; an image ending -fail makes the Job fail with exit code 1', async () => {
    const namespace = await ns('jobs');
    const job = (name: string, image: string): k8s.V1Job => ({
      metadata: { name },
      spec: {
        backoffLimit: 0,
        template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image }] } },
      },
    });
    await batch().createNamespacedJob({ namespace, body: job('migrate-ok', 'example/migrate:v7') });
    await batch().createNamespacedJob({ namespace, body: job('migrate-bad', 'example/migrate:v7-fail') });
    const condition = (j: k8s.V1Job, type: string) =>
      j.status?.conditions?.find((c) => c.type === type && c.status === 'True');

    const ok = await eventually('Job migrate-ok Complete', async () => {
      const j = await batch().readNamespacedJob({ name: 'migrate-ok', namespace });
      return condition(j, 'Complete') ? j : undefined;
    });
    expect(ok.status?.succeeded).toBe(1);
    const bad = await eventually('Job migrate-bad Failed', async () => {
      const j = await batch().readNamespacedJob({ name: 'migrate-bad', namespace });
      return condition(j, 'Failed') ? j : undefined;
    });
    expect(bad.status?.failed).toBe(1);
    expect(condition(bad, 'Complete')).toBeUndefined();

    const jobPods = (await core().listNamespacedPod({ namespace })).items;
    const okPod = jobPods.find((p) => p.metadata?.labels?.['job-name'] === 'migrate-ok');
    const badPod = jobPods.find((p) => p.metadata?.labels?.['job-name'] === 'migrate-bad');
    expect(okPod?.status?.phase).toBe('Succeeded');
    expect(okPod?.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(0);
    expect(badPod?.status?.phase).toBe('Failed');
    expect(badPod?.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(1);
  });

  test('the restricted identity is refused outside its Role and allowed inside it', async () => {
    const allowedNs = await ns('rbac');
    const otherNs = await ns('rbac-other', { restricted: false });
    const kc = genericRestrictedKubeConfig();
    const rApps = kc.makeApiClient(k8s.AppsV1Api);
    const rCore = kc.makeApiClient(k8s.CoreV1Api);

    // Inside the Role: create a Deployment, list pods, read pod events.
    expect(
      await statusCode(
        rApps.createNamespacedDeployment({ namespace: allowedNs, body: deployment('svc', 'x/y:v1', 1) }),
      ),
    ).toBe(200);
    expect(await statusCode(rCore.listNamespacedPod({ namespace: allowedNs }))).toBe(200);
    expect(await statusCode(rCore.listNamespacedEvent({ namespace: allowedNs }))).toBe(200);

    // Outside it: Secrets, a namespace without the binding, cluster-scoped reads, deleting pods.
    expect(await statusCode(rCore.listNamespacedSecret({ namespace: allowedNs }))).toBe(403);
    expect(
      await statusCode(
        rApps.createNamespacedDeployment({ namespace: otherNs, body: deployment('svc', 'x/y:v1', 1) }),
      ),
    ).toBe(403);
    expect(await statusCode(rCore.listNode())).toBe(403);
    expect(await statusCode(rCore.deleteCollectionNamespacedPod({ namespace: allowedNs }))).toBe(403);

    // The admin can do what the restricted identity cannot (so the 403s are RBAC, not breakage).
    expect(await statusCode(core().listNamespacedSecret({ namespace: allowedNs }))).toBe(200);
  });

  test('a second cluster with another name runs alongside; the same name is refused', async () => {
    const env = clusterEnv();
    const name = `${env.clusterName}-b`.slice(0, 40);
    const second = await startCluster({ name, ownerPid: process.pid, nodes: 1, log: () => {} });
    try {
      expect(second.kubeconfig).not.toBe(env.kubeconfig);
      const status = await clusterStatus(name);
      expect(status.state).toBe('up');
      expect(status.nodes).toEqual([{ name: 'kwok-node-0', ready: true }]);
      expect(status.processes.every((p) => p.alive)).toBe(true);
      await expect(startCluster({ name, log: () => {} })).rejects.toBeInstanceOf(ClusterAlreadyRunningError);

      // Each cluster has its own etcd: an object created in one is absent from the other.
      const kc2 = new k8s.KubeConfig();
      kc2.loadFromFile(second.kubeconfig);
      await kc2.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name: 'only-in-b' } } });
      expect(await statusCode(core().readNamespace({ name: 'only-in-b' }))).toBe(404);
    } finally {
      await stopCluster(name);
    }
    const after = await clusterStatus(name);
    expect(after.state).toBe('absent');
    expect(existsSync(second.stateDir)).toBe(false);
    for (const pid of Object.values(second.pids)) expect(pidRunning(pid)).toBe(false);
  });
});

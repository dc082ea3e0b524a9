/**
 * The services the benchmarks release: a Deployment and a Service per name (as local/demo-app.ts
 * creates them), the shipped Roles bound to the app's function groups, and a catalog entry that
 * passes the pre-deployment gates without a person (no approval, someone always on call).
 */
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import type { ServiceConfigInput } from '../../functions/domain/config.js';
import { applyRestrictedRole } from '../../local/cluster/index.js';

/** The Role the product ships (what the functions may do in a service's namespace). */
export const ROLE_MANIFEST = fileURLToPath(new URL('../../infra/k8s/tps-deploy-role.yaml', import.meta.url));

/** The benchmarks' appName: alarm names are `<appName>-<service>-<signal>`. */
export const APP_NAME = 'tps-bench';

/** Image of version `v` of a service (the container is named after the Deployment). */
export function imageOf(name: string, version: string): string {
  return `registry.local/bench/${name}:${version}`;
}

export interface AdminApis {
  readonly kc: k8s.KubeConfig;
  readonly core: k8s.CoreV1Api;
  readonly apps: k8s.AppsV1Api;
}

export function adminApis(kubeconfig: string): AdminApis {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  return { kc, core: kc.makeApiClient(k8s.CoreV1Api), apps: kc.makeApiClient(k8s.AppsV1Api) };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Creates the namespace (if missing), waits for its default ServiceAccount, binds the shipped
 * Roles to `appName`'s groups.
 */
export async function ensureNamespace(
  kubeconfig: string,
  namespace: string,
  appName: string = APP_NAME,
): Promise<void> {
  const { core } = adminApis(kubeconfig);
  await core.createNamespace({ body: { metadata: { name: namespace } } }).catch((e: { code?: number }) => {
    if (e.code !== 409) throw e;
  });
  for (let i = 0; ; i++) {
    const ok = await core
      .readNamespacedServiceAccount({ name: 'default', namespace })
      .then(() => true)
      .catch(() => false);
    if (ok) break;
    if (i > 300) throw new Error(`namespace ${namespace}: no default ServiceAccount after 30 s`);
    await sleep(100);
  }
  await applyRestrictedRole(kubeconfig, namespace, ROLE_MANIFEST, appName);
}

/**
 * A namespace of this run only: one left by an earlier, interrupted run is deleted first (and
 * waited for), then it is created with the shipped Role bound.
 */
export async function freshNamespace(
  kubeconfig: string,
  namespace: string,
  appName: string = APP_NAME,
): Promise<void> {
  const { core } = adminApis(kubeconfig);
  await deleteNamespace(kubeconfig, namespace);
  for (let i = 0; ; i++) {
    const exists = await core
      .readNamespace({ name: namespace })
      .then(() => true)
      .catch(() => false);
    if (!exists) break;
    if (i > 1200) throw new Error(`namespace ${namespace} still terminating after 120 s`);
    await sleep(100);
  }
  await ensureNamespace(kubeconfig, namespace, appName);
}

/** Deletes a namespace and does not wait. */
export async function deleteNamespace(kubeconfig: string, namespace: string): Promise<void> {
  const { core } = adminApis(kubeconfig);
  await core.deleteNamespace({ name: namespace }).catch(() => undefined);
}

/** The same Deployment + Service the demo and `tps-deploy local` create. */
export { createWorkload } from '../../local/demo-app.js';

/** Waits until each named Deployment has all its replicas Ready and updated (one LIST per poll). */
export async function waitAllReady(
  kubeconfig: string,
  namespace: string,
  names: readonly string[],
  timeoutMs = 180_000,
): Promise<void> {
  const { apps } = adminApis(kubeconfig);
  const deadline = Date.now() + timeoutMs;
  const want = new Set(names);
  for (;;) {
    const list = await apps.listNamespacedDeployment({ namespace });
    const pending = list.items.filter((d) => {
      if (!want.has(d.metadata?.name ?? '')) return false;
      const r = d.spec?.replicas ?? 1;
      const st = d.status ?? {};
      return !(
        (st.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
        st.readyReplicas === r &&
        st.updatedReplicas === r &&
        st.replicas === r
      );
    });
    const missing = names.filter((n) => !list.items.some((d) => d.metadata?.name === n));
    if (pending.length === 0 && missing.length === 0) return;
    if (Date.now() > deadline) {
      throw new Error(
        `${namespace}: not ready after ${timeoutMs / 1000} s: ${[...pending.map((d) => d.metadata?.name), ...missing].join(', ')}`,
      );
    }
    await sleep(200);
  }
}

/**
 * A catalog entry for a benchmark service: replica-ratio router on its Service, synthetic traffic,
 * no approval (nobody answers), an on-call schedule that always names someone, and `extra` on top.
 */
export function benchService(
  namespace: string,
  name: string,
  extra: Partial<ServiceConfigInput> = {},
): ServiceConfigInput {
  return {
    description: `benchmark service ${name}`,
    cluster: { name: 'local', region: 'us-east-1' },
    namespace,
    deployment: name,
    containers: [name],
    router: { type: 'replica-ratio', service: name },
    slo: { p99Ms: 300 },
    metrics: { source: 'synthetic', profile: 'healthy' },
    // A benchmark service on the local cluster: judged on synthetic traffic by design.
    sandbox: true,
    approval: false,
    onCall: {
      schedule: [
        {
          who: 'bench-oncall',
          days: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'],
          start: '00:00',
          end: '24:00',
        },
      ],
    },
    ...extra,
  };
}

/** The execution input of a standard release of `service` to `image`, with the attestations the gates ask for. */
export function releaseInput(service: string, image: string, changeRef: string) {
  return {
    service,
    image,
    mode: 'standard',
    requestedBy: 'bench',
    changeRef,
    attestations: { testsPassed: true, reviewers: ['alice', 'bob'] },
  };
}

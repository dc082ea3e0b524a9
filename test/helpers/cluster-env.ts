/**
 * Typed access, from tests, to the local control plane the Jest global setup started (or to the
 * external one named by TPS_KUBECONFIG), plus small helpers every integration test needs.
 */
import { readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { functionKubeconfigPaths } from '../../local/cluster/identities.js';
import { applyRestrictedRole } from '../../local/cluster/restricted-role.js';
import { RESTRICTED_NAMESPACE_LABELS } from '../../local/pod-security.js';

/** The catalog appName of the test fixtures: the shipped Role is bound to its groups. */
export const TEST_APP_NAME = 'tps-test';

export interface ClusterEnv {
  /** Admin kubeconfig (system:masters). */
  kubeconfig: string;
  /** Kubeconfig of the restricted identity tps-deploy-functions (group tps-deploy). */
  restrictedKubeconfig: string;
  clusterName: string;
  /** The kubectl built at the cluster's version. */
  kubectl: string;
  /** True when this test run started the cluster (false for TPS_KUBECONFIG clusters). */
  managed: boolean;
}

export const CLUSTER_ENV_KEYS = {
  kubeconfig: 'TPS_KUBECONFIG',
  restrictedKubeconfig: 'TPS_RESTRICTED_KUBECONFIG',
  clusterName: 'TPS_CLUSTER_NAME',
  kubectl: 'TPS_KUBECTL',
} as const;

/** Reads the cluster from process.env, falling back to the JSON file named by TPS_CLUSTER_ENV. */
export function clusterEnv(env: NodeJS.ProcessEnv = process.env): ClusterEnv {
  let fromFile: Partial<ClusterEnv> = {};
  if (env.TPS_CLUSTER_ENV) {
    try {
      fromFile = JSON.parse(readFileSync(env.TPS_CLUSTER_ENV, 'utf8')) as Partial<ClusterEnv>;
    } catch {
      // fall through to the environment variables
    }
  }
  const pick = (key: keyof typeof CLUSTER_ENV_KEYS): string => {
    const v = env[CLUSTER_ENV_KEYS[key]] || fromFile[key];
    if (!v) {
      throw new Error(
        `${CLUSTER_ENV_KEYS[key]} is not set: the Jest global setup (test/global-setup.ts) starts the local ` +
          'cluster; run the tests through `npm run test:jest`',
      );
    }
    return v;
  };
  return {
    kubeconfig: pick('kubeconfig'),
    restrictedKubeconfig: pick('restrictedKubeconfig'),
    clusterName: pick('clusterName'),
    kubectl: pick('kubectl'),
    managed: fromFile.managed ?? env.TPS_CLUSTER_MANAGED === '1',
  };
}

export function adminKubeConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(clusterEnv().kubeconfig);
  return kc;
}

/**
 * The local cluster's generic restricted identity tps-deploy-functions (group tps-deploy), bound in
 * namespaces made by `createNamespace` (local/cluster/restricted-role.ts, the default manifest).
 */
export function genericRestrictedKubeConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(clusterEnv().restrictedKubeconfig);
  return kc;
}

/**
 * The write identity of the test app's functions (group tps-deploy-tps-test-write), bound by the
 * shipped Role in namespaces made by `namespaceWithShippedRole` (which mints it).
 */
export function restrictedKubeConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(functionKubeconfigPaths(clusterEnv().kubeconfig, TEST_APP_NAME).write);
  return kc;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  { timeoutMs = 60_000, intervalMs = 250 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`,
      );
    }
    await sleep(intervalMs);
  }
}

/**
 * Creates a fresh namespace, waits for its default ServiceAccount (pods cannot be created before
 * it exists) and, unless `restricted: false`, binds the restricted identity's Role in it
 * (`restricted` is about RBAC). `podSecurity: 'restricted'` labels it for the PodSecurity
 * admission (local/pod-security.ts): pods that do not meet the restricted profile are refused.
 * `exactName`: the namespace is called `prefix` itself (deleted first if it exists), for a catalog
 * that names its namespace, as the sample tps.config.ts does.
 */
export async function createNamespace(
  prefix: string,
  opts: { restricted?: boolean; podSecurity?: 'restricted'; exactName?: boolean } = {},
): Promise<string> {
  const name = opts.exactName
    ? prefix
    : `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`.slice(0, 63);
  const core = adminKubeConfig().makeApiClient(k8s.CoreV1Api);
  if (opts.exactName) {
    // A namespace a catalog names (the sample's `shop`): one left by an aborted run goes first.
    await core.deleteNamespace({ name }).catch(() => undefined);
    await eventually(
      `namespace ${name} gone`,
      async () =>
        core.readNamespace({ name }).then(
          () => false,
          (error: { code?: number }) => error.code === 404,
        ),
      { timeoutMs: 120_000 },
    );
  }
  const labels = {
    'tps-deploy.dev/test': 'true',
    ...(opts.podSecurity === 'restricted' ? RESTRICTED_NAMESPACE_LABELS : {}),
  };
  await core.createNamespace({ body: { metadata: { name, labels } } });
  await eventually(`ServiceAccount default in ${name}`, async () =>
    core.readNamespacedServiceAccount({ name: 'default', namespace: name }).then(() => true),
  );
  if (opts.restricted !== false) await applyRestrictedRole(clusterEnv().kubeconfig, name);
  return name;
}

export async function deleteNamespace(name: string): Promise<void> {
  const core = adminKubeConfig().makeApiClient(k8s.CoreV1Api);
  await core.deleteNamespace({ name }).catch(() => undefined);
}

/**
 * Points the helpers (and anything reading CLUSTER_ENV_KEYS) at `info`'s cluster, for a test file
 * or a benchmark with a cluster of its own. Returns the function that puts the environment back.
 */
export function useCluster(info: {
  kubeconfig: string;
  restrictedKubeconfig: string;
  name: string;
  kubectl: string;
}): () => void {
  const values: Record<keyof typeof CLUSTER_ENV_KEYS, string> = {
    kubeconfig: info.kubeconfig,
    restrictedKubeconfig: info.restrictedKubeconfig,
    clusterName: info.name,
    kubectl: info.kubectl,
  };
  const saved: Record<string, string | undefined> = { TPS_CLUSTER_ENV: process.env.TPS_CLUSTER_ENV };
  for (const [k, envName] of Object.entries(CLUSTER_ENV_KEYS)) {
    saved[envName] = process.env[envName];
    process.env[envName] = values[k as keyof typeof CLUSTER_ENV_KEYS];
  }
  delete process.env.TPS_CLUSTER_ENV;
  return () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}

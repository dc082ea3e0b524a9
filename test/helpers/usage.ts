/**
 * Emulated CPU/memory usage of pods on the local cluster, and what the metrics API reports.
 *
 * KWOK's usage-from-annotation gives each pod the usage written in its annotations
 * `kwok.x-k8s.io/usage-cpu` / `kwok.x-k8s.io/usage-memory` (default 1m / 1Mi); metrics-server
 * scrapes it every 10 s and the HPA controller reads it through `metrics.k8s.io`
 * (docs/local-cluster.md, "Metrics and HPAs"). The usage is per pod: it does not spread over the
 * replicas, so a usage above an HPA's target keeps scaling up to maxReplicas and one below it
 * scales down to minReplicas.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { USAGE_ANNOTATIONS } from '../../local/cluster/metrics.js';
import { adminKubeConfig, clusterEnv } from './cluster-env.js';

export { USAGE_ANNOTATIONS };

const run = promisify(execFile);
const MERGE_PATCH = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

/** Per-pod usage as Kubernetes quantities, e.g. `{ cpu: '150m', memory: '64Mi' }`. */
export interface Usage {
  readonly cpu?: string;
  readonly memory?: string;
}

export interface SetUsageOptions {
  /**
   * Also patch the Deployment's pod template, so that pods created later (scale-ups, restarts)
   * get the usage. Changing the template is a rollout: every pod is replaced, and new pods have
   * no metrics until metrics-server has scraped them twice (10-20 s). `false` patches only the
   * running pods: their usage changes at metrics-server's next scrape and nothing is replaced.
   * @default true
   */
  readonly template?: boolean;
}

/** The annotations that give a pod `usage` (for a pod template, or a pod). */
export function usageAnnotations(usage: Usage): Record<string, string> {
  const out: Record<string, string> = {};
  if (usage.cpu !== undefined) out[USAGE_ANNOTATIONS.cpu] = usage.cpu;
  if (usage.memory !== undefined) out[USAGE_ANNOTATIONS.memory] = usage.memory;
  if (Object.keys(out).length === 0) throw new Error('setUsage: give cpu and/or memory');
  return out;
}

/**
 * Sets the emulated usage of a Deployment's pods: first the running pods' annotations (effective
 * at metrics-server's next scrape), then, unless `template: false`, the pod template's.
 * Returns the names of the pods patched.
 */
export async function setUsage(
  namespace: string,
  deployment: string,
  usage: Usage,
  opts: SetUsageOptions = {},
): Promise<string[]> {
  const annotations = usageAnnotations(usage);
  const kc = adminKubeConfig();
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const dep = await apps.readNamespacedDeployment({ name: deployment, namespace });
  const labels = dep.spec?.selector.matchLabels ?? {};
  const labelSelector = Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  if (!labelSelector) throw new Error(`setUsage: Deployment ${namespace}/${deployment} has no matchLabels`);
  const pods = (await core.listNamespacedPod({ namespace, labelSelector })).items;
  const patched: string[] = [];
  await Promise.all(
    pods.map(async (p) => {
      const name = p.metadata!.name!;
      try {
        await core.patchNamespacedPod({ name, namespace, body: { metadata: { annotations } } }, MERGE_PATCH);
        patched.push(name);
      } catch (err) {
        // A pod deleted meanwhile (a rollout or a scale-down) needs no usage.
        if (!(err instanceof k8s.ApiException && err.code === 404)) throw err;
      }
    }),
  );
  if (opts.template !== false) {
    await apps.patchNamespacedDeployment(
      { name: deployment, namespace, body: { spec: { template: { metadata: { annotations } } } } },
      MERGE_PATCH,
    );
  }
  return patched.sort();
}

/** {@link setUsage} for CPU only, e.g. `setCpuUsage(ns, 'web', '150m')`. */
export function setCpuUsage(
  namespace: string,
  deployment: string,
  cpu: string,
  opts?: SetUsageOptions,
): Promise<string[]> {
  return setUsage(namespace, deployment, { cpu }, opts);
}

/** One pod's entry in `metrics.k8s.io/v1beta1` PodMetricsList, usage summed over containers. */
export interface PodUsage {
  readonly name: string;
  /** Millicores (metrics-server reports nanocores: `149988357n` is 149.99). */
  readonly cpuMillis: number;
  readonly memoryBytes: number;
  readonly window: string;
  readonly timestamp: string;
}

/** Parses a CPU quantity (`150m`, `149988357n`, `2`, `1500u`) into millicores. */
export function cpuMillis(quantity: string): number {
  const m = /^(\d+(?:\.\d+)?)(n|u|m)?$/.exec(quantity);
  if (!m) throw new Error(`not a CPU quantity: ${quantity}`);
  const scale = { n: 1e-6, u: 1e-3, m: 1 }[m[2] as 'n' | 'u' | 'm'] ?? 1000;
  return Number(m[1]) * scale;
}

/** Parses a memory quantity (`64Mi`, `1Gi`, `1000k`, `123456`) into bytes. */
export function memoryBytes(quantity: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(quantity);
  if (!m) throw new Error(`not a memory quantity: ${quantity}`);
  const scale: Record<string, number> = {
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
  };
  return Number(m[1]) * (m[2] ? scale[m[2]]! : 1);
}

/**
 * What the resource metrics API reports for the pods of `namespace`, read the way a person would:
 * `kubectl get --raw /apis/metrics.k8s.io/v1beta1/namespaces/<ns>/pods` with the cluster's
 * kubectl. Pods metrics-server has not scraped twice yet are absent.
 */
export async function podUsage(namespace: string): Promise<PodUsage[]> {
  const env = clusterEnv();
  const { stdout } = await run(env.kubectl, [
    `--kubeconfig=${env.kubeconfig}`,
    'get',
    '--raw',
    `/apis/metrics.k8s.io/v1beta1/namespaces/${namespace}/pods`,
  ]);
  const list = JSON.parse(stdout) as {
    items: {
      metadata: { name: string };
      timestamp: string;
      window: string;
      containers: { name: string; usage: { cpu: string; memory: string } }[];
    }[];
  };
  return list.items.map((p) => ({
    name: p.metadata.name,
    cpuMillis: p.containers.reduce((s, c) => s + cpuMillis(c.usage.cpu), 0),
    memoryBytes: p.containers.reduce((s, c) => s + memoryBytes(c.usage.memory), 0),
    window: p.window,
    timestamp: p.timestamp,
  }));
}

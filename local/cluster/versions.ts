/**
 * Pinned versions of the local control plane's programs and where they are cached. Changing a
 * version here makes `ensureBinaries()` rebuild that program (scripts/build-cluster-bins.sh keeps a
 * `<program>.version` stamp next to each binary).
 */
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

export const K8S_VERSION = 'v1.35.4';
export const ETCD_VERSION = 'v3.6.16';
export const KWOK_VERSION = 'v0.8.0';
/** sigs.k8s.io/metrics-server; only built and started for clusters with `metrics: true`. */
export const METRICS_SERVER_VERSION = 'v0.8.0';

export const PROGRAMS = [
  'etcd',
  'kwok',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubectl',
  'metrics-server',
] as const;
export type Program = (typeof PROGRAMS)[number];

/** The programs every cluster runs; `metrics-server` is added for clusters with metrics. */
export const CORE_PROGRAMS = PROGRAMS.filter((p) => p !== 'metrics-server');

/** The version each program must be built at. */
export function pinnedVersion(program: Program): string {
  if (program === 'etcd') return ETCD_VERSION;
  if (program === 'kwok') return KWOK_VERSION;
  if (program === 'metrics-server') return METRICS_SERVER_VERSION;
  return K8S_VERSION;
}

/**
 * Upstream manifests the metrics wiring applies, copied unchanged from the pinned modules by
 * scripts/build-cluster-bins.sh into `<cache>/assets/<module>@<version>/<path>`.
 */
export const METRICS_ASSETS = {
  /** KWOK's ClusterResourceUsage: pod CPU/memory usage from the `kwok.x-k8s.io/usage-*` annotations. */
  usageFromAnnotation: [
    'sigs.k8s.io/kwok',
    KWOK_VERSION,
    'kustomize/metrics/usage/usage-from-annotation.yaml',
  ],
  /** KWOK's Metric serving the kubelet's /metrics/resource at /metrics/nodes/{nodeName}/metrics/resource. */
  metricsResource: ['sigs.k8s.io/kwok', KWOK_VERSION, 'kustomize/metrics/resource/metrics-resource.yaml'],
  /** metrics-server's ServiceAccount, ClusterRoles and bindings. */
  rbac: ['sigs.k8s.io/metrics-server', METRICS_SERVER_VERSION, 'manifests/base/rbac.yaml'],
  /** The `v1beta1.metrics.k8s.io` APIService. */
  apiService: ['sigs.k8s.io/metrics-server', METRICS_SERVER_VERSION, 'manifests/base/apiservice.yaml'],
  /** The `kube-system/metrics-server` Service the APIService points at. */
  service: ['sigs.k8s.io/metrics-server', METRICS_SERVER_VERSION, 'manifests/base/service.yaml'],
} as const satisfies Record<string, readonly [string, string, string]>;
export type MetricsAsset = keyof typeof METRICS_ASSETS;

/** `${TPS_CACHE_DIR:-$HOME/.cache/tps-deploy}/cluster` */
export function clusterCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.TPS_CACHE_DIR || join(env.HOME || homedir(), '.cache', 'tps-deploy');
  return join(base, 'cluster');
}

export function binDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(clusterCacheDir(env), 'bin');
}

export function binPath(program: Program, env: NodeJS.ProcessEnv = process.env): string {
  return join(binDir(env), program);
}

export function assetPath(asset: MetricsAsset, env: NodeJS.ProcessEnv = process.env): string {
  const [module, version, path] = METRICS_ASSETS[asset];
  return join(clusterCacheDir(env), 'assets', `${module}@${version}`, path);
}

/** `${TMPDIR:-/tmp}/tps-deploy-clusters`: one sub-directory per cluster name. */
export function clustersRoot(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.TMPDIR || tmpdir(), 'tps-deploy-clusters');
}

/** Programmatic API of the local Kubernetes control plane (see docs/local-cluster.md). */
export { type BinaryOptions, type BinaryPaths, ensureBinaries, missingBinaries } from './binaries.js';
export {
  ClusterAlreadyRunningError,
  type ClusterInfo,
  type ClusterPorts,
  type ClusterStatus,
  COMPONENTS,
  type Component,
  clusterComponents,
  clusterStateDir,
  clusterStatus,
  DEFAULT_CLUSTER_NAME,
  DEFAULT_METRICS,
  kubectl,
  restartComponent,
  type StartClusterOptions,
  startCluster,
  stopCluster,
  stopClusterSync,
} from './cluster.js';
export {
  canMintFunctionIdentities,
  type FunctionKubeconfigs,
  functionKubeconfigPaths,
  functionUser,
  mintFunctionIdentities,
} from './identities.js';
export {
  HPA_SYNC_PERIOD,
  METRIC_RESOLUTION_SECONDS,
  METRICS_API_SERVICE,
  USAGE_ANNOTATIONS,
} from './metrics.js';
export {
  APP_NAME_PLACEHOLDER,
  applyRestrictedRole,
  DEFAULT_RESTRICTED_ROLE_MANIFEST,
  fillAppName,
  RESTRICTED_GROUP,
  RESTRICTED_ROLE_NAME,
  RESTRICTED_RULES,
  RESTRICTED_USER,
  restrictedRoleObjects,
} from './restricted-role.js';
export { type StageTimings, stagesYaml, timingsFromEnv } from './stages.js';
export { binPath, ETCD_VERSION, K8S_VERSION, KWOK_VERSION, METRICS_SERVER_VERSION } from './versions.js';

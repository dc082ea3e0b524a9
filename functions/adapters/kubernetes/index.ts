/** The Kubernetes adapters: API clients with retries, the cluster client and the traffic routers. */
export {
  ALB_ACTIONS_PREFIX,
  type AlbConfig,
  AlbRouter,
  canaryShareOfAction,
  forwardAction,
} from './alb-router.js';
export {
  backoffDelayMs,
  classifyFailure,
  createKubeClients,
  DEFAULT_RETRY_POLICY,
  isAlreadyExists,
  isNotFound,
  KubeCall,
  type KubeClients,
  type KubeFailure,
  KubernetesRequestError,
  kubeConfigFromFile,
  type RetryPolicy,
  type RetryRuntime,
} from './client.js';
export { KubernetesClusterClient } from './cluster-client.js';
export {
  CANARY_TRACK,
  canaryName,
  labelValue,
  MANAGED_REPLICAS_ANNOTATION,
  releaseLabels,
  TARGET_WEIGHT_ANNOTATION,
} from './labels.js';
export { type ReplicaRatioConfig, ReplicaRatioRouter } from './replica-ratio-router.js';
export { createRouter } from './router-factory.js';
export { DEFAULT_WAITS, type RouterOptions, type Waits } from './workload.js';

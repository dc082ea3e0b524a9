import type { Catalog, ServiceConfig } from '../domain/config.js';
import type { Clock } from '../ports/clock.js';
import type { ClusterClient } from '../ports/cluster.js';
import type { MetricsSource } from '../ports/metrics.js';
import type { Notifier } from '../ports/notifier.js';
import type { TrafficRouter } from '../ports/router.js';
import type { DeploymentStore } from '../ports/store.js';

/** Workload access for one service: the cluster client and the service's traffic router. */
export interface Workloads {
  readonly cluster: ClusterClient;
  readonly router: TrafficRouter;
}

/**
 * Everything a release step needs, injected. The Lambda handlers build the AWS adapters
 * (EKS, CloudWatch, DynamoDB, SNS); the local runner builds the local ones (local control plane,
 * synthetic traffic, dynalite, a collecting notifier) around the same step code.
 */
export interface ReleasePorts {
  readonly catalog: Catalog;
  readonly store: DeploymentStore;
  readonly notifier: Notifier;
  readonly clock: Clock;
  workloads(service: ServiceConfig): Promise<Workloads>;
  metrics(service: ServiceConfig, deploymentStart: Date): MetricsSource;
  /** Stops a running execution (rollback by alarm or by a person). */
  stopExecution(executionArn: string, cause: string): Promise<void>;
}

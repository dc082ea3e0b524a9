/**
 * The Kubernetes side of a service's {@link Workloads}: cluster client, the router its config
 * names (createRouter) and the Job runner, over one set of API clients. The Lambda runtime, the
 * CLI and the local environment all build workloads here.
 */
import type { ServiceConfig } from '../../domain/config.js';
import { type Clock, systemClock } from '../../ports/clock.js';
import type { Workloads } from '../../ports/release.js';
import type { TrafficRouter } from '../../ports/router.js';
import type { KubeClients } from './client.js';
import { KubernetesClusterClient } from './cluster-client.js';
import { KubernetesJobRunner } from './jobs.js';
import { createRouter } from './router-factory.js';

export interface KubeWorkloadsOptions {
  /** @default the system clock */
  readonly clock?: Clock;
  /** Wraps the router (the local environment records the weights it sets for synthetic traffic). */
  readonly wrapRouter?: (router: TrafficRouter, svc: ServiceConfig) => TrafficRouter;
}

/** Workloads of `svc` on the cluster `clients` talk to. */
export function kubeWorkloads(
  svc: ServiceConfig,
  clients: KubeClients,
  opts: KubeWorkloadsOptions = {},
): Workloads {
  const router = createRouter(svc.router, clients, svc.gitops ? { gitops: svc.gitops } : {});
  return {
    cluster: new KubernetesClusterClient(clients, opts.clock ?? systemClock),
    router: opts.wrapRouter ? opts.wrapRouter(router, svc) : router,
    jobs: new KubernetesJobRunner(clients),
  };
}

/**
 * Picks the traffic router named by a service's config (Flagger's factory pattern): callers hold a
 * {@link TrafficRouter} and never test which kind it is.
 */
import type { ServiceConfig } from '../../domain/config.js';
import type { TrafficRouter } from '../../ports/router.js';
import { AlbRouter } from './alb-router.js';
import type { KubeClients } from './client.js';
import { ReplicaRatioRouter } from './replica-ratio-router.js';
import type { RouterOptions } from './waits.js';

/** The router for `config` (`serviceConfig.router`), talking to the cluster through `clients`. */
export function createRouter(
  config: ServiceConfig['router'],
  clients: KubeClients,
  options: RouterOptions = {},
): TrafficRouter {
  switch (config.type) {
    case 'replica-ratio':
      return new ReplicaRatioRouter(clients, { service: config.service }, options);
    case 'alb':
      return new AlbRouter(
        clients,
        {
          ingress: config.ingress,
          actionName: config.actionName,
          stableService: config.stableService,
          servicePort: config.servicePort,
          ...(config.canaryService ? { canaryService: config.canaryService } : {}),
        },
        options,
      );
  }
}

/**
 * Picks the metrics source named by a service's config, as createRouter picks its router: callers
 * hold a {@link MetricsSource} and never test which kind it is.
 */
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { Catalog, ServiceConfig } from '../domain/config.js';
import { NotConfiguredError } from '../domain/errors.js';
import type { MetricsSource } from '../ports/metrics.js';
import { CloudWatchMetricsSource } from './aws/cloudwatch-metrics.js';
import { loadProfile } from './synthetic/index.js';
import { SyntheticMetricsSource } from './synthetic/source.js';

/** Builds the metrics source of one service for one release (`deploymentStart` anchors synthetic traffic). */
export type MetricsFactory = (service: ServiceConfig, deploymentStart: Date) => MetricsSource;

/** The metrics source for `svc.metrics`: CloudWatch GetMetricData, or a synthetic traffic profile. */
export function createMetricsSource(
  svc: ServiceConfig,
  deploymentStart: Date,
  deps: { readonly catalog: Catalog; readonly cloudwatch: CloudWatchClient | null },
): MetricsSource {
  switch (svc.metrics.source) {
    case 'synthetic':
      return new SyntheticMetricsSource({ profile: loadProfile(svc.metrics.profile), deploymentStart });
    case 'cloudwatch': {
      const client = deps.cloudwatch;
      if (!client) {
        return {
          window: async () => {
            throw new NotConfiguredError('no CloudWatch client is configured for the metrics source');
          },
        };
      }
      return new CloudWatchMetricsSource({ client, services: deps.catalog.services });
    }
  }
}

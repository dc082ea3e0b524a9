import type { ServiceConfigInput } from '../../functions/domain/config.js';
import {
  type JobPodPolicy,
  type JobsConfigInput,
  jobPodPolicy,
  jobsSchema,
} from '../../functions/domain/job-policy.js';
import sample from '../../tps.config.js';

const api = sample.services.api!;

/** The sample catalog with the api service's databases (an Aurora cluster and an RDS instance). */
export const catalogWithDatabases = {
  ...sample,
  services: {
    ...sample.services,
    api: {
      ...api,
      databases: [
        { kind: 'aurora-cluster' as const, identifier: 'shop-aurora' },
        { kind: 'rds-instance' as const, identifier: 'shop-legacy' },
      ],
      // The tests attestation must come from this pipeline's action (the checkGates role reads it).
      duties: {
        approvers: api.duties?.approvers ?? ['arn:aws:iam::123456789012:role/AWSReservedSSO_TeamLead_*'],
        requireTestsFrom: { pipeline: 'shop-api-release', action: 'IntegrationTests' },
      },
    },
  },
};

/** A catalog entry for Deployment `api` in namespace `shop` (replica-ratio, synthetic metrics), with `over` laid over it. */
export function serviceInput(over: Partial<ServiceConfigInput> = {}): ServiceConfigInput {
  return {
    cluster: { name: 'prod', region: 'us-east-1' },
    namespace: 'shop',
    deployment: 'api',
    containers: ['api'],
    router: { type: 'replica-ratio', service: 'api' },
    slo: { p99Ms: 300 },
    metrics: { source: 'synthetic' },
    ...over,
  };
}

/** An ALB router for the `web` Service, with `over` laid over it. */
export function albRouter(over: Record<string, unknown> = {}): ServiceConfigInput['router'] {
  return {
    type: 'alb',
    ingress: 'web',
    actionName: 'web-weighted',
    stableService: 'web',
    servicePort: 80,
    ...over,
  } as ServiceConfigInput['router'];
}

/** A `jobs` block for test catalogs: ServiceAccount `release-jobs`, images from `registry.local`. */
export const JOBS: JobsConfigInput = {
  serviceAccountName: 'release-jobs',
  allowedImages: ['registry.local/**'],
};

/** The pod policy of {@link JOBS}, for Job requests built by hand. */
export const JOB_POD: JobPodPolicy = jobPodPolicy(jobsSchema.parse(JOBS));

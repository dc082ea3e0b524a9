/**
 * End-to-end fixtures: a service catalog pointing at a fresh namespace of the local cluster, and a
 * LocalEnvironment that runs the synthesized state machine with the restricted identity.
 */
import { discardLines } from '../../functions/adapters/powertools/output.js';
import type { TrafficProfileInput } from '../../functions/adapters/synthetic/profile.js';
import { parseProfile } from '../../functions/adapters/synthetic/profile.js';
import type { CatalogInput, ServiceConfigInput } from '../../functions/domain/config.js';
import { LocalEnvironment, type LocalEnvironmentOptions } from '../../local/environment.js';
import { TEST_APP_NAME } from './cluster-env.js';
import {
  type AppFixture,
  createApp,
  functionIdentities,
  JOBS_SERVICE_ACCOUNT,
  namespaceWithShippedRole,
} from './k8s.js';

export type RouterKind = 'replica-ratio' | 'alb';

/** A service of the catalog for a fixture app, with short windows where tests need them. */
export function serviceFor(
  app: AppFixture,
  router: RouterKind,
  extra: Partial<ServiceConfigInput> = {},
): ServiceConfigInput {
  return {
    cluster: { name: 'local', region: 'us-east-1' },
    namespace: app.namespace,
    deployment: app.name,
    containers: ['api', 'sidecar'],
    router:
      router === 'replica-ratio'
        ? { type: 'replica-ratio', service: app.service }
        : {
            type: 'alb',
            ingress: app.ingress,
            actionName: app.actionName,
            stableService: app.service,
            servicePort: app.port,
          },
    slo: { p99Ms: 300 },
    metrics: { source: 'synthetic', profile: 'healthy' },
    // A fixture on the local cluster: synthetic traffic is what the tests judge.
    sandbox: true,
    readinessTimeoutSeconds: 120,
    // Test and migration Jobs run as the release namespace's Jobs ServiceAccount.
    jobs: {
      serviceAccountName: JOBS_SERVICE_ACCOUNT,
      allowedImages: ['registry.local/shop/**'],
      secrets: ['shop-db'],
    },
    ...extra,
  };
}

export interface ReleaseFixture {
  readonly app: AppFixture;
  readonly env: LocalEnvironment;
  readonly catalog: CatalogInput;
}

/** Namespace + app + catalog + environment; `profile` overrides the service's synthetic traffic. */
export async function releaseFixture(
  prefix: string,
  router: RouterKind,
  opts: {
    profile?: TrafficProfileInput;
    service?: Partial<ServiceConfigInput>;
    /** More LocalEnvironment options (a table endpoint, request middleware). */
    /** Annotations on the fixture Deployment's pods (e.g. the local cluster's ready delay). */
    podAnnotations?: Record<string, string>;
    /** Replicas of the fixture Deployment. @default 4 */
    replicas?: number;
    env?: Pick<
      LocalEnvironmentOptions,
      'dynamo' | 'kubeMiddleware' | 'functionOutput' | 'taskKubeMiddleware'
    >;
  } = {},
): Promise<ReleaseFixture> {
  const ns = await namespaceWithShippedRole(prefix);
  const app = await createApp(ns, 'shop', {
    replicas: opts.replicas ?? 4,
    ingress: router === 'alb',
    ...(opts.podAnnotations ? { podAnnotations: opts.podAnnotations } : {}),
  });
  const catalog: CatalogInput = {
    appName: TEST_APP_NAME,
    services: { shop: serviceFor(app, router, opts.service) },
  };
  const env = await LocalEnvironment.start({
    catalog,
    // Each task acts as the test app's read or write identity, bound by the shipped Roles.
    kubeconfigs: await functionIdentities(TEST_APP_NAME),
    kubeRetry: { baseDelayMs: 50, maxDelayMs: 500 },
    // The functions' log lines and metrics are checked by test/integration/observability.test.ts;
    // elsewhere they would only bury the test output.
    functionOutput: discardLines,
    ...(opts.profile ? { profiles: { shop: parseProfile(opts.profile) } } : {}),
    ...opts.env,
  });
  return { app, env, catalog };
}

/**
 * Fixtures for the Kubernetes adapter tests: a namespace with the product's shipped Role bound to
 * the restricted identity, a two-container Deployment with its Service (and an ALB-style
 * Ingress), and the adapters' clients for the restricted identity.
 */
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { canaryShareOfAction } from '../../functions/adapters/kubernetes/alb-actions.js';
import { createKubeClients, type KubeClients } from '../../functions/adapters/kubernetes/client.js';
import { createRouter } from '../../functions/adapters/kubernetes/router-factory.js';
import type { RouterOptions } from '../../functions/adapters/kubernetes/waits.js';
import { imageVersion } from '../../functions/domain/image.js';
import { ALB_ACTIONS_PREFIX } from '../../functions/domain/k8s-names.js';
import type { ReleaseTarget } from '../../functions/ports/cluster.js';
import type { TrafficRouter } from '../../functions/ports/router.js';
import { type FunctionKubeconfigs, mintFunctionIdentities } from '../../local/cluster/identities.js';
import { applyRestrictedRole } from '../../local/cluster/restricted-role.js';
import { albIngress } from '../../local/demo-app.js';
import {
  RESTRICTED_POD_SECURITY_CONTEXT,
  restrictedContainerSecurityContext,
} from '../../local/pod-security.js';
import {
  adminKubeConfig,
  clusterEnv,
  createNamespace,
  deleteNamespace,
  eventually,
  restrictedKubeConfig,
  TEST_APP_NAME,
} from './cluster-env.js';

export { deleteNamespace, eventually };

/** The product's shipped Roles + RoleBindings (the app name a placeholder). */
export const ROLE_MANIFEST = fileURLToPath(new URL('../../infra/k8s/tps-deploy-role.yaml', import.meta.url));

/** Admin API clients (test setup and checks only; the code under test uses the restricted ones). */
export function adminApis() {
  const kc = adminKubeConfig();
  return {
    core: kc.makeApiClient(k8s.CoreV1Api),
    apps: kc.makeApiClient(k8s.AppsV1Api),
    networking: kc.makeApiClient(k8s.NetworkingV1Api),
    discovery: kc.makeApiClient(k8s.DiscoveryV1Api),
  };
}

/** The adapters' clients as the test app's write identity (group tps-deploy-tps-test-write). */
export function restrictedClients(): KubeClients {
  return createKubeClients(restrictedKubeConfig(), { baseDelayMs: 50, maxDelayMs: 1000 });
}

/** The read and write identities of `appName`'s functions on the test cluster (minted if missing). */
export function functionIdentities(appName: string = TEST_APP_NAME): Promise<FunctionKubeconfigs> {
  return mintFunctionIdentities(clusterEnv().kubeconfig, appName);
}

/** The ServiceAccount the release namespaces' Jobs run as (the fixtures' catalog `jobs` block). */
export const JOBS_SERVICE_ACCOUNT = 'release-jobs';

/**
 * A fresh release namespace: infra/k8s/tps-deploy-role.yaml applied by the admin for `appName`
 * (whose function identities are minted), PodSecurity `enforce: restricted`
 * (local/pod-security.ts), and the Jobs' ServiceAccount (no RoleBinding). With `exactName` the
 * namespace is `prefix` itself (see createNamespace).
 */
export async function namespaceWithShippedRole(
  prefix: string,
  appName: string = TEST_APP_NAME,
  opts: { exactName?: boolean } = {},
): Promise<string> {
  const [ns] = await Promise.all([
    createNamespace(prefix, { restricted: false, podSecurity: 'restricted', ...opts }),
    functionIdentities(appName),
  ]);
  await applyRestrictedRole(clusterEnv().kubeconfig, ns, ROLE_MANIFEST, appName);
  await adminApis().core.createNamespacedServiceAccount({
    namespace: ns,
    body: { metadata: { name: JOBS_SERVICE_ACCOUNT } },
  });
  return ns;
}

/** Images of the fixture's two containers. */
export const OLD_IMAGES = {
  api: 'registry.local/shop/api:v1',
  sidecar: 'registry.local/shop/proxy:1.0',
} as const;

export interface AppFixture {
  readonly namespace: string;
  readonly name: string;
  readonly service: string;
  readonly ingress: string;
  readonly actionName: string;
  readonly port: number;
}

/**
 * Creates (as admin) Deployment `name` (2 containers, `replicas`), Service `name` selecting
 * `app=name`, and optionally an Ingress whose rule uses the ALB action `name-action`
 * (`servicePort: use-annotation`) with a single forward to the Service. Waits until every pod is
 * Ready and is an endpoint of the Service.
 */
export async function createApp(
  namespace: string,
  name: string,
  opts: { replicas?: number; ingress?: boolean; podAnnotations?: Record<string, string> } = {},
): Promise<AppFixture> {
  const replicas = opts.replicas ?? 4;
  const { core, apps, networking } = adminApis();
  const labels = { app: name, tier: 'web' };
  await apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name, labels },
      spec: {
        replicas,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels, annotations: { 'example.com/owner': 'team-shop', ...opts.podAnnotations } },
          spec: {
            // Admitted in a release namespace (PodSecurity enforce: restricted).
            securityContext: RESTRICTED_POD_SECURITY_CONTEXT,
            containers: [
              {
                name: 'api',
                image: OLD_IMAGES.api,
                ports: [{ containerPort: 8080, name: 'http' }],
                env: [{ name: 'MODE', value: 'prod' }],
                resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
                readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 5 },
                securityContext: restrictedContainerSecurityContext(),
              },
              {
                name: 'sidecar',
                image: OLD_IMAGES.sidecar,
                ports: [{ containerPort: 9090, name: 'admin' }],
                securityContext: restrictedContainerSecurityContext(),
              },
            ],
          },
        },
      },
    },
  });
  await core.createNamespacedService({
    namespace,
    body: {
      metadata: { name },
      spec: { selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    },
  });
  const actionName = `${name}-action`;
  if (opts.ingress) {
    await networking.createNamespacedIngress({
      namespace,
      body: albIngress(name),
    });
  }
  await eventually(`${replicas} ready endpoints of ${namespace}/${name}`, async () => {
    const eps = await readyEndpointPods(namespace, name);
    return eps.length === replicas;
  });
  return { namespace, name, service: name, ingress: name, actionName, port: 80 };
}

/** Names of the pods behind the ready endpoints of a Service (read as admin). */
export async function readyEndpointPods(namespace: string, service: string): Promise<string[]> {
  const { discovery } = adminApis();
  const slices = await discovery.listNamespacedEndpointSlice({
    namespace,
    labelSelector: `kubernetes.io/service-name=${service}`,
  });
  const names = new Set<string>();
  for (const s of slices.items) {
    for (const e of s.endpoints ?? []) {
      if (e.conditions?.ready !== false && e.targetRef?.name) names.add(e.targetRef.name);
    }
  }
  return [...names].sort();
}

/** Pods with a label selector, with their Ready state (read as admin). */
export async function podsBySelector(
  namespace: string,
  labelSelector: string,
): Promise<{ name: string; ready: boolean; terminating: boolean; labels: Record<string, string> }[]> {
  const { core } = adminApis();
  const list = await core.listNamespacedPod({ namespace, labelSelector });
  return list.items.map((p) => ({
    name: p.metadata?.name ?? '',
    ready: p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    terminating: Boolean(p.metadata?.deletionTimestamp),
    labels: p.metadata?.labels ?? {},
  }));
}

/** The release target for the fixture. */
export function releaseTarget(
  app: AppFixture,
  images: Record<string, string>,
  deploymentId: string,
): ReleaseTarget {
  // The version as the plan has it: the tag of the first container's image.
  const version = imageVersion(Object.values(images)[0]!);
  return { deploymentId, service: app.name, namespace: app.namespace, deployment: app.name, images, version };
}

/** The live Deployment's template as plain JSON (read as admin). */
export async function liveTemplate(namespace: string, name: string): Promise<Record<string, unknown>> {
  const { apps } = adminApis();
  const dep = await apps.readNamespacedDeployment({ name, namespace });
  return JSON.parse(JSON.stringify(dep.spec?.template)) as Record<string, unknown>;
}

/**
 * The router a service of `kind` would get for the fixture `app` (its Service, and with `alb` its
 * Ingress and forward action), through the product's factory.
 */
export function appRouter(
  kind: 'replica-ratio' | 'alb',
  app: AppFixture,
  clients: KubeClients,
  options: RouterOptions = {},
): TrafficRouter {
  return createRouter(
    kind === 'alb'
      ? {
          type: 'alb',
          ingress: app.ingress,
          actionName: app.actionName,
          stableService: app.service,
          servicePort: app.port,
        }
      : { type: 'replica-ratio', service: app.service },
    clients,
    options,
  );
}

/** One look at where the ALB sends the fixture's traffic, and what the stable Service has Ready. */
export interface AlbTrafficSample {
  readonly at: number;
  /** Percent of the forward action to the canary Service; null: no forward action (the original). */
  readonly canaryShare: number | null;
  /** Ready endpoints of the stable Service, read after the Ingress. */
  readonly stableEndpoints: number;
}

/**
 * Samples (as admin, every 100 ms) the Ingress action of an ALB fixture and then the stable
 * Service's ready endpoints. The Ingress is read first: a sample that shows traffic on stable saw
 * the endpoints at least as late as the switch, so "stable had N Ready when traffic came" holds
 * without a race in the sampler's favour.
 */
export function albTrafficSampler(app: AppFixture) {
  const samples: AlbTrafficSample[] = [];
  const canaryService = `${app.service}-tps-canary`;
  let stop = false;
  const loop = (async () => {
    const { networking } = adminApis();
    while (!stop) {
      const ing = await networking.readNamespacedIngress({ name: app.ingress, namespace: app.namespace });
      const value = ing.metadata?.annotations?.[`${ALB_ACTIONS_PREFIX}${app.actionName}`];
      const stableEndpoints = (await readyEndpointPods(app.namespace, app.service)).length;
      samples.push({
        at: Date.now(),
        canaryShare: canaryShareOfAction(value, canaryService),
        stableEndpoints,
      });
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    samples,
    async done(): Promise<AlbTrafficSample[]> {
      stop = true;
      await loop;
      return samples;
    },
  };
}

/** Samples in which the ALB sends any traffic to the stable Service. */
export function toStable(samples: readonly AlbTrafficSample[]): AlbTrafficSample[] {
  return samples.filter((x) => x.canaryShare === null || x.canaryShare < 100);
}

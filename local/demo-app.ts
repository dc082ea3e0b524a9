import * as k8s from '@kubernetes/client-node';
import { USAGE_ANNOTATIONS } from './cluster/metrics.js';
import { applyRestrictedRole } from './cluster/restricted-role.js';
import {
  RESTRICTED_NAMESPACE_LABELS,
  RESTRICTED_POD_SECURITY_CONTEXT,
  restrictedContainerSecurityContext,
} from './pod-security.js';

/** A sample service on the local cluster: Deployment + Service, with the shipped Role bound. */
export interface DemoApp {
  readonly namespace: string;
  readonly name: string;
  readonly image: string;
  readonly replicas: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Creates namespace (PodSecurity `enforce: restricted`), Deployment and Service (as admin), binds
 * the product's Roles (infra/k8s/tps-deploy-role.yaml, filled with `appName`) to the app's
 * function groups, and waits until every pod is Ready.
 */
export async function createDemoApp(
  adminKubeconfig: string,
  opts: {
    namespace: string;
    name: string;
    image: string;
    replicas: number;
    roleManifest: string;
    /** Emulated CPU per pod (KWOK's usage annotation on the pod template), e.g. '150m'. */
    cpuUsage?: string;
    /** The catalog's appName: the Roles are bound to its groups. */
    appName: string;
  },
): Promise<DemoApp> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(adminKubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const { namespace, name, image, replicas } = opts;
  await core
    .createNamespace({ body: { metadata: { name: namespace, labels: { ...RESTRICTED_NAMESPACE_LABELS } } } })
    .catch((e: { code?: number }) => {
      if (e.code !== 409) throw e;
    });
  for (let i = 0; i < 100; i++) {
    const ok = await core
      .readNamespacedServiceAccount({ name: 'default', namespace })
      .then(() => true)
      .catch(() => false);
    if (ok) break;
    await sleep(100);
  }
  await applyRestrictedRole(adminKubeconfig, namespace, opts.roleManifest, opts.appName);
  await createWorkload(adminKubeconfig, namespace, name, image, replicas, opts.cpuUsage);
  for (let i = 0; i < 600; i++) {
    const d = await apps.readNamespacedDeployment({ name, namespace });
    if ((d.status?.readyReplicas ?? 0) === replicas) return { namespace, name, image, replicas };
    await sleep(100);
  }
  throw new Error(`${namespace}/${name} did not become Ready within 60 s`);
}

/**
 * Creates a Deployment `name` (one container `name`, port http 8080, admitted by the restricted
 * Pod Security profile) and a Service `name` in front of it.
 */
export async function createWorkload(
  adminKubeconfig: string,
  namespace: string,
  name: string,
  image: string,
  replicas: number,
  cpuUsage?: string,
): Promise<void> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(adminKubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const labels = { app: name };
  await apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name, labels },
      spec: {
        replicas,
        selector: { matchLabels: labels },
        template: {
          metadata: {
            labels,
            ...(cpuUsage ? { annotations: { [USAGE_ANNOTATIONS.cpu]: cpuUsage } } : {}),
          },
          spec: {
            securityContext: RESTRICTED_POD_SECURITY_CONTEXT,
            containers: [
              {
                name,
                image,
                ports: [{ containerPort: 8080, name: 'http' }],
                resources: { requests: { cpu: '100m', memory: '128Mi' } },
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
      spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    },
  });
}

/** The demo's HorizontalPodAutoscaler: CPU, an average of `cpuPerPod` per pod. */
export interface DemoAutoscaler {
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly cpuPerPod: string;
}

/**
 * Creates HorizontalPodAutoscaler `name` on Deployment `name` (as a team would: autoscaling/v2,
 * CPU average per pod), unless one of that name exists. Scale-down stabilization is 30 s instead
 * of the controller's 5 minutes, so a local run shows both directions. Returns whether it created it.
 */
export async function createDemoAutoscaler(
  adminKubeconfig: string,
  namespace: string,
  name: string,
  hpa: DemoAutoscaler,
): Promise<boolean> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(adminKubeconfig);
  const api = kc.makeApiClient(k8s.AutoscalingV2Api);
  try {
    await api.createNamespacedHorizontalPodAutoscaler({
      namespace,
      body: {
        metadata: { name },
        spec: {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
          minReplicas: hpa.minReplicas,
          maxReplicas: hpa.maxReplicas,
          metrics: [
            {
              type: 'Resource',
              resource: { name: 'cpu', target: { type: 'AverageValue', averageValue: hpa.cpuPerPod } },
            },
          ],
          behavior: { scaleDown: { stabilizationWindowSeconds: 30 } },
        },
      },
    });
    return true;
  } catch (e) {
    if ((e as { code?: number }).code === 409) return false;
    throw e;
  }
}

/** `hpa/<name> targets deployment <target>: 6 replicas, it wants 6`, read now. */
export async function describeDemoAutoscaler(
  adminKubeconfig: string,
  namespace: string,
  name: string,
): Promise<string> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(adminKubeconfig);
  const hpa = await kc
    .makeApiClient(k8s.AutoscalingV2Api)
    .readNamespacedHorizontalPodAutoscaler({ name, namespace });
  const target = hpa.spec?.scaleTargetRef.name ?? '?';
  const dep = await kc.makeApiClient(k8s.AppsV1Api).readNamespacedDeployment({ name: target, namespace });
  return `hpa/${name} targets deployment ${target}: ${dep.spec?.replicas ?? 0} replicas, it wants ${hpa.status?.desiredReplicas ?? '?'}`;
}

/**
 * An Ingress as the AWS Load Balancer Controller reads it: one forward action `<name>-action`
 * that sends all traffic to Service `name`, port 80 (the ALB router rewrites its weights).
 */
export function albIngress(name: string): k8s.V1Ingress {
  const actionName = `${name}-action`;
  return {
    metadata: {
      name,
      annotations: {
        'alb.ingress.kubernetes.io/scheme': 'internal',
        'alb.ingress.kubernetes.io/target-type': 'ip',
        [`alb.ingress.kubernetes.io/actions.${actionName}`]: JSON.stringify({
          type: 'forward',
          forwardConfig: { targetGroups: [{ serviceName: name, servicePort: 80, weight: 100 }] },
        }),
      },
    },
    spec: {
      ingressClassName: 'alb',
      rules: [
        {
          http: {
            paths: [
              {
                path: '/',
                pathType: 'Prefix',
                backend: { service: { name: actionName, port: { name: 'use-annotation' } } },
              },
            ],
          },
        },
      ],
    },
  };
}

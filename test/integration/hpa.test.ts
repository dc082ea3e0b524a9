/**
 * The real horizontal-pod-autoscaler controller of kube-controller-manager scales a Deployment on
 * the local cluster from a real metrics API: metrics-server scrapes KWOK's emulated kubelet
 * endpoint, whose CPU usage is what the pods' `kwok.x-k8s.io/usage-cpu` annotations say
 * (docs/local-cluster.md, "Metrics and HPAs"). Nothing in this file scales anything itself.
 */
import { afterAll, describe, expect, jest, test } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { adminKubeConfig, createNamespace, deleteNamespace, eventually } from '../helpers/cluster-env.js';
import { podUsage, setCpuUsage, usageAnnotations } from '../helpers/usage.js';

jest.setTimeout(300_000);

const REQUEST_CPU = '200m';
const TARGET_PERCENT = 50;

const namespaces: string[] = [];
afterAll(async () => {
  await Promise.all(namespaces.map(deleteNamespace));
});

function deployment(name: string, replicas: number, cpu: string): k8s.V1Deployment {
  return {
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name }, annotations: usageAnnotations({ cpu, memory: '64Mi' }) },
        spec: {
          containers: [
            {
              name: 'app',
              image: 'registry.local/shop/web:v1',
              resources: { requests: { cpu: REQUEST_CPU, memory: '128Mi' } },
            },
          ],
        },
      },
    },
  };
}

function hpa(name: string, minReplicas: number, maxReplicas: number): k8s.V2HorizontalPodAutoscaler {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      minReplicas,
      maxReplicas,
      metrics: [
        {
          type: 'Resource',
          resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: TARGET_PERCENT } },
        },
      ],
      // The default scale-down stabilization is 5 minutes (kube-controller-manager's
      // --horizontal-pod-autoscaler-downscale-stabilization); a test HPA sets its own.
      behavior: { scaleDown: { stabilizationWindowSeconds: 5 } },
    },
  };
}

describe('HorizontalPodAutoscaler on the local cluster', () => {
  test('the real HPA controller scales a Deployment up and down as its pods’ emulated CPU usage changes', async () => {
    const kc = adminKubeConfig();
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const autoscaling = kc.makeApiClient(k8s.AutoscalingV2Api);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const namespace = await createNamespace('hpa', { restricted: false });
    namespaces.push(namespace);

    // 2 pods at 60m of 200m requested: 30%, under the 50% target.
    await apps.createNamespacedDeployment({ namespace, body: deployment('web', 2, '60m') });
    await autoscaling.createNamespacedHorizontalPodAutoscaler({ namespace, body: hpa('web', 1, 5) });
    const replicas = async () =>
      (await apps.readNamespacedDeployment({ name: 'web', namespace })).spec?.replicas;

    // The metrics API returns the emulated numbers for both pods.
    const measured = await eventually(
      'metrics for both pods',
      async () => {
        const usage = await podUsage(namespace);
        return usage.length === 2 ? usage : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    for (const p of measured) {
      expect(p.cpuMillis).toBeGreaterThan(57);
      expect(p.cpuMillis).toBeLessThan(63);
      expect(p.memoryBytes).toBe(64 * 2 ** 20);
    }
    // The HPA controller reads the same numbers: 30% utilization, no reason to scale (ceil(2 * 30/50) = 2).
    const seen = await eventually(
      'the HPA to report the current utilization',
      async () => {
        const h = await autoscaling.readNamespacedHorizontalPodAutoscaler({ name: 'web', namespace });
        return h.status?.currentMetrics?.[0]?.resource?.current.averageUtilization;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(seen).toBeGreaterThanOrEqual(28);
    expect(seen).toBeLessThanOrEqual(32);
    expect(await replicas()).toBe(2);

    // Raise the running pods' usage to 150m (75%), leaving the template (new pods start at 60m):
    // nothing is replaced, metrics-server sees it at its next scrape, the HPA scales up.
    await setCpuUsage(namespace, 'web', '150m', { template: false });
    const up = await eventually(
      'the HPA to scale the Deployment up',
      async () => {
        const n = await replicas();
        return n !== undefined && n > 2 ? n : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    expect(up).toBeGreaterThan(2);
    expect(up).toBeLessThanOrEqual(5);

    // Lower it to 20m (10%) on the pods and the template (a rollout: the new pods have no metrics
    // for 20-30 s, which the HPA counts as 100% when scaling down): the HPA scales down to
    // minReplicas once they have, after its 5 s stabilization window.
    await setCpuUsage(namespace, 'web', '20m');
    await eventually('the HPA to scale the Deployment down to 1', async () => (await replicas()) === 1, {
      timeoutMs: 120_000,
      intervalMs: 500,
    });
    const template = (await apps.readNamespacedDeployment({ name: 'web', namespace })).spec?.template;
    expect(template?.metadata?.annotations?.['kwok.x-k8s.io/usage-cpu']).toBe('20m');

    // Both changes were made by the horizontal-pod-autoscaler controller.
    const rescales = (await core.listNamespacedEvent({ namespace })).items.filter(
      (e) => e.reason === 'SuccessfulRescale' && e.involvedObject.kind === 'HorizontalPodAutoscaler',
    );
    for (const e of rescales) expect(e.source?.component).toBe('horizontal-pod-autoscaler');
    expect(rescales.some((e) => /above target/.test(e.message ?? ''))).toBe(true);
    expect(rescales.some((e) => /below target/.test(e.message ?? ''))).toBe(true);
  });
});

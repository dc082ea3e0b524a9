/**
 * The version in the pods (issue #16): the canary's pods carry the release version as a label
 * and an annotation, and TPS_RELEASE_VERSION from the downward API in every release container;
 * Clean Up writes the same into the original Deployment's template; a rollback restores the
 * recorded template exactly; tps-deploy's own version fields are never taken for a person's
 * change. Against the local control plane (real API server and controllers, KWOK pods), acting
 * as the restricted identity bound to the shipped Role.
 */

import { describe, expect, test } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { KubernetesClusterClient } from '../../functions/adapters/kubernetes/cluster-client.js';
import {
  CANARY_SUFFIX,
  K8S_ANNOTATIONS,
  K8S_LABELS,
  RELEASE_VERSION_ENV,
} from '../../functions/adapters/kubernetes/labels.js';
import type { ReleaseTarget, RollbackPlan } from '../../functions/ports/cluster.js';
import type { TrafficRouter } from '../../functions/ports/router.js';
import { planToRestore } from '../../functions/release/rollback.js';
import {
  type AppFixture,
  adminApis,
  appRouter,
  createApp,
  deleteNamespace,
  eventually,
  liveTemplate,
  namespaceWithShippedRole,
  releaseTarget,
  restrictedClients,
} from '../helpers/k8s.js';

const WAITS = { canaryReadyMs: 30_000, rolloutMs: 60_000, deleteMs: 30_000, pollMs: 200 };
const V2 = { api: 'registry.local/shop/api:v2', sidecar: 'registry.local/shop/proxy:1.1' };
const V3 = { api: 'registry.local/shop/api:v3' };
const VERSION = K8S_LABELS.version;
const FIELD_PATH = `metadata.annotations['${K8S_ANNOTATIONS.version}']`;

let ns: string;
let seq = 0;

beforeAll(async () => {
  ns = await namespaceWithShippedRole('podversion');
});

afterAll(async () => {
  if (ns) await deleteNamespace(ns);
});

interface Release {
  app: AppFixture;
  target: ReleaseTarget;
  plan: RollbackPlan;
  router: TrafficRouter;
  cluster: KubernetesClusterClient;
}

async function release(kind: 'replica-ratio' | 'alb'): Promise<Release> {
  seq += 1;
  const app = await createApp(ns, `${kind === 'alb' ? 'alb' : 'rr'}-${seq}`, {
    replicas: 4,
    ingress: kind === 'alb',
  });
  const clients = restrictedClients();
  const cluster = new KubernetesClusterClient(clients);
  const router = appRouter(kind, app, clients, { waits: WAITS });
  const plan = await cluster.recordPlan(ns, app.name);
  return { app, target: releaseTarget(app, V2, `rel-${seq}`), plan, router, cluster };
}

/**
 * The live pods of a Deployment (not terminating), read as the admin. The canary's pods carry the
 * original's selector labels too: the original's pods are those without the canary track.
 */
async function podsOf(deployment: string): Promise<k8s.V1Pod[]> {
  const { apps, core } = adminApis();
  const dep = await apps.readNamespacedDeployment({ name: deployment, namespace: ns });
  const labelSelector = Object.entries(dep.spec?.selector.matchLabels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const track = deployment.endsWith(CANARY_SUFFIX) ? '' : `,!${K8S_LABELS.track}`;
  const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: `${labelSelector}${track}` });
  return pods.items.filter((p) => !p.metadata?.deletionTimestamp);
}

/** What a pod says its version is: label, annotation, and where each container's env var comes from. */
function versionOf(p: { metadata?: k8s.V1ObjectMeta; spec?: k8s.V1PodSpec }) {
  return {
    label: p.metadata?.labels?.[VERSION],
    annotation: p.metadata?.annotations?.[K8S_ANNOTATIONS.version],
    env: Object.fromEntries(
      (p.spec?.containers ?? []).map((c) => [
        c.name,
        (c.env ?? [])
          .filter((e) => e.name === RELEASE_VERSION_ENV)
          .map((e) => e.valueFrom?.fieldRef?.fieldPath ?? e.value),
      ]),
    ),
  };
}

const STAMPED_V2 = {
  label: 'v2',
  annotation: 'v2',
  env: { api: [FIELD_PATH], sidecar: [FIELD_PATH] },
};

/** No selector of a Deployment or Service in the namespace (the canary's included) has the version label. */
async function expectSelectorsWithoutVersion(): Promise<void> {
  const { apps, core } = adminApis();
  const deployments = (await apps.listNamespacedDeployment({ namespace: ns })).items;
  expect(deployments.length).toBeGreaterThan(0);
  for (const d of deployments) {
    expect(Object.keys(d.spec?.selector.matchLabels ?? {})).not.toContain(VERSION);
    expect((d.spec?.selector.matchExpressions ?? []).map((e) => e.key)).not.toContain(VERSION);
  }
  for (const svc of (await core.listNamespacedService({ namespace: ns })).items)
    expect(Object.keys(svc.spec?.selector ?? {})).not.toContain(VERSION);
}

describe.each(['replica-ratio', 'alb'] as const)('the version in the pods, %s router', (kind) => {
  test("the canary's pods carry the version; Clean Up stamps the original; a rollback restores it exactly", async () => {
    const r = await release(kind);
    const before = await liveTemplate(ns, r.app.name);
    expect(versionOf(before)).toEqual({
      label: undefined,
      annotation: undefined,
      env: { api: [], sidecar: [] },
    });

    await r.router.setWeight(r.target, r.plan, 10);
    const canaryPods = await eventually('canary pods', async () => {
      const pods = await podsOf(`${r.app.name}${CANARY_SUFFIX}`);
      return pods.length > 0 && pods;
    });
    // Each canary pod: the label and annotation of the version, and TPS_RELEASE_VERSION in both
    // release containers read from that annotation through the downward API.
    for (const p of canaryPods) expect(versionOf(p)).toEqual(STAMPED_V2);
    // The stable pods are not touched during the phases.
    for (const p of await podsOf(r.app.name)) expect(p.metadata?.labels?.[VERSION]).toBeUndefined();
    expect(await r.cluster.drift(r.target, r.plan, 'recorded')).toEqual([]);
    await expectSelectorsWithoutVersion();

    await r.router.setWeight(r.target, r.plan, 100);
    const report = await r.router.finalize(r.target, r.plan);
    expect(report.leftovers).toEqual([]);
    // The original Deployment's template now says v2, and so do its new pods.
    expect(versionOf(await liveTemplate(ns, r.app.name))).toEqual(STAMPED_V2);
    await eventually('4 stable pods of v2', async () => {
      const pods = await podsOf(r.app.name);
      return pods.length === 4 && pods.every((p) => p.metadata?.labels?.[VERSION] === 'v2');
    });
    await expectSelectorsWithoutVersion();
    // tps-deploy's own label, annotation and env var are not drift...
    expect(await r.cluster.drift(r.target, r.plan, 'finalized')).toEqual([]);
    const detail = await r.cluster.driftDetail(r.target, r.plan, 'recorded');
    expect(detail.templateByOthers).toBe(false);

    // ...so a rollback during the watch restores the recorded template exactly: no version label,
    // annotation or env var (it had none).
    const restore = await planToRestore(r.cluster, r.target, r.plan, { finalized: true, trigger: 'test' });
    expect(restore.kept).toBeNull();
    const back = await r.router.rollback(r.target, restore.plan);
    expect(back.leftovers).toEqual([]);
    expect(await liveTemplate(ns, r.app.name)).toEqual(before);
  });
});

describe('the version in the pods, over a stable version tps-deploy stamped', () => {
  test('the next canary says v3; a rollback restores the stable template with its v2 label and env var', async () => {
    const r = await release('replica-ratio');
    await r.router.setWeight(r.target, r.plan, 100);
    await r.router.finalize(r.target, r.plan);
    const v2 = await liveTemplate(ns, r.app.name);
    expect(versionOf(v2)).toEqual(STAMPED_V2);

    const plan = await r.cluster.recordPlan(ns, r.app.name);
    const target = releaseTarget(r.app, V3, 'rel-next');
    await r.router.setWeight(target, plan, 10);
    const canaryPods = await eventually('v3 canary pods', async () => {
      const pods = await podsOf(`${r.app.name}${CANARY_SUFFIX}`);
      return pods.length > 0 && pods.every((p) => p.metadata?.labels?.[VERSION] === 'v3') && pods;
    });
    // Replaced where it was, never twice; the sidecar (not released this time) keeps its env var
    // from the template (the v2 release's), which now reads the v3 annotation.
    for (const p of canaryPods)
      expect(versionOf(p)).toEqual({
        label: 'v3',
        annotation: 'v3',
        env: { api: [FIELD_PATH], sidecar: [FIELD_PATH] },
      });

    const restore = await planToRestore(r.cluster, target, plan, { finalized: false, trigger: 'test' });
    expect(restore.kept).toBeNull();
    await r.router.rollback(target, restore.plan);
    expect(await liveTemplate(ns, r.app.name)).toEqual(v2);
  });

  test("a person's edit after Clean Up is still drift, beside tps-deploy's version fields", async () => {
    const r = await release('replica-ratio');
    await r.router.setWeight(r.target, r.plan, 100);
    await r.router.finalize(r.target, r.plan);
    const { apps } = adminApis();
    await apps.patchNamespacedDeployment(
      {
        name: r.app.name,
        namespace: ns,
        body: { spec: { template: { metadata: { labels: { [VERSION]: 'hand-edit' } } } } },
        fieldManager: 'kubectl-edit',
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
    );
    expect(await r.cluster.drift(r.target, r.plan, 'finalized')).toEqual([
      `spec.template.metadata.labels.${VERSION} changed`,
      expect.stringMatching(/^template written by kubectl-edit/),
    ]);
  });
});

/**
 * Releases that coexist with a HorizontalPodAutoscaler (issue #14, first bullet), against the real
 * horizontal-pod-autoscaler controller of the local cluster: metrics-server reads KWOK's emulated
 * usage, and the tests raise the pods' CPU usage (test/helpers/usage.ts) so that the HPA scales the
 * stable Deployment while a release runs. tps-deploy acts as the restricted identity bound to the
 * shipped Role. docs/deploying.md ("HorizontalPodAutoscalers") has the table these tests back.
 */
import { afterAll, beforeAll, expect, jest, test } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { KubernetesClusterClient } from '../../functions/adapters/kubernetes/cluster-client.js';
import { K8S_LABELS } from '../../functions/adapters/kubernetes/labels.js';
import type { ReleaseTarget, RollbackPlan } from '../../functions/ports/cluster.js';
import type { TrafficRouter } from '../../functions/ports/router.js';
import { adminKubeConfig } from '../helpers/cluster-env.js';
import {
  type AppFixture,
  adminApis,
  albTrafficSampler,
  appRouter,
  createApp,
  deleteNamespace,
  eventually,
  namespaceWithShippedRole,
  podsBySelector,
  readyEndpointPods,
  releaseTarget,
  restrictedClients,
  toStable,
} from '../helpers/k8s.js';
import { type ReleaseFixture, releaseFixture } from '../helpers/release.js';
import { ALWAYS_ON_CALL, ATTESTED, NEW_IMAGES } from '../helpers/runbook.js';
import { setCpuUsage } from '../helpers/usage.js';

jest.setTimeout(300_000);

const WAITS = { canaryReadyMs: 30_000, rolloutMs: 90_000, deleteMs: 30_000, pollMs: 200 };
const TRACK = K8S_LABELS.track;
/** Per pod; KWOK gives each of the fixture's two containers the annotated usage. */
const TARGET_AVERAGE = '100m';
const HIGH_USAGE = '200m';
const LOW_USAGE = '10m';

const autoscaling = () => adminKubeConfig().makeApiClient(k8s.AutoscalingV2Api);

/** A person's HPA on the stable Deployment: min 4 (the fixture's count), max 8, 100m per pod. */
async function createHpa(
  app: AppFixture,
  opts: { min?: number; max?: number; scaleDownAfterSeconds?: number } = {},
): Promise<void> {
  await autoscaling().createNamespacedHorizontalPodAutoscaler({
    namespace: app.namespace,
    body: {
      metadata: { name: app.name },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: app.name },
        minReplicas: opts.min ?? 4,
        maxReplicas: opts.max ?? 8,
        metrics: [
          {
            type: 'Resource',
            resource: { name: 'cpu', target: { type: 'AverageValue', averageValue: TARGET_AVERAGE } },
          },
        ],
        // The default scale-down stabilization is 5 minutes (kube-controller-manager's
        // --horizontal-pod-autoscaler-downscale-stabilization); a test that wants a scale-down
        // inside one validation window sets a shorter one.
        ...(opts.scaleDownAfterSeconds === undefined
          ? {}
          : { behavior: { scaleDown: { stabilizationWindowSeconds: opts.scaleDownAfterSeconds } } }),
      },
    },
  });
}

const MERGE_PATCH = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

/** Merge-patches the spec of the fixture's HPA (as a person would). */
async function patchHpa(app: AppFixture, spec: object): Promise<void> {
  await autoscaling().patchNamespacedHorizontalPodAutoscaler(
    { name: app.name, namespace: app.namespace, body: { spec } },
    MERGE_PATCH,
  );
}

async function hpas(namespace: string): Promise<k8s.V2HorizontalPodAutoscaler[]> {
  return (await autoscaling().listNamespacedHorizontalPodAutoscaler({ namespace })).items;
}

async function specReplicas(namespace: string, name: string): Promise<number | undefined> {
  return (await adminApis().apps.readNamespacedDeployment({ name, namespace })).spec?.replicas;
}

interface Sample {
  readonly at: number;
  readonly stableReady: number;
  readonly canaryReady: number;
  readonly stableSpec: number | undefined;
}

/** Ready, not terminating pods of each track, and the stable spec.replicas, every 150 ms. */
function sampler(app: AppFixture) {
  const samples: Sample[] = [];
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      const [pods, spec] = await Promise.all([
        podsBySelector(app.namespace, `app=${app.name}`),
        specReplicas(app.namespace, app.name),
      ]);
      const up = pods.filter((p) => p.ready && !p.terminating);
      samples.push({
        at: Date.now(),
        stableReady: up.filter((p) => p.labels[TRACK] !== 'canary').length,
        canaryReady: up.filter((p) => p.labels[TRACK] === 'canary').length,
        stableSpec: spec,
      });
      await new Promise((r) => setTimeout(r, 150));
    }
  })();
  return {
    samples,
    async done(): Promise<Sample[]> {
      stop = true;
      await loop;
      return samples;
    },
  };
}

let ns: string;
let seq = 0;

beforeAll(async () => {
  ns = await namespaceWithShippedRole('hpa-rel');
});

/** The fixture of the whole release (its own namespace). */
let wholeRelease: ReleaseFixture | undefined;

afterAll(async () => {
  if (wholeRelease) {
    await wholeRelease.env.stop();
    await deleteNamespace(wholeRelease.app.namespace);
  }
  if (ns) await deleteNamespace(ns);
});

interface RouterRelease {
  app: AppFixture;
  target: ReleaseTarget;
  plan: RollbackPlan;
  router: TrafficRouter;
}

async function routerRelease(kind: 'replica-ratio' | 'alb', opts: { hpa: boolean }): Promise<RouterRelease> {
  seq += 1;
  // Zero-padded: one app's name never prefixes another's (the HPA lists filter by name prefix).
  const app = await createApp(ns, `${kind === 'alb' ? 'alb' : 'rr'}-${String(seq).padStart(2, '0')}`, {
    replicas: 4,
    ingress: kind === 'alb',
  });
  if (opts.hpa) await createHpa(app);
  const clients = restrictedClients();
  const router = appRouter(kind, app, clients, { waits: WAITS });
  const plan = await new KubernetesClusterClient(clients).recordPlan(ns, app.name);
  return { app, target: releaseTarget(app, NEW_IMAGES, `hpa-${seq}`), plan, router };
}

/** Raises every pod's usage above the HPA's target and waits until the HPA has grown the stable Deployment and its pods are Ready. */
async function growStable(app: AppFixture): Promise<number> {
  await setCpuUsage(app.namespace, app.name, HIGH_USAGE, { template: false });
  return eventually(
    'the HPA to grow the stable Deployment',
    async () => {
      const dep = await adminApis().apps.readNamespacedDeployment({
        name: app.name,
        namespace: app.namespace,
      });
      const want = dep.spec?.replicas ?? 0;
      return want > 4 && dep.status?.readyReplicas === want && dep.status?.updatedReplicas === want
        ? want
        : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 500 },
  );
}

/*
 * Every test has its own app (and HPA) or namespace, and spends its time waiting for
 * metrics-server and the HPA controller: they run side by side (test.concurrent; names are the
 * describe titles they had, joined to the test's), the whole release first since it is the longest.
 */

test.concurrent('a whole release with an HPA (replica-ratio) the HPA scales stable up during the canary window and down during staging: no drift, the release finishes, the HPA is in control at the count it wants', async () => {
  const f = await releaseFixture('hpa-e2e', 'replica-ratio', {
    service: {
      approval: false,
      onCall: ALWAYS_ON_CALL,
    },
  });
  wholeRelease = f;
  const app = f.app;
  await createHpa(app, { scaleDownAfterSeconds: 5 });
  let raised: Promise<unknown> | null = null;
  let lowered: Promise<unknown> | null = null;
  /** The stable spec.replicas when staging's window opens and its lowest value during it. */
  const staging = { atStart: 0, lowest: Number.POSITIVE_INFINITY, sampling: false };
  let stagingLoop: Promise<void> | null = null;
  const run = await f.env.run(
    { ...ATTESTED, service: 'shop', images: NEW_IMAGES, requestedBy: 'e2e' },
    {
      executionName: 'hpa-e2e',
      // The windows last long enough in real time for metrics-server and the HPA.
      waitMs: { 'Canary Validation Window': 45_000, 'Staging Validation Window': 45_000 },
      onState: (name) => {
        if (name === 'Canary Validation Window' && !raised) {
          raised = setCpuUsage(app.namespace, app.name, HIGH_USAGE, { template: false });
        }
        if (name === 'Staging Validation Window' && !lowered) {
          // Load falls: every pod (stable and canary) well under the target.
          lowered = setCpuUsage(app.namespace, app.name, LOW_USAGE, { template: false });
          staging.sampling = true;
          stagingLoop = (async () => {
            staging.atStart = (await specReplicas(app.namespace, app.name)) ?? 0;
            while (staging.sampling) {
              staging.lowest = Math.min(staging.lowest, (await specReplicas(app.namespace, app.name)) ?? 0);
              await new Promise((r) => setTimeout(r, 500));
            }
          })();
        } else if (name !== 'Staging Validation Window') {
          staging.sampling = false;
        }
      },
    },
  );
  staging.sampling = false;
  await stagingLoop;
  await lowered;
  await raised;
  expect(run.cause).toBeNull();
  expect(run.status).toBe('SUCCEEDED');
  const rec = run.record!;
  expect(rec.events.filter((e) => /drift/.test(e.message)).map((e) => e.message)).toEqual([]);
  // Every shift found the HPA and left the stable count to it.
  const shifts = rec.events.filter((e) => / requested; /.test(e.message)).map((e) => e.message);
  expect(shifts).toHaveLength(3);
  for (const m of shifts)
    expect(m).toMatch(/hpa\/shop \(4-8\) scales deployment shop \(live \d+\): stable not scaled/);
  // Staging's canary was sized from the count the HPA had grown; at 100% the canary runs the
  // live stable count (the HPA's, after its scale-down).
  const stagingShift = /replicas canary (\d+), stable (\d+)/.exec(shifts[1] ?? '');
  expect(Number(stagingShift?.[2])).toBeGreaterThan(4);
  const production = /replicas canary (\d+), stable (\d+)/.exec(shifts[2] ?? '');
  expect(production?.[1]).toBe(production?.[2]);
  // The HPA grew stable in the canary window and shrank it in staging's, as its controller.
  const rescales = (await adminApis().core.listNamespacedEvent({ namespace: app.namespace })).items.filter(
    (e) => e.reason === 'SuccessfulRescale' && e.involvedObject.name === app.name,
  );
  expect(rescales.some((e) => /above target/.test(e.message ?? ''))).toBe(true);
  expect(rescales.some((e) => /below target/.test(e.message ?? ''))).toBe(true);
  expect({ grewBeforeStaging: staging.atStart > 4 }).toEqual({ grewBeforeStaging: true });
  expect(staging.lowest).toBeLessThan(staging.atStart);
  // After the release: one HPA, on the Deployment it targeted before, in control: the count
  // is the one it wants (low load: its minimum), reached by the HPA, not written back by us.
  const left = await hpas(app.namespace);
  expect(left.map((h) => `${h.metadata?.name}->${h.spec?.scaleTargetRef.name}`)).toEqual([
    `${app.name}->${app.name}`,
  ]);
  await eventually(
    'the HPA in control at the count it wants',
    async () => {
      const h = await autoscaling().readNamespacedHorizontalPodAutoscaler({
        name: app.name,
        namespace: app.namespace,
      });
      const able = h.status?.conditions?.find((c) => c.type === 'AbleToScale')?.status;
      const active = h.status?.conditions?.find((c) => c.type === 'ScalingActive')?.status;
      const spec = await specReplicas(app.namespace, app.name);
      return able === 'True' && active === 'True' && spec === h.status?.desiredReplicas && spec === 4
        ? true
        : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );
});

test.concurrent('a whole release with an HPA (replica-ratio) a crashing image while the HPA has grown the service: rolled back at the canary, and the rollback leaves at least the live count Ready', async () => {
  const g = await releaseFixture('hpa-bad', 'replica-ratio', {
    service: {
      approval: false,
      onCall: ALWAYS_ON_CALL,
    },
  });
  try {
    const app = g.app;
    await createHpa(app);
    // Load above the target before the release: the HPA grows the service past the recorded 4.
    const grown = await growStable(app);
    const s = sampler(app);
    const run = await g.env.run(
      {
        ...ATTESTED,
        service: 'shop',
        images: { ...NEW_IMAGES, api: 'registry.local/shop/api:v2-crash' },
        requestedBy: 'e2e',
      },
      { executionName: 'hpa-bad' },
    );
    const samples = await s.done();
    expect(run.status).toBe('FAILED');
    expect(run.error).toBe('ReleaseRolledBack');
    expect(run.record?.rollback?.phase).toBe('canary');
    // Never fewer Ready stable pods than the HPA had grown it to, from the start to the end.
    const lowestStable = Math.min(...samples.map((x) => x.stableReady));
    expect(samples.length).toBeGreaterThan(3);
    expect(Number.isFinite(lowestStable)).toBe(true);
    expect(lowestStable).toBeGreaterThanOrEqual(grown);
    const dep = await adminApis().apps.readNamespacedDeployment({
      name: app.name,
      namespace: app.namespace,
    });
    expect(dep.spec?.replicas).toBeGreaterThanOrEqual(grown);
    expect(dep.status?.readyReplicas).toBeGreaterThanOrEqual(grown);
    const left = await hpas(app.namespace);
    expect(left.map((h) => `${h.metadata?.name}->${h.spec?.scaleTargetRef.name}`)).toEqual([
      `${app.name}->${app.name}`,
    ]);
  } finally {
    await g.env.stop();
    await deleteNamespace(g.app.namespace);
  }
});

test.concurrent.each(['replica-ratio', 'alb'] as const)(
  '%s router with an HPA on the stable Deployment the canary is sized from the live stable count, stable is never scaled, and the HPA keeps scaling (no second HPA over the same pods)',
  async (kind) => {
    const r = await routerRelease(kind, { hpa: true });
    const grown = await growStable(r.app);
    const st = await r.router.setWeight(r.target, r.plan, 50);
    // Sized from the live count the HPA set, not the recorded 4.
    const canaryWant = kind === 'alb' ? Math.ceil(grown / 2) : grown;
    expect(st.canaryReplicas).toBe(canaryWant);
    expect(st.detail).toMatch(/hpa\/\S+ \(4-8\) scales deployment \S+ \(live \d+\): stable not scaled/);
    expect(await specReplicas(ns, r.app.name)).toBeGreaterThanOrEqual(grown);
    // One HPA over the pods: the controller keeps acting on it (two would both be AmbiguousSelector).
    const list = await hpas(ns);
    expect(
      list.filter((h) => h.spec?.scaleTargetRef.name?.startsWith(r.app.name)).map((h) => h.metadata?.name),
    ).toEqual([r.app.name]);
    await eventually(
      'the HPA to compute its metric over stable and canary pods',
      async () => {
        const h = await autoscaling().readNamespacedHorizontalPodAutoscaler({
          name: r.app.name,
          namespace: ns,
        });
        const active = h.status?.conditions?.find((c) => c.type === 'ScalingActive');
        return active?.status === 'True' && active.reason === 'ValidMetricFound';
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    const after = await r.router.rollback(r.target, r.plan);
    expect(after.leftovers).toEqual([]);
    const left = await hpas(ns);
    expect(left.find((h) => h.metadata?.name === r.app.name)?.spec?.scaleTargetRef.name).toBe(r.app.name);
  },
);

test.concurrent.each(['replica-ratio', 'alb'] as const)(
  '%s router with an HPA on the stable Deployment rollback at 50%% after the HPA grew stable: the stable Ready count never drops, and stable is full and Ready before the canary goes',
  async (kind) => {
    const r = await routerRelease(kind, { hpa: true });
    await r.router.setWeight(r.target, r.plan, 50);
    const grown = await growStable(r.app);
    const s = sampler(r.app);
    await r.router.rollback(r.target, r.plan);
    const samples = await s.done();
    const before = samples[0]!;
    expect(before.canaryReady).toBeGreaterThan(0);
    const lowestStable = Math.min(...samples.map((x) => x.stableReady));
    expect({ lowestStable, before: before.stableReady }).toEqual({
      lowestStable: before.stableReady,
      before: before.stableReady,
    });
    const finalStable = (await specReplicas(ns, r.app.name)) ?? 0;
    expect(finalStable).toBeGreaterThanOrEqual(grown);
    const canaryLeaving = samples.filter((x) => x.canaryReady < before.canaryReady);
    for (const x of canaryLeaving)
      expect({ stableReady: x.stableReady }).toEqual({ stableReady: finalStable });
  },
);

test.concurrent.each(['replica-ratio', 'alb'] as const)(
  '%s router with an HPA on the stable Deployment finalize does not scale the service the HPA grew during the release back down',
  async (kind) => {
    const r = await routerRelease(kind, { hpa: true });
    await r.router.setWeight(r.target, r.plan, 50);
    const grown = await growStable(r.app);
    const s = sampler(r.app);
    await r.router.finalize(r.target, r.plan);
    const samples = await s.done();
    const lowestSpec = Math.min(...samples.map((x) => x.stableSpec ?? 0));
    expect(samples.length).toBeGreaterThan(3);
    expect(Number.isFinite(lowestSpec)).toBe(true);
    expect(lowestSpec).toBeGreaterThanOrEqual(grown);
    expect(await specReplicas(ns, r.app.name)).toBeGreaterThanOrEqual(grown);
    const left = await hpas(ns);
    expect(left.map((h) => h.spec?.scaleTargetRef.name).filter((n) => n?.startsWith(r.app.name))).toEqual([
      r.app.name,
    ]);
  },
);

test.concurrent.each(['replica-ratio', 'alb'] as const)(
  '%s router: rollback at 100%% after the HPA shrank the idle stable pods stable is back at max(recorded, canary) and Ready before traffic returns to it (ALB) and before the canary goes',
  async (kind) => {
    const r = await routerRelease(kind, { hpa: true });
    const st = await r.router.setWeight(r.target, r.plan, 100);
    const canaryCount = st.canaryReplicas;
    // All traffic is on the canary, so the stable pods idle and the HPA may shrink them: here it
    // may go down to 2, at once (the fixture's pods all report the default 1m of CPU).
    await patchHpa(r.app, { minReplicas: 2, behavior: { scaleDown: { stabilizationWindowSeconds: 0 } } });
    await eventually(
      'the HPA to shrink the idle stable Deployment to 2 pods',
      async () => {
        const dep = await adminApis().apps.readNamespacedDeployment({ name: r.app.name, namespace: ns });
        return dep.spec?.replicas === 2 && dep.status?.replicas === 2 && dep.status?.readyReplicas === 2;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    // A rollback brings the load back to stable; the emulated usage does not follow it, so the
    // HPA would shrink again whatever is restored: its scale-down is turned off from here.
    await patchHpa(r.app, { behavior: { scaleDown: { selectPolicy: 'Disabled' } } });
    const needed = Math.max(r.plan.replicas, canaryCount);
    expect({ needed, canaryCount }).toEqual({ needed: 4, canaryCount: 4 });
    const pods = sampler(r.app);
    const traffic = kind === 'alb' ? albTrafficSampler(r.app) : null;
    const report = await r.router.rollback(r.target, r.plan);
    const samples = await pods.done();
    const routed = (await traffic?.done()) ?? [];
    expect(report.leftovers).toEqual([]);
    expect(samples[0]).toMatchObject({ stableReady: 2, canaryReady: canaryCount });
    // Stable is at the count it needs, and Ready, before any canary pod goes.
    for (const x of samples.filter((y) => y.canaryReady < canaryCount))
      expect({ stableReady: x.stableReady }).toEqual({ stableReady: needed });
    if (kind === 'alb') {
      // The ALB sends nothing to the stable Service while it has fewer Ready endpoints than needed.
      expect(routed[0]?.canaryShare).toBe(100);
      const onStable = toStable(routed);
      expect(onStable.length).toBeGreaterThan(0);
      expect(onStable.filter((x) => x.stableEndpoints < needed)).toEqual([]);
    } else {
      // Behind one Service (canary pods and stable pods alike until the canary goes): at the end,
      // the stable pods alone at that count.
      expect(await readyEndpointPods(ns, r.app.service)).toHaveLength(needed);
    }
    expect(await specReplicas(ns, r.app.name)).toBe(needed);
  },
);

test.concurrent('why the canary gets no HPA of its own a scaled copy of the HPA on the canary Deployment stops both HPAs (AmbiguousSelector): the real controller refuses overlapping pods', async () => {
  const r = await routerRelease('replica-ratio', { hpa: true });
  await r.router.setWeight(r.target, r.plan, 50);
  const canary = `${r.app.name}-tps-canary`;
  await autoscaling().createNamespacedHorizontalPodAutoscaler({
    namespace: ns,
    body: {
      metadata: { name: canary },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: canary },
        minReplicas: 1,
        maxReplicas: 8,
        metrics: [
          {
            type: 'Resource',
            resource: { name: 'cpu', target: { type: 'AverageValue', averageValue: TARGET_AVERAGE } },
          },
        ],
      },
    },
  });
  try {
    const reasons = await eventually(
      'both HPAs to report their scaling state',
      async () => {
        const out: Record<string, string> = {};
        for (const name of [r.app.name, canary]) {
          const h = await autoscaling().readNamespacedHorizontalPodAutoscaler({ name, namespace: ns });
          const active = h.status?.conditions?.find((c) => c.type === 'ScalingActive');
          if (!active) return undefined;
          out[name] = `${active.status}/${active.reason}`;
        }
        return Object.values(out).every((v) => v === 'False/AmbiguousSelector') ? out : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    // The person's HPA stops scaling the service too: why tps-deploy never creates one.
    expect(reasons).toEqual({
      [r.app.name]: 'False/AmbiguousSelector',
      [canary]: 'False/AmbiguousSelector',
    });
  } finally {
    await autoscaling().deleteNamespacedHorizontalPodAutoscaler({ name: canary, namespace: ns });
    await r.router.rollback(r.target, r.plan);
  }
});

test.concurrent('replica-ratio rollback order without an HPA rollback at 50%: stable is back at its full count and Ready before any canary pod goes (sampled)', async () => {
  const r = await routerRelease('replica-ratio', { hpa: false });
  const st = await r.router.setWeight(r.target, r.plan, 50);
  expect(st.stableReplicas).toBe(2);
  await eventually('2 stable + 2 canary Ready', async () => {
    const pods = (await podsBySelector(ns, `app=${r.app.name}`)).filter((p) => p.ready && !p.terminating);
    return pods.length === 4;
  });
  const s = sampler(r.app);
  await r.router.rollback(r.target, r.plan);
  const samples = await s.done();
  const before = samples[0]!;
  expect(before).toMatchObject({ stableReady: 2, canaryReady: 2 });
  // Never fewer Ready pods behind the Service than before the rollback.
  const lowestTotal = Math.min(...samples.map((x) => x.stableReady + x.canaryReady));
  expect({ lowestTotal }).toEqual({ lowestTotal: 4 });
  for (const x of samples.filter((y) => y.canaryReady < 2))
    expect({ stableReady: x.stableReady }).toEqual({ stableReady: 4 });
});

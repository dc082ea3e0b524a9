/**
 * PodDisruptionBudgets through every step that removes pods (issue #14), on the local cluster with
 * the real disruption controller and Eviction API. tps-deploy scales Deployments, which goes around
 * the eviction API, so it checks each budget over the service's pods itself
 * (functions/adapters/kubernetes/disruption-budgets.ts). The pods are watched (a real watch from
 * the list's resourceVersion, every event) while the routers shift, clean up and roll back: the
 * healthy count the budget selects never drops below what it requires.
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { KubernetesClusterClient } from '../../functions/adapters/kubernetes/cluster-client.js';
import type { ReleaseTarget, RollbackPlan } from '../../functions/ports/cluster.js';
import type { TrafficRouter } from '../../functions/ports/router.js';
import { adminKubeConfig } from '../helpers/cluster-env.js';
import {
  type AppFixture,
  adminApis,
  appRouter,
  createApp,
  deleteNamespace,
  eventually,
  namespaceWithShippedRole,
  releaseTarget,
  restrictedClients,
} from '../helpers/k8s.js';
import { NEW_IMAGES } from '../helpers/runbook.js';

jest.setTimeout(300_000);

const WAITS = { canaryReadyMs: 30_000, rolloutMs: 90_000, deleteMs: 30_000, pollMs: 200 };
const policy = () => adminKubeConfig().makeApiClient(k8s.PolicyV1Api);

let ns: string;
let seq = 0;
beforeAll(async () => {
  ns = await namespaceWithShippedRole('pdb');
});
afterAll(async () => {
  if (ns) await deleteNamespace(ns);
});

async function createBudget(app: AppFixture, minAvailable: number): Promise<void> {
  await policy().createNamespacedPodDisruptionBudget({
    namespace: ns,
    body: {
      metadata: { name: app.name },
      spec: { minAvailable, selector: { matchLabels: { app: app.name } } },
    },
  });
}

const healthy = (p: k8s.V1Pod) =>
  !p.metadata?.deletionTimestamp &&
  (p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false);

/**
 * Watches the pods `selector` selects from the list's resourceVersion and keeps, after every
 * event, the number of healthy ones; `done()` stops and returns the lowest and the event count.
 */
async function watchHealthy(selector: string) {
  const kc = adminKubeConfig();
  const list = await adminApis().core.listNamespacedPod({ namespace: ns, labelSelector: selector });
  const pods = new Map<string, boolean>();
  for (const p of list.items) pods.set(p.metadata?.name ?? '', healthy(p));
  const count = () => [...pods.values()].filter(Boolean).length;
  let lowest = count();
  let events = 0;
  let failure: unknown = null;
  const req = await new k8s.Watch(kc).watch(
    `/api/v1/namespaces/${ns}/pods`,
    { labelSelector: selector, resourceVersion: list.metadata?.resourceVersion, allowWatchBookmarks: false },
    (type: string, obj: k8s.V1Pod) => {
      events += 1;
      const name = obj.metadata?.name ?? '';
      if (type === 'DELETED') pods.delete(name);
      else pods.set(name, healthy(obj));
      lowest = Math.min(lowest, count());
    },
    (err: unknown) => {
      if (err) failure = err;
    },
  );
  return {
    now: count,
    async done(): Promise<{ lowest: number; events: number }> {
      req.abort();
      if (failure && !/abort/i.test(String(failure))) throw failure;
      return { lowest, events };
    },
  };
}

interface Fixture {
  app: AppFixture;
  target: ReleaseTarget;
  plan: RollbackPlan;
  router: TrafficRouter;
}

async function fixture(kind: 'replica-ratio' | 'alb', budget: number): Promise<Fixture> {
  seq += 1;
  const app = await createApp(ns, `${kind === 'alb' ? 'alb' : 'rr'}-${seq}`, {
    replicas: 4,
    ingress: kind === 'alb',
  });
  await createBudget(app, budget);
  const clients = restrictedClients();
  const router = appRouter(kind, app, clients, { waits: WAITS });
  const plan = await new KubernetesClusterClient(clients).recordPlan(ns, app.name);
  return { app, target: releaseTarget(app, NEW_IMAGES, `pdb-${seq}`), plan, router };
}

/** Shifts to `weight` and, while the router reports a pending shift, calls again (as the state machine does). */
async function shift(f: Fixture, weight: number) {
  return eventually(`the shift to ${weight}%`, async () => {
    const st = await f.router.setWeight(f.target, f.plan, weight);
    return /call again/.test(st.detail) ? undefined : st;
  });
}

describe.each(['replica-ratio', 'alb'] as const)(
  '%s router with a PodDisruptionBudget of minAvailable = replicas - 1',
  (kind) => {
    test('shift (10, 50, 100) and clean up never leave fewer healthy pods than the budget requires (watched)', async () => {
      const f = await fixture(kind, 3);
      const w = await watchHealthy(`app=${f.app.name}`);
      expect(w.now()).toBe(4);
      const notes: string[] = [];
      for (const weight of [10, 50, 100]) notes.push((await shift(f, weight)).detail);
      const report = await f.router.finalize(f.target, f.plan);
      notes.push(...report.actions);
      await eventually('clean up done: 4 pods Ready, canary gone', async () =>
        w.now() === 4 ? true : undefined,
      );
      const seen = await w.done();
      expect(report.leftovers).toEqual([]);
      expect(seen.events).toBeGreaterThan(8);
      expect(seen.lowest).toBeGreaterThanOrEqual(3);
      // The budget was read at the step that removes the canary's pods (and, for the replica-ratio
      // router, at each shift that scaled stable down).
      expect(
        notes.some((n) => new RegExp(`poddisruptionbudget/${f.app.name} \\(minAvailable 3\\)`).test(n)),
      ).toBe(true);
    });

    test('roll back at 50% never leaves fewer healthy pods than the budget requires (watched)', async () => {
      const f = await fixture(kind, 3);
      await shift(f, 50);
      const w = await watchHealthy(`app=${f.app.name}`);
      const report = await f.router.rollback(f.target, f.plan);
      await eventually('rollback done: 4 pods Ready, canary gone', async () =>
        w.now() === 4 ? true : undefined,
      );
      const seen = await w.done();
      expect(report.leftovers).toEqual([]);
      expect(seen.lowest).toBeGreaterThanOrEqual(3);
      expect(
        report.actions.some((n) =>
          /poddisruptionbudget\/\S+ \(minAvailable 3\): \d+ healthy left, 3 required/.test(n),
        ),
      ).toBe(true);
    });
  },
);

describe('a budget the shift cannot keep (replica-ratio)', () => {
  test('asking for more pods than the service runs: the shift is reported, stable is not scaled down, the Eviction API refuses too; roll back returns to the state before', async () => {
    // A budget set for a peak the service is no longer at: minAvailable 5 over 4 replicas.
    const f = await fixture('replica-ratio', 5);
    const w = await watchHealthy(`app=${f.app.name}`);
    const st = await f.router.setWeight(f.target, f.plan, 50);
    expect(st.detail).toMatch(
      new RegExp(
        `poddisruptionbudget/${f.app.name} \\(minAvailable 5\\): \\d+ healthy left, 5 required if 2 stable pods went: stable kept at 4 instead of 2, nothing forced`,
      ),
    );
    const dep = await adminApis().apps.readNamespacedDeployment({ name: f.app.name, namespace: ns });
    expect(dep.spec?.replicas).toBe(4);
    // The real disruption controller agrees: evicting one stable pod is refused (429).
    const pdb = await eventually('the disruption controller to have observed the budget', async () => {
      const b = await policy().readNamespacedPodDisruptionBudget({ name: f.app.name, namespace: ns });
      return b.status?.observedGeneration === b.metadata?.generation && b.status?.currentHealthy === 6
        ? b
        : undefined;
    });
    expect(pdb.status?.disruptionsAllowed).toBe(1);
    const stablePod = (
      await adminApis().core.listNamespacedPod({
        namespace: ns,
        labelSelector: `app=${f.app.name},!tps-deploy.io/track`,
      })
    ).items.find(healthy);
    expect(stablePod).toBeDefined();
    // The Eviction API, used below once the rollback is done, is the real arbiter of the budget.
    const evict = (name: string) =>
      adminApis()
        .core.createNamespacedPodEviction({
          name,
          namespace: ns,
          body: { metadata: { name, namespace: ns } },
        })
        .then(
          () => 'evicted',
          (e: { code?: number }) => e.code,
        );
    const report = await f.router.rollback(f.target, f.plan);
    expect(report.leftovers).toEqual([]);
    expect(report.actions.join('\n')).toMatch(
      /asks for more than the 4 pods the service ran before the release; the canary goes, back to that state/,
    );
    await eventually('4 pods Ready', async () => (w.now() === 4 ? true : undefined));
    const seen = await w.done();
    expect(seen.lowest).toBeGreaterThanOrEqual(4);
    // Back at 4 healthy with a budget of 5: the Eviction API refuses any eviction.
    await eventually('the disruption controller to see 4 healthy', async () => {
      const b = await policy().readNamespacedPodDisruptionBudget({ name: f.app.name, namespace: ns });
      return b.status?.currentHealthy === 4 ? true : undefined;
    });
    expect(await evict(stablePod!.metadata!.name!)).toBe(429);
  });
});

/**
 * Both traffic routers and the cluster client against the local control plane (real API server,
 * controllers, EndpointSlices; KWOK pods), acting as the restricted identity bound to the
 * product's shipped Role (infra/k8s/tps-deploy-role.yaml). Fixtures are created by the admin.
 */
import * as k8s from '@kubernetes/client-node';
import { forwardAction } from '../../functions/adapters/kubernetes/alb-router.js';
import { KubernetesRequestError } from '../../functions/adapters/kubernetes/client.js';
import { KubernetesClusterClient } from '../../functions/adapters/kubernetes/cluster-client.js';
import { releaseTemplate } from '../../functions/adapters/kubernetes/deployment.js';
import { CANARY_SUFFIX, K8S_ANNOTATIONS, K8S_LABELS } from '../../functions/adapters/kubernetes/labels.js';
import {
  KubernetesTransientError,
  TargetNotFoundError,
  TRANSIENT_ERRORS,
} from '../../functions/domain/errors.js';
import type { ReleaseTarget, RollbackPlan } from '../../functions/ports/cluster.js';
import type { TrafficRouter } from '../../functions/ports/router.js';
import { restrictedKubeConfig } from '../helpers/cluster-env.js';
import {
  type AppFixture,
  adminApis,
  albTrafficSampler,
  appRouter,
  createApp,
  deleteNamespace,
  eventually,
  liveTemplate,
  namespaceWithShippedRole,
  OLD_IMAGES,
  podsBySelector,
  readyEndpointPods,
  releaseTarget,
  restrictedClients,
  toStable,
} from '../helpers/k8s.js';

const NEW_IMAGES = { api: 'registry.local/shop/api:v2', sidecar: 'registry.local/shop/proxy:1.1' };
const WAITS = { canaryReadyMs: 30_000, rolloutMs: 60_000, deleteMs: 30_000, pollMs: 200 };
const TRACK = K8S_LABELS.track;

let ns: string;
let seq = 0;

beforeAll(async () => {
  ns = await namespaceWithShippedRole('routers');
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

async function release(
  kind: 'replica-ratio' | 'alb',
  images: Record<string, string> = NEW_IMAGES,
  waits: Partial<typeof WAITS> = {},
): Promise<Release> {
  seq += 1;
  const app = await createApp(ns, `${kind === 'alb' ? 'alb' : 'rr'}-${seq}`, {
    replicas: 4,
    ingress: kind === 'alb',
  });
  const clients = restrictedClients();
  const cluster = new KubernetesClusterClient(clients);
  const router = appRouter(kind, app, clients, { waits: { ...WAITS, ...waits } });
  const plan = await cluster.recordPlan(ns, app.name);
  return { app, target: releaseTarget(app, images, `rel-${seq}`), plan, router, cluster };
}

const canaryOf = (app: AppFixture) => `${app.name}${CANARY_SUFFIX}`;

async function exists(read: () => Promise<unknown>): Promise<boolean> {
  try {
    await read();
    return true;
  } catch (err) {
    if (err instanceof k8s.ApiException && err.code === 404) return false;
    throw err;
  }
}

/** Everything a rollback must restore, checked as the admin. */
async function expectRecordedState(r: Release): Promise<void> {
  const { apps, core } = adminApis();
  const dep = await apps.readNamespacedDeployment({ name: r.app.name, namespace: ns });
  const live = await liveTemplate(ns, r.app.name);
  expect(live).toEqual(r.plan.template);
  expect(
    (live.spec as { containers: { name: string; image: string }[] }).containers.map((c) => [c.name, c.image]),
  ).toEqual([
    ['api', OLD_IMAGES.api],
    ['sidecar', OLD_IMAGES.sidecar],
  ]);
  expect(dep.spec?.replicas).toBe(4);
  expect(await exists(() => apps.readNamespacedDeployment({ name: canaryOf(r.app), namespace: ns }))).toBe(
    false,
  );
  const svc = await core.readNamespacedService({ name: r.app.service, namespace: ns });
  expect(svc.spec?.selector).toEqual({ app: r.app.name });
  expect(svc.metadata?.annotations?.[K8S_ANNOTATIONS.originalSelector]).toBeUndefined();
  const endpoints = await eventually('4 stable endpoints', async () => {
    const eps = await readyEndpointPods(ns, r.app.service);
    return eps.length === 4 && eps;
  });
  const canaryPods = new Set(
    (await podsBySelector(ns, `app=${r.app.name},${TRACK}=canary`)).map((p) => p.name),
  );
  expect(endpoints.filter((p) => canaryPods.has(p))).toEqual([]);
  expect(await r.cluster.drift(r.target, r.plan, 'recorded')).toEqual([]);
}

describe('cluster client', () => {
  test('recordPlan keeps the whole template of both containers, the replicas and the generation', async () => {
    const r = await release('replica-ratio');
    expect(r.plan.replicas).toBe(4);
    expect(r.plan.images).toEqual(OLD_IMAGES);
    expect(r.plan.generation).toBeGreaterThanOrEqual(1);
    const spec = r.plan.template.spec as { containers: Record<string, unknown>[] };
    expect(spec.containers).toHaveLength(2);
    expect(spec.containers[0]).toMatchObject({
      name: 'api',
      env: [{ name: 'MODE', value: 'prod' }],
      resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
      readinessProbe: { httpGet: { path: '/ready', port: 'http' } },
    });
    expect(r.plan.template.metadata).toMatchObject({ annotations: { 'example.com/owner': 'team-shop' } });
    await expect(r.cluster.recordPlan(ns, 'no-such-deployment')).rejects.toBeInstanceOf(TargetNotFoundError);
  });

  test('drift names a changed image and a replica change made by someone else', async () => {
    const r = await release('replica-ratio');
    expect(await r.cluster.drift(r.target, r.plan, 'recorded')).toEqual([]);
    const { apps } = adminApis();
    await apps.patchNamespacedDeployment(
      {
        name: r.app.name,
        namespace: ns,
        body: {
          spec: {
            replicas: 6,
            template: {
              spec: { containers: [{ name: 'sidecar', image: 'registry.local/shop/proxy:hotpatch' }] },
            },
          },
        },
        fieldManager: 'kubectl-patch',
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
    );
    const drift = await r.cluster.drift(r.target, r.plan, 'recorded');
    expect(drift).toEqual([
      `container sidecar image: expected ${OLD_IMAGES.sidecar}, live registry.local/shop/proxy:hotpatch`,
      // Who wrote the template since the plan was recorded (managedFields keep whole seconds:
      // a write in the plan's own second counts).
      expect.stringMatching(/^template written by kubectl-patch \(Update, \d{4}-\d\d-\d\dT[\d:.]+Z\)$/),
      expect.stringMatching(
        /^replicas: expected 4, live 6 \(set by kubectl-patch \(Update, \d{4}-\d\d-\d\dT[\d:.]+Z\)\)$/,
      ),
    ]);
  });
});

describe('replica-ratio router', () => {
  test('10% -> 50% -> 100% blue-green -> finalize', async () => {
    const r = await release('replica-ratio');
    const { apps, core } = adminApis();

    // N = 4: the smallest canary is one pod and capacity keeps 4 stable, so 1 of 5 ready
    // endpoints (20 %) is the closest share to 10 % the replicas allow.
    const s10 = await r.router.setWeight(r.target, r.plan, 10);
    expect(s10).toMatchObject({ targetWeight: 10, actualWeight: 20, canaryReplicas: 1, stableReplicas: 4 });
    expect(s10.detail).toContain('1 of 5 ready endpoints are canary (20%)');
    const canary = await apps.readNamespacedDeployment({ name: canaryOf(r.app), namespace: ns });
    expect(canary.metadata?.ownerReferences ?? []).toEqual([]);
    expect(canary.metadata?.labels).toMatchObject({
      [K8S_LABELS.managedBy]: K8S_LABELS.managedByValue,
      [K8S_LABELS.deploymentId]: r.target.deploymentId,
    });
    // The canary is the recorded template with the new images and the version (label,
    // annotation, TPS_RELEASE_VERSION); only labels are added besides.
    const want = releaseTemplate(r.plan.template, r.target);
    const canaryTemplate = JSON.parse(JSON.stringify(canary.spec?.template));
    expect(canaryTemplate.spec).toEqual(want.spec);
    expect(canaryTemplate.metadata.labels).toMatchObject({ app: r.app.name, tier: 'web', [TRACK]: 'canary' });
    expect(canaryTemplate.metadata.annotations).toEqual({
      'example.com/owner': 'team-shop',
      [K8S_ANNOTATIONS.version]: 'v2',
    });
    expect(await r.router.status(r.target, r.plan)).toMatchObject({ targetWeight: 10, actualWeight: 20 });

    const s50 = await r.router.setWeight(r.target, r.plan, 50);
    expect(s50).toMatchObject({ targetWeight: 50, actualWeight: 50, canaryReplicas: 2, stableReplicas: 2 });
    expect(s50.detail).toContain('2 of 4 ready endpoints are canary (50%)');
    const h50 = await r.cluster.health(r.target, 'canary');
    expect(h50).toMatchObject({
      desired: 2,
      ready: 2,
      updated: 2,
      crashLooping: [],
      oomKilled: [],
      notReady: [],
    });
    expect(h50.pods).toHaveLength(2);
    expect(h50.pods[0]).toMatch(/^rr-\d+-tps-canary-\S+ Running 2\/2 0 -$/);
    // Our own scale-down is not drift.
    expect(await r.cluster.drift(r.target, r.plan, 'recorded')).toEqual([]);

    const s100 = await r.router.setWeight(r.target, r.plan, 100);
    expect(s100).toMatchObject({
      targetWeight: 100,
      actualWeight: 100,
      canaryReplicas: 4,
      stableReplicas: 4,
    });
    const svc = await core.readNamespacedService({ name: r.app.service, namespace: ns });
    expect(svc.spec?.selector).toEqual({ app: r.app.name, [TRACK]: 'canary' });
    expect(JSON.parse(svc.metadata?.annotations?.[K8S_ANNOTATIONS.originalSelector] ?? '{}')).toEqual({
      app: r.app.name,
    });
    // Blue-green: the stable pods are still Ready (warm) but none is an endpoint of the Service.
    const stablePods = await eventually('4 Ready stable pods', async () => {
      const pods = (await podsBySelector(ns, `app=${r.app.name},!${TRACK}`)).filter((p) => !p.terminating);
      return pods.length === 4 && pods.every((p) => p.ready) && pods;
    });
    const endpoints = await readyEndpointPods(ns, r.app.service);
    expect(endpoints).toHaveLength(4);
    expect(endpoints.filter((p) => stablePods.some((s) => s.name === p))).toEqual([]);
    expect(await r.cluster.health(r.target, 'stable')).toMatchObject({ desired: 4, ready: 4 });

    const report = await r.router.finalize(r.target, r.plan);
    expect(report.leftovers).toEqual([]);
    const dep = await apps.readNamespacedDeployment({ name: r.app.name, namespace: ns });
    expect(dep.spec?.replicas).toBe(4);
    expect(await liveTemplate(ns, r.app.name)).toEqual(want);
    expect(await exists(() => apps.readNamespacedDeployment({ name: canaryOf(r.app), namespace: ns }))).toBe(
      false,
    );
    const after = await core.readNamespacedService({ name: r.app.service, namespace: ns });
    expect(after.spec?.selector).toEqual({ app: r.app.name });
    expect(after.metadata?.annotations?.[K8S_ANNOTATIONS.originalSelector]).toBeUndefined();
    expect(await r.cluster.drift(r.target, r.plan, 'finalized')).toEqual([]);
    expect(await r.cluster.health(r.target, 'stable')).toMatchObject({ desired: 4, ready: 4, updated: 4 });
    // Finalizing again changes nothing and still reports a clean state.
    const again = await r.router.finalize(r.target, r.plan);
    expect(again.leftovers).toEqual([]);
    expect(again.actions.filter((a) => !a.startsWith('rolled out'))).toEqual([]);
  });

  test('rollback from 50% restores the recorded template and replicas exactly', async () => {
    const r = await release('replica-ratio');
    await r.router.setWeight(r.target, r.plan, 10);
    await r.router.setWeight(r.target, r.plan, 50);
    const report = await r.router.rollback(r.target, r.plan);
    expect(report.leftovers).toEqual([]);
    expect(report.actions.some((a) => a.includes('replicas 2 -> 4'))).toBe(true);
    await expectRecordedState(r);
  });

  test('rollback from 100%: two concurrent rollbacks both succeed', async () => {
    const r = await release('replica-ratio');
    await r.router.setWeight(r.target, r.plan, 100);
    const results = await Promise.allSettled([
      r.router.rollback(r.target, r.plan),
      r.router.rollback(r.target, r.plan),
    ]);
    expect(results.map((x) => x.status)).toEqual(['fulfilled', 'fulfilled']);
    for (const x of results) if (x.status === 'fulfilled') expect(x.value.leftovers).toEqual([]);
    await expectRecordedState(r);
  });

  test('rollback after a partial attempt (canary deleted, selector still pinned) succeeds', async () => {
    const r = await release('replica-ratio');
    await r.router.setWeight(r.target, r.plan, 100);
    const { apps } = adminApis();
    await apps.deleteNamespacedDeployment({
      name: canaryOf(r.app),
      namespace: ns,
      propagationPolicy: 'Foreground',
    });
    await eventually(
      'canary gone',
      async () =>
        !(await exists(() => apps.readNamespacedDeployment({ name: canaryOf(r.app), namespace: ns }))),
    );
    const report = await r.router.rollback(r.target, r.plan);
    expect(report.actions.some((a) => a.startsWith('restored selector'))).toBe(true);
    expect(report.leftovers).toEqual([]);
    await expectRecordedState(r);
  });

  test('a crash-looping canary is reported and never takes stable capacity; -oom reports OOMKilled', async () => {
    const r = await release(
      'replica-ratio',
      { api: 'registry.local/shop/api:v2-crash' },
      { canaryReadyMs: 2_000 },
    );
    const s = await r.router.setWeight(r.target, r.plan, 50);
    // The canary never becomes Ready, so the stable version keeps all 4 pods.
    expect(s.stableReplicas).toBe(4);
    expect(s.detail).toContain('stable kept at 4 instead of 2');
    const crash = await eventually('CrashLoopBackOff in canary health', async () => {
      const h = await r.cluster.health(r.target, 'canary');
      return h.crashLooping.length === 2 && h;
    });
    expect(crash.ready).toBe(0);
    expect(crash.pods.every((p) => p.includes('api:CrashLoopBackOff'))).toBe(true);
    expect((await r.cluster.health(r.target, 'stable')).crashLooping).toEqual([]);
    await r.router.rollback(r.target, r.plan);
    await expectRecordedState(r);

    const oomTarget = {
      ...r.target,
      deploymentId: `${r.target.deploymentId}-oom`,
      images: { api: 'registry.local/shop/api:v2-oom' },
    };
    await r.router.setWeight(oomTarget, r.plan, 10);
    const oom = await eventually('OOMKilled in canary health', async () => {
      const h = await r.cluster.health(oomTarget, 'canary');
      return h.oomKilled.length === 1 && h.restarts >= 1 && h;
    });
    expect(oom.pods[0]).toMatch(/ api:CrashLoopBackOff,api:last=OOMKilled$/);
    await r.router.rollback(oomTarget, r.plan);
    await expectRecordedState({ ...r, target: oomTarget });
  });
});

describe('alb router', () => {
  const actionOf = async (app: AppFixture) => {
    const ing = await adminApis().networking.readNamespacedIngress({ name: app.ingress, namespace: ns });
    return ing.metadata?.annotations ?? {};
  };
  const actionKey = (app: AppFixture) => `alb.ingress.kubernetes.io/actions.${app.actionName}`;
  const canarySvc = (app: AppFixture) => `${app.service}${CANARY_SUFFIX}`;

  async function expectAlbRecordedState(r: Release, originalAction: string): Promise<void> {
    await expectRecordedState(r);
    const ann = await actionOf(r.app);
    expect(ann[actionKey(r.app)]).toBe(originalAction);
    expect(ann[K8S_ANNOTATIONS.originalAction]).toBeUndefined();
    expect(
      await exists(() => adminApis().core.readNamespacedService({ name: canarySvc(r.app), namespace: ns })),
    ).toBe(false);
  }

  test('10% -> 50% -> 100% with exact ingress weights -> finalize', async () => {
    const r = await release('alb');
    const { apps, core } = adminApis();
    const original = (await actionOf(r.app))[actionKey(r.app)] as string;

    const s10 = await r.router.setWeight(r.target, r.plan, 10);
    expect(s10).toMatchObject({ targetWeight: 10, actualWeight: 10, canaryReplicas: 1, stableReplicas: 4 });
    expect(JSON.parse((await actionOf(r.app))[actionKey(r.app)] as string)).toEqual({
      type: 'forward',
      forwardConfig: {
        targetGroups: [
          { serviceName: r.app.service, servicePort: 80, weight: 90 },
          { serviceName: canarySvc(r.app), servicePort: 80, weight: 10 },
        ],
      },
    });
    // The stable Service is pinned to the original ReplicaSet: canary pods share its labels but
    // are never its endpoints; the canary Service has exactly the canary pod.
    const stableSvc = await core.readNamespacedService({ name: r.app.service, namespace: ns });
    expect(Object.keys(stableSvc.spec?.selector ?? {}).sort()).toEqual(['app', 'pod-template-hash']);
    const canaryPods = (await podsBySelector(ns, `app=${r.app.name},${TRACK}=canary`)).map((p) => p.name);
    expect(canaryPods).toHaveLength(1);
    expect(await readyEndpointPods(ns, canarySvc(r.app))).toEqual(canaryPods);
    const stableEps = await readyEndpointPods(ns, r.app.service);
    expect(stableEps).toHaveLength(4);
    expect(stableEps.filter((p) => canaryPods.includes(p))).toEqual([]);
    expect(s10.detail).toContain('ready endpoints: stable 4, canary 1');

    const s50 = await r.router.setWeight(r.target, r.plan, 50);
    expect(s50).toMatchObject({ actualWeight: 50, canaryReplicas: 2, stableReplicas: 4 });
    expect((await actionOf(r.app))[actionKey(r.app)]).toBe(
      JSON.stringify(forwardAction(r.app.service, canarySvc(r.app), 80, 50)),
    );
    const s100 = await r.router.setWeight(r.target, r.plan, 100);
    expect(s100).toMatchObject({ actualWeight: 100, canaryReplicas: 4, stableReplicas: 4 });
    expect(
      JSON.parse((await actionOf(r.app))[actionKey(r.app)] as string).forwardConfig.targetGroups,
    ).toEqual([
      { serviceName: r.app.service, servicePort: 80, weight: 0 },
      { serviceName: canarySvc(r.app), servicePort: 80, weight: 100 },
    ]);
    // Stable stays warm behind its Service at weight 0.
    expect(await readyEndpointPods(ns, r.app.service)).toHaveLength(4);

    // A finalize whose wait runs out (as when the Lambda's time is short) throws the retryable
    // error after starting the rollout; the state machine's retry calls again and it completes.
    const impatient = appRouter('alb', r.app, restrictedClients(), { waits: { ...WAITS, rolloutMs: 0 } });
    const timedOut = await impatient.finalize(r.target, r.plan).catch((e: unknown) => e);
    expect(timedOut).toBeInstanceOf(KubernetesTransientError);
    expect((timedOut as Error).message).toMatch(/not rolled out after 0 s .*calling again resumes/);
    const report = await r.router.finalize(r.target, r.plan);
    expect(report.leftovers).toEqual([]);
    expect(report.actions.some((a) => a.startsWith('set deployment'))).toBe(false); // already patched
    const ann = await actionOf(r.app);
    expect(ann[actionKey(r.app)]).toBe(original);
    expect(ann[K8S_ANNOTATIONS.originalAction]).toBeUndefined();
    expect(await liveTemplate(ns, r.app.name)).toEqual(releaseTemplate(r.plan.template, r.target));
    expect((await apps.readNamespacedDeployment({ name: r.app.name, namespace: ns })).spec?.replicas).toBe(4);
    expect(await exists(() => apps.readNamespacedDeployment({ name: canaryOf(r.app), namespace: ns }))).toBe(
      false,
    );
    expect(await exists(() => core.readNamespacedService({ name: canarySvc(r.app), namespace: ns }))).toBe(
      false,
    );
    expect((await core.readNamespacedService({ name: r.app.service, namespace: ns })).spec?.selector).toEqual(
      {
        app: r.app.name,
      },
    );
    await eventually(
      '4 new-version endpoints on the stable Service',
      async () => (await readyEndpointPods(ns, r.app.service)).length === 4,
    );
  });

  test('rollback from 50% restores the recorded state and the original ingress action', async () => {
    const r = await release('alb');
    const original = (await actionOf(r.app))[actionKey(r.app)] as string;
    await r.router.setWeight(r.target, r.plan, 10);
    await r.router.setWeight(r.target, r.plan, 50);
    const report = await r.router.rollback(r.target, r.plan);
    expect(report.leftovers).toEqual([]);
    await expectAlbRecordedState(r, original);
  });

  test('rollback from 100%: two concurrent rollbacks both succeed; a partial earlier attempt is finished', async () => {
    const r = await release('alb');
    const original = (await actionOf(r.app))[actionKey(r.app)] as string;
    await r.router.setWeight(r.target, r.plan, 100);
    const results = await Promise.allSettled([
      r.router.rollback(r.target, r.plan),
      r.router.rollback(r.target, r.plan),
    ]);
    expect(results.map((x) => x.status)).toEqual(['fulfilled', 'fulfilled']);
    await expectAlbRecordedState(r, original);

    // Partial attempt: a new release at 100%, then only the canary Service and Deployment are
    // deleted by hand; the Ingress still forwards to the missing Service and stable is pinned.
    const second = { ...r, target: { ...r.target, deploymentId: `${r.target.deploymentId}-b` } };
    await second.router.setWeight(second.target, second.plan, 100);
    const { apps, core } = adminApis();
    await core.deleteNamespacedService({ name: canarySvc(r.app), namespace: ns });
    await apps.deleteNamespacedDeployment({
      name: canaryOf(r.app),
      namespace: ns,
      propagationPolicy: 'Foreground',
    });
    const report = await second.router.rollback(second.target, second.plan);
    expect(report.actions.some((a) => a.startsWith('restored ingress'))).toBe(true);
    expect(report.leftovers).toEqual([]);
    await expectAlbRecordedState(second, original);
  });

  test("rollback keeping a person's template (their edit rolled the original to a new ReplicaSet at 50%): the stable Service's pin moves to it before the Ingress goes back", async () => {
    const r = await release('alb');
    const original = (await actionOf(r.app))[actionKey(r.app)] as string;
    await r.router.setWeight(r.target, r.plan, 50);
    await adminApis().apps.patchNamespacedDeployment(
      {
        name: r.app.name,
        namespace: ns,
        body: { spec: { template: { metadata: { annotations: { 'example.com/edited-by': 'a-person' } } } } },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await eventually("the person's edit rolled out, the pinned stable Service empty", async () => {
      const dep = await adminApis().apps.readNamespacedDeployment({ name: r.app.name, namespace: ns });
      const st = dep.status;
      const rolled =
        st?.observedGeneration === dep.metadata?.generation &&
        st?.updatedReplicas === 4 &&
        st?.replicas === 4;
      return rolled && (await readyEndpointPods(ns, r.app.service)).length === 0;
    });
    const kept = await r.cluster.recordPlan(ns, r.app.name);
    const traffic = albTrafficSampler(r.app);
    const report = await r.router.rollback(r.target, { ...r.plan, template: kept.template });
    const samples = await traffic.done();
    expect(report.leftovers).toEqual([]);
    expect(report.actions.join('; ')).toMatch(/set selector of service \S+ to app=\S+,pod-template-hash=/);
    // At 50% the pinned stable Service had no endpoints already (the person's rollout): what the
    // rollback owes is that all traffic goes back to it only once it has its 4 again.
    const back = samples.filter((x) => x.canaryShare === null || x.canaryShare === 0);
    expect(back.length).toBeGreaterThan(0);
    expect(back.filter((x) => x.stableEndpoints < 4)).toEqual([]);
    expect((await actionOf(r.app))[actionKey(r.app)]).toBe(original);
    expect(
      (await adminApis().core.readNamespacedService({ name: r.app.service, namespace: ns })).spec?.selector,
    ).toEqual({
      app: r.app.name,
    });
    expect(await liveTemplate(ns, r.app.name)).toEqual(kept.template);
  });

  test('rollback in the middle of Clean Up (original rolled out to the new version, stable Service still pinned to the old pods): no traffic to stable before its old pods are back and Ready', async () => {
    const r = await release('alb');
    const original = (await actionOf(r.app))[actionKey(r.app)] as string;
    await r.router.setWeight(r.target, r.plan, 100);
    // Clean Up cut after its first write (the Lambda's time ran out while the rollout ran): the
    // original rolls out to the new version; the stable Service is still pinned to the old pods.
    const impatient = appRouter('alb', r.app, restrictedClients(), { waits: { ...WAITS, rolloutMs: 0 } });
    await expect(impatient.finalize(r.target, r.plan)).rejects.toBeInstanceOf(KubernetesTransientError);
    await eventually('the original rolled out to the new version, the old pods gone', async () => {
      const dep = await adminApis().apps.readNamespacedDeployment({ name: r.app.name, namespace: ns });
      const st = dep.status;
      const rolled =
        st?.observedGeneration === dep.metadata?.generation &&
        st?.updatedReplicas === 4 &&
        st?.readyReplicas === 4 &&
        st?.replicas === 4;
      return rolled && (await readyEndpointPods(ns, r.app.service)).length === 0;
    });
    const traffic = albTrafficSampler(r.app);
    const report = await r.router.rollback(r.target, r.plan);
    const samples = await traffic.done();
    expect(report.leftovers).toEqual([]);
    expect(samples[0]).toMatchObject({ canaryShare: 100, stableEndpoints: 0 });
    // Never a moment where the ALB forwards to a stable Service without its 4 Ready endpoints.
    const onStable = toStable(samples);
    expect(onStable.length).toBeGreaterThan(0);
    expect(onStable.filter((x) => x.stableEndpoints < 4)).toEqual([]);
    await expectAlbRecordedState(r, original);
  });
});

describe("objects of tps-deploy's names that tps-deploy did not create", () => {
  /** A person's Deployment: its own pods (not the Service's), no managed-by label. */
  async function personsDeployment(name: string) {
    const labels = { app: `${name}-person` };
    return adminApis().apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name, labels },
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: { containers: [{ name: 'tool', image: 'registry.local/person/tool:1' }] },
          },
        },
      },
    });
  }

  /** The error of a promise that must fail. */
  async function failure(p: Promise<unknown>): Promise<Error> {
    const e = await p.then(
      () => null,
      (err: unknown) => err,
    );
    if (!(e instanceof Error)) throw new Error('expected the call to fail');
    return e;
  }

  test("replica-ratio: a person's <deployment>-tps-canary fails the shift, untouched; roll back leaves it and says so", async () => {
    const r = await release('replica-ratio');
    const person = await personsDeployment(canaryOf(r.app));
    const { apps } = adminApis();

    const err = await failure(r.router.setWeight(r.target, r.plan, 10));
    expect(err.name).toBe('UnmanagedObjectError');
    expect(err.message).toContain(`deployment ${ns}/${canaryOf(r.app)}`);
    expect(err.message).toContain(`${K8S_LABELS.managedBy}=${K8S_LABELS.managedByValue}`);
    // A conflict, not a transient failure: the state machine does not retry it, it rolls back.
    expect(TRANSIENT_ERRORS).not.toContain(err.name);
    const after = await apps.readNamespacedDeployment({ name: canaryOf(r.app), namespace: ns });
    expect(after.metadata?.uid).toBe(person.metadata?.uid);
    expect(after.metadata?.generation).toBe(person.metadata?.generation);
    // No traffic moved: the Service's endpoints are the 4 stable pods.
    expect(await readyEndpointPods(ns, r.app.service)).toHaveLength(4);
    expect((await apps.readNamespacedDeployment({ name: r.app.name, namespace: ns })).spec?.replicas).toBe(4);

    const report = await r.router.rollback(r.target, r.plan);
    expect(report.actions).toContainEqual(
      expect.stringMatching(
        new RegExp(`left deployment ${ns}/${canaryOf(r.app)} alone: tps-deploy did not create it`),
      ),
    );
    expect(report.leftovers).toEqual([]);
    const kept = await apps.readNamespacedDeployment({ name: canaryOf(r.app), namespace: ns });
    expect(kept.metadata?.uid).toBe(person.metadata?.uid);
    expect(kept.metadata?.deletionTimestamp).toBeUndefined();
  });

  test("alb: a person's Service of the canary Service's name fails the shift before any write; roll back leaves it", async () => {
    const r = await release('alb');
    const { apps, core, networking } = adminApis();
    const name = `${r.app.service}${CANARY_SUFFIX}`;
    const person = await core.createNamespacedService({
      namespace: ns,
      body: {
        metadata: { name },
        spec: { selector: { app: 'someone-else' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
      },
    });
    const before = await networking.readNamespacedIngress({ name: r.app.ingress, namespace: ns });

    const err = await failure(r.router.setWeight(r.target, r.plan, 10));
    expect(err.name).toBe('UnmanagedObjectError');
    expect(err.message).toContain(`service ${ns}/${name}`);
    expect(err.message).toContain('router.canaryService');
    expect(TRANSIENT_ERRORS).not.toContain(err.name);
    // Nothing was written: no canary Deployment, the stable Service unpinned, the Ingress as it was.
    expect(await exists(() => apps.readNamespacedDeployment({ name: canaryOf(r.app), namespace: ns }))).toBe(
      false,
    );
    expect((await core.readNamespacedService({ name: r.app.service, namespace: ns })).spec?.selector).toEqual(
      {
        app: r.app.name,
      },
    );
    const ing = await networking.readNamespacedIngress({ name: r.app.ingress, namespace: ns });
    expect(ing.metadata?.annotations).toEqual(before.metadata?.annotations);
    const svc = await core.readNamespacedService({ name, namespace: ns });
    expect(svc.metadata?.uid).toBe(person.metadata?.uid);
    expect(svc.spec?.selector).toEqual({ app: 'someone-else' });

    const report = await r.router.rollback(r.target, r.plan);
    expect(report.actions).toContainEqual(
      expect.stringMatching(new RegExp(`left service ${ns}/${name} alone: tps-deploy did not create it`)),
    );
    expect(report.leftovers).toEqual([]);
    const kept = await core.readNamespacedService({ name, namespace: ns });
    expect(kept.metadata?.uid).toBe(person.metadata?.uid);
    expect(kept.spec?.selector).toEqual({ app: 'someone-else' });
  });
});

describe('restricted identity', () => {
  test('cannot read Secrets (403), and the adapters do not retry a refusal', async () => {
    const core = restrictedKubeConfig().makeApiClient(k8s.CoreV1Api);
    await expect(core.listNamespacedSecret({ namespace: ns })).rejects.toMatchObject({ code: 403 });
    await expect(core.readNamespacedSecret({ name: 'anything', namespace: ns })).rejects.toMatchObject({
      code: 403,
    });
    const clients = restrictedClients();
    let calls = 0;
    const err = await clients.call
      .run('list secrets', () => {
        calls += 1;
        return clients.core.listNamespacedSecret({ namespace: ns });
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubernetesRequestError);
    expect((err as KubernetesRequestError).failure).toMatchObject({ status: 403, reason: 'Forbidden' });
    expect(calls).toBe(1);
  });
});

describe('beside Argo CD (docs/examples/argocd-application.yaml)', () => {
  type Obj = { metadata?: { managedFields?: k8s.V1ManagedFieldsEntry[] } } & Record<string, unknown>;
  const VOLATILE = new Set(['resourceVersion', 'generation', 'managedFields', 'uid', 'creationTimestamp']);

  /** Leaf paths where `a` and `b` differ (arrays compared whole), outside status and volatile metadata. */
  function changedPaths(a: unknown, b: unknown, path: string[] = []): string[][] {
    if (path.length === 1 && path[0] === 'status') return [];
    if (path.length === 2 && path[0] === 'metadata' && VOLATILE.has(path[1]!)) return [];
    const plain = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);
    if (plain(a) && plain(b)) {
      const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)]);
      return [...keys].flatMap((k) =>
        changedPaths((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], [...path, k]),
      );
    }
    return JSON.stringify(a) === JSON.stringify(b) ? [] : [path];
  }

  /**
   * Whether the manager's fieldsV1 covers `path`: down to the first list (whose items it keys), or
   * to an atomic field (an empty set: a Service's or Deployment's selector is owned whole).
   */
  function owns(fields: Record<string, unknown> | undefined, path: string[]): boolean {
    let at: unknown = fields;
    for (const seg of path) {
      if (at !== fields && Object.keys(at as object).length === 0) return true;
      const next = (at as Record<string, unknown> | undefined)?.[`f:${seg}`];
      if (next === undefined) {
        // A removed field is recorded as owned by whoever removed it only while it exists.
        return false;
      }
      at = next;
      const keys = Object.keys(at as object);
      if (keys.some((k) => k.startsWith('k:') || k.startsWith('i:') || k.startsWith('v:'))) return true;
    }
    return true;
  }

  function unownedChanges(before: Obj, after: Obj): string[] {
    const entries = after.metadata?.managedFields ?? [];
    const mine = entries.filter((m) => m.manager === 'tps-deploy');
    // What the controllers write (the Deployment's revision annotation) is never in Git, so Argo
    // CD does not compare it.
    const controllers = entries.filter((m) => m.manager === 'kube-controller-manager');
    return changedPaths(toJson(before), toJson(after))
      .filter((p) => {
        const removed = readAt(toJson(after), p) === undefined;
        // A removal leaves nothing to own; Argo CD compares what is there.
        if (removed) return false;
        if (controllers.some((m) => owns(m.fieldsV1 as Record<string, unknown>, p))) return false;
        return !mine.some((m) => owns(m.fieldsV1 as Record<string, unknown>, p));
      })
      .map((p) => p.join('.'));
  }
  const toJson = (o: unknown) => JSON.parse(JSON.stringify(o)) as unknown;
  const readAt = (o: unknown, p: string[]) =>
    p.reduce<unknown>((at, k) => (at as Record<string, unknown> | undefined)?.[k], o);

  test('the example ignores, for every kind the routers write, exactly the fields of manager tps-deploy, and respects that at sync', async () => {
    const { parse } = await import('yaml');
    const { readFileSync } = await import('node:fs');
    const app = parse(
      readFileSync(new URL('../../docs/examples/argocd-application.yaml', import.meta.url), 'utf8'),
    );
    const ignored = app.spec.ignoreDifferences as {
      group: string;
      kind: string;
      managedFieldsManagers: string[];
    }[];
    expect(ignored.map((i) => `${i.group}/${i.kind}`).sort()).toEqual([
      '/Service',
      'apps/Deployment',
      'networking.k8s.io/Ingress',
    ]);
    for (const i of ignored) expect(i.managedFieldsManagers).toEqual(['tps-deploy']);
    expect(app.spec.syncPolicy.syncOptions).toContain('RespectIgnoreDifferences=true');
  });

  test.each(['replica-ratio', 'alb'] as const)(
    '%s: every field a shift and Clean Up change on the objects Argo CD manages is owned by manager tps-deploy',
    async (kind) => {
      const r = await release(kind);
      const { apps, core, networking } = adminApis();
      const read = async (): Promise<Record<string, Obj>> => ({
        deployment: (await apps.readNamespacedDeployment({ name: r.app.name, namespace: ns })) as Obj,
        service: (await core.readNamespacedService({ name: r.app.service, namespace: ns })) as Obj,
        ...(kind === 'alb'
          ? {
              ingress: (await networking.readNamespacedIngress({
                name: r.app.ingress,
                namespace: ns,
              })) as Obj,
            }
          : {}),
      });
      const before = await read();
      await r.router.setWeight(r.target, r.plan, 50);
      const during = await read();
      const changedDuring = Object.keys(before).filter(
        (k) => changedPaths(toJson(before[k]), toJson(during[k])).length > 0,
      );
      // Each router changes something Argo CD would otherwise see.
      expect(changedDuring.length).toBeGreaterThan(0);
      for (const k of Object.keys(before))
        expect([k, unownedChanges(before[k]!, during[k]!)]).toEqual([k, []]);
      await r.router.finalize(r.target, r.plan);
      const after = await read();
      for (const k of Object.keys(before))
        expect([k, unownedChanges(before[k]!, after[k]!)]).toEqual([k, []]);
    },
  );
});

/**
 * Telling Flux to stand off (issue #14, GitOps): with `gitops: 'flux'` in the catalog, the first
 * shift annotates the objects the release changes with `kustomize.toolkit.fluxcd.io/reconcile:
 * disabled` (as field manager tps-deploy), and Clean Up and Roll Back remove it, last. An
 * annotation someone else set is left alone. On the local cluster, through the same workloads
 * factory the functions use. Flux itself does not run here: that kustomize-controller skips such
 * objects is its documented behaviour (fluxcd/kustomize-controller#484), not tested here.
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { createKubeClients } from '../../functions/adapters/kubernetes/client.js';
import {
  FLUX_RECONCILE_ANNOTATION,
  holdGitOps,
  STAND_OFF_MARKER,
} from '../../functions/adapters/kubernetes/gitops.js';
import { kubeWorkloads } from '../../functions/adapters/kubernetes/workloads-factory.js';
import { parseCatalog } from '../../functions/domain/config.js';
import type { Workloads } from '../../functions/ports/release.js';
import { restrictedKubeConfig } from '../helpers/cluster-env.js';
import {
  type AppFixture,
  adminApis,
  createApp,
  deleteNamespace,
  namespaceWithShippedRole,
  releaseTarget,
  restrictedClients,
} from '../helpers/k8s.js';
import { serviceFor } from '../helpers/release.js';
import { NEW_IMAGES } from '../helpers/runbook.js';

jest.setTimeout(240_000);

let ns: string;
let seq = 0;
beforeAll(async () => {
  ns = await namespaceWithShippedRole('gitops');
});
afterAll(async () => {
  if (ns) await deleteNamespace(ns);
});

type Kind = 'replica-ratio' | 'alb';

async function setup(kind: Kind, gitops: boolean) {
  seq += 1;
  const app = await createApp(ns, `${kind === 'alb' ? 'alb' : 'rr'}-${seq}`, {
    replicas: 2,
    ingress: kind === 'alb',
  });
  const catalog = parseCatalog({
    appName: 'tps-gitops',
    services: { [app.name]: serviceFor(app, kind, gitops ? { gitops: 'flux' } : {}) },
  });
  const svc = catalog.services[app.name]!;
  const w: Workloads = kubeWorkloads(svc, restrictedClients());
  const plan = await w.cluster.recordPlan(ns, app.name);
  return { app, w, plan, target: releaseTarget(app, NEW_IMAGES, `gitops-${seq}`) };
}

/** The objects a release changes, read as admin. */
async function objects(kind: Kind, app: AppFixture): Promise<Record<string, k8s.V1ObjectMeta | undefined>> {
  const { apps, core, networking } = adminApis();
  const out: Record<string, k8s.V1ObjectMeta | undefined> = {
    deployment: (await apps.readNamespacedDeployment({ name: app.name, namespace: ns })).metadata,
    service: (await core.readNamespacedService({ name: app.service, namespace: ns })).metadata,
  };
  if (kind === 'alb') {
    out.ingress = (await networking.readNamespacedIngress({ name: app.ingress, namespace: ns })).metadata;
  }
  return out;
}

const fluxValue = (m: k8s.V1ObjectMeta | undefined) => m?.annotations?.[FLUX_RECONCILE_ANNOTATION] ?? null;

/** Whether field manager `manager` owns annotation `key` of the object. */
function owns(m: k8s.V1ObjectMeta | undefined, manager: string, key: string): boolean {
  return (m?.managedFields ?? []).some(
    (f) =>
      f.manager === manager &&
      Object.hasOwn(
        ((f.fieldsV1 as Record<string, Record<string, Record<string, unknown>>>)?.['f:metadata']?.[
          'f:annotations'
        ] ?? {}) as Record<string, unknown>,
        `f:${key}`,
      ),
  );
}

describe.each(['replica-ratio', 'alb'] as const)('%s router, gitops flux', (kind) => {
  test.each(['clean up', 'roll back'] as const)(
    'the first shift tells Flux to stand off every object the release changes; %s frees them, last',
    async (end) => {
      const { app, w, plan, target } = await setup(kind, true);
      const shift = await w.router.setWeight(target, plan, 10);
      expect(shift.detail).toMatch(
        /flux told to stand off \(kustomize\.toolkit\.fluxcd\.io\/reconcile: disabled\)/,
      );
      const during = await objects(kind, app);
      for (const [what, meta] of Object.entries(during)) {
        expect({
          what,
          value: fluxValue(meta),
          ours: owns(meta, 'tps-deploy', FLUX_RECONCILE_ANNOTATION),
        }).toEqual({
          what,
          value: 'disabled',
          ours: true,
        });
      }
      // A second shift leaves them as they are (no second write).
      const second = await w.router.setWeight(target, plan, 50);
      expect(second.detail).not.toMatch(/flux told to stand off/);
      const report =
        end === 'clean up' ? await w.router.finalize(target, plan) : await w.router.rollback(target, plan);
      expect(report.leftovers).toEqual([]);
      expect(report.actions.at(-1)).toMatch(/^flux reconciles again deployment /);
      const after = await objects(kind, app);
      for (const [what, meta] of Object.entries(after)) {
        expect({
          what,
          value: fluxValue(meta),
          marker: meta?.annotations?.[STAND_OFF_MARKER] ?? null,
        }).toEqual({
          what,
          value: null,
          marker: null,
        });
      }
    },
  );

  test('an opt-out someone else set (from Git) is left as it is through the whole release', async () => {
    const { app, w, plan, target } = await setup(kind, true);
    await adminApis().apps.patchNamespacedDeployment(
      {
        name: app.name,
        namespace: ns,
        fieldManager: 'kustomize-controller',
        body: { metadata: { annotations: { [FLUX_RECONCILE_ANNOTATION]: 'disabled' } } },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await w.router.setWeight(target, plan, 50);
    await w.router.finalize(target, plan);
    const dep = (await objects(kind, app)).deployment;
    expect(fluxValue(dep)).toBe('disabled');
    expect(dep?.annotations?.[STAND_OFF_MARKER]).toBeUndefined();
    expect(owns(dep, 'tps-deploy', FLUX_RECONCILE_ANNOTATION)).toBe(false);
  });
});

test('without gitops in the catalog nothing is annotated', async () => {
  const { app, w, plan, target } = await setup('replica-ratio', false);
  await w.router.setWeight(target, plan, 10);
  for (const meta of Object.values(await objects('replica-ratio', app))) expect(fluxValue(meta)).toBeNull();
  await w.router.rollback(target, plan);
});

describe('an object another release or a person already opted out', () => {
  const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

  test('an Ingress another service’s release holds (shared Ingress): this release joins and leaves; the opt-out stays for the other', async () => {
    const { app, w, plan, target } = await setup('alb', true);
    await adminApis().networking.patchNamespacedIngress(
      {
        name: app.ingress,
        namespace: ns,
        fieldManager: 'tps-deploy',
        body: {
          metadata: {
            annotations: {
              [FLUX_RECONCILE_ANNOTATION]: 'disabled',
              [STAND_OFF_MARKER]: 'flux:other-service',
            },
          },
        },
      },
      merge,
    );
    const shift = await w.router.setWeight(target, plan, 10);
    expect(shift.detail).toMatch(/ingress \S+ \(also held by other-service\)/);
    expect((await objects('alb', app)).ingress?.annotations?.[STAND_OFF_MARKER]).toBe(
      `flux:${app.name},other-service`,
    );
    const report = await w.router.finalize(target, plan);
    expect(report.actions.join('; ')).toMatch(/still held by other-service/);
    const after = await objects('alb', app);
    expect(fluxValue(after.ingress)).toBe('disabled');
    expect(after.ingress?.annotations?.[STAND_OFF_MARKER]).toBe('flux:other-service');
    // The objects only this release held are freed.
    expect(fluxValue(after.deployment)).toBeNull();
  });

  test('a value other than disabled set by someone else is left, and the shift says Flux may revert the release there', async () => {
    const { app, w, plan, target } = await setup('replica-ratio', true);
    await adminApis().core.patchNamespacedService(
      {
        name: app.service,
        namespace: ns,
        fieldManager: 'kustomize-controller',
        body: { metadata: { annotations: { [FLUX_RECONCILE_ANNOTATION]: 'enabled' } } },
      },
      merge,
    );
    const shift = await w.router.setWeight(target, plan, 10);
    expect(shift.detail).toMatch(
      new RegExp(
        `service ${app.service} has kustomize.toolkit.fluxcd.io/reconcile: enabled, set by someone else: left as it is, so Flux may revert this release there`,
      ),
    );
    await w.router.rollback(target, plan);
    expect(fluxValue((await objects('replica-ratio', app)).service)).toBe('enabled');
  });

  test('gitops removed from the catalog mid-release: the rollback still frees what the release held', async () => {
    const held = await setup('replica-ratio', true);
    await held.w.router.setWeight(held.target, held.plan, 10);
    const catalog = parseCatalog({
      appName: 'tps-gitops',
      services: { [held.app.name]: serviceFor(held.app, 'replica-ratio') },
    });
    const plain = kubeWorkloads(catalog.services[held.app.name]!, restrictedClients());
    await plain.router.rollback(held.target, held.plan);
    for (const meta of Object.values(await objects('replica-ratio', held.app)))
      expect(fluxValue(meta)).toBeNull();
  });
});

describe('the leftover report', () => {
  test('an opt-out set again for the service after Roll Back freed it (a shift in flight) is a leftover; the retry frees it', async () => {
    const { app, plan, target } = await setup('replica-ratio', true);
    const catalog = parseCatalog({
      appName: 'tps-gitops',
      services: { [app.name]: serviceFor(app, 'replica-ratio', { gitops: 'flux' }) },
    });
    const svc = catalog.services[app.name]!;
    // The moment Roll Back's last unannotate (the Service's) is answered, a shift still in flight
    // (another caller, its own clients) tells Flux to stand off again, before the report is read.
    let raced = false;
    const shiftInFlight = async () => {
      raced = true;
      await holdGitOps(restrictedClients(), ns, app.name, [
        { kind: 'Deployment', name: app.name },
        { kind: 'Service', name: app.service },
      ]);
    };
    let armed = false;
    const race = {
      pre: async (ctx: k8s.RequestContext) => {
        const unannotate = `${ctx.getBody() ?? ''}`.includes(`"${FLUX_RECONCILE_ANNOTATION}":null`);
        if (
          ctx.getHttpMethod() === 'PATCH' &&
          unannotate &&
          ctx.getUrl().includes(`/services/${app.service}`)
        )
          armed = true;
        return ctx;
      },
      post: async (res: k8s.ResponseContext) => {
        if (armed && !raced) await shiftInFlight();
        return res;
      },
    };
    const racing = kubeWorkloads(
      svc,
      createKubeClients(restrictedKubeConfig(), { baseDelayMs: 50, maxDelayMs: 1000 }, undefined, [race]),
    );
    await racing.router.setWeight(target, plan, 10);
    const report = await racing.router.rollback(target, plan);
    expect(raced).toBe(true);
    expect(report.leftovers).toEqual([
      `deployment/${app.name} still tells flux to stand off (${FLUX_RECONCILE_ANNOTATION}: disabled, ${STAND_OFF_MARKER}: flux:${app.name})`,
      `service/${app.service} still tells flux to stand off (${FLUX_RECONCILE_ANNOTATION}: disabled, ${STAND_OFF_MARKER}: flux:${app.name})`,
    ]);
    // The retry (the state machine's, or the next caller's) frees them and reports nothing left.
    const again = await racing.router.rollback(target, plan);
    expect(again.leftovers).toEqual([]);
    for (const meta of Object.values(await objects('replica-ratio', app))) expect(fluxValue(meta)).toBeNull();
  });

  test('an opt-out someone else set is no leftover', async () => {
    const { app, w, plan, target } = await setup('replica-ratio', true);
    await adminApis().core.patchNamespacedService(
      {
        name: app.service,
        namespace: ns,
        fieldManager: 'kustomize-controller',
        body: { metadata: { annotations: { [FLUX_RECONCILE_ANNOTATION]: 'disabled' } } },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await w.router.setWeight(target, plan, 10);
    const report = await w.router.rollback(target, plan);
    expect(report.leftovers).toEqual([]);
    expect(fluxValue((await objects('replica-ratio', app)).service)).toBe('disabled');
  });
});

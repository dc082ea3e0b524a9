/**
 * The runbook end to end: the synthesized state machine, run by aws-local-stepfunctions with the
 * real step code, acting on the local control plane as the restricted identity, with dynalite as
 * the deployments table and synthetic traffic on a virtual clock.
 */
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, jest, test } from '@jest/globals';
import {
  CANARY_SUFFIX,
  K8S_ANNOTATIONS,
  K8S_LABELS,
  RELEASE_VERSION_ENV,
} from '../../functions/adapters/kubernetes/labels.js';
import type { ServiceConfigInput } from '../../functions/domain/config.js';
import { adminApis, deleteNamespace, liveTemplate, OLD_IMAGES, podsBySelector } from '../helpers/k8s.js';
import { type ReleaseFixture, type RouterKind, releaseFixture } from '../helpers/release.js';

jest.setTimeout(180_000);

const NEW = { api: 'registry.local/shop/api:v2', sidecar: 'registry.local/shop/proxy:1.1' };

const fixtures: ReleaseFixture[] = [];
afterAll(async () => {
  for (const f of fixtures.splice(0)) {
    await f.env.stop();
    await deleteNamespace(f.app.namespace);
  }
});

/**
 * These tests are about traffic and rollback: the services skip the team lead's approval and
 * always have someone on call, and every release carries passing attestations, so the gates pass
 * (the gates and the approval have their own tests in runbook-*.test.ts).
 */
const RUNBOOK_OFF = {
  approval: false,
  onCall: {
    schedule: [
      { who: 'e2e', days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '00:00', end: '24:00' },
    ],
  },
} as const;
const ATTESTED = { attestations: { testsPassed: true, reviewers: ['alice', 'bob'] } };

async function fixture(router: RouterKind, opts: Parameters<typeof releaseFixture>[2] = {}) {
  const f = await releaseFixture(router === 'alb' ? 'e2e-alb' : 'e2e-rr', router, {
    ...opts,
    service: { ...RUNBOOK_OFF, ...opts.service } as Partial<ServiceConfigInput>,
  });
  fixtures.push(f);
  return f;
}

/** Everything in the namespace that a release could have created or changed. */
async function clusterState(f: ReleaseFixture) {
  const { apps, core, networking } = adminApis();
  const ns = f.app.namespace;
  const deployments = (await apps.listNamespacedDeployment({ namespace: ns })).items;
  const services = (await core.listNamespacedService({ namespace: ns })).items;
  const ingresses = (await networking.listNamespacedIngress({ namespace: ns })).items;
  const dep = deployments.find((d) => d.metadata?.name === f.app.name);
  return {
    deployments: deployments.map((d) => d.metadata?.name).sort(),
    services: services.map((s) => s.metadata?.name).sort(),
    selector: services.find((s) => s.metadata?.name === f.app.service)?.spec?.selector,
    serviceAnnotations: services.find((s) => s.metadata?.name === f.app.service)?.metadata?.annotations ?? {},
    ingressAnnotations: ingresses[0]?.metadata?.annotations ?? null,
    replicas: dep?.spec?.replicas,
    images: Object.fromEntries((dep?.spec?.template.spec?.containers ?? []).map((c) => [c.name, c.image])),
    resourceVersion: dep?.metadata?.resourceVersion,
    managedObjects: [
      ...deployments.filter((d) => d.metadata?.labels?.[K8S_LABELS.managedBy] === 'tps-deploy'),
      ...services.filter((s) => s.metadata?.labels?.[K8S_LABELS.managedBy] === 'tps-deploy'),
    ].map((o) => o.metadata?.name),
  };
}

async function tableItems(f: ReleaseFixture): Promise<number> {
  const out = await f.env.dynamo.client.send(new ScanCommand({ TableName: f.env.tableName }));
  return out.Count ?? 0;
}

/*
 * Each test has its own namespace, app, table and virtual clock, and spends its time waiting for
 * the cluster: a router's tests run side by side (test.concurrent), and their fixtures go at the end.
 */
describe.each<RouterKind>(['replica-ratio', 'alb'])('release with the %s router', (router) => {
  test.concurrent('a healthy image is promoted through canary, staging and production; nothing is left', async () => {
    const f = await fixture(router);
    const before = await clusterState(f);
    const run = await f.env.run({
      ...ATTESTED,
      service: 'shop',
      images: NEW,
      requestedBy: 'e2e',
      changeRef: 'CHG-1',
    });
    expect(run.cause).toBeNull();
    expect(run.status).toBe('SUCCEEDED');
    expect(run.states).toEqual(
      expect.arrayContaining([
        'Validate Input',
        'Record Rollback Plan',
        'Shift 10% To Canary',
        'Canary Validation Window',
        'Validate Canary',
        'Shift 50% To Staging',
        'Validate Staging',
        'Shift 100% To Production',
        'Validate Production',
        'Clean Up',
        'Released',
      ]),
    );
    expect(run.states).not.toContain('Roll Back');
    const rec = run.record!;
    expect(rec.outcome).toBe('SUCCEEDED');
    expect(rec.previousImage).toBe(OLD_IMAGES.api);
    expect(rec.finalImage).toBe(NEW.api);
    expect(rec.phases.map((p) => [p.name, p.weight, p.verdict])).toEqual([
      ['canary', 10, 'pass'],
      ['staging', 50, 'pass'],
      ['production', 100, 'pass'],
    ]);
    for (const p of rec.phases) {
      const d = p.decisions.at(-1)!;
      expect(d.canary?.requests).toBeGreaterThan(0);
      expect(d.checks.map((c) => c.name)).toContain('pods');
    }
    // Virtual time covered the runbook's windows: 10 + 15 + 5 minutes at least.
    expect(run.virtualSeconds).toBeGreaterThanOrEqual(1800);

    const after = await clusterState(f);
    expect(after.images).toEqual(NEW);
    // Clean Up wrote the version into the template: label, annotation and TPS_RELEASE_VERSION.
    const template = (await liveTemplate(f.app.namespace, f.app.name)) as {
      metadata: { labels: Record<string, string>; annotations: Record<string, string> };
      spec: { containers: { name: string; env?: { name: string }[] }[] };
    };
    expect(template.metadata.labels[K8S_LABELS.version]).toBe('v2');
    expect(template.metadata.annotations[K8S_ANNOTATIONS.version]).toBe('v2');
    for (const c of template.spec.containers)
      expect(c.env?.filter((e) => e.name === RELEASE_VERSION_ENV)).toHaveLength(1);
    expect(after.replicas).toBe(before.replicas);
    expect(after.deployments).toEqual(before.deployments);
    expect(after.services).toEqual(before.services);
    expect(after.selector).toEqual(before.selector);
    expect(after.serviceAnnotations).toEqual(before.serviceAnnotations);
    expect(after.ingressAnnotations).toEqual(before.ingressAnnotations);
    expect(after.managedObjects).toEqual([]);
    const pods = await podsBySelector(f.app.namespace, `app=${f.app.name}`);
    expect(pods.filter((p) => !p.terminating && p.ready)).toHaveLength(4);
    expect(pods.some((p) => p.labels[K8S_LABELS.track] === 'canary' && !p.terminating)).toBe(false);
    // The lock is released: the service can be released again.
    expect(await f.env.store.active('shop')).toBeNull();
  });

  test.concurrent('a crashing image is rolled back at the canary to exactly the recorded template', async () => {
    const f = await fixture(router);
    const template = await liveTemplate(f.app.namespace, f.app.name);
    const before = await clusterState(f);
    const run = await f.env.run({
      ...ATTESTED,
      service: 'shop',
      images: { ...NEW, api: 'registry.local/shop/api:v2-crash' },
    });
    expect(run.status).toBe('FAILED');
    expect(run.error).toBe('ReleaseRolledBack');
    expect(run.cause).toMatch(/CrashLoopBackOff|restarts/);
    expect(run.states).not.toContain('Shift 50% To Staging');
    const rec = run.record!;
    expect(rec.outcome).toBe('ROLLED_BACK');
    expect(rec.rollback?.phase).toBe('canary');
    expect(rec.rollback?.trigger).toBe('state-machine');
    expect(rec.finalImage).toBe(OLD_IMAGES.api);
    expect(await liveTemplate(f.app.namespace, f.app.name)).toEqual(template);
    const after = await clusterState(f);
    expect(after.deployments).toEqual(before.deployments);
    expect(after.services).toEqual(before.services);
    expect(after.selector).toEqual(before.selector);
    expect(after.ingressAnnotations).toEqual(before.ingressAnnotations);
    expect(after.replicas).toBe(before.replicas);
  });

  test.concurrent("a person's Deployment of the canary's name fails the release before traffic moves; it is never touched", async () => {
    const f = await fixture(router);
    const ns = f.app.namespace;
    const name = `${f.app.name}${CANARY_SUFFIX}`;
    const labels = { app: 'someone-elses-tool' };
    const { apps } = adminApis();
    const person = await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name, labels },
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: { containers: [{ name: 'tool', image: 'registry.local/tool:1' }] },
          },
        },
      },
    });
    const template = await liveTemplate(ns, f.app.name);
    const before = await clusterState(f);
    const run = await f.env.run({ ...ATTESTED, service: 'shop', images: NEW });
    expect(run.status).toBe('FAILED');
    expect(run.error).toBe('ReleaseRolledBack');
    expect(run.cause).toMatch(
      new RegExp(`^UnmanagedObjectError: deployment ${ns}/${name} exists and tps-deploy did not create it`),
    );
    expect(run.record?.rollback?.reason).toContain(`deployment ${ns}/${name} exists`);
    expect(run.states).not.toContain('Check Canary Pods Ready');
    const kept = await apps.readNamespacedDeployment({ name, namespace: ns });
    expect(kept.metadata?.uid).toBe(person.metadata?.uid);
    expect(kept.metadata?.generation).toBe(person.metadata?.generation);
    expect(kept.metadata?.deletionTimestamp).toBeUndefined();
    expect(await liveTemplate(ns, f.app.name)).toEqual(template);
    const after = await clusterState(f);
    expect(after.deployments).toEqual(before.deployments);
    expect(after.services).toEqual(before.services);
    expect(after.selector).toEqual(before.selector);
    expect(after.ingressAnnotations).toEqual(before.ingressAnnotations);
    expect(after.replicas).toBe(before.replicas);
  });

  test.concurrent('an image that never becomes Ready is rolled back when its readiness deadline passes', async () => {
    const f = await fixture(router, { service: { readinessTimeoutSeconds: 60 } });
    const template = await liveTemplate(f.app.namespace, f.app.name);
    const run = await f.env.run({
      ...ATTESTED,
      service: 'shop',
      images: { ...NEW, api: 'registry.local/shop/api:v2-unready' },
    });
    expect(run.status).toBe('FAILED');
    expect(run.error).toBe('ReleaseRolledBack');
    expect(run.cause).toMatch(/readiness deadline of 60 s passed/);
    expect(run.record?.rollback?.phase).toBe('canary');
    expect(await liveTemplate(f.app.namespace, f.app.name)).toEqual(template);
    expect((await clusterState(f)).managedObjects).toEqual([]);
  });

  test.concurrent('an error-rate regression that shows only in staging is rolled back at staging', async () => {
    const f = await fixture(router, {
      profile: {
        name: 'staging-regression',
        seed: 7,
        rps: 200,
        versions: {
          stable: { errorRate: 0.0002, latency: { p50Ms: 50, p99Ms: 180 } },
          // Clean through the canary window (0-600 s), then 1.5% errors once staging runs: at 50%
          // of the traffic the service fails 0.76%, under the error-rate alarm's 1% (which the
          // local CloudWatch evaluates), so the staging window's verdict is what catches it.
          canary: {
            errorRate: [
              { from: 0, value: 0.0002 },
              { from: 700, value: 0.015 },
            ],
            latency: { p50Ms: 50, p99Ms: 180 },
          },
        },
      },
    });
    const template = await liveTemplate(f.app.namespace, f.app.name);
    const run = await f.env.run({ ...ATTESTED, service: 'shop', images: NEW });
    expect(run.status).toBe('FAILED');
    expect(run.error).toBe('ReleaseRolledBack');
    const rec = run.record!;
    expect(rec.phases.map((p) => [p.name, p.verdict])).toEqual([
      ['canary', 'pass'],
      ['staging', 'fail'],
    ]);
    expect(rec.rollback?.phase).toBe('staging');
    const failing = rec.phases[1]!.decisions.at(-1)!;
    const errorCheck = failing.checks.find((c) => c.verdict === 'fail')!;
    expect(errorCheck.detail).toMatch(/%/);
    expect(failing.canary!.errorRate!).toBeGreaterThan(0.01);
    expect(await liveTemplate(f.app.namespace, f.app.name)).toEqual(template);
    expect((await clusterState(f)).managedObjects).toEqual([]);
  });

  test.concurrent('too little traffic is inconclusive, never a pass: the window is extended once, then fails safe', async () => {
    const f = await fixture(router, {
      profile: {
        name: 'trickle',
        seed: 11,
        // 0.5 rps for the whole service: the canary sees far fewer requests than the minimum sample.
        rps: 0.5,
        versions: {
          stable: { errorRate: 0, latency: { p50Ms: 50, p99Ms: 180 } },
          canary: { errorRate: 0, latency: { p50Ms: 50, p99Ms: 180 } },
        },
      },
    });
    const template = await liveTemplate(f.app.namespace, f.app.name);
    const run = await f.env.run({ ...ATTESTED, service: 'shop', images: NEW });
    expect(run.cause).toMatch(/ValidationInconclusive/);
    expect(run.status).toBe('FAILED');
    expect(run.error).toBe('ReleaseRolledBack');
    expect(run.states).toContain('Extend Canary Window');
    expect(run.states).toContain('Canary Inconclusive');
    expect(run.states).not.toContain('Shift 50% To Staging');
    const canary = run.record!.phases[0]!;
    expect(canary.decisions.map((d) => d.verdict)).toEqual(['inconclusive', 'inconclusive']);
    expect(canary.decisions[0]!.canary!.requests).toBeLessThan(200);
    expect(run.record!.rollback?.reason).toMatch(/ValidationInconclusive/);
    expect(await liveTemplate(f.app.namespace, f.app.name)).toEqual(template);
  });

  test.concurrent('a second deployment of the same service while one runs is refused without touching anything', async () => {
    const f = await fixture(router);
    const first = f.env.run(
      { ...ATTESTED, service: 'shop', images: NEW },
      { speed: 150, executionName: 'first', waitMs: { 'Post-Deployment Watch': 50 } },
    );
    // Wait until the first release is in its canary window.
    for (let i = 0; i < 200; i++) {
      const rec = await f.env.store.get('shop', 'first');
      if (rec?.phases.some((p) => p.name === 'canary')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const canaryBefore = await clusterState(f);
    expect(canaryBefore.deployments).toContain(`${f.app.name}${CANARY_SUFFIX}`);
    const second = await f.env.run(
      { ...ATTESTED, service: 'shop', images: { ...NEW, api: 'registry.local/shop/api:v3' } },
      { executionName: 'second' },
    );
    expect(second.status).toBe('FAILED');
    expect(second.error).toBe('DeploymentInProgressError');
    expect(second.cause).toMatch(/being deployed by first/);
    expect(second.record).toBeNull();
    const { apps } = adminApis();
    const canary = await apps.readNamespacedDeployment({
      name: `${f.app.name}${CANARY_SUFFIX}`,
      namespace: f.app.namespace,
    });
    expect(canary.spec?.template.spec?.containers.map((c) => c.image)).not.toContain(
      'registry.local/shop/api:v3',
    );
    expect(canary.metadata?.labels?.[K8S_LABELS.deploymentId]).toBe('first');
    const done = await first;
    expect(done.status).toBe('SUCCEEDED');
  });

  test.concurrent('a malformed input is refused naming every bad field, with zero writes to cluster and table', async () => {
    const f = await fixture(router);
    const before = await clusterState(f);
    const items = await tableItems(f);
    const run = await f.env.run({
      ...ATTESTED,
      service: 'shop',
      images: { api: 'Not An Image!', nosuch: 'registry.local/x:v1' },
      mode: 'yolo',
      colour: 'blue',
    } as never);
    expect(run.status).toBe('FAILED');
    expect(run.error).toBe('InvalidInputError');
    for (const field of ['images.api', 'images.nosuch', 'mode', 'colour']) expect(run.cause).toContain(field);
    expect(run.states).toEqual(['Validate Input']);
    expect(await tableItems(f)).toBe(items);
    const after = await clusterState(f);
    expect(after).toEqual(before);
  });
});

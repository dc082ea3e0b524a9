/**
 * Alarm-driven rollback on the local cluster. Alarm events in the documented EventBridge shape
 * (test/fixtures/alarm-events) go through the step code the alarmRollback Lambda runs
 * (STEPS.alarmRollback) with the local environment's ports: the restricted identity on the local
 * control plane, dynalite as the deployments table, the local executor (whose stop() aborts a
 * running execution, as StopExecution does), the collecting notifier and the local latency alarms.
 */

import { readFileSync } from 'node:fs';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, jest, test } from '@jest/globals';
import { FLUX_RECONCILE_ANNOTATION, STAND_OFF_MARKER } from '../../functions/adapters/kubernetes/gitops.js';
import { CANARY_SUFFIX, K8S_LABELS } from '../../functions/adapters/kubernetes/labels.js';
import { alarmName } from '../../functions/domain/alarms.js';
import type { ServiceConfigInput } from '../../functions/domain/config.js';
import { RUNBOOK } from '../../functions/domain/defaults.js';
import { ERROR_NAMES } from '../../functions/domain/errors.js';
import type { ReleasePlan } from '../../functions/domain/input.js';
import type { ReleasePorts } from '../../functions/ports/release.js';
import type { AlarmOutcome } from '../../functions/release/alarm.js';
import { STEPS } from '../../functions/release/registry.js';
import { asOf } from '../../local/alarm-event.js';
import type { LocalEnvironment } from '../../local/environment.js';
import { adminApis, deleteNamespace, liveTemplate, OLD_IMAGES, podsBySelector } from '../helpers/k8s.js';
import { type ReleaseFixture, type RouterKind, releaseFixture } from '../helpers/release.js';

jest.setTimeout(240_000);

const NEW = { api: 'registry.local/shop/api:v2', sidecar: 'registry.local/shop/proxy:1.1' };
/** A release that passes the runbook's gates: tested, two reviewers. */
const INPUT = {
  service: 'shop',
  images: NEW,
  requestedBy: 'e2e',
  changeRef: 'CHG-7',
  attestations: { testsPassed: true, reviewers: ['alice', 'bob'] },
};
/** Someone on call around the clock, and no approval step: the release goes straight on. */
const GATED_SERVICE = {
  approval: false,
  onCall: {
    schedule: [
      {
        who: 'oncall@example.com',
        days: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'],
        start: '00:00',
        end: '24:00',
      },
    ],
  },
} satisfies Partial<ServiceConfigInput>;
const LATENCY_ALARM = alarmName('tps-test', 'shop', 'latency');
const ERROR_RATE_ALARM = alarmName('tps-test', 'shop', 'errorRate');
/** The latency alarm as the stack configures it: the multiplier x the service's 300 ms SLO. */
const CONFIGURED_P99_THRESHOLD = RUNBOOK.rollbackTriggers.p99BaselineMultiplier * 300;

type AlarmEventJson = {
  id: string;
  resources: string[];
  detail: {
    alarmName: string;
    state: { value: string; reason: string; reasonData?: string; timestamp: string };
  };
};

const FIXTURES = new URL('../fixtures/alarm-events/', import.meta.url);
function event(name: string): AlarmEventJson {
  return JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8')) as AlarmEventJson;
}

const fixtures: ReleaseFixture[] = [];
afterEach(async () => {
  for (const f of fixtures.splice(0)) {
    await f.env.stop();
    await deleteNamespace(f.app.namespace);
  }
});

async function fixture(
  router: RouterKind = 'replica-ratio',
  opts: Parameters<typeof releaseFixture>[2] = {},
) {
  const f = await releaseFixture(router === 'alb' ? 'alarm-alb' : 'alarm-rr', router, {
    ...opts,
    service: { ...GATED_SERVICE, ...opts.service },
  });
  fixtures.push(f);
  return f;
}

/**
 * The environment's ports, with every StopExecution call written down before it goes to the real
 * local implementation (which aborts the local execution).
 */
function recordingPorts(f: ReleaseFixture) {
  const stopped: { executionArn: string; cause: string }[] = [];
  const ports: ReleasePorts = {
    ...f.env.ports,
    executions: {
      status: (arn) => f.env.ports.executions.status(arn),
      async stop(executionArn, cause) {
        stopped.push({ executionArn, cause });
        await f.env.ports.executions.stop(executionArn, cause);
      },
    },
  };
  return { ports, stopped };
}

/** One delivery to the alarmRollback function: the event crosses a JSON boundary, as from EventBridge. */
async function deliver(ports: ReleasePorts, ev: unknown): Promise<AlarmOutcome> {
  return (await STEPS.alarmRollback(ports, JSON.parse(JSON.stringify(ev)))) as AlarmOutcome;
}

/**
 * Starts a release at `speed` (virtual seconds per real second) and resolves once the execution
 * waits in the canary's validation window: the canary is up, Ready and taking traffic.
 */
function releaseInCanaryWindow(f: ReleaseFixture, executionName: string, speed: number) {
  return releaseUntil(f, executionName, speed, 'Canary Validation Window');
}

/** Starts a release and resolves once the execution has entered the Wait state `waitState`. */
async function releaseUntil(f: ReleaseFixture, executionName: string, speed: number, waitState: string) {
  const entered: string[] = [];
  const run: ReturnType<LocalEnvironment['run']> = f.env.run(INPUT, {
    speed,
    executionName,
    onState: (name) => entered.push(name),
  });
  let settled = false;
  void run.finally(() => {
    settled = true;
  });
  for (let i = 0; i < 4800 && !entered.includes(waitState); i++) {
    if (settled) throw new Error(`release ended before "${waitState}": ${entered.join(' -> ')}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  if (!entered.includes(waitState)) throw new Error(`"${waitState}" never reached`);
  const record = (await f.env.store.get('shop', executionName))!;
  return { run, record, entered };
}

/** Everything in the namespace a release or a rollback could change (spec and metadata, not status). */
async function clusterState(f: ReleaseFixture) {
  const { apps, core, networking } = adminApis();
  const ns = f.app.namespace;
  const deployments = (await apps.listNamespacedDeployment({ namespace: ns })).items;
  const services = (await core.listNamespacedService({ namespace: ns })).items;
  const ingresses = (await networking.listNamespacedIngress({ namespace: ns })).items;
  const managed = (labels?: Record<string, string>) => labels?.[K8S_LABELS.managedBy] === 'tps-deploy';
  return {
    deployments: deployments
      .map((d) => ({
        name: d.metadata?.name,
        generation: d.metadata?.generation,
        annotations: d.metadata?.annotations ?? {},
        spec: JSON.parse(JSON.stringify(d.spec)) as unknown,
      }))
      .sort((a, b) => String(a.name).localeCompare(String(b.name))),
    services: services
      .map((s) => ({
        name: s.metadata?.name,
        selector: s.spec?.selector,
        annotations: s.metadata?.annotations ?? {},
      }))
      .sort((a, b) => String(a.name).localeCompare(String(b.name))),
    ingressAnnotations: ingresses.map((i) => i.metadata?.annotations ?? {}),
    managedObjects: [
      ...deployments.filter((d) => managed(d.metadata?.labels)),
      ...services.filter((s) => managed(s.metadata?.labels)),
    ]
      .map((o) => o.metadata?.name)
      .sort(),
  };
}

/** Every item of the deployments table (locks, records, plans, claims), in key order. */
async function tableItems(f: ReleaseFixture) {
  const out = await f.env.dynamo.client.send(
    new ScanCommand({ TableName: f.env.tableName, ConsistentRead: true }),
  );
  return (out.Items ?? []).map((i) => JSON.stringify(i, Object.keys(i).sort())).sort();
}

function kinds(f: ReleaseFixture): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of f.env.notifier.notifications) out[n.kind] = (out[n.kind] ?? 0) + 1;
  return out;
}

describe.each<RouterKind>(['replica-ratio', 'alb'])(
  'a critical alarm during the canary (%s router)',
  (router) => {
    test('stops the execution, restores the recorded template and the p99 alarm, and records the alarm; 3 deliveries, 1 rollback', async () => {
      const f = await fixture(router);
      const template = await liveTemplate(f.app.namespace, f.app.name);
      const before = await clusterState(f);
      const { run, record } = await releaseInCanaryWindow(f, 'alarmed', 100);

      // In the canary window: the canary runs beside the stable version, and the p99 alarm is armed
      // at 3x the baseline p99 measured by "Record Rollback Plan".
      const during = await clusterState(f);
      expect(during.deployments.map((d) => d.name)).toContain(`${f.app.name}${CANARY_SUFFIX}`);
      const baselineP99 = record.baseline?.p99Ms;
      expect(baselineP99).toBeGreaterThan(0);
      const armed = Math.round(RUNBOOK.rollbackTriggers.p99BaselineMultiplier * baselineP99! * 1000) / 1000;
      expect(f.env.alarmThresholds.threshold('shop')).toBe(armed);
      expect(armed).not.toBe(CONFIGURED_P99_THRESHOLD);
      expect(record.events.map((e) => e.message)).toContainEqual(
        expect.stringContaining(`latency alarm ${LATENCY_ALARM}: threshold ${armed} ms`),
      );
      const lock = await f.env.store.active('shop');
      expect(lock?.deploymentId).toBe('alarmed');
      expect(lock?.executionArn).toMatch(/:execution:.*:alarmed$/);
      expect(await f.env.store.getPlan('shop', 'alarmed')).toMatchObject({ template });

      // The same event, delivered three times (EventBridge delivers at least once, and retries).
      const { ports, stopped } = recordingPorts(f);
      const alarmEvent = asOf(event('latency-alarm.json'), f.env.clock.now());
      const outcomes: AlarmOutcome[] = [];
      for (let i = 0; i < 3; i++) outcomes.push(await deliver(ports, alarmEvent));
      expect(outcomes.map((o) => o.action)).toEqual([
        'rolled-back',
        'already-rolled-back',
        'already-rolled-back',
      ]);
      expect(outcomes.every((o) => o.service === 'shop' && o.deploymentId === 'alarmed')).toBe(true);

      // The execution recorded in the lock was stopped, once, and ended ABORTED, not in "Roll Back".
      expect(stopped.map((s) => s.executionArn)).toEqual([lock!.executionArn]);
      expect(stopped[0]!.cause).toContain(LATENCY_ALARM);
      const done = await run;
      expect(done.executionArn).toBe(lock!.executionArn);
      expect(done.status).toBe('ABORTED');
      expect(done.states).not.toContain('Validate Canary');
      expect(done.states).not.toContain('Roll Back');

      // The cluster is back at the recorded template; nothing of the release is left.
      expect(await liveTemplate(f.app.namespace, f.app.name)).toEqual(template);
      const after = await clusterState(f);
      expect(after.managedObjects).toEqual([]);
      expect(after.deployments.map((d) => d.name)).toEqual(before.deployments.map((d) => d.name));
      expect(after.services).toEqual(before.services);
      expect(after.ingressAnnotations).toEqual(before.ingressAnnotations);
      const main = after.deployments.find((d) => d.name === f.app.name)!;
      expect((main.spec as { replicas: number }).replicas).toBe(
        (before.deployments.find((d) => d.name === f.app.name)!.spec as { replicas: number }).replicas,
      );
      const pods = await podsBySelector(f.app.namespace, `app=${f.app.name}`);
      expect(pods.some((p) => p.labels[K8S_LABELS.track] === 'canary' && !p.terminating)).toBe(false);

      // The record: rolled back by the alarm, with its name, reason and reasonData, exactly once.
      const rec = (await f.env.store.get('shop', 'alarmed'))!;
      expect(rec.outcome).toBe('ROLLED_BACK');
      expect(rec.finalImage).toBe(OLD_IMAGES.api);
      expect(rec.rollback).toMatchObject({
        trigger: `alarm:${LATENCY_ALARM}`,
        phase: 'canary',
        alarm: {
          name: LATENCY_ALARM,
          reason: alarmEvent.detail.state.reason,
          reasonData: alarmEvent.detail.state.reasonData,
        },
      });
      expect(rec.rollback?.reason).toContain(alarmEvent.detail.state.reason);
      expect(rec.phases.map((p) => [p.name, p.verdict])).toEqual([['canary', 'fail']]);
      const messages = rec.events.map((e) => e.message);
      expect(messages.filter((m) => m.startsWith('rolled back by '))).toEqual([
        expect.stringContaining(`rolled back by alarm:${LATENCY_ALARM}`),
      ]);
      expect(messages).toContain(`latency alarm ${LATENCY_ALARM} back at its configured threshold`);

      // One rollback notification, no "not rolling back" alarm notification for the duplicates.
      expect(f.env.notifier.ofKind('rollback')).toHaveLength(1);
      expect(f.env.notifier.ofKind('rollback')[0]!.subject).toContain(`alarm:${LATENCY_ALARM}`);
      expect(f.env.notifier.ofKind('alarm')).toHaveLength(0);

      // The lock is released and the p99 alarm is back at its configured threshold.
      expect(await f.env.store.active('shop')).toBeNull();
      expect(f.env.alarmThresholds.threshold('shop')).toBe(CONFIGURED_P99_THRESHOLD);
      expect(f.env.alarmThresholds.changes.map((c) => c.threshold)).toEqual([
        armed,
        CONFIGURED_P99_THRESHOLD,
      ]);
    });
  },
);

describe('alarm events', () => {
  test('the same metric-math alarm event delivered 3 times at once: one rollback, one notification, all succeed', async () => {
    const f = await fixture();
    const template = await liveTemplate(f.app.namespace, f.app.name);
    const { run } = await releaseInCanaryWindow(f, 'burst', 100);
    const lock = (await f.env.store.active('shop'))!;
    const { ports, stopped } = recordingPorts(f);
    const alarmEvent = asOf(event('error-rate-alarm.json'), f.env.clock.now());

    const outcomes = await Promise.all([1, 2, 3].map(() => deliver(ports, alarmEvent)));

    expect(outcomes.map((o) => o.action).sort()).toEqual([
      'already-rolled-back',
      'already-rolled-back',
      'rolled-back',
    ]);
    expect(new Set(stopped.map((s) => s.executionArn))).toEqual(new Set([lock.executionArn]));
    expect((await run).status).toBe('ABORTED');
    expect(await liveTemplate(f.app.namespace, f.app.name)).toEqual(template);
    expect((await clusterState(f)).managedObjects).toEqual([]);
    const rec = (await f.env.store.get('shop', 'burst'))!;
    expect(rec.outcome).toBe('ROLLED_BACK');
    expect(rec.rollback).toMatchObject({
      trigger: `alarm:${ERROR_RATE_ALARM}`,
      alarm: { name: ERROR_RATE_ALARM, reasonData: alarmEvent.detail.state.reasonData },
    });
    expect(rec.events.filter((e) => e.message.startsWith('rolled back by '))).toHaveLength(1);
    expect(f.env.notifier.ofKind('rollback')).toHaveLength(1);
    expect(f.env.notifier.ofKind('alarm')).toHaveLength(0);
    expect(await f.env.store.active('shop')).toBeNull();
    expect(f.env.alarmThresholds.threshold('shop')).toBe(CONFIGURED_P99_THRESHOLD);
  });

  test('outside any deployment a critical alarm only notifies; OK, INSUFFICIENT_DATA and other alarms are ignored; nothing is written', async () => {
    const f = await fixture();
    const { ports, stopped } = recordingPorts(f);
    const cluster = await clusterState(f);
    const items = await tableItems(f);

    await expect(deliver(ports, event('latency-alarm.json'))).resolves.toEqual({
      action: 'notified',
      service: 'shop',
      deploymentId: null,
      detail: 'no deployment is active',
    });
    expect(f.env.notifier.notifications).toEqual([
      expect.objectContaining({
        kind: 'alarm',
        service: 'shop',
        deploymentId: null,
        subject: `shop: ${LATENCY_ALARM} in ALARM (critical); not rolling back`,
      }),
    ]);
    expect(f.env.notifier.notifications[0]!.message).toContain(
      event('latency-alarm.json').detail.state.reason,
    );

    for (const name of [
      'latency-ok.json',
      'latency-insufficient-data.json',
      'documented-single-metric.json',
      'documented-metric-math.json',
    ]) {
      await expect(deliver(ports, event(name))).resolves.toMatchObject({
        action: 'ignored',
        deploymentId: null,
      });
    }
    expect(f.env.notifier.notifications).toHaveLength(1);
    expect(stopped).toEqual([]);
    expect(await tableItems(f)).toEqual(items);
    expect(await clusterState(f)).toEqual(cluster);
    expect(f.env.alarmThresholds.changes).toEqual([]);
  });

  test('during a canary, a warning only notifies and ignored or malformed events change nothing; the release completes and the p99 alarm is restored', async () => {
    // A 5-minute post-deployment watch keeps the run short; the watch itself is tested below.
    const f = await fixture('replica-ratio', { service: { watchSeconds: 300 } });
    // 100x: the canary window lasts 6 s of real time; the events below take well under one.
    const { run, record } = await releaseInCanaryWindow(f, 'calm', 100);
    const armed = f.env.alarmThresholds.threshold('shop');
    expect(armed).toBe(
      Math.round(RUNBOOK.rollbackTriggers.p99BaselineMultiplier * record.baseline!.p99Ms! * 1000) / 1000,
    );
    const { ports, stopped } = recordingPorts(f);
    const cluster = await clusterState(f);
    const items = await tableItems(f);
    const notified = kinds(f);

    // The state change back to OK, missing data, another app's alarms (the documented examples,
    // and an alarm named like ours under another appName).
    const otherApp = event('latency-alarm.json');
    otherApp.detail.alarmName = 'other-app-shop-latency';
    otherApp.resources = ['arn:aws:cloudwatch:us-east-1:123456789012:alarm:other-app-shop-latency'];
    const ignored = await Promise.all(
      [
        event('latency-ok.json'),
        event('latency-insufficient-data.json'),
        event('documented-single-metric.json'),
        event('documented-metric-math.json'),
        otherApp,
      ].map((ev) => deliver(ports, ev)),
    );
    expect(ignored.map((o) => [o.action, o.detail])).toEqual([
      ['ignored', `${LATENCY_ALARM} is OK`],
      ['ignored', `${LATENCY_ALARM} is INSUFFICIENT_DATA`],
      ['ignored', 'ServerCpuTooHigh is not a tps-test alarm'],
      ['ignored', 'TotalNetworkTrafficTooHigh is not a tps-test alarm'],
      ['ignored', 'other-app-shop-latency is not a tps-test alarm'],
    ]);

    // A malformed event: refused, naming every bad field.
    const refused = deliver(ports, event('malformed.json'));
    await expect(refused).rejects.toMatchObject({ name: ERROR_NAMES.invalidInput });
    const message = await refused.catch((e: Error) => e.message);
    for (const field of [
      'detail-type',
      'source',
      'resources',
      'detail.alarmName',
      'detail.state.value',
      'detail.state.timestamp',
    ]) {
      expect(message).toContain(`${field}:`);
    }

    expect(await tableItems(f)).toEqual(items);
    expect(kinds(f)).toEqual(notified);

    // The metrics-missing warning during the deployment: a notification naming the deployment.
    await expect(deliver(ports, event('metrics-missing-alarm.json'))).resolves.toEqual({
      action: 'notified',
      service: 'shop',
      deploymentId: 'calm',
      detail: 'severity warning',
    });
    const warning = f.env.notifier.ofKind('alarm');
    expect(warning).toEqual([
      expect.objectContaining({
        deploymentId: 'calm',
        subject: `shop: ${alarmName('tps-test', 'shop', 'metricsMissing')} in ALARM (warning); not rolling back`,
      }),
    ]);

    // Nothing else happened: no stop, no write, the cluster as it was, the alarm still armed.
    expect(stopped).toEqual([]);
    expect(await tableItems(f)).toEqual(items);
    expect(await clusterState(f)).toEqual(cluster);
    expect(f.env.alarmThresholds.threshold('shop')).toBe(armed);

    // The release carries on to the end; completing it puts the configured p99 threshold back.
    const done = await run;
    expect(done.status).toBe('SUCCEEDED');
    const rec = done.record!;
    expect(rec.outcome).toBe('SUCCEEDED');
    expect(rec.rollback).toBeNull();
    expect(f.env.notifier.ofKind('rollback')).toHaveLength(0);
    expect(rec.events.map((e) => e.message)).toContain(
      `latency alarm ${LATENCY_ALARM} back at its configured threshold`,
    );
    expect(f.env.alarmThresholds.threshold('shop')).toBe(CONFIGURED_P99_THRESHOLD);
    expect(f.env.alarmThresholds.changes.map((c) => c.threshold)).toEqual([armed, CONFIGURED_P99_THRESHOLD]);
  });
});

describe('a critical alarm during the post-deployment watch', () => {
  test('rolls the released version back to the recorded template, with the watch as the phase', async () => {
    const f = await fixture();
    const template = await liveTemplate(f.app.namespace, f.app.name);
    // 500x: the phases pass in seconds; the hour's watch lasts 7 s of real time.
    const { run } = await releaseUntil(f, 'watched', 500, 'Post-Deployment Watch');
    const lock = (await f.env.store.active('shop'))!;
    expect(lock.stage).toBe('watching');
    // The new version serves all traffic, the canary is gone, the p99 alarm is still armed.
    expect((await liveTemplate(f.app.namespace, f.app.name)) as unknown).not.toEqual(template);
    expect((await clusterState(f)).managedObjects).toEqual([]);
    expect(f.env.alarmThresholds.threshold('shop')).not.toBe(CONFIGURED_P99_THRESHOLD);

    const { ports, stopped } = recordingPorts(f);
    const outcome = await deliver(ports, asOf(event('latency-alarm.json'), f.env.clock.now()));
    expect(outcome).toMatchObject({ action: 'rolled-back', deploymentId: 'watched' });
    expect(stopped.map((s) => s.executionArn)).toEqual([lock.executionArn]);
    const done = await run;
    expect(done.status).toBe('ABORTED');
    expect(done.states).not.toContain('Stand Down');
    expect(done.states).not.toContain('Complete Release');

    expect(await liveTemplate(f.app.namespace, f.app.name)).toEqual(template);
    expect((await clusterState(f)).managedObjects).toEqual([]);
    const rec = (await f.env.store.get('shop', 'watched'))!;
    expect(rec.outcome).toBe('ROLLED_BACK');
    expect(rec.finalImage).toBe(OLD_IMAGES.api);
    expect(rec.rollback).toMatchObject({ trigger: `alarm:${LATENCY_ALARM}`, phase: 'watch' });
    expect(rec.phases.map((p) => p.verdict)).toEqual(['pass', 'pass', 'pass']);
    expect(f.env.notifier.ofKind('rollback')).toHaveLength(1);
    expect(await f.env.store.active('shop')).toBeNull();
    expect(f.env.alarmThresholds.threshold('shop')).toBe(CONFIGURED_P99_THRESHOLD);
  });
});

describe('the p99 alarm threshold at the ends of a release', () => {
  /** "Validate Input" and "Record Rollback Plan" as the state machine runs them, with the environment's ports. */
  async function recordRollbackPlan(f: ReleaseFixture, executionName: string) {
    const plan = (await STEPS.validateInput(f.env.ports, {
      input: INPUT,
      executionName,
      executionArn: `arn:aws:states:local:000000000000:execution:tps-it:${executionName}`,
    })) as ReleasePlan;
    await STEPS.beginRelease(f.env.ports, {
      plan,
      executionArn: `arn:aws:states:local:000000000000:execution:tps-deploy:${executionName}`,
      executionStartTime: '2026-12-04T10:00:00.000Z',
    });
    return plan;
  }

  test('a release that fails after "Record Rollback Plan" puts the configured threshold back', async () => {
    const f = await fixture();
    const plan = await recordRollbackPlan(f, 'failing');
    const armed = f.env.alarmThresholds.threshold('shop');
    expect(armed).not.toBe(CONFIGURED_P99_THRESHOLD);
    expect(armed).toBe(
      Math.round(
        RUNBOOK.rollbackTriggers.p99BaselineMultiplier *
          (await f.env.store.get('shop', 'failing'))!.baseline!.p99Ms! *
          1000,
      ) / 1000,
    );

    await STEPS.failRelease(f.env.ports, {
      plan,
      failure: { Error: ERROR_NAMES.storeUnavailable, Cause: 'table throttled' },
    });

    expect(f.env.alarmThresholds.threshold('shop')).toBe(CONFIGURED_P99_THRESHOLD);
    const rec = (await f.env.store.get('shop', 'failing'))!;
    expect(rec.outcome).toBe('FAILED');
    expect(rec.events.map((e) => e.message)).toContain(
      `latency alarm ${LATENCY_ALARM} back at its configured threshold`,
    );
    expect(await f.env.store.active('shop')).toBeNull();
  });

  test('without a baseline p99 the alarm keeps its configured threshold, and the record says why', async () => {
    const f = await fixture('replica-ratio', {
      profile: {
        name: 'no-traffic-before',
        seed: 11,
        // Nothing served before, nor in the first minute of, the release: no baseline to measure
        // (the baseline window ends when "Record Rollback Plan" measures, just after the start).
        rps: [
          { from: -100_000, value: 0 },
          { from: 60, value: 200 },
        ],
        versions: {
          stable: { errorRate: 0.0002, latency: { p50Ms: 50, p99Ms: 180 } },
          canary: { errorRate: 0.0002, latency: { p50Ms: 50, p99Ms: 180 } },
        },
      },
    });
    const plan = await recordRollbackPlan(f, 'unmeasured');
    const rec = (await f.env.store.get('shop', 'unmeasured'))!;
    expect(rec.baseline?.p99Ms).toBeNull();
    expect(rec.events.map((e) => e.message)).toContain(
      `latency alarm ${LATENCY_ALARM} left at its configured threshold: no baseline p99 was measured (no stable traffic before the release)`,
    );
    expect(f.env.alarmThresholds.threshold('shop')).toBe(CONFIGURED_P99_THRESHOLD);
    expect(f.env.alarmThresholds.changes).toEqual([]);

    await STEPS.failRelease(f.env.ports, { plan, failure: { Error: 'Test', Cause: 'end of test' } });
    expect(f.env.alarmThresholds.changes).toEqual([]);
  });
});

describe('a critical alarm during the canary of a service with gitops: flux (alb router)', () => {
  test("the alarm's rollback removes the Flux opt-out and tps-deploy's marker from every object the release held", async () => {
    const f = await fixture('alb', { service: { gitops: 'flux' } });
    const { run } = await releaseInCanaryWindow(f, 'alarmed-flux', 100);
    const { apps, core, networking } = adminApis();
    const ns = f.app.namespace;
    const metas = async () => ({
      deployment: (await apps.readNamespacedDeployment({ name: f.app.name, namespace: ns })).metadata,
      service: (await core.readNamespacedService({ name: f.app.service, namespace: ns })).metadata,
      ingress: (await networking.readNamespacedIngress({ name: f.app.ingress, namespace: ns })).metadata,
    });
    const flux = (m: { annotations?: Record<string, string> } | undefined) => ({
      value: m?.annotations?.[FLUX_RECONCILE_ANNOTATION] ?? null,
      marker: m?.annotations?.[STAND_OFF_MARKER] ?? null,
    });
    const during = await metas();
    for (const meta of Object.values(during))
      expect(flux(meta)).toEqual({ value: 'disabled', marker: 'flux:shop' });

    const { ports } = recordingPorts(f);
    const outcome = await deliver(ports, asOf(event('latency-alarm.json'), f.env.clock.now()));
    expect(outcome.action).toBe('rolled-back');
    expect((await run).status).toBe('ABORTED');
    const after = await metas();
    expect(Object.fromEntries(Object.entries(after).map(([k, m]) => [k, flux(m)]))).toEqual({
      deployment: { value: null, marker: null },
      service: { value: null, marker: null },
      ingress: { value: null, marker: null },
    });
    const rec = await f.env.store.get('shop', 'alarmed-flux');
    expect(rec?.outcome).toBe('ROLLED_BACK');
    expect(rec?.rollback?.trigger).toBe(`alarm:${LATENCY_ALARM}`);
  });
});

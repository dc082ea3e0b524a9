/**
 * A person stops a running release (console, CLI, API): Step Functions runs no Catch, so the
 * ExecutionStopped rule's function cleans up. Locally, LocalEnvironment.run does what the rule
 * does when an execution ends ABORTED.
 */
import { afterAll, describe, expect, jest, test } from '@jest/globals';
import { FLUX_RECONCILE_ANNOTATION, STAND_OFF_MARKER } from '../../functions/adapters/kubernetes/gitops.js';
import { CANARY_SUFFIX } from '../../functions/adapters/kubernetes/labels.js';
import { parseExecutionInput } from '../../functions/domain/input.js';
import { STATE_MACHINE_TRIGGER } from '../../functions/domain/record.js';
import { beginRelease } from '../../functions/release/begin.js';
import { STEPS } from '../../functions/release/registry.js';
import { shiftTraffic } from '../../functions/release/shift.js';
import { adminApis, eventually, liveTemplate } from '../helpers/k8s.js';
import { ATTESTED, closeFixtures, NEW_IMAGES, recordWhen, runbookFixture } from '../helpers/runbook.js';

jest.setTimeout(180_000);
afterAll(closeFixtures);

describe('an execution stopped by a person', () => {
  test('leaves the service on its recorded version and the record says who stopped it', async () => {
    const f = await runbookFixture('stopped', { approval: false });
    const template = await liveTemplate(f.app.namespace, f.app.name);
    const running = f.env.run(
      { service: 'shop', images: NEW_IMAGES, ...ATTESTED },
      { speed: 100, executionName: 'stopme' },
    );
    await recordWhen(f, 'stopme', 'the canary phase', (r) => r.phases.some((p) => p.name === 'canary'));
    const { apps } = adminApis();
    const canary = await apps.readNamespacedDeployment({
      name: `${f.app.name}${CANARY_SUFFIX}`,
      namespace: f.app.namespace,
    });
    expect(canary.metadata?.name).toBeDefined();

    // The person's StopExecution.
    const arn = await activeArn(f);
    expect([...f.env.executors.values()].some((ex) => ex.stop(arn))).toBe(true);
    const result = await running;
    expect(result.status).toBe('ABORTED');
    const rec = result.record!;
    expect(rec.outcome).toBe('ROLLED_BACK');
    expect(rec.rollback?.trigger).toBe('person:execution-stopped');
    expect(rec.rollback?.reason).toMatch(/stopped by a person/);
    expect(await liveTemplate(f.app.namespace, f.app.name)).toEqual(template);
    const names = (await apps.listNamespacedDeployment({ namespace: f.app.namespace })).items.map(
      (d) => d.metadata?.name,
    );
    expect(names).toEqual([f.app.name]);
    expect(await f.env.store.active('shop')).toBeNull();

    // A second delivery of the same event changes nothing.
    const again = (await STEPS.executionStopped(f.env.ports, {
      'detail-type': 'Step Functions Execution Status Change',
      source: 'aws.states',
      detail: {
        executionArn: result.executionArn,
        stateMachineArn: `arn:aws:states:us-east-1:123456789012:stateMachine:${f.env.catalog.appName}-shop`,
        name: 'stopme',
        status: 'ABORTED',
      },
    })) as { action: string };
    expect(again.action).toBe('nothing-to-do');
  });
});

describe('an execution of a service with gitops: flux stopped by a person', () => {
  test("the execution-stopped rollback removes the Flux opt-out and tps-deploy's marker the release set", async () => {
    const f = await runbookFixture('stopped-flux', { approval: false, gitops: 'flux' });
    const running = f.env.run(
      { service: 'shop', images: NEW_IMAGES, ...ATTESTED },
      { speed: 100, executionName: 'stopflux' },
    );
    await recordWhen(f, 'stopflux', 'the canary phase', (r) => r.phases.some((p) => p.name === 'canary'));
    const { apps, core } = adminApis();
    const ns = f.app.namespace;
    const flux = async () => {
      const dep = (await apps.readNamespacedDeployment({ name: f.app.name, namespace: ns })).metadata;
      const svc = (await core.readNamespacedService({ name: f.app.service, namespace: ns })).metadata;
      return [dep, svc].map((m) => [
        m?.annotations?.[FLUX_RECONCILE_ANNOTATION] ?? null,
        m?.annotations?.[STAND_OFF_MARKER] ?? null,
      ]);
    };
    // The canary phase is recorded as the shift starts: its opt-out follows within the step.
    await eventually(
      'the shift to tell Flux to stand off',
      async () =>
        JSON.stringify(await flux()) ===
        JSON.stringify([
          ['disabled', 'flux:shop'],
          ['disabled', 'flux:shop'],
        ]),
    );
    const arn = await activeArn(f);
    expect([...f.env.executors.values()].some((ex) => ex.stop(arn))).toBe(true);
    const result = await running;
    expect(result.status).toBe('ABORTED');
    expect(result.record?.rollback?.trigger).toBe('person:execution-stopped');
    expect(await flux()).toEqual([
      [null, null],
      [null, null],
    ]);
  });
});

async function activeArn(f: Awaited<ReturnType<typeof runbookFixture>>): Promise<string> {
  const lock = await f.env.store.active('shop');
  if (!lock?.executionArn) throw new Error('no running execution recorded in the lock');
  return lock.executionArn;
}

describe('an execution whose "Roll Back" claimed and then failed', () => {
  test('the status-change cleanup takes the dead claim over, rolls back and records it once', async () => {
    const f = await runbookFixture('claimdied', { approval: false });
    const template = await liveTemplate(f.app.namespace, f.app.name);
    const plan = parseExecutionInput(
      { service: 'shop', images: NEW_IMAGES, ...ATTESTED },
      f.env.catalog,
      'died',
    );
    await beginRelease(f.env.ports, { plan, executionArn: null });
    await shiftTraffic(f.env.ports, { plan, phase: 'canary', weight: 10 });
    // "Roll Back" claimed, then failed before it changed or recorded anything (e.g. a 403 from a
    // restarted API server); the execution ended FAILED.
    expect(await f.env.store.claimRollback('shop', 'died', STATE_MACHINE_TRIGGER)).toBe(true);
    const event = {
      'detail-type': 'Step Functions Execution Status Change',
      source: 'aws.states',
      detail: {
        executionArn: 'arn:aws:states:us-east-1:123456789012:execution:tps-test-shop:died',
        stateMachineArn: `arn:aws:states:us-east-1:123456789012:stateMachine:${f.env.catalog.appName}-shop`,
        name: 'died',
        status: 'FAILED',
        error: 'RollbackFailed',
      },
    };
    const out = (await STEPS.executionStopped(f.env.ports, event)) as { action: string };
    expect(out.action).toBe('rolled-back');
    const rec = await f.env.store.get('shop', 'died');
    expect(rec?.outcome).toBe('ROLLED_BACK');
    expect(rec?.rollback?.trigger).toBe('execution-failed');
    expect(rec?.events.filter((e) => e.message.startsWith('rolled back by'))).toHaveLength(1);
    expect(await liveTemplate(f.app.namespace, f.app.name)).toEqual(template);
    expect(await f.env.store.active('shop')).toBeNull();
    expect(f.env.notifier.notifications.filter((n) => n.kind === 'rollback')).toHaveLength(1);
    const again = (await STEPS.executionStopped(f.env.ports, event)) as { action: string };
    expect(again.action).toBe('nothing-to-do');
  });
});

/**
 * A person stops a running release (console, CLI, API): Step Functions runs no Catch, so the
 * ExecutionStopped rule's function cleans up. Locally, LocalEnvironment.run does what the rule
 * does when an execution ends ABORTED.
 */
import { afterAll, describe, expect, jest, test } from '@jest/globals';
import { CANARY_SUFFIX } from '../../functions/domain/defaults.js';
import { STEPS } from '../../functions/release/registry.js';
import { adminApis, liveTemplate } from '../helpers/k8s.js';
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

async function activeArn(f: Awaited<ReturnType<typeof runbookFixture>>): Promise<string> {
  const lock = await f.env.store.active('shop');
  if (!lock?.executionArn) throw new Error('no running execution recorded in the lock');
  return lock.executionArn;
}

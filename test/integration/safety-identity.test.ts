/**
 * A release never acts on another release (issue #13, section 1): an execution name Step
 * Functions lets a new execution reuse (90 days after the old one) is refused before anything
 * changes, the old record and the cluster stay as they were, and the reused name's status-change
 * cleanup leaves the old record alone. A genuine retry of the same execution still goes on.
 */
import { ERROR_NAMES } from '../../functions/domain/errors.js';
import { handleExecutionStopped } from '../../functions/release/stopped.js';
import { adminApis } from '../helpers/k8s.js';
import { ATTESTED, closeFixtures, NEW_IMAGES, releasedAs, runbookFixture } from '../helpers/runbook.js';

afterAll(closeFixtures);

describe('a reused execution name', () => {
  test('is refused at Check Gates: no cluster change, the old record and its audit untouched', async () => {
    const f = await runbookFixture('reuse', { approval: false });
    const name = `reuse-${Date.now().toString(36)}`;
    const _first = await releasedAs(f, name, { requestedBy: 'first' });
    const oldRecord = await f.env.store.get('shop', name);
    const deployment = await adminApis().apps.readNamespacedDeployment({
      name: 'shop',
      namespace: f.app.namespace,
    });

    const reused = await f.env.run(
      {
        ...ATTESTED,
        service: 'shop',
        images: { api: 'registry.local/shop/api:v3', sidecar: 'registry.local/shop/proxy:1.2' },
        requestedBy: 'second',
      },
      { executionName: name, speed: 100_000 },
    );
    expect(reused.status).toBe('FAILED');
    expect(reused.error).toBe(ERROR_NAMES.deploymentIdInUse);
    expect(reused.cause).toContain(`deployment id ${name} of shop belongs to another execution`);
    expect(reused.states).toEqual(['Validate Input', 'Check Gates']);
    // The old release's audit record is exactly as it was; nothing on the cluster moved.
    expect(await f.env.store.get('shop', name)).toEqual(oldRecord);
    const after = await adminApis().apps.readNamespacedDeployment({
      name: 'shop',
      namespace: f.app.namespace,
    });
    expect(after.metadata?.resourceVersion).toBe(deployment.metadata?.resourceVersion);
    expect(await f.env.store.active('shop')).toBeNull();
    expect(f.env.undelivered).toEqual([]);
  });

  test("the reused name's status-change cleanup never rolls the other execution's release back", async () => {
    const f = await runbookFixture('reuse-clean', { approval: false });
    const name = `reuse-c-${Date.now().toString(36)}`;
    const first = await releasedAs(f, name);
    // Make the old record look unfinished, as if its own cleanup were still owed: the event of a
    // later execution with the same name must still not touch it.
    const rec = (await f.env.store.get('shop', name))!;
    await f.env.store.put({ ...rec, outcome: 'RUNNING' });
    const outcome = await handleExecutionStopped(f.env.ports, {
      'detail-type': 'Step Functions Execution Status Change',
      source: 'aws.states',
      detail: {
        executionArn: first.executionArn,
        stateMachineArn: 'arn:aws:states:local:000000000000:stateMachine:tps-test-shop',
        name,
        status: 'FAILED',
        startDate: Date.parse(first.executionStartTime!) + 90 * 86_400_000,
      },
    });
    expect(outcome.action).toBe('ignored');
    expect(outcome.detail).toContain('belongs to execution');
    expect((await f.env.store.get('shop', name))?.outcome).toBe('RUNNING');
    const live = await adminApis().apps.readNamespacedDeployment({
      name: 'shop',
      namespace: f.app.namespace,
    });
    expect(live.spec?.template.spec?.containers.find((c) => c.name === 'api')?.image).toBe(NEW_IMAGES.api);
  });
});

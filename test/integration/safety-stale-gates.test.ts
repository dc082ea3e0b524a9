/**
 * Gates do not go stale during the approval wait (issue #13, section 5): what can change while a
 * team lead takes their time (an alarm, a freeze, the on-call rota) is judged again after the
 * approval and before the first shift; a failing re-check rejects the release with its evidence
 * and nothing on the cluster changes.
 */
import { alarmName } from '../../functions/domain/alarms.js';
import { ERROR_NAMES } from '../../functions/domain/errors.js';
import { answerPending } from '../../functions/release/approval.js';
import { adminApis } from '../helpers/k8s.js';
import { ATTESTED, closeFixtures, NEW_IMAGES, recordWhen, runbookFixture } from '../helpers/runbook.js';

afterAll(closeFixtures);

test('an alarm that fires during the approval wait rejects the release at the recheck', async () => {
  const f = await runbookFixture('stale-gates');
  const name = `stale-${Date.now().toString(36)}`;
  const before = await adminApis().apps.readNamespacedDeployment({
    name: 'shop',
    namespace: f.app.namespace,
  });
  const run = f.env.run({ ...ATTESTED, service: 'shop', images: NEW_IMAGES }, { executionName: name });
  await recordWhen(f, name, 'the approval request', (r) => !!r.pendingApproval);
  const oom = alarmName('tps-test', 'shop', 'oomKills');
  f.env.alarmStates.set(oom, 'ALARM', 'Threshold Crossed: 1 datapoint [1.0] was greater than 0.0');
  await answerPending(f.env.ports, { service: 'shop', deploymentId: name, yes: true, by: 'lead' });
  const result = await run;

  expect(result.status).toBe('FAILED');
  expect(result.error).toBe(ERROR_NAMES.gateFailed);
  expect(result.cause).toContain('after the approval, 1 of 3 rechecked gates failed: monitoring');
  expect(result.cause).toContain(oom);
  expect(result.states).toContain('Recheck Gates');
  expect(result.states).not.toContain('Record Rollback Plan');
  const record = await f.env.store.get('shop', name);
  expect(record?.outcome).toBe('REJECTED');
  expect(record?.gates?.find((g) => g.name === 'monitoring (recheck)')).toMatchObject({ passed: false });
  expect(record?.gates?.find((g) => g.name === 'monitoring')).toMatchObject({ passed: true });
  expect(await f.env.store.active('shop')).toBeNull();
  const after = await adminApis().apps.readNamespacedDeployment({ name: 'shop', namespace: f.app.namespace });
  expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
});

test('with the gates still clear after the approval, the release goes on', async () => {
  const f = await runbookFixture('fresh-gates');
  const name = `fresh-${Date.now().toString(36)}`;
  const run = f.env.run(
    { ...ATTESTED, service: 'shop', images: NEW_IMAGES },
    { executionName: name, speed: 100_000 },
  );
  await recordWhen(f, name, 'the approval request', (r) => !!r.pendingApproval);
  await answerPending(f.env.ports, { service: 'shop', deploymentId: name, yes: true, by: 'lead' });
  const result = await run;
  expect(result.status).toBe('SUCCEEDED');
  expect(result.states.indexOf('Recheck Gates')).toBeGreaterThan(result.states.indexOf('Record Approval'));
  expect(result.states.indexOf('Record Rollback Plan')).toBeGreaterThan(
    result.states.indexOf('Recheck Gates'),
  );
});

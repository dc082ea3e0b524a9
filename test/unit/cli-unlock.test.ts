/**
 * `tps-deploy unlock --service S` (issue #13, section 2): frees a lock only when its release has
 * ended (DescribeExecution and the record, as the AWS API reference shapes them), records who did
 * it, and refuses while the release may still act.
 */
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import type { DynamoDbDeploymentStore } from '../../functions/adapters/aws/dynamodb-store.js';
import type { LocalDynamo } from '../helpers/dynalite.js';
import { cli, executionArn, record, tableFixture } from './cli-harness.js';

const sfn = mockClient(SFNClient);
let dynamo: LocalDynamo;
let store: DynamoDbDeploymentStore;

beforeAll(async () => {
  ({ dynamo, store } = await tableFixture());
});
afterAll(async () => {
  await dynamo.stop();
});
beforeEach(() => sfn.reset());

/** A release whose lock is held, with its execution in `status` (DescribeExecution). */
async function held(service: string, id: string, outcome: 'RUNNING' | 'SUCCEEDED', status: string) {
  const r = record({ service, deploymentId: id, outcome });
  await store.begin(r);
  await store.put({ ...(await store.get(service, id))!, outcome });
  sfn.on(DescribeExecutionCommand, { executionArn: executionArn(service, id) }).resolves({
    executionArn: executionArn(service, id),
    stateMachineArn: `arn:aws:states:us-east-1:123456789012:stateMachine:tps-test-${service}`,
    status: status as never,
    startDate: new Date('2026-11-20T10:00:00Z'),
  });
}

test('frees the lock a SUCCEEDED release left behind, and its record says who did it', async () => {
  await held('api', 'ul-1', 'SUCCEEDED', 'FAILED');
  const r = await cli(['unlock', '--service', 'api', '--reason', 'complete release could not free it'], {
    dynamo,
  });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('api: unlocked by tester; ul-1 ended SUCCEEDED and left its lock behind');
  expect(await store.active('api')).toBeNull();
  expect((await store.get('api', 'ul-1'))?.events.at(-1)?.message).toBe(
    'lock freed by tester (tps-deploy unlock): ul-1 ended SUCCEEDED and left its lock behind: complete release could not free it',
  );
});

test('refuses while the release runs, and for a release not yet rolled back, naming abort', async () => {
  await held('web', 'ul-2', 'RUNNING', 'RUNNING');
  const running = await cli(['unlock', '--service', 'web'], { dynamo });
  expect(running.code).toBe(1);
  expect(running.stderr).toContain('web is locked by ul-2 and was not unlocked: ul-2 is being released');
  expect((await store.active('web'))?.deploymentId).toBe('ul-2');

  sfn.reset();
  sfn.on(DescribeExecutionCommand).resolves({ status: 'ABORTED' } as never);
  const aborted = await cli(['unlock', '--service', 'web'], { dynamo });
  expect(aborted.code).toBe(1);
  expect(aborted.stderr).toContain('tps-deploy abort ul-2');
  expect((await store.active('web'))?.deploymentId).toBe('ul-2');
});

test('a service that is not locked: nothing to do', async () => {
  await store.release('api', 'ul-1');
  const r = await cli(['unlock', '--service', 'api'], { dynamo });
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('api: not locked; nothing to do');
  expect(sfn).not.toHaveReceivedCommand(DescribeExecutionCommand);
});

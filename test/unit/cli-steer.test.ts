import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import type { DynamoDbDeploymentStore } from '../../functions/adapters/aws/dynamodb-store.js';
import { ERROR_NAMES } from '../../functions/domain/errors.js';
import type { LocalDynamo } from '../helpers/dynalite.js';
import { cli, record, tableFixture } from './cli-harness.js';

const sfn = mockClient(SFNClient);
let dynamo: LocalDynamo;
let store: DynamoDbDeploymentStore;
const NOW = new Date('2026-11-20T10:30:00.000Z');
const TOKEN = 'AQCEAAAAKgAAAAMAAAAAAAAAAd1example-task-token';

beforeAll(async () => {
  ({ dynamo, store } = await tableFixture());
});
afterAll(async () => {
  await dynamo.stop();
});
beforeEach(() => {
  sfn.reset();
  // SendTaskSuccess / SendTaskFailure return an empty body on success.
  sfn.on(SendTaskSuccessCommand).resolves({});
  sfn.on(SendTaskFailureCommand).resolves({});
});

const steer = (argv: string[]) => cli(argv, { dynamo, io: { now: () => NOW } });
const pending = {
  requestedAt: '2026-11-20T10:20:00.000Z',
  expiresAt: '2026-11-20T11:20:00.000Z',
};

describe('approve and reject', () => {
  it('approve answers the stored task token with SendTaskSuccess', async () => {
    await store.put(record({ deploymentId: 'ap-1', pendingApproval: pending }));
    await store.saveTaskToken('api', 'ap-1', TOKEN);
    const r = await steer([
      'approve',
      'ap-1',
      '--requested-by',
      'lead@example.com',
      '--reason',
      'numbers look fine',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('api ap-1: approved by lead@example.com');
    const input = sfn.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input;
    expect(input.taskToken).toBe(TOKEN);
    expect(JSON.parse(input.output!)).toEqual({
      approved: true,
      by: 'lead@example.com',
      at: NOW.toISOString(),
      comment: 'numbers look fine',
    });
  });

  it('reject answers with SendTaskFailure and the error the state machine catches', async () => {
    await store.put(record({ deploymentId: 'ap-2', pendingApproval: pending }));
    await store.saveTaskToken('api', 'ap-2', TOKEN);
    const r = await steer(['reject', 'ap-2', '--reason', 'not during the sale']);
    expect(r.code).toBe(0);
    expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, {
      taskToken: TOKEN,
      error: ERROR_NAMES.approvalRejected,
      cause: 'rejected by tester: not during the sale',
    });
  });

  it('refuses when nothing waits for approval, or the release ended', async () => {
    await store.put(record({ deploymentId: 'ap-3' }));
    const none = await steer(['approve', 'ap-3']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/api\/ap-3 is not waiting for an answer \(outcome RUNNING\)/);
    await store.put(record({ deploymentId: 'ap-4', outcome: 'SUCCEEDED', pendingApproval: pending }));
    const ended = await steer(['reject', 'ap-4']);
    expect(ended.code).toBe(1);
    expect(ended.stderr).toMatch(/api\/ap-4 is not waiting for an answer \(outcome SUCCEEDED\)/);
    expect(sfn).not.toHaveReceivedCommand(SendTaskSuccessCommand);
    expect(sfn).not.toHaveReceivedCommand(SendTaskFailureCommand);
  });

  it('explains a token that is no longer open (TaskTimedOut)', async () => {
    await store.put(record({ deploymentId: 'ap-5', pendingApproval: pending }));
    await store.saveTaskToken('api', 'ap-5', TOKEN);
    sfn
      .on(SendTaskSuccessCommand)
      .rejects(Object.assign(new Error('Task Timed Out'), { name: 'TaskTimedOut', $fault: 'client' }));
    const r = await steer(['approve', 'ap-5']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /the request of ap-5 is no longer open \(TaskTimedOut\): answered already or timed out/,
    );
  });
});

describe('hold and promote', () => {
  it('hold writes the request into the record', async () => {
    await store.put(record({ deploymentId: 'h-1' }));
    const r = await steer([
      'hold',
      'h-1',
      '--requested-by',
      'sre@example.com',
      '--reason',
      'watch the queue',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/hold requested by sre@example.com.*tps-deploy promote h-1/);
    const stored = await store.get('api', 'h-1');
    expect(stored?.hold).toEqual({
      requestedBy: 'sre@example.com',
      at: NOW.toISOString(),
      reason: 'watch the queue',
      pending: null,
      decision: null,
    });
    expect(stored?.events.at(-1)?.message).toBe('hold requested by sre@example.com: watch the queue');
    const again = await steer(['hold', 'h-1']);
    expect(again.stdout).toMatch(/already on hold/);
  });

  it('promote answers a hold the release waits on with SendTaskSuccess; reject aborts one', async () => {
    await store.put(
      record({
        deploymentId: 'h-2',
        pendingApproval: { ...pending, phase: 'canary' },
        hold: {
          requestedBy: 'sre',
          at: NOW.toISOString(),
          reason: null,
          pending: { phase: 'canary', since: 'x', expiresAt: 'y', cause: 'requested' },
          decision: null,
        },
      }),
    );
    await store.saveTaskToken('api', 'h-2', TOKEN);
    const r = await steer(['promote', 'h-2']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('api h-2: hold at canary promoted by tester; the release goes on');
    const input = sfn.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input;
    expect(input.taskToken).toBe(TOKEN);
    expect(JSON.parse(input.output!)).toEqual({ approved: true, by: 'tester', at: NOW.toISOString() });
    const abort = await steer(['reject', 'h-2', '--reason', 'queue grows']);
    expect(abort.stdout).toContain('api h-2: hold at canary aborted by tester: queue grows; it rolls back');
    expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, {
      taskToken: TOKEN,
      error: ERROR_NAMES.approvalRejected,
      cause: 'rejected by tester: queue grows',
    });
  });

  it('promote withdraws a hold not yet waited on; refuses when nothing is held', async () => {
    await store.put(record({ deploymentId: 'h-3' }));
    await steer(['hold', 'h-3']);
    const r = await steer(['promote', 'h-3']);
    expect(r.code).toBe(0);
    expect(sfn).not.toHaveReceivedCommand(SendTaskSuccessCommand);
    expect((await store.get('api', 'h-3'))?.hold).toBeNull();
    const again = await steer(['promote', 'h-3']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/api h-3 is not on hold; nothing to promote/);
  });

  it('hold refuses a finished release', async () => {
    await store.put(record({ deploymentId: 'h-4', outcome: 'ROLLED_BACK' }));
    const r = await steer(['hold', 'h-4']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/already ended \(ROLLED_BACK\); nothing to hold/);
  });

  it('hold writes over the latest record, keeping what the pipeline wrote', async () => {
    await store.put(record({ deploymentId: 'h-5' }));
    // The pipeline adds an event between the CLI's lookup and its write: the CLI reads again.
    const stale = await store.get('api', 'h-5');
    stale!.events.push({ at: NOW.toISOString(), message: 'canary: 10% requested' });
    await store.put(stale!);
    await steer(['hold', 'h-5']);
    const stored = await store.get('api', 'h-5');
    expect(stored?.events.map((e) => e.message)).toEqual([
      'release requested',
      'canary: 10% requested',
      'hold requested by tester',
    ]);
  });
});

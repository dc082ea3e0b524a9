/**
 * hold, withdraw, stop (abort), rollback and unlock through the answer endpoint: the handler fed
 * function URL requests as Lambda delivers them with AuthType AWS_IAM (the verified caller in
 * requestContext.authorizer.iam), over a real table (dynalite). Step Functions (StopExecution,
 * DescribeExecution) and Lambda's Invoke of the rollback function are mocked: they cannot run here.
 * Each action: a listed principal acts and the record shows the verified ARN; a principal not in
 * the list gets 403 and nothing is written or sent.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DescribeExecutionCommand, SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import type { DynamoDbDeploymentStore } from '../../functions/adapters/aws/dynamodb-store.js';
import { LambdaRollbackRequests } from '../../functions/adapters/aws/lambda-rollback-requests.js';
import { SfnExecutions } from '../../functions/adapters/aws/sfn-executions.js';
import { SfnTaskTokens } from '../../functions/adapters/aws/task-tokens.js';
import { createFunctionLogger } from '../../functions/adapters/powertools/function-logger.js';
import { parseCatalog } from '../../functions/domain/config.js';
import { PERSON_ROLLBACK_SOURCE } from '../../functions/domain/person-rollback.js';
import type { DeploymentRecord } from '../../functions/domain/record.js';
import {
  type AnswerPorts,
  answerHandler,
  type FunctionUrlResponse,
} from '../../functions/handlers/answer-runtime.js';
import type { LocalDynamo } from '../helpers/dynalite.js';
import { signedUrlEvent } from '../helpers/function-url.js';
import { CATALOG, executionArn, record, tableFixture } from './cli-harness.js';

const ACCOUNT = '111122223333';
const LEAD = `arn:aws:sts::${ACCOUNT}:assumed-role/TeamLead/alice`;
const SRE = `arn:aws:sts::${ACCOUNT}:assumed-role/OnCall/sam`;
const DEV = `arn:aws:sts::${ACCOUNT}:assumed-role/Developer/dev`;
/** The requester under the lead's role: the same person. */
const DEV_AS_LEAD = `arn:aws:sts::${ACCOUNT}:assumed-role/TeamLead/dev`;
const NOW = new Date('2026-12-05T07:00:00.000Z');
const ROLLBACK_FUNCTION = 'tps-test-ExecutionStopped';

const catalog = parseCatalog({
  ...CATALOG,
  services: {
    ...CATALOG.services,
    api: {
      ...CATALOG.services.api!,
      duties: {
        approvers: [`arn:aws:iam::${ACCOUNT}:role/TeamLead`],
        aborters: [`arn:aws:iam::${ACCOUNT}:role/OnCall`],
        // Their trust policies fix the session name to the person's.
        personalSessionRoles: [
          `arn:aws:iam::${ACCOUNT}:role/TeamLead`,
          `arn:aws:iam::${ACCOUNT}:role/Developer`,
        ],
      },
    },
  },
});

const sfn = mockClient(SFNClient);
const lambda = mockClient(LambdaClient);
let dynamo: LocalDynamo;
let store: DynamoDbDeploymentStore;
let handler: ReturnType<typeof answerHandler>;
const logLines: string[] = [];

beforeAll(async () => {
  ({ dynamo, store } = await tableFixture());
  const ports: AnswerPorts = {
    catalog,
    store,
    taskTokens: new SfnTaskTokens({ client: new SFNClient({ region: 'us-east-1' }) }),
    clock: { now: () => NOW },
    executions: new SfnExecutions({ client: new SFNClient({ region: 'us-east-1' }) }),
    rollbackRequests: new LambdaRollbackRequests({
      client: new LambdaClient({ region: 'us-east-1' }),
      functionName: ROLLBACK_FUNCTION,
    }),
  };
  handler = answerHandler(
    () => ports,
    createFunctionLogger({ appName: 'tps-test', sink: (l) => logLines.push(l) }),
  );
});
afterAll(async () => {
  await dynamo.stop();
});
beforeEach(() => {
  sfn.reset();
  lambda.reset();
  sfn.on(StopExecutionCommand).resolves({ stopDate: NOW });
  sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' } as never);
  // Invoke with InvocationType Event: Lambda queues it and answers 202 (Lambda API reference).
  lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
});

const context = {
  functionName: 'TasksAnswer',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:TasksAnswer',
  memoryLimitInMB: '256',
  awsRequestId: 'req-1',
};

async function call(
  userArn: string,
  body: Record<string, unknown>,
): Promise<FunctionUrlResponse & { json: Record<string, unknown> }> {
  const r = await handler(signedUrlEvent(userArn, body), context);
  return { ...r, json: JSON.parse(r.body) as Record<string, unknown> };
}

async function running(id: string, over: Partial<DeploymentRecord> = {}): Promise<DeploymentRecord> {
  const r = record({
    deploymentId: id,
    requestedBy: DEV,
    requester: { principal: DEV, verified: true },
    ...over,
  });
  await store.put(r);
  return (await store.get('api', id))!;
}

/** The record as stored, to compare before and after a refused request. */
const stored = async (id: string) => JSON.stringify(await store.get('api', id));

/** The person's rollback events sent to the rollback function. */
const invoked = () =>
  lambda.commandCalls(InvokeCommand).map((c) => ({
    FunctionName: c.args[0].input.FunctionName,
    InvocationType: c.args[0].input.InvocationType,
    event: JSON.parse(new TextDecoder().decode(c.args[0].input.Payload as Uint8Array)) as unknown,
  }));

describe('hold and withdraw', () => {
  test('a lead holds a running release: the record names the verified ARN', async () => {
    await running('sh-1');
    const r = await call(LEAD, {
      service: 'api',
      deploymentId: 'sh-1',
      action: 'hold',
      reason: 'watch the queue',
    });
    expect(r.statusCode).toBe(200);
    expect(r.json).toMatchObject({ action: 'hold', effect: 'held', principal: LEAD });
    const rec = (await store.get('api', 'sh-1'))!;
    expect(rec.hold).toEqual({
      requestedBy: LEAD,
      at: NOW.toISOString(),
      reason: 'watch the queue',
      pending: null,
      decision: null,
    });
    expect(rec.events.at(-1)!.message).toBe(`hold requested by ${LEAD}: watch the queue`);
  });

  test('a principal not among the promoters or approvers gets 403; nothing is written', async () => {
    await running('sh-2');
    const before = await stored('sh-2');
    const r = await call(SRE, { service: 'api', deploymentId: 'sh-2', action: 'hold' });
    expect(r.statusCode).toBe(403);
    expect(r.json.error).toBe(
      `${SRE} is not among the promoters or approvers of api (catalog services.api.duties): may not hold`,
    );
    expect(await stored('sh-2')).toBe(before);
  });

  test('withdraw: a lead withdraws a hold not yet reached; the requester may not', async () => {
    await running('sh-3', {
      hold: { requestedBy: LEAD, at: NOW.toISOString(), reason: null, pending: null, decision: null },
    });
    const before = await stored('sh-3');
    const self = await call(DEV_AS_LEAD, { service: 'api', deploymentId: 'sh-3', action: 'withdraw' });
    expect(self.statusCode).toBe(403);
    expect(self.json.error).toMatch(/requested this release and may not withdraw its hold/);
    expect(await stored('sh-3')).toBe(before);

    const r = await call(LEAD, { service: 'api', deploymentId: 'sh-3', action: 'withdraw' });
    expect(r.statusCode).toBe(200);
    const rec = (await store.get('api', 'sh-3'))!;
    expect(rec.hold).toBeNull();
    expect(rec.events.at(-1)!.message).toBe(
      `hold withdrawn by ${LEAD} (verified) before the release reached it`,
    );
  });
});

describe('stop (abort)', () => {
  test('an aborter stops the execution; the cause and the record name the verified ARN', async () => {
    await running('st-1');
    const r = await call(SRE, {
      service: 'api',
      deploymentId: 'st-1',
      action: 'stop',
      reason: 'wrong build',
    });
    expect(r.statusCode).toBe(200);
    expect(r.json).toMatchObject({ action: 'stop', effect: 'stopped', principal: SRE });
    expect(sfn).toHaveReceivedCommandWith(StopExecutionCommand, {
      executionArn: executionArn('api', 'st-1'),
      cause: `aborted by ${SRE}: wrong build`,
    });
    expect(invoked()).toEqual([]);
    expect((await store.get('api', 'st-1'))!.events.at(-1)!.message).toBe(
      `abort by ${SRE} (verified): wrong build: execution stopped; the execution-stopped function rolls the release back`,
    );
  });

  test('a lead who is not an aborter gets 403; nothing is stopped or written', async () => {
    await running('st-2');
    const before = await stored('st-2');
    const r = await call(LEAD, { service: 'api', deploymentId: 'st-2', action: 'stop' });
    expect(r.statusCode).toBe(403);
    expect(r.json.error).toBe(
      `${LEAD} is not among the aborters of api (catalog services.api.duties): may not stop`,
    );
    expect(sfn).not.toHaveReceivedCommand(StopExecutionCommand);
    expect(sfn).not.toHaveReceivedCommand(DescribeExecutionCommand);
    expect(invoked()).toEqual([]);
    expect(await stored('st-2')).toBe(before);
  });

  test('a release whose execution ended without rolling back: the rollback function is invoked', async () => {
    await running('st-3');
    sfn.on(DescribeExecutionCommand).resolves({ status: 'FAILED' } as never);
    const r = await call(SRE, { service: 'api', deploymentId: 'st-3', action: 'stop' });
    expect(r.statusCode).toBe(200);
    expect(r.json.effect).toBe('rollback-requested');
    expect(sfn).not.toHaveReceivedCommand(StopExecutionCommand);
    expect(invoked()).toEqual([
      {
        FunctionName: ROLLBACK_FUNCTION,
        InvocationType: 'Event',
        event: {
          source: PERSON_ROLLBACK_SOURCE,
          'detail-type': 'Person Rollback Request',
          detail: { service: 'api', deploymentId: 'st-3', principal: SRE, reason: null, kind: 'abort' },
        },
      },
    ]);
  });

  test('a release that ended: 409, pointing at rollback', async () => {
    await running('st-4', { outcome: 'SUCCEEDED' });
    const r = await call(SRE, { service: 'api', deploymentId: 'st-4', action: 'stop' });
    expect(r.statusCode).toBe(409);
    expect(r.json.error).toMatch(/already ended \(SUCCEEDED\); nothing to abort.*rollback --service api/);
  });
});

describe('rollback and unlock', () => {
  test('an aborter rolls the latest release back through the rollback function; an outsider gets 403', async () => {
    await store.put(
      record({
        service: 'web',
        deploymentId: 'rb-0',
        startedAt: '2026-12-01T00:00:00.000Z',
        outcome: 'SUCCEEDED',
      }),
    );
    // web has no duties: nobody may roll it back through the endpoint.
    const none = await call(LEAD, { service: 'web', action: 'rollback' });
    expect(none.statusCode).toBe(403);
    expect(none.json.error).toMatch(/service web declares no approvers/);

    await running('rb-1', {
      outcome: 'SUCCEEDED',
      finalImage: 'repo/api:v2.0.0',
      startedAt: '2026-12-04T00:00:00.000Z',
    });
    const before = await stored('rb-1');
    const denied = await call(DEV, { service: 'api', action: 'rollback' });
    expect(denied.statusCode).toBe(403);
    expect(invoked()).toEqual([]);
    expect(await stored('rb-1')).toBe(before);

    const r = await call(SRE, { service: 'api', action: 'rollback', reason: 'customer reports' });
    expect(r.statusCode).toBe(200);
    expect(r.json).toMatchObject({ deploymentId: 'rb-1', effect: 'rollback-requested', principal: SRE });
    expect(invoked().map((i) => i.event)).toEqual([
      expect.objectContaining({
        detail: {
          service: 'api',
          deploymentId: 'rb-1',
          principal: SRE,
          reason: 'customer reports',
          kind: 'rollback',
        },
      }),
    ]);
    expect((await store.get('api', 'rb-1'))!.events.at(-1)!.message).toBe(
      `rollback requested by ${SRE} (verified): customer reports: handed to the rollback function`,
    );
  });

  test('unlock: an aborter frees a lock an ended release left; an outsider gets 403 and the lock stays', async () => {
    const r0 = record({ deploymentId: 'ul-1', startedAt: '2026-12-05T00:00:00.000Z' });
    await store.begin(r0);
    await store.put({ ...(await store.get('api', 'ul-1'))!, outcome: 'SUCCEEDED' });
    sfn.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED' } as never);
    const before = await stored('ul-1');
    const denied = await call(DEV, { service: 'api', action: 'unlock' });
    expect(denied.statusCode).toBe(403);
    expect((await store.active('api'))?.deploymentId).toBe('ul-1');
    expect(await stored('ul-1')).toBe(before);

    const r = await call(SRE, { service: 'api', action: 'unlock', reason: 'complete release could not' });
    expect(r.statusCode).toBe(200);
    expect(r.json).toMatchObject({ effect: 'unlocked', deploymentId: 'ul-1', principal: SRE });
    expect(await store.active('api')).toBeNull();
    expect((await store.get('api', 'ul-1'))!.events.at(-1)!.message).toBe(
      `lock freed by ${SRE} (verified; tps-deploy unlock): ul-1 ended SUCCEEDED and left its lock behind: complete release could not`,
    );
  });
});

test('a bad request names every bad field and changes nothing', async () => {
  await running('bad-1');
  const before = await stored('bad-1');
  const r = await call(LEAD, { service: 'nope', action: 'hold', reason: 'x'.repeat(1001), extra: 1 });
  expect(r.statusCode).toBe(400);
  expect((r.json.issues as { path: string }[]).map((i) => i.path).sort()).toEqual([
    'deploymentId',
    'extra',
    'reason',
    'service',
  ]);
  expect(await stored('bad-1')).toBe(before);
  expect(sfn).not.toHaveReceivedCommand(StopExecutionCommand);
});

test('rollback and unlock naming a deployment are refused, not acted on for another one', async () => {
  for (const action of ['rollback', 'unlock']) {
    const r = await call(SRE, { service: 'api', action, deploymentId: 'some-release' });
    expect(r.statusCode).toBe(400);
    expect(r.json.issues).toEqual([
      {
        path: 'deploymentId',
        message: expect.stringMatching(new RegExp(`^not taken by ${action}: .*leave it out`)),
      },
    ]);
  }
  expect(lambda).not.toHaveReceivedCommand(InvokeCommand);
});

test('log lines name the caller and the outcome', () => {
  const lines = logLines.map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(lines.filter((l) => l.message === 'steer refused').length).toBeGreaterThan(3);
  expect(lines.find((l) => l.message === 'steer done' && l.action === 'stop')).toMatchObject({
    principal: SRE,
    effect: 'stopped',
  });
});

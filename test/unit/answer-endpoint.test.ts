/**
 * The answer endpoint's handler fed function URL requests as the Lambda service delivers them with
 * AuthType AWS_IAM (payload format 2.0, the verified caller in requestContext.authorizer.iam), over
 * a real table (dynalite); only Step Functions' SendTaskSuccess/Failure is mocked.
 */

import {
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { mockClient } from 'aws-sdk-client-mock';
import { SfnReleaseStarter } from '../../functions/adapters/aws/sfn-release-starter.js';
import { parseExecutionInput } from '../../functions/domain/input.js';
import { requesterOf } from '../../functions/release/answer.js';
import 'aws-sdk-client-mock-jest';
import type { DynamoDbDeploymentStore } from '../../functions/adapters/aws/dynamodb-store.js';
import { SfnTaskTokens } from '../../functions/adapters/aws/task-tokens.js';
import { CollectingNotifier } from '../../functions/adapters/collecting-notifier.js';
import { createFunctionLogger } from '../../functions/adapters/powertools/function-logger.js';
import { composePorts } from '../../functions/compose.js';
import { parseCatalog } from '../../functions/domain/config.js';
import { ERROR_NAMES } from '../../functions/domain/errors.js';
import type { DeploymentRecord } from '../../functions/domain/record.js';
import {
  type AnswerPorts,
  answerHandler,
  type FunctionUrlRequest,
  type FunctionUrlResponse,
} from '../../functions/handlers/answer-runtime.js';
import { recordApproval } from '../../functions/release/approval.js';
import type { LocalDynamo } from '../helpers/dynalite.js';
import { signedUrlEvent as urlEvent } from '../helpers/function-url.js';
import { CATALOG, record, tableFixture } from './cli-harness.js';

const ACCOUNT = '111122223333';
const LEAD = `arn:aws:sts::${ACCOUNT}:assumed-role/TeamLead/alice`;
const DEV = `arn:aws:sts::${ACCOUNT}:assumed-role/Developer/dev`;
const TOKEN = 'AQCEAAAAKgAAAAMAAAAAAAAAAd1-the-secret-task-token';
const NOW = new Date('2026-12-05T07:00:00.000Z');

const catalog = parseCatalog({
  ...CATALOG,
  services: {
    ...CATALOG.services,
    api: {
      ...CATALOG.services.api!,
      duties: {
        approvers: [`arn:aws:iam::${ACCOUNT}:role/teams/TeamLead`],
        // Both roles' trust policies fix the session name to the person's.
        personalSessionRoles: [
          `arn:aws:iam::${ACCOUNT}:role/teams/TeamLead`,
          `arn:aws:iam::${ACCOUNT}:role/Developer`,
        ],
      },
    },
  },
});

const sfn = mockClient(SFNClient);
let dynamo: LocalDynamo;
let store: DynamoDbDeploymentStore;
let ports: AnswerPorts;
const logLines: string[] = [];
let handler: ReturnType<typeof answerHandler>;

const context = {
  functionName: 'TasksAnswer',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:TasksAnswer',
  memoryLimitInMB: '256',
  awsRequestId: 'req-1',
};

async function call(
  event: FunctionUrlRequest,
): Promise<FunctionUrlResponse & { json: Record<string, unknown> }> {
  const r = await handler(event, context);
  return { ...r, json: JSON.parse(r.body) as Record<string, unknown> };
}

async function waiting(id: string, over: Partial<DeploymentRecord> = {}): Promise<void> {
  await store.put(
    record({
      deploymentId: id,
      requestedBy: DEV,
      requester: { principal: DEV, verified: true },
      pendingApproval: { requestedAt: '2026-12-05T06:50:00.000Z', expiresAt: '2026-12-05T07:50:00.000Z' },
      ...over,
    }),
  );
  await store.saveTaskToken('api', id, TOKEN);
}

beforeAll(async () => {
  ({ dynamo, store } = await tableFixture());
  ports = {
    catalog,
    store,
    taskTokens: new SfnTaskTokens({ client: sfn as unknown as SFNClient }),
    clock: { now: () => NOW },
    releases: new SfnReleaseStarter({
      client: new SFNClient({ region: 'us-east-1' }),
      stateMachineArns: { api: 'arn:aws:states:us-east-1:123456789012:stateMachine:tps-test-api' },
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
  sfn.on(SendTaskSuccessCommand).resolves({});
  sfn.on(SendTaskFailureCommand).resolves({});
  sfn.on(StartExecutionCommand).callsFake((i: { stateMachineArn: string; name: string }) => ({
    executionArn: `${i.stateMachineArn.replace(':stateMachine:', ':execution:')}:${i.name}`,
    startDate: NOW,
  }));
});

describe('answer endpoint (function URL, AWS_IAM)', () => {
  test('a listed approver approves: SendTaskSuccess with the token from its item, the verified ARN in the record', async () => {
    await waiting('ok-1');
    const r = await call(
      urlEvent(LEAD, { service: 'api', deploymentId: 'ok-1', action: 'approve', reason: 'numbers fine' }),
    );
    expect(r.statusCode).toBe(200);
    expect(r.json).toMatchObject({ action: 'approve', principal: LEAD, at: NOW.toISOString(), phase: null });
    const input = sfn.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input;
    expect(input.taskToken).toBe(TOKEN);
    expect(JSON.parse(input.output!)).toEqual({
      approved: true,
      by: LEAD,
      at: NOW.toISOString(),
      comment: 'numbers fine',
      verified: true,
    });
    const stored = (await store.get('api', 'ok-1'))!;
    expect(stored.answers).toEqual([
      {
        action: 'approve',
        principal: LEAD,
        at: NOW.toISOString(),
        reason: 'numbers fine',
        phase: null,
        wait: '2026-12-05T06:50:00.000Z',
        approvals: { given: 1, needed: 1 },
      },
    ]);
    // What "Record Approval" then writes from that output: the verified ARN as the approver.
    const composed = composePorts({
      catalog,
      store,
      notifier: new CollectingNotifier(),
      clock: { now: () => NOW },
    });
    const plan = { service: 'api', deploymentId: 'ok-1', version: 'v2.0.0' } as never;
    await recordApproval(composed, { plan, answer: JSON.parse(input.output!) });
    const approved = (await store.get('api', 'ok-1'))!;
    expect(approved.approval).toMatchObject({ decision: 'approved', by: LEAD, verified: true });
    expect(await store.taskToken('api', 'ok-1')).toBeNull();
  });

  test('approval by the requester is refused (403): nothing sent, nothing written', async () => {
    await waiting('self-1', {
      requestedBy: LEAD,
      requester: { principal: `arn:aws:sts::${ACCOUNT}:assumed-role/Developer/alice`, verified: true },
    });
    const before = await store.get('api', 'self-1');
    const r = await call(urlEvent(LEAD, { service: 'api', deploymentId: 'self-1', action: 'approve' }));
    expect(r.statusCode).toBe(403);
    expect(r.json.error).toMatch(/requested this release and may not approve it/);
    expect(sfn).not.toHaveReceivedCommand(SendTaskSuccessCommand);
    expect(await store.get('api', 'self-1')).toEqual(before);
  });

  test('a requester not verified (StartExecution directly): the first yes is recorded (202) and sends nothing; a second person ends the wait', async () => {
    const lead2 = `arn:aws:sts::${ACCOUNT}:assumed-role/AWSReservedSSO_Lead_ab12/bob@example.com`;
    const lead3 = `arn:aws:sts::${ACCOUNT}:assumed-role/AWSReservedSSO_Lead_ab12/carol@example.com`;
    const sso = parseCatalog({
      ...CATALOG,
      services: {
        ...CATALOG.services,
        api: {
          ...CATALOG.services.api!,
          duties: { approvers: [`arn:aws:iam::${ACCOUNT}:role/AWSReservedSSO_Lead_*`] },
        },
      },
    });
    const two = answerHandler(
      () => ({ ...ports, catalog: sso }),
      createFunctionLogger({ appName: 'tps-test', sink: (l) => logLines.push(l) }),
    );
    const ask = async (arn: string) => {
      const r = await two(
        urlEvent(arn, { service: 'api', deploymentId: 'unv-1', action: 'approve' }),
        context,
      );
      return { ...r, json: JSON.parse(r.body) as Record<string, unknown> };
    };
    // The input names bob as requester, but nothing verified it.
    await waiting('unv-1', { requestedBy: lead2, requester: { principal: lead2, verified: false } });
    const first = await ask(lead2);
    expect(first.statusCode).toBe(202);
    expect(first.json).toMatchObject({ delivered: false, approvals: { given: 1, needed: 2 } });
    expect(sfn).not.toHaveReceivedCommand(SendTaskSuccessCommand);
    expect((await store.get('api', 'unv-1'))!.pendingApproval).not.toBeNull();
    // The same person again does not count twice: refused, nothing written.
    const before = await store.get('api', 'unv-1');
    const again = await ask(lead2);
    expect(again.statusCode).toBe(403);
    expect(again.json.error).toMatch(/already said yes to this wait/);
    expect(await store.get('api', 'unv-1')).toEqual(before);
    expect(sfn).not.toHaveReceivedCommand(SendTaskSuccessCommand);
    // A different person ends the wait: one of the two is not the requester.
    const second = await ask(lead3);
    expect(second.statusCode).toBe(200);
    expect(second.json).toMatchObject({ delivered: true, approvals: { given: 2, needed: 2 } });
    expect(sfn).toHaveReceivedCommandTimes(SendTaskSuccessCommand, 1);
    expect(JSON.parse(sfn.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input.output!)).toMatchObject({
      approved: true,
      by: lead3,
      verified: true,
    });
    const answers = (await store.get('api', 'unv-1'))!.answers!;
    expect(answers.map((a) => [a.principal, a.delivered ?? true, a.approvals])).toEqual([
      [lead2, false, { given: 1, needed: 2 }],
      [lead3, true, { given: 2, needed: 2 }],
    ]);
  });

  test('two people approving at the same moment: each decision sees the other, and the wait ends once', async () => {
    const lead2 = `arn:aws:sts::${ACCOUNT}:assumed-role/TeamLead/bob`;
    await waiting('unv-2', { requestedBy: 'someone', requester: { principal: 'someone', verified: false } });
    const ask = (arn: string) =>
      call(urlEvent(arn, { service: 'api', deploymentId: 'unv-2', action: 'approve' }));
    const [a, b] = await Promise.all([ask(LEAD), ask(lead2)]);
    expect([a.statusCode, b.statusCode].sort()).toEqual([200, 202]);
    expect(sfn).toHaveReceivedCommandTimes(SendTaskSuccessCommand, 1);
    const answers = (await store.get('api', 'unv-2'))!.answers!;
    expect(answers.map((x) => [x.delivered ?? true, x.approvals])).toEqual([
      [false, { given: 1, needed: 2 }],
      [true, { given: 2, needed: 2 }],
    ]);
  });

  test('approval by a principal not in the approvers is refused (403)', async () => {
    await waiting('other-1');
    const r = await call(
      urlEvent(`arn:aws:sts::${ACCOUNT}:assumed-role/Developer/bob`, {
        service: 'api',
        deploymentId: 'other-1',
        action: 'approve',
      }),
    );
    expect(r.statusCode).toBe(403);
    expect(r.json.error).toMatch(/is not among the approvers of api/);
    expect(sfn).not.toHaveReceivedCommand(SendTaskSuccessCommand);
    expect((await store.get('api', 'other-1'))!.answers).toBeUndefined();
  });

  test('a service without duties.approvers: nobody may answer', async () => {
    await store.put(
      record({
        service: 'web',
        deploymentId: 'web-1',
        pendingApproval: { requestedAt: 'x', expiresAt: 'y' },
      }),
    );
    const r = await call(urlEvent(LEAD, { service: 'web', deploymentId: 'web-1', action: 'approve' }));
    expect(r.statusCode).toBe(403);
    expect(r.json.error).toMatch(/declares no approvers/);
  });

  test('reject by an approver: SendTaskFailure ApprovalRejected naming the verified ARN', async () => {
    await waiting('rej-1');
    const r = await call(
      urlEvent(LEAD, { service: 'api', deploymentId: 'rej-1', action: 'reject', reason: 'sale' }),
    );
    expect(r.statusCode).toBe(200);
    expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, {
      taskToken: TOKEN,
      error: ERROR_NAMES.approvalRejected,
      cause: `rejected by ${LEAD}: sale`,
    });
    expect((await store.get('api', 'rej-1'))!.answers).toEqual([
      {
        action: 'reject',
        principal: LEAD,
        at: NOW.toISOString(),
        reason: 'sale',
        phase: null,
        wait: '2026-12-05T06:50:00.000Z',
      },
    ]);
  });

  test('no verified caller (401), not a POST (405), a bad body naming every field (400), nothing waiting (409)', async () => {
    expect((await call(urlEvent(null, { service: 'api' }))).statusCode).toBe(401);
    expect((await call(urlEvent(LEAD, {}, 'GET'))).statusCode).toBe(405);
    const bad = await call(urlEvent(LEAD, { service: 'nope', action: 'merge', extra: 1 }));
    expect(bad.statusCode).toBe(400);
    expect((bad.json.issues as { path: string }[]).map((i) => i.path).sort()).toEqual([
      'action',
      'deploymentId',
      'extra',
      'service',
    ]);
    await store.put(record({ deploymentId: 'idle-1' }));
    const idle = await call(urlEvent(LEAD, { service: 'api', deploymentId: 'idle-1', action: 'approve' }));
    expect(idle.statusCode).toBe(409);
    expect(sfn).not.toHaveReceivedCommand(SendTaskSuccessCommand);
  });

  test('the task token is in no log line, no response and no record', async () => {
    const lines = logLines.join('\n');
    expect(logLines.length).toBeGreaterThan(0);
    expect(lines).not.toContain(TOKEN);
    expect(lines).toContain(LEAD);
    for (const id of ['ok-1', 'self-1', 'other-1', 'rej-1']) {
      expect(JSON.stringify(await store.get('api', id))).not.toContain(TOKEN);
    }
    expect(JSON.stringify(await store.history('api', 50))).not.toContain(TOKEN);
  });
});

describe('verified start', () => {
  const input = {
    service: 'api',
    image: 'repo/api:v2.0.0',
    requestedBy: 'someone-typed-this',
    attestations: { testsPassed: true, reviewers: ['ann', 'bo'] },
  };

  test('starts as the verified ARN: requestedBy replaced, the start recorded before StartExecution, Check Gates sees it verified', async () => {
    const r = await call(urlEvent(DEV, { action: 'start', input, name: 'start-1' }));
    expect(r.statusCode).toBe(200);
    expect(r.json).toMatchObject({ action: 'start', deploymentId: 'start-1', principal: DEV });
    const sent = sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input;
    expect(sent.name).toBe('start-1');
    expect(JSON.parse(sent.input!)).toEqual({ ...input, requestedBy: DEV });
    const plan = parseExecutionInput({ ...input, requestedBy: DEV }, catalog, 'start-1');
    expect(await requesterOf({ store }, plan)).toEqual({ principal: DEV, verified: true });
    // Another input under the same name (someone else's StartExecution) is not taken for it.
    const other = parseExecutionInput(
      { ...input, requestedBy: DEV, image: 'repo/api:v9' },
      catalog,
      'start-1',
    );
    expect(await requesterOf({ store }, other)).toEqual({ principal: DEV, verified: false });
  });

  test('a start by a principal not among the declared starters is refused (403): nothing written, nothing started', async () => {
    const withStarters = parseCatalog({
      ...CATALOG,
      services: {
        ...CATALOG.services,
        api: {
          ...CATALOG.services.api!,
          duties: {
            approvers: [`arn:aws:iam::${ACCOUNT}:role/teams/TeamLead`],
            personalSessionRoles: [`arn:aws:iam::${ACCOUNT}:role/teams/TeamLead`],
            starters: [`arn:aws:iam::${ACCOUNT}:role/Releaser`],
          },
        },
      },
    });
    const h = answerHandler(
      () => ({ ...ports, catalog: withStarters }),
      createFunctionLogger({ appName: 'tps-test', sink: (l) => logLines.push(l) }),
    );
    const r = await h(urlEvent(DEV, { action: 'start', input, name: 'start-s1' }), context);
    expect(r.statusCode).toBe(403);
    expect(JSON.parse(r.body).error).toMatch(/not among the starters of api/);
    expect(await store.verifiedStart('api', 'start-s1')).toBeNull();
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
    const ok = await h(
      urlEvent(`arn:aws:sts::${ACCOUNT}:assumed-role/Releaser/ci`, {
        action: 'start',
        input,
        name: 'start-s2',
      }),
      context,
    );
    expect(ok.statusCode).toBe(200);
  });

  test("a start whose envelope is bad names every bad field with the input's, and starts nothing", async () => {
    const r = await call(
      urlEvent(DEV, { action: 'start', input: { service: 'api', mode: 'yolo' }, name: 7, nmae: 'x' }),
    );
    expect(r.statusCode).toBe(400);
    expect((r.json.issues as { path: string }[]).map((i) => i.path).sort()).toEqual([
      'image',
      'mode',
      'name',
      'nmae',
    ]);
    const none = await call(urlEvent(DEV, { action: 'start' }));
    expect(none.statusCode).toBe(400);
    expect(none.json.issues).toEqual([
      { path: 'input', message: 'required: the execution input, an object' },
    ]);
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  test("a StartExecution that fails leaves no verified start: a retry under the same name starts, and nobody else's execution of it counts as verified", async () => {
    sfn
      .on(StartExecutionCommand)
      .rejectsOnce(
        Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $fault: 'client' }),
      )
      .callsFake((i: { stateMachineArn: string; name: string }) => ({
        executionArn: `${i.stateMachineArn.replace(':stateMachine:', ':execution:')}:${i.name}`,
        startDate: NOW,
      }));
    const failed = await call(urlEvent(DEV, { action: 'start', input, name: 'start-retry' }));
    expect(failed.statusCode).toBe(500);
    expect(await store.verifiedStart('api', 'start-retry')).toBeNull();
    const retry = await call(urlEvent(DEV, { action: 'start', input, name: 'start-retry' }));
    expect(retry.statusCode).toBe(200);
    expect(await store.verifiedStart('api', 'start-retry')).toMatchObject({ principal: DEV });
    // Someone else's execution already has the name: ours did not start, the item goes.
    sfn
      .on(StartExecutionCommand)
      .rejects(Object.assign(new Error('exists'), { name: 'ExecutionAlreadyExists', $fault: 'client' }));
    const taken = await call(urlEvent(DEV, { action: 'start', input, name: 'start-taken' }));
    expect(taken.statusCode).toBe(409);
    expect(await store.verifiedStart('api', 'start-taken')).toBeNull();
  });

  test('a second start under the same name is refused (409); a bad input names every field (400) and starts nothing', async () => {
    expect((await call(urlEvent(DEV, { action: 'start', input, name: 'start-1' }))).statusCode).toBe(409);
    const bad = await call(
      urlEvent(DEV, { action: 'start', input: { service: 'api', mode: 'yolo' }, name: 'start-2' }),
    );
    expect(bad.statusCode).toBe(400);
    expect((bad.json.issues as { path: string }[]).map((i) => i.path).sort()).toEqual(['image', 'mode']);
    expect(await store.verifiedStart('api', 'start-2')).toBeNull();
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });
});

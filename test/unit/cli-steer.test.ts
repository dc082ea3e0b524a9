/**
 * approve, reject, hold, promote. approve and reject (and promote of a waiting hold) go through
 * the answer endpoint: a SigV4-signed POST to a function URL with AWS_IAM auth, checked here by a
 * loopback URL that verifies the signature as Lambda does and hands the real handler the signer's
 * ARN (test/helpers/function-url.ts); the table is dynalite, SendTaskSuccess/Failure are mocked.
 */

import {
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { mockClient } from 'aws-sdk-client-mock';
import { SfnExecutions } from '../../functions/adapters/aws/sfn-executions.js';
import { SfnReleaseStarter } from '../../functions/adapters/aws/sfn-release-starter.js';
import 'aws-sdk-client-mock-jest';
import type { DynamoDbDeploymentStore } from '../../functions/adapters/aws/dynamodb-store.js';
import { SfnTaskTokens } from '../../functions/adapters/aws/task-tokens.js';
import { createFunctionLogger } from '../../functions/adapters/powertools/function-logger.js';
import { discardLines } from '../../functions/adapters/powertools/output.js';
import { parseCatalog } from '../../functions/domain/config.js';
import { ERROR_NAMES } from '../../functions/domain/errors.js';
import { handleAnswer } from '../../functions/handlers/answer-runtime.js';
import type { LocalDynamo } from '../helpers/dynalite.js';
import { type LocalFunctionUrl, startFunctionUrl, type TestIdentity } from '../helpers/function-url.js';
import { CATALOG, cli, REGION, record, tableFixture } from './cli-harness.js';

const sfn = mockClient(SFNClient);
let dynamo: LocalDynamo;
let store: DynamoDbDeploymentStore;
let endpoint: LocalFunctionUrl;
const NOW = new Date('2026-11-20T10:30:00.000Z');
const TOKEN = 'AQCEAAAAKgAAAAMAAAAAAAAAAd1example-task-token';
const ACCOUNT = '111122223333';
const LEAD: TestIdentity = {
  accessKeyId: 'AKIALEAD',
  secretAccessKey: 'lead-secret',
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/TeamLead/lead@example.com`,
  accountId: ACCOUNT,
};
const DEV: TestIdentity = {
  accessKeyId: 'AKIADEV',
  secretAccessKey: 'dev-secret',
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/Developer/dev@example.com`,
  accountId: ACCOUNT,
};
/** The developer under the lead's role: the same person (same session name). */
const DEV_AS_LEAD: TestIdentity = {
  accessKeyId: 'AKIASELF',
  secretAccessKey: 'self',
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/TeamLead/dev@example.com`,
  accountId: ACCOUNT,
};
const catalog = {
  ...CATALOG,
  services: {
    ...CATALOG.services,
    api: {
      ...CATALOG.services.api!,
      duties: {
        approvers: [`arn:aws:iam::${ACCOUNT}:role/TeamLead`],
        // Both roles' trust policies fix the session name to the person's.
        personalSessionRoles: [
          `arn:aws:iam::${ACCOUNT}:role/TeamLead`,
          `arn:aws:iam::${ACCOUNT}:role/Developer`,
        ],
      },
    },
  },
};

beforeAll(async () => {
  ({ dynamo, store } = await tableFixture());
  const ports = {
    catalog: parseCatalog(catalog),
    store,
    taskTokens: new SfnTaskTokens({ client: new SFNClient({ region: REGION }) }),
    clock: { now: () => NOW },
    releases: new SfnReleaseStarter({
      client: new SFNClient({ region: REGION }),
      stateMachineArns: { api: `arn:aws:states:${REGION}:123456789012:stateMachine:tps-test-api` },
    }),
    // hold and withdraw are the endpoint's writes (functions/release/steer.ts).
    executions: new SfnExecutions({ client: new SFNClient({ region: REGION }) }),
    rollbackRequests: {
      request: async () => {
        throw new Error('no rollback in these tests');
      },
    },
  };
  const logger = createFunctionLogger({ sink: discardLines });
  endpoint = await startFunctionUrl((event) => handleAnswer(ports, event, logger), [LEAD, DEV, DEV_AS_LEAD]);
});
afterAll(async () => {
  await endpoint.stop();
  await dynamo.stop();
});
beforeEach(() => {
  sfn.reset();
  // SendTaskSuccess / SendTaskFailure return an empty body on success.
  sfn.on(SendTaskSuccessCommand).resolves({});
  sfn.on(SendTaskFailureCommand).resolves({});
  sfn.on(StartExecutionCommand).callsFake((i: { stateMachineArn: string; name: string }) => ({
    executionArn: `${i.stateMachineArn.replace(':stateMachine:', ':execution:')}:${i.name}`,
    startDate: NOW,
  }));
});

/** The CLI signed in as `as` (its credentials are the SFN client's, as with a real profile). */
const steer = (argv: string[], as: TestIdentity = LEAD, env: Record<string, string> = {}) =>
  cli(argv, {
    dynamo,
    io: {
      now: () => NOW,
      catalog,
      env: { USER: 'tester', TPS_ANSWER_URL: endpoint.url, AWS_REGION: REGION, ...env },
      clients: {
        sfn: new SFNClient({
          region: REGION,
          credentials: { accessKeyId: as.accessKeyId, secretAccessKey: as.secretAccessKey },
        }),
        dynamodb: dynamo.client,
      },
    },
  });
const pending = {
  requestedAt: '2026-11-20T10:20:00.000Z',
  expiresAt: '2026-11-20T11:20:00.000Z',
};

describe('approve and reject, through the answer endpoint', () => {
  it('approve: the signed request is answered as the verified lead (SendTaskSuccess by the endpoint)', async () => {
    await store.put(
      record({
        deploymentId: 'ap-1',
        pendingApproval: pending,
        requester: { principal: DEV.arn, verified: true },
      }),
    );
    await store.saveTaskToken('api', 'ap-1', TOKEN);
    const r = await steer([
      'approve',
      'ap-1',
      '--requested-by',
      'somebody-else',
      '--reason',
      'numbers look fine',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`api ap-1: approved by ${LEAD.arn}`);
    const input = sfn.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input;
    expect(input.taskToken).toBe(TOKEN);
    // The name the caller typed counts for nothing: the ARN AWS verified is the approver.
    expect(JSON.parse(input.output!)).toEqual({
      approved: true,
      by: LEAD.arn,
      at: NOW.toISOString(),
      comment: 'numbers look fine',
      verified: true,
    });
    expect((await store.get('api', 'ap-1'))!.answers).toEqual([
      {
        action: 'approve',
        principal: LEAD.arn,
        at: NOW.toISOString(),
        reason: 'numbers look fine',
        phase: null,
        wait: pending.requestedAt,
        approvals: { given: 1, needed: 1 },
      },
    ]);
  });

  it('approve of a release started without the endpoint: says it waits for another person, sends nothing', async () => {
    await store.put(record({ deploymentId: 'ap-u', pendingApproval: pending }));
    await store.saveTaskToken('api', 'ap-u', TOKEN);
    const r = await steer(['approve', 'ap-u']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `api ap-u: approved by ${LEAD.arn}, 1 of 2 different people (the requester is not verified); it waits for another`,
    );
    expect(sfn).not.toHaveReceivedCommand(SendTaskSuccessCommand);
    // The same person again does not count twice.
    const same = await steer(['approve', 'ap-u']);
    expect(same.code).not.toBe(0);
    expect(same.stderr).toMatch(/refused \(HTTP 403\).*already said yes to this wait/);
    expect(sfn).not.toHaveReceivedCommand(SendTaskSuccessCommand);
  });

  it('reject: SendTaskFailure naming the verified ARN', async () => {
    await store.put(record({ deploymentId: 'ap-2', pendingApproval: pending }));
    await store.saveTaskToken('api', 'ap-2', TOKEN);
    const r = await steer(['reject', 'ap-2', '--reason', 'not during the sale']);
    expect(r.code).toBe(0);
    expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, {
      taskToken: TOKEN,
      error: ERROR_NAMES.approvalRejected,
      cause: `rejected by ${LEAD.arn}: not during the sale`,
    });
  });

  it('a developer not among the approvers is refused; nothing is sent', async () => {
    await store.put(record({ deploymentId: 'ap-6', pendingApproval: pending }));
    await store.saveTaskToken('api', 'ap-6', TOKEN);
    const r = await steer(['approve', 'ap-6'], DEV);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `approve ap-6 refused (HTTP 403): ${DEV.arn} is not among the approvers of api`,
    );
    expect(sfn).not.toHaveReceivedCommand(SendTaskSuccessCommand);
  });

  it('a request signed with a wrong secret is refused by the URL before the function runs', async () => {
    await store.put(record({ deploymentId: 'ap-7', pendingApproval: pending }));
    await store.saveTaskToken('api', 'ap-7', TOKEN);
    const before = endpoint.refused;
    const r = await steer(['approve', 'ap-7'], { ...LEAD, secretAccessKey: 'guessed' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/approve ap-7 refused \(HTTP 403\): Forbidden/);
    expect(endpoint.refused).toBe(before + 1);
    expect(sfn).not.toHaveReceivedCommand(SendTaskSuccessCommand);
  });

  it('without an answer URL the CLI says where to get one and sends nothing', async () => {
    await store.put(record({ deploymentId: 'ap-8', pendingApproval: pending }));
    const r = await steer(['approve', 'ap-8'], LEAD, { TPS_ANSWER_URL: '' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no answer endpoint: set TPS_ANSWER_URL to the stack's AnswerUrl output/);
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
    await store.put(
      record({
        deploymentId: 'ap-5',
        pendingApproval: pending,
        requester: { principal: DEV.arn, verified: true },
      }),
    );
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

describe('start through the answer endpoint', () => {
  it('starts as the verified requester; that person may not approve it', async () => {
    const r = await steer(
      [
        'start',
        '--service',
        'api',
        '--image',
        'repo/api:v2.0.0',
        '--tests-passed',
        '--reviewers',
        'ann,bo',
        '--name',
        'vs-1',
      ],
      DEV,
    );
    expect(r.stderr).toContain(`requested by ${DEV.arn} (verified)`);
    expect(r.code).toBe(0);
    const sent = sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input;
    expect(JSON.parse(sent.input!).requestedBy).toBe(DEV.arn);
    expect(await store.verifiedStart('api', 'vs-1')).toMatchObject({ principal: DEV.arn });
    // What Check Gates then writes: the requester verified (functions/release/gates.ts).
    await store.put(
      record({
        deploymentId: 'vs-1',
        requestedBy: DEV.arn,
        requester: { principal: DEV.arn, verified: true },
        pendingApproval: pending,
      }),
    );
    await store.saveTaskToken('api', 'vs-1', TOKEN);
    const again = await steer(['approve', 'vs-1'], DEV_AS_LEAD);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/requested this release and may not approve it/);
    expect(sfn).not.toHaveReceivedCommand(SendTaskSuccessCommand);
  });
});

describe('hold and promote', () => {
  it('hold: the endpoint writes the request into the record, as the verified ARN (not the typed name)', async () => {
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
    expect(r.stdout).toContain(`hold requested by ${LEAD.arn}; the release stops`);
    expect(r.stdout).toContain('tps-deploy promote h-1');
    const stored = await store.get('api', 'h-1');
    expect(stored?.hold).toEqual({
      requestedBy: LEAD.arn,
      at: NOW.toISOString(),
      reason: 'watch the queue',
      pending: null,
      decision: null,
    });
    expect(stored?.events.at(-1)?.message).toBe(`hold requested by ${LEAD.arn}: watch the queue`);
    const again = await steer(['hold', 'h-1']);
    expect(again.stdout).toMatch(/already on hold/);
  });

  it('promote answers a hold the release waits on with SendTaskSuccess; reject aborts one', async () => {
    await store.put(
      record({
        deploymentId: 'h-2',
        requester: { principal: DEV.arn, verified: true },
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
    expect(r.stdout).toContain(`api h-2: hold at canary promoted by ${LEAD.arn}; the release goes on`);
    const input = sfn.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input;
    expect(input.taskToken).toBe(TOKEN);
    expect(JSON.parse(input.output!)).toEqual({
      approved: true,
      by: LEAD.arn,
      at: NOW.toISOString(),
      verified: true,
    });
    const abort = await steer(['reject', 'h-2', '--reason', 'queue grows']);
    expect(abort.stdout).toContain(
      `api h-2: hold at canary aborted by ${LEAD.arn}: queue grows; it rolls back`,
    );
    expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, {
      taskToken: TOKEN,
      error: ERROR_NAMES.approvalRejected,
      cause: `rejected by ${LEAD.arn}: queue grows`,
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
      `hold requested by ${LEAD.arn}`,
    ]);
  });
});

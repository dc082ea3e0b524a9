/**
 * `abort`, `rollback`, `hold`, `promote` (withdrawing a hold) and `unlock` against AWS go through the
 * answer endpoint (a SigV4-signed POST, checked by a loopback function URL that verifies the
 * signature as Lambda does and hands the real handler the signer's ARN), and the CLI's own AWS
 * clients never write: its DynamoDB client sends only reads (every command it sends is recorded),
 * its Step Functions client sends nothing, it never asks EKS for the cluster. The endpoint's own
 * clients (a separate table client, mocked Step Functions and Lambda) do the work, as the
 * verified caller.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DescribeExecutionCommand, SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import type { DynamoDbDeploymentStore } from '../../functions/adapters/aws/dynamodb-store.js';
import { LambdaRollbackRequests } from '../../functions/adapters/aws/lambda-rollback-requests.js';
import { SfnExecutions } from '../../functions/adapters/aws/sfn-executions.js';
import { SfnTaskTokens } from '../../functions/adapters/aws/task-tokens.js';
import { createFunctionLogger } from '../../functions/adapters/powertools/function-logger.js';
import { discardLines } from '../../functions/adapters/powertools/output.js';
import { parseCatalog } from '../../functions/domain/config.js';
import { handleAnswer } from '../../functions/handlers/answer-runtime.js';
import type { LocalDynamo } from '../helpers/dynalite.js';
import { type LocalFunctionUrl, startFunctionUrl, type TestIdentity } from '../helpers/function-url.js';
import { CATALOG, cli, executionArn, REGION, record, tableFixture } from './cli-harness.js';

const ACCOUNT = '111122223333';
const LEAD: TestIdentity = {
  accessKeyId: 'AKIALEAD',
  secretAccessKey: 'lead-secret',
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/TeamLead/lead@example.com`,
  accountId: ACCOUNT,
};
const ONCALL: TestIdentity = {
  accessKeyId: 'AKIAONCALL',
  secretAccessKey: 'oncall-secret',
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/OnCall/sam@example.com`,
  accountId: ACCOUNT,
};
const DEV: TestIdentity = {
  accessKeyId: 'AKIADEV',
  secretAccessKey: 'dev-secret',
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/Developer/dev@example.com`,
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
        aborters: [`arn:aws:iam::${ACCOUNT}:role/OnCall`],
        // Their trust policies fix the session name to the person's.
        personalSessionRoles: [
          `arn:aws:iam::${ACCOUNT}:role/TeamLead`,
          `arn:aws:iam::${ACCOUNT}:role/Developer`,
        ],
      },
    },
  },
};
const NOW = new Date('2026-11-20T10:30:00.000Z');

// The endpoint's clients (its role's calls) and the CLI's, apart: each instance mocked on its own.
const endpointSfn = new SFNClient({ region: REGION });
const endpointSfnMock = mockClient(endpointSfn);
const endpointLambda = new LambdaClient({ region: REGION });
const lambdaMock = mockClient(endpointLambda);
const eksMock = mockClient(EKSClient);

let dynamo: LocalDynamo;
let store: DynamoDbDeploymentStore;
let endpoint: LocalFunctionUrl;
/** Every command the CLI's own DynamoDB client sent. */
const cliTableCommands: string[] = [];
let cliDynamo: DynamoDBClient;

beforeAll(async () => {
  ({ dynamo, store } = await tableFixture());
  const ports = {
    catalog: parseCatalog(catalog),
    store,
    taskTokens: new SfnTaskTokens({ client: endpointSfn }),
    clock: { now: () => NOW },
    executions: new SfnExecutions({ client: endpointSfn }),
    rollbackRequests: new LambdaRollbackRequests({ client: endpointLambda, functionName: 'rollback-fn' }),
  };
  const logger = createFunctionLogger({ sink: discardLines });
  endpoint = await startFunctionUrl((event) => handleAnswer(ports, event, logger), [LEAD, ONCALL, DEV]);
  cliDynamo = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: REGION,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  cliDynamo.middlewareStack.add(
    (next, context) => async (args) => {
      cliTableCommands.push(String(context.commandName));
      return next(args);
    },
    { step: 'initialize', name: 'recordCliCommands' },
  );
});
afterAll(async () => {
  await endpoint.stop();
  await dynamo.stop();
});

/** The CLI's Step Functions client, its credentials those of `as`; mocked: it must send nothing. */
let cliSfnMock: ReturnType<typeof mockClient>;

beforeEach(() => {
  cliTableCommands.length = 0;
  endpointSfnMock.reset();
  lambdaMock.reset();
  eksMock.reset();
  endpointSfnMock.on(StopExecutionCommand).resolves({ stopDate: NOW });
  endpointSfnMock.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' } as never);
  lambdaMock.on(InvokeCommand).resolves({ StatusCode: 202 });
});

function as(who: TestIdentity, argv: string[]) {
  const sfn = new SFNClient({
    region: REGION,
    credentials: { accessKeyId: who.accessKeyId, secretAccessKey: who.secretAccessKey },
  });
  cliSfnMock = mockClient(sfn);
  return cli(argv, {
    io: {
      now: () => NOW,
      catalog,
      env: { USER: 'tester', TPS_ANSWER_URL: endpoint.url, AWS_REGION: REGION },
      clients: { sfn, dynamodb: cliDynamo, eks: new EKSClient({ region: REGION }) },
    },
  });
}

/** The CLI wrote nothing, stopped nothing and never reached for the cluster itself. */
function cliOnlyRead(): void {
  const writes = cliTableCommands.filter((c) => !/^(Get|Query|GetItem)Command$/.test(c));
  expect(writes).toEqual([]);
  expect(cliSfnMock.calls()).toEqual([]);
  expect(eksMock).not.toHaveReceivedCommand(DescribeClusterCommand);
}

describe('against AWS the CLI only reads; the endpoint acts as the verified caller', () => {
  it('abort: the endpoint stops the execution, the record names the verified ARN', async () => {
    await store.put(record({ deploymentId: 'e-ab-1' }));
    const r = await as(ONCALL, ['abort', 'e-ab-1', '--reason', 'wrong build', '--requested-by', 'someone']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`(stop by ${ONCALL.arn}, verified)`);
    expect(endpointSfnMock).toHaveReceivedCommandWith(StopExecutionCommand, {
      executionArn: executionArn('api', 'e-ab-1'),
      cause: `aborted by ${ONCALL.arn}: wrong build`,
    });
    expect((await store.get('api', 'e-ab-1'))!.events.at(-1)!.message).toContain(
      `abort by ${ONCALL.arn} (verified): wrong build`,
    );
    expect(cliTableCommands.length).toBeGreaterThan(0);
    cliOnlyRead();
  });

  it('abort by someone not among the aborters: refused, nothing stopped or written', async () => {
    await store.put(record({ deploymentId: 'e-ab-2' }));
    const before = JSON.stringify(await store.get('api', 'e-ab-2'));
    const r = await as(DEV, ['abort', 'e-ab-2']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`stop e-ab-2 refused (HTTP 403): ${DEV.arn} is not among the aborters of api`);
    expect(endpointSfnMock).not.toHaveReceivedCommand(StopExecutionCommand);
    expect(JSON.stringify(await store.get('api', 'e-ab-2'))).toBe(before);
    cliOnlyRead();
  });

  it('rollback: handed to the rollback function with the verified ARN', async () => {
    await store.put(
      record({
        deploymentId: 'e-rb-1',
        outcome: 'SUCCEEDED',
        finalImage: 'repo/api:v2.0.0',
        startedAt: '2026-11-20T12:00:00.000Z',
      }),
    );
    const r = await as(ONCALL, ['rollback', '--service', 'api', '--reason', 'customer reports']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('rolling api back from repo/api:v2.0.0 to repo/api:v1.0.0');
    const sent = lambdaMock
      .commandCalls(InvokeCommand)
      .map((c) => JSON.parse(new TextDecoder().decode(c.args[0].input.Payload as Uint8Array)).detail);
    expect(sent).toEqual([
      {
        service: 'api',
        deploymentId: 'e-rb-1',
        principal: ONCALL.arn,
        reason: 'customer reports',
        kind: 'rollback',
      },
    ]);
    cliOnlyRead();
  });

  it('hold and withdrawing it: written by the endpoint with the verified ARN, not the typed name', async () => {
    await store.put(record({ deploymentId: 'e-h-1', startedAt: '2026-11-20T13:00:00.000Z' }));
    const held = await as(LEAD, ['hold', 'e-h-1', '--requested-by', 'not-me', '--reason', 'queue']);
    expect(held.code).toBe(0);
    expect(held.stdout).toContain(`hold requested by ${LEAD.arn}`);
    expect((await store.get('api', 'e-h-1'))!.hold).toMatchObject({ requestedBy: LEAD.arn, reason: 'queue' });
    cliOnlyRead();

    const denied = await as(DEV, ['promote', 'e-h-1']);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('withdraw e-h-1 refused (HTTP 403)');
    expect((await store.get('api', 'e-h-1'))!.hold).not.toBeNull();

    const withdrawn = await as(LEAD, ['promote', 'e-h-1']);
    expect(withdrawn.code).toBe(0);
    expect(withdrawn.stdout).toContain(`hold withdrawn by ${LEAD.arn}; the release goes on`);
    expect((await store.get('api', 'e-h-1'))!.hold).toBeNull();
    cliOnlyRead();
  });

  it('hold --json and promote --json: one JSON object naming the verified ARN', async () => {
    await store.put(record({ deploymentId: 'e-h-2', startedAt: '2026-11-20T13:30:00.000Z' }));
    const held = await as(LEAD, ['hold', 'e-h-2', '--json']);
    expect(held.code).toBe(0);
    expect(JSON.parse(held.stdout)).toEqual({
      service: 'api',
      deploymentId: 'e-h-2',
      action: 'hold',
      by: LEAD.arn,
      approvals: null,
      message: expect.stringContaining(`hold requested by ${LEAD.arn}`),
    });
    const withdrawn = await as(LEAD, ['promote', 'e-h-2', '--json']);
    expect(withdrawn.code).toBe(0);
    expect(JSON.parse(withdrawn.stdout)).toMatchObject({ action: 'withdraw', by: LEAD.arn });
    expect((await store.get('api', 'e-h-2'))!.hold).toBeNull();
    cliOnlyRead();
  });

  it('unlock: the endpoint frees the lock and names the verified ARN; an outsider is refused', async () => {
    await store.begin(record({ deploymentId: 'e-ul-1', startedAt: '2026-11-20T14:00:00.000Z' }));
    await store.put({ ...(await store.get('api', 'e-ul-1'))!, outcome: 'SUCCEEDED' });
    endpointSfnMock.on(DescribeExecutionCommand).resolves({ status: 'FAILED' } as never);
    const denied = await as(LEAD, ['unlock', '--service', 'api']);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('unlock api refused (HTTP 403)');
    expect((await store.active('api'))?.deploymentId).toBe('e-ul-1');

    const r = await as(ONCALL, ['unlock', '--service', 'api', '--reason', 'left behind']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`api: unlocked by ${ONCALL.arn} (verified); e-ul-1 ended SUCCEEDED`);
    expect(await store.active('api')).toBeNull();
    expect((await store.get('api', 'e-ul-1'))!.events.at(-1)!.message).toContain(
      `lock freed by ${ONCALL.arn}`,
    );
    cliOnlyRead();
  });
});

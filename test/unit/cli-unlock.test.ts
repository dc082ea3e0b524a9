/**
 * `tps-deploy unlock --service S` (issue #13, section 2; #15): through the answer endpoint (a
 * loopback function URL that verifies the SigV4 signature, test/helpers/function-url.ts), which
 * frees a lock only when its release has ended (DescribeExecution, mocked as the AWS API reference
 * shapes it, and the record in dynalite), records the verified ARN, and refuses while the release
 * may still act.
 */
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import type { DynamoDbDeploymentStore } from '../../functions/adapters/aws/dynamodb-store.js';
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
const ONCALL: TestIdentity = {
  accessKeyId: 'AKIAONCALL',
  secretAccessKey: 'oncall-secret',
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/OnCall/sam`,
  accountId: ACCOUNT,
};
const duties = {
  approvers: [`arn:aws:iam::${ACCOUNT}:role/OnCall`],
  personalSessionRoles: [`arn:aws:iam::${ACCOUNT}:role/OnCall`],
};
const catalog = {
  ...CATALOG,
  services: {
    api: { ...CATALOG.services.api!, duties },
    web: { ...CATALOG.services.web!, duties },
  },
};

const sfn = mockClient(SFNClient);
let dynamo: LocalDynamo;
let store: DynamoDbDeploymentStore;
let endpoint: LocalFunctionUrl;

beforeAll(async () => {
  ({ dynamo, store } = await tableFixture());
  const ports = {
    catalog: parseCatalog(catalog),
    store,
    taskTokens: new SfnTaskTokens({ client: new SFNClient({ region: REGION }) }),
    clock: { now: () => new Date('2026-11-20T11:00:00.000Z') },
    executions: new SfnExecutions({ client: new SFNClient({ region: REGION }) }),
    rollbackRequests: {
      request: async () => {
        throw new Error('unlock never rolls back');
      },
    },
  };
  const logger = createFunctionLogger({ sink: discardLines });
  endpoint = await startFunctionUrl((event) => handleAnswer(ports, event, logger), [ONCALL]);
});
afterAll(async () => {
  await endpoint.stop();
  await dynamo.stop();
});
beforeEach(() => sfn.reset());

const unlock = (argv: string[]) =>
  cli(['unlock', ...argv], {
    dynamo,
    io: {
      catalog,
      env: { USER: 'tester', TPS_ANSWER_URL: endpoint.url, AWS_REGION: REGION },
      clients: {
        sfn: new SFNClient({
          region: REGION,
          credentials: { accessKeyId: ONCALL.accessKeyId, secretAccessKey: ONCALL.secretAccessKey },
        }),
        dynamodb: dynamo.client,
      },
    },
  });

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

test('frees the lock a SUCCEEDED release left behind, and its record names the verified ARN', async () => {
  await held('api', 'ul-1', 'SUCCEEDED', 'FAILED');
  const r = await unlock(['--service', 'api', '--reason', 'complete release could not free it']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toContain(
    `api: unlocked by ${ONCALL.arn} (verified); ul-1 ended SUCCEEDED and left its lock behind`,
  );
  expect(await store.active('api')).toBeNull();
  expect((await store.get('api', 'ul-1'))?.events.at(-1)?.message).toBe(
    `lock freed by ${ONCALL.arn} (verified; tps-deploy unlock): ul-1 ended SUCCEEDED and left its lock behind: complete release could not free it`,
  );
});

test('refuses while the release runs, and for a release not yet rolled back, naming abort', async () => {
  await held('web', 'ul-2', 'RUNNING', 'RUNNING');
  const running = await unlock(['--service', 'web']);
  expect(running.code).toBe(1);
  expect(running.stderr).toContain('web is locked by ul-2 and was not unlocked: ul-2 is being released');
  expect((await store.active('web'))?.deploymentId).toBe('ul-2');

  sfn.reset();
  sfn.on(DescribeExecutionCommand).resolves({ status: 'ABORTED' } as never);
  const aborted = await unlock(['--service', 'web']);
  expect(aborted.code).toBe(1);
  expect(aborted.stderr).toContain('tps-deploy abort ul-2');
  expect((await store.active('web'))?.deploymentId).toBe('ul-2');
});

test('a service that is not locked: nothing to do', async () => {
  await store.release('api', 'ul-1');
  const r = await unlock(['--service', 'api']);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('api: not locked; nothing to do');
  expect(sfn).not.toHaveReceivedCommand(DescribeExecutionCommand);
});

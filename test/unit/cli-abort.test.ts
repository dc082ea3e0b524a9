import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { topicArnFor } from '../../cli/aws-ports.js';
import type { DynamoDbDeploymentStore } from '../../functions/adapters/aws/dynamodb-store.js';
import type { LocalDynamo } from '../helpers/dynalite.js';
import { cli, executionArn, record, tableFixture } from './cli-harness.js';

const sfn = mockClient(SFNClient);
const eks = mockClient(EKSClient);
let dynamo: LocalDynamo;
let store: DynamoDbDeploymentStore;
let dir: string;
let closedPort: number;

/** A loopback port nothing listens on: connections are refused at once. */
async function freeClosedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

beforeAll(async () => {
  ({ dynamo, store } = await tableFixture());
  dir = await mkdtemp(join(tmpdir(), 'cli-abort-'));
  closedPort = await freeClosedPort();
});
afterAll(async () => {
  await dynamo.stop();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  sfn.reset();
  eks.reset();
  sfn.on(StopExecutionCommand).resolves({ stopDate: new Date() });
  // DescribeCluster (EKS API reference): the endpoint and CA of a cluster this machine cannot reach.
  eks.on(DescribeClusterCommand).resolves({
    cluster: {
      name: 'prod-eks',
      arn: 'arn:aws:eks:us-east-1:123456789012:cluster/prod-eks',
      endpoint: `https://127.0.0.1:${closedPort}`,
      status: 'ACTIVE',
      version: '1.35',
      certificateAuthority: {
        data: Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString(
          'base64',
        ),
      },
    },
  });
});

describe('abort', () => {
  it('refuses a release that already ended, pointing at rollback', async () => {
    await store.put(record({ deploymentId: 'ab-1', outcome: 'SUCCEEDED' }));
    const r = await cli(['abort', 'ab-1'], { dynamo });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /api ab-1 already ended \(SUCCEEDED\); nothing to abort.*tps-deploy rollback --service api/,
    );
    expect(sfn).not.toHaveReceivedCommand(StopExecutionCommand);
  });

  it('against AWS it goes through the answer endpoint: without one it says where to get one, and neither stops nor reaches the cluster', async () => {
    await store.put(record({ deploymentId: 'ab-2' }));
    const r = await cli(['abort', 'ab-2'], { dynamo });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no answer endpoint: set TPS_ANSWER_URL to the stack's AnswerUrl output/);
    expect(eks).not.toHaveReceivedCommand(DescribeClusterCommand);
    expect(sfn).not.toHaveReceivedCommand(StopExecutionCommand);
    expect((await store.get('api', 'ab-2'))?.outcome).toBe('RUNNING');
  });

  it('with --kubeconfig: an unreachable API server is named, nothing stopped', async () => {
    await store.put(record({ deploymentId: 'ab-4' }));
    const kubeconfig = join(dir, 'unreachable.kubeconfig');
    await writeFile(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        `- name: gone\n  cluster:\n    server: https://127.0.0.1:${closedPort}\n    insecure-skip-tls-verify: true`,
        'users:',
        '- name: me\n  user:\n    token: t',
        'contexts:',
        '- name: gone\n  context:\n    cluster: gone\n    user: me',
        'current-context: gone',
      ].join('\n'),
    );
    const r = await cli(['abort', executionArn('api', 'ab-4'), '--kubeconfig', kubeconfig], { dynamo });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`cannot reach the cluster of ${kubeconfig} to roll back shop/api`));
    expect(eks).not.toHaveReceivedCommand(DescribeClusterCommand);
    expect(sfn).not.toHaveReceivedCommand(StopExecutionCommand);
  });

  it('refuses a kubeconfig that does not exist, naming the flag', async () => {
    await store.put(record({ deploymentId: 'ab-5' }));
    const r = await cli(['abort', 'ab-5', '--kubeconfig', join(dir, 'missing')], { dynamo });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--kubeconfig: cannot use .*missing/);
  });
});

describe('rollback', () => {
  it('needs a deployment to go back from', async () => {
    const r = await cli(['rollback', '--service', 'web'], { dynamo });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no deployments of web in tps-test-deployments: nothing to roll back to/);
  });

  it('points a running release at abort, and does nothing after a rollback', async () => {
    await store.put(record({ deploymentId: 'rb-1', service: 'web', startedAt: '2026-11-21T00:00:00.000Z' }));
    const running = await cli(['rollback', '--service', 'web'], { dynamo });
    expect(running.code).toBe(1);
    expect(running.stderr).toMatch(/web rb-1 is still running; stop it with: tps-deploy abort rb-1/);
    await store.put(
      record({
        deploymentId: 'rb-2',
        service: 'web',
        startedAt: '2026-11-22T00:00:00.000Z',
        outcome: 'ROLLED_BACK',
        previousImage: 'repo/web:v1',
      }),
    );
    const done = await cli(['rollback', '--service', 'web'], { dynamo });
    expect(done.code).toBe(0);
    expect(done.stdout).toMatch(
      /latest deployment rb-2 is ROLLED_BACK; repo\/web:v1 is already serving. Nothing to do./,
    );
    expect(eks).not.toHaveReceivedCommand(DescribeClusterCommand);
  });

  it('against AWS it goes through the answer endpoint; without one nothing is changed and the cluster is not reached', async () => {
    await store.put(
      record({
        deploymentId: 'rb-3',
        service: 'web',
        startedAt: '2026-11-23T00:00:00.000Z',
        outcome: 'SUCCEEDED',
        finalImage: 'repo/web:v2',
      }),
    );
    const r = await cli(['rollback', '--service', 'web'], { dynamo });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no answer endpoint: set TPS_ANSWER_URL/);
    expect(eks).not.toHaveReceivedCommand(DescribeClusterCommand);
    expect((await store.get('web', 'rb-3'))?.outcome).toBe('SUCCEEDED');
  });
});

describe('topicArnFor', () => {
  it('derives the notifications topic from an execution ARN of the same stack', () => {
    expect(topicArnFor('tps-test', executionArn('api', 'd-1'))).toBe(
      'arn:aws:sns:us-east-1:123456789012:tps-test-notifications',
    );
    expect(
      topicArnFor('tps-test', 'arn:aws:states:local:000000000000:execution:tps-deploy:local-1'),
    ).toBeNull();
    expect(topicArnFor('tps-test', null)).toBeNull();
  });
});

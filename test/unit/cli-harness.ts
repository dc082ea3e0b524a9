/**
 * Runs the CLI in-process for tests: collecting streams, a test catalog, dynalite for the
 * deployments table, and SDK clients whose SFN/EKS calls aws-sdk-client-mock answers.
 */

import { EKSClient } from '@aws-sdk/client-eks';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { AwsClients, CliIo, OutStream } from '../../cli/io.js';
import { run } from '../../cli/main.js';
import {
  createTableIfMissing,
  DynamoDbDeploymentStore,
} from '../../functions/adapters/aws/dynamodb-store.js';
import type { CatalogInput } from '../../functions/domain/config.js';
import type { DeploymentRecord } from '../../functions/domain/record.js';
import { type LocalDynamo, localDynamoClient, startDynalite } from '../helpers/dynalite.js';

export const APP = 'tps-test';
export const TABLE = `${APP}-deployments`;
export const REGION = 'us-east-1';
export const ACCOUNT = '123456789012';

/** A catalog of two sandbox services (no AWS metrics needed: synthetic traffic). */
export const CATALOG: CatalogInput = {
  appName: APP,
  services: {
    api: {
      cluster: { name: 'prod-eks', region: REGION },
      namespace: 'shop',
      deployment: 'api',
      containers: ['api', 'sidecar'],
      router: { type: 'replica-ratio', service: 'api' },
      slo: { p99Ms: 300 },
      metrics: { source: 'synthetic', profile: 'healthy' },
      sandbox: true,
    },
    web: {
      cluster: { name: 'prod-eks', region: REGION },
      namespace: 'shop',
      deployment: 'web',
      containers: ['web'],
      router: { type: 'replica-ratio', service: 'web' },
      slo: { p99Ms: 800 },
      metrics: { source: 'synthetic', profile: 'healthy' },
      sandbox: true,
    },
  },
};

export const stateMachineArn = (service: string) =>
  `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${APP}-${service}`;
export const executionArn = (service: string, id: string) =>
  `arn:aws:states:${REGION}:${ACCOUNT}:execution:${APP}-${service}:${id}`;

/** A stream that keeps what was written. */
export class Collect implements OutStream {
  text = '';
  constructor(readonly isTTY = false) {}
  write(s: string): boolean {
    this.text += s;
    return true;
  }
}

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

/** Clients for the CLI: SFN and EKS (mocked by the test file), DynamoDB at dynalite. */
export function testClients(dynamo: LocalDynamo | null): Partial<AwsClients> {
  return {
    sfn: new SFNClient({ region: REGION, credentials }),
    eks: new EKSClient({ region: REGION, credentials }),
    // Without dynalite, a table on a closed loopback port: calls fail at once, never leave the machine.
    dynamodb: dynamo?.client ?? localDynamoClient('http://127.0.0.1:1', 1),
  };
}

/** Runs `tps-deploy <argv>` in-process. */
export async function cli(
  argv: readonly string[],
  opts: { dynamo?: LocalDynamo | null; io?: Partial<CliIo>; tty?: boolean } = {},
): Promise<CliRun> {
  const stdout = new Collect(opts.tty ?? false);
  const stderr = new Collect();
  const code = await run(argv, {
    stdout,
    stderr,
    env: { USER: 'tester' },
    catalog: CATALOG,
    clients: testClients(opts.dynamo ?? null),
    sleep: async () => {},
    ...opts.io,
  });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** dynalite with the deployments table. */
export async function tableFixture(): Promise<{ dynamo: LocalDynamo; store: DynamoDbDeploymentStore }> {
  const dynamo = await startDynalite();
  await createTableIfMissing(dynamo.client, TABLE);
  return { dynamo, store: new DynamoDbDeploymentStore({ client: dynamo.client, tableName: TABLE }) };
}

/** A deployment record as the pipeline writes it, with overrides. */
export function record(over: Partial<DeploymentRecord> & { deploymentId: string }): DeploymentRecord {
  const service = over.service ?? 'api';
  return {
    service,
    executionArn: executionArn(service, over.deploymentId),
    mode: 'standard',
    requestedBy: 'jane@example.com',
    changeRef: 'CHG-1',
    image: 'repo/api:v2.0.0',
    images: { api: 'repo/api:v2.0.0' },
    previousImage: 'repo/api:v1.0.0',
    previousImages: { api: 'repo/api:v1.0.0' },
    finalImage: null,
    startedAt: '2026-11-20T10:00:00.000Z',
    endedAt: null,
    outcome: 'RUNNING',
    phases: [],
    rollback: null,
    events: [{ at: '2026-11-20T10:00:00.000Z', message: 'release requested' }],
    ...over,
  };
}

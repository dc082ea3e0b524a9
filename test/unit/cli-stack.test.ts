/**
 * `--stack <name>` (or TPS_STACK): the CLI finds the deployed runbook by its stack. DescribeStacks
 * (answers shaped as the CloudFormation API reference's DescribeStacks response, mocked) gives the
 * `TpsDeployRunbook` output; from it the CLI takes the region, the table (dynalite, under a name no
 * catalog would derive), each service's state machine ARN (no ListStateMachines), the dashboards,
 * the topic, the answer endpoint (a loopback function URL that verifies SigV4 as Lambda does, in
 * front of the real answer handler) and the catalog.
 */
import {
  CloudFormationClient,
  CloudFormationServiceException,
  DescribeStacksCommand,
  type DescribeStacksCommandOutput,
  type StackStatus,
} from '@aws-sdk/client-cloudformation';
import {
  DescribeExecutionCommand,
  ListStateMachinesCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { cliPorts } from '../../cli/aws-ports.js';
import { CliContext } from '../../cli/context.js';
import {
  createTableIfMissing,
  DynamoDbDeploymentStore,
} from '../../functions/adapters/aws/dynamodb-store.js';
import { SfnExecutions } from '../../functions/adapters/aws/sfn-executions.js';
import { SfnReleaseStarter } from '../../functions/adapters/aws/sfn-release-starter.js';
import { SfnTaskTokens } from '../../functions/adapters/aws/task-tokens.js';
import { createFunctionLogger } from '../../functions/adapters/powertools/function-logger.js';
import { discardLines } from '../../functions/adapters/powertools/output.js';
import { RUNBOOK_OUTPUT_KEY, type RunbookOutput } from '../../functions/contract/runbook-output.js';
import { type CatalogInput, parseCatalog } from '../../functions/domain/config.js';
import { handleAnswer } from '../../functions/handlers/answer-runtime.js';
import { type LocalDynamo, startDynalite } from '../helpers/dynalite.js';
import { type LocalFunctionUrl, startFunctionUrl, type TestIdentity } from '../helpers/function-url.js';
import { ACCOUNT, APP, CATALOG, Collect, cli, executionArn, REGION, record } from './cli-harness.js';

const STACK = 'tps-test';
/** A table name the CDK would generate: nothing derives it from the catalog. */
const STACK_TABLE = 'tps-test-DeploymentsTable1A2B3C4D-XYZ';
const STACK_ID = `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/${STACK}/5e3a1f20-0d4b-11f1-9c1a-0a1b2c3d4e5f`;
const machine = (service: string) => `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${APP}-${service}`;
const TOPIC = `arn:aws:sns:${REGION}:${ACCOUNT}:${APP}-notifications`;
const NOW = new Date('2026-11-20T10:30:00.000Z');
const TOKEN = 'AQCEAAAAKgAAAAMAAAAAAAAAAd1stack-task-token';

const LEAD: TestIdentity = {
  accessKeyId: 'AKIALEAD',
  secretAccessKey: 'lead-secret',
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/TeamLead/lead@example.com`,
  accountId: ACCOUNT,
};
/** The catalog the stack was deployed with: the lead approves and aborts api. */
const DEPLOYED: CatalogInput = {
  ...CATALOG,
  services: {
    ...CATALOG.services,
    api: {
      ...CATALOG.services.api!,
      duties: {
        approvers: [`arn:aws:iam::${ACCOUNT}:role/TeamLead`],
        aborters: [`arn:aws:iam::${ACCOUNT}:role/TeamLead`],
        personalSessionRoles: [
          `arn:aws:iam::${ACCOUNT}:role/TeamLead`,
          `arn:aws:iam::${ACCOUNT}:role/Developer`,
        ],
      },
    },
  },
};

const cfn = mockClient(CloudFormationClient);
const sfn = mockClient(SFNClient);
let dynamo: LocalDynamo;
let store: DynamoDbDeploymentStore;
let endpoint: LocalFunctionUrl;
let dir: string;

/** The output's value as the ReleaseRunbook construct writes it (functions/contract/runbook-output.ts). */
function runbook(over: Partial<RunbookOutput> = {}): RunbookOutput {
  return {
    schema: 1,
    appName: APP,
    region: REGION,
    tableName: STACK_TABLE,
    topicArn: TOPIC,
    answerUrl: endpoint.url,
    stateMachines: { api: machine('api'), web: machine('web') },
    dashboards: { api: `${APP}-api`, web: 'tps-test-WebDashboard9F8E' },
    clusterAccess: [
      {
        task: 'shiftTraffic',
        roleArn: `arn:aws:iam::${ACCOUNT}:role/tps-test-ShiftTrafficRole`,
        kubernetesGroups: [`tps-deploy-${APP}-write`],
      },
    ],
    network: { endpointAccess: 'public', securityGroupIds: [], subnetIds: [] },
    catalog: JSON.parse(JSON.stringify(parseCatalog(DEPLOYED))) as Record<string, unknown>,
    ...over,
  };
}

/** A DescribeStacks answer (CloudFormation API reference, DescribeStacks: Stacks[].Outputs[]). */
function stackAnswer(
  outputs: { OutputKey: string; OutputValue: string }[],
  status: StackStatus = 'UPDATE_COMPLETE',
): DescribeStacksCommandOutput {
  return {
    Stacks: [
      {
        StackId: STACK_ID,
        StackName: STACK,
        CreationTime: new Date('2026-11-01T09:00:00.000Z'),
        LastUpdatedTime: new Date('2026-11-19T09:00:00.000Z'),
        StackStatus: status,
        DisableRollback: false,
        Outputs: outputs.map((o) => ({ ...o, Description: 'tps-deploy runbook' })),
        Tags: [],
        EnableTerminationProtection: false,
        DriftInformation: { StackDriftStatus: 'NOT_CHECKED' },
      },
    ],
    $metadata: {},
  };
}

function deployed(over: Partial<RunbookOutput> = {}): void {
  cfn.on(DescribeStacksCommand, { StackName: STACK }).resolves(
    stackAnswer([
      { OutputKey: 'AnswerUrl', OutputValue: endpoint.url },
      { OutputKey: RUNBOOK_OUTPUT_KEY, OutputValue: JSON.stringify(runbook(over)) },
    ]),
  );
}

beforeAll(async () => {
  dynamo = await startDynalite();
  await createTableIfMissing(dynamo.client, STACK_TABLE);
  store = new DynamoDbDeploymentStore({ client: dynamo.client, tableName: STACK_TABLE });
  const endpointSfn = new SFNClient({ region: REGION });
  const ports = {
    catalog: parseCatalog(DEPLOYED),
    store,
    clock: { now: () => NOW },
    taskTokens: new SfnTaskTokens({ client: endpointSfn }),
    releases: new SfnReleaseStarter({
      client: endpointSfn,
      stateMachineArns: { api: machine('api'), web: machine('web') },
    }),
    executions: new SfnExecutions({ client: endpointSfn }),
    rollbackRequests: {
      request: async () => {
        throw new Error('no rollback in these tests');
      },
    },
  };
  const logger = createFunctionLogger({ sink: discardLines });
  endpoint = await startFunctionUrl((event) => handleAnswer(ports, event, logger), [LEAD]);
  dir = await mkdtemp(join(tmpdir(), 'cli-stack-'));
});
afterAll(async () => {
  await endpoint.stop();
  await dynamo.stop();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  cfn.reset();
  sfn.reset();
  sfn.on(SendTaskSuccessCommand).resolves({});
  sfn.on(StopExecutionCommand).resolves({ stopDate: NOW });
  sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' } as never);
  sfn.on(StartExecutionCommand).callsFake((i: { stateMachineArn: string; name: string }) => ({
    executionArn: `${i.stateMachineArn.replace(':stateMachine:', ':execution:')}:${i.name}`,
    startDate: NOW,
  }));
  deployed();
});

/** `tps-deploy <argv>` as the lead, with no catalog file and no TPS_ANSWER_URL: only the stack. */
function run(argv: string[], env: Record<string, string> = {}, io: Record<string, unknown> = {}) {
  return cli(argv, {
    io: {
      now: () => NOW,
      catalog: undefined,
      cwd: dir,
      env: { USER: 'tester', AWS_REGION: REGION, ...env },
      clients: {
        cloudformation: new CloudFormationClient({ region: REGION }),
        sfn: new SFNClient({
          region: REGION,
          credentials: { accessKeyId: LEAD.accessKeyId, secretAccessKey: LEAD.secretAccessKey },
        }),
        dynamodb: dynamo.client,
      },
      ...io,
    },
  });
}

function noStateMachineSearch(): void {
  expect(sfn).not.toHaveReceivedCommand(ListStateMachinesCommand);
}

describe('a stack that gives no runbook: a clear error, exit 2, nothing else called', () => {
  it('no stack of that name', async () => {
    cfn.on(DescribeStacksCommand, { StackName: 'nope' }).rejects(
      new CloudFormationServiceException({
        name: 'ValidationError',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
        message: 'Stack with id nope does not exist',
      }),
    );
    const r = await run(['--stack', 'nope', 'history', '--service', 'api']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `tps-deploy: --stack: no stack "nope" in ${REGION}: check --stack, --region and --profile`,
    );
    expect(sfn.calls()).toEqual([]);
  });

  it('a stack without the output: is this a tps-deploy stack?', async () => {
    cfn
      .on(DescribeStacksCommand, { StackName: STACK })
      .resolves(stackAnswer([{ OutputKey: 'BucketName', OutputValue: 'x' }], 'CREATE_COMPLETE'));
    const r = await run(['--stack', STACK, 'list']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `--stack: stack "${STACK}" (CREATE_COMPLETE) has no output ${RUNBOOK_OUTPUT_KEY} (it has BucketName): is this a tps-deploy stack? deployed with a version that writes ${RUNBOOK_OUTPUT_KEY}?`,
    );
  });

  it.each([
    ['not JSON', () => '{"schema":1,', /TpsDeployRunbook is not JSON/],
    [
      'another schema, bad fields',
      () => JSON.stringify({ ...runbook(), schema: 2, tableName: '', extra: true }),
      /TpsDeployRunbook does not fit schema 1: .*schema: .*; tableName: .*; \(value\): .*extra/,
    ],
  ])('an output that does not parse (%s): the parser names it', async (_what, value, message) => {
    cfn
      .on(DescribeStacksCommand, { StackName: STACK })
      .resolves(stackAnswer([{ OutputKey: RUNBOOK_OUTPUT_KEY, OutputValue: value() }]));
    const r = await run(['--stack', STACK, 'history', '--service', 'api']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`--stack: stack "${STACK}": `));
    expect(r.stderr).toMatch(message);
  });

  it('DescribeStacks itself failing (credentials) is an AWS error, exit 1', async () => {
    cfn.on(DescribeStacksCommand).rejects(
      Object.assign(new Error('Could not load credentials from any providers'), {
        name: 'CredentialsProviderError',
      }),
    );
    const r = await run(['--stack', STACK, 'list']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `CloudFormation DescribeStacks ${STACK} failed: CredentialsProviderError: Could not load credentials from any providers (no AWS credentials`,
    );
  });
});

describe('every command works from the stack alone', () => {
  it('history and list read the table the stack names; TPS_STACK works as --stack', async () => {
    await store.put(record({ deploymentId: 'st-h1', outcome: 'SUCCEEDED', finalImage: 'repo/api:v2.0.0' }));
    const h = await run(['--stack', STACK, 'history', '--service', 'api', '--json']);
    expect(h.stderr).toBe('');
    expect(h.code).toBe(0);
    expect(JSON.parse(h.stdout).map((r: { deploymentId: string }) => r.deploymentId)).toContain('st-h1');
    await store.begin(record({ deploymentId: 'st-l1', service: 'web' }));
    const l = await run(['list', '--json'], { TPS_STACK: STACK });
    expect(l.code).toBe(0);
    expect(JSON.parse(l.stdout)).toEqual([
      expect.objectContaining({ service: 'web', deploymentId: 'st-l1' }),
    ]);
    expect(cfn).toHaveReceivedCommandWith(DescribeStacksCommand, { StackName: STACK });
  });

  it("status links the dashboard the stack names; watch finds an execution by the stack's ARN", async () => {
    await store.put(record({ deploymentId: 'st-s1', service: 'web' }));
    const s = await run(['--stack', STACK, 'status', 'st-s1', '--json']);
    expect(s.code).toBe(0);
    expect(JSON.parse(s.stdout).links.dashboard).toContain('#dashboards/dashboard/tps-test-WebDashboard9F8E');
    sfn.on(DescribeExecutionCommand, { executionArn: executionArn('api', 'st-w1') }).resolves({
      executionArn: executionArn('api', 'st-w1'),
      stateMachineArn: machine('api'),
      status: 'FAILED',
      startDate: NOW,
      stopDate: NOW,
    } as never);
    const w = await run(['--stack', STACK, 'watch', 'st-w1', '--service', 'api', '--json']);
    expect(sfn).toHaveReceivedCommandWith(DescribeExecutionCommand, {
      executionArn: executionArn('api', 'st-w1'),
    });
    expect(w.stderr).not.toContain('no state machine');
    noStateMachineSearch();
  });

  it("a service the stack has no state machine for is named, with the stack's services", async () => {
    deployed({ stateMachines: { web: machine('web') } });
    const r = await run(['--stack', STACK, 'watch', 'st-none', '--service', 'api']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`stack "${STACK}" has no state machine for service "api" (it has web)`);
    noStateMachineSearch();
  });

  it("start goes through the stack's answer endpoint, as the verified caller", async () => {
    const r = await run([
      '--stack',
      STACK,
      'start',
      '--service',
      'api',
      '--image',
      'repo/api:v2.1.0',
      '--tests-passed',
      '--reviewers',
      'ann,bo',
      '--name',
      'st-start-1',
    ]);
    expect(r.stderr).toContain(`requested by ${LEAD.arn} (verified)`);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('started st-start-1');
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, {
      stateMachineArn: machine('api'),
      name: 'st-start-1',
    });
    expect(endpoint.refused).toBe(0);
    noStateMachineSearch();
  });

  it('approve, hold, promote, abort and unlock reach the endpoint the stack names', async () => {
    await store.put(
      record({
        deploymentId: 'st-a1',
        pendingApproval: { requestedAt: NOW.toISOString(), expiresAt: '2026-11-20T11:30:00.000Z' },
        requester: {
          principal: `arn:aws:sts::${ACCOUNT}:assumed-role/Developer/dev@example.com`,
          verified: true,
        },
      }),
    );
    await store.saveTaskToken('api', 'st-a1', TOKEN);
    const approve = await run(['--stack', STACK, 'approve', 'st-a1']);
    expect(approve.stderr).toBe('');
    expect(approve.stdout).toContain(`api st-a1: approved by ${LEAD.arn}`);
    expect(sfn).toHaveReceivedCommandWith(SendTaskSuccessCommand, { taskToken: TOKEN });

    await store.put(record({ deploymentId: 'st-h2', startedAt: '2026-11-20T11:00:00.000Z' }));
    const hold = await run(['--stack', STACK, 'hold', 'st-h2']);
    expect(hold.stdout).toContain(`hold requested by ${LEAD.arn}`);
    const promote = await run(['--stack', STACK, 'promote', 'st-h2']);
    expect(promote.stdout).toContain(`hold withdrawn by ${LEAD.arn}`);

    const abort = await run(['--stack', STACK, 'abort', 'st-h2', '--reason', 'wrong build']);
    expect(abort.stderr).toBe('');
    expect(abort.stdout).toContain(`(stop by ${LEAD.arn}, verified)`);
    expect(sfn).toHaveReceivedCommandWith(StopExecutionCommand, {
      executionArn: executionArn('api', 'st-h2'),
    });

    const unlock = await run(['--stack', STACK, 'unlock', '--service', 'api']);
    // The endpoint answered from the table the stack names (api holds no lock there).
    expect(unlock.stderr).toBe('');
    expect(unlock.stdout).toContain('api: not locked; nothing to do');
    expect(endpoint.refused).toBe(0);
  });
});

describe('--config and --stack together: the stack gives the names, the file the catalog', () => {
  async function configFile(name: string, catalog: CatalogInput): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, `export default ${JSON.stringify(catalog)};\n`);
    return path;
  }

  it('a file of another app is refused, naming both appNames', async () => {
    const other = await configFile('other.config.mjs', { ...CATALOG, appName: 'shop' });
    const r = await run(['--stack', STACK, '--config', other, 'history', '--service', 'api']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `--config ${other} is appName "shop" but stack "${STACK}" runs appName "${APP}": they are not the same app`,
    );
  });

  it("the file's catalog is used; where it differs from the deployed one, stderr says so", async () => {
    const mine = await configFile('mine.config.mjs', CATALOG);
    await store.put(record({ deploymentId: 'st-c1', outcome: 'SUCCEEDED' }));
    const r = await run(['--stack', STACK, '--config', mine, 'history', '--service', 'api', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      `note: --config ${mine} differs from the catalog stack "${STACK}" runs with (api); this command uses the file's, the deployed functions the stack's`,
    );
    const same = await configFile('same.config.mjs', DEPLOYED);
    const quiet = await run(['--stack', STACK, '--config', same, 'history', '--service', 'api']);
    expect(quiet.stderr).toBe('');
  });
});

describe('TPS_STACK from the environment beside a ./tps.config.ts', () => {
  /** A directory holding a tps.config.ts of `catalog`, as a repository of that app would. */
  async function repoOf(name: string, catalog: CatalogInput): Promise<string> {
    const repo = join(dir, name);
    await mkdir(repo, { recursive: true });
    await writeFile(join(repo, 'package.json'), '{"type":"module"}\n');
    await writeFile(join(repo, 'tps.config.ts'), `export default ${JSON.stringify(catalog)};\n`);
    return repo;
  }

  it('a tps.config.ts of another app is refused (exit 2), naming both and how to choose; nothing else called', async () => {
    const staging = await repoOf('staging-repo', { ...CATALOG, appName: 'shop-staging' });
    await store.put(record({ deploymentId: 'st-e1', outcome: 'SUCCEEDED' }));
    const r = await run(['history', '--service', 'api'], { TPS_STACK: STACK }, { cwd: staging });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `using stack ${STACK} (from TPS_STACK)\n` +
        `tps-deploy: TPS_STACK names stack "${STACK}" (appName "${APP}") but ${join(staging, 'tps.config.ts')} is appName "shop-staging": pass --stack ${STACK} to act on that stack, unset TPS_STACK to use the file, or pass --config <file>\n`,
    );
    expect(sfn.calls()).toEqual([]);
  });

  it("the same app: the stack's catalog is used, and stderr says the stack came from TPS_STACK (stdout stays JSON)", async () => {
    const same = await repoOf('same-repo', CATALOG);
    await store.put(record({ deploymentId: 'st-e2', outcome: 'SUCCEEDED' }));
    const r = await run(['history', '--service', 'api', '--json'], { TPS_STACK: STACK }, { cwd: same });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`using stack ${STACK} (from TPS_STACK)\n`);
    expect(JSON.parse(r.stdout).map((x: { deploymentId: string }) => x.deploymentId)).toContain('st-e2');
    const flag = await run(['--stack', STACK, 'history', '--service', 'api'], {}, { cwd: same });
    expect(flag.stderr).toBe('');
  });

  it('errors about a stack from the environment name TPS_STACK, not --stack', async () => {
    cfn.on(DescribeStacksCommand, { StackName: 'nope' }).rejects(
      new CloudFormationServiceException({
        name: 'ValidationError',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
        message: 'Stack with id nope does not exist',
      }),
    );
    const r = await run(['list'], { TPS_STACK: 'nope' });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'using stack nope (from TPS_STACK)\n' +
        `tps-deploy: TPS_STACK: no stack "nope" in ${REGION}: check TPS_STACK, --region and --profile (npx cdk deploy creates the stack named after the catalog's appName)\n`,
    );
  });
});

describe('--config differing from the stack: commands that change things refuse for that service', () => {
  async function mine(): Promise<string> {
    const path = join(dir, 'differs.config.mjs');
    // The file lacks the deployed api's duties; web is the same in both.
    await writeFile(path, `export default ${JSON.stringify(CATALOG)};\n`);
    return path;
  }
  const refusal = (file: string) =>
    `tps-deploy: --config ${file} and stack "${STACK}" differ for service "api" (duties): this command changes things, so it uses neither; drop --config (the stack's catalog is used) or deploy the file (npx cdk deploy ${STACK})\n`;

  it.each([
    ['start', ['start', '--service', 'api', '--image', 'repo/api:v9', '--tests-passed', '--name', 'st-m1']],
    ['unlock', ['unlock', '--service', 'api']],
    ['rollback --kubeconfig', ['rollback', '--service', 'api', '--kubeconfig', '/nonexistent/kubeconfig']],
    ['approve', ['approve', 'st-m2']],
    ['abort --kubeconfig', ['abort', 'st-m2', '--kubeconfig', '/nonexistent/kubeconfig']],
  ])('%s on api is refused (exit 2) naming the differing fields; nothing sent', async (_name, argv) => {
    const file = await mine();
    await store.begin(record({ deploymentId: 'st-m2', service: 'api' }));
    const r = await run(['--stack', STACK, '--config', file, ...argv]);
    expect(r.stderr).toBe(refusal(file));
    expect(r.code).toBe(2);
    expect(sfn.calls()).toEqual([]);
  });

  it('a change to a service that is the same in both goes ahead; read-only commands keep the note', async () => {
    const file = await mine();
    const r = await run([
      '--stack',
      STACK,
      '--config',
      file,
      'start',
      '--service',
      'web',
      '--image',
      'repo/web:v9',
      '--tests-passed',
      '--name',
      'st-m3',
    ]);
    expect(r.code).toBe(0);
    const h = await run(['--stack', STACK, '--config', file, 'history', '--service', 'api']);
    expect(h.code).toBe(0);
    expect(h.stderr).toContain(
      `note: --config ${file} differs from the catalog stack "${STACK}" runs with (api)`,
    );
  });

  it("doctor checks the stack's catalog, not the file's", async () => {
    const { doctorScope } = await import('../../cli/commands/doctor.js');
    const other = join(dir, 'doctor.config.mjs');
    const moved: CatalogInput = {
      ...CATALOG,
      services: { ...CATALOG.services, api: { ...CATALOG.services.api!, namespace: 'elsewhere' } },
    };
    await writeFile(other, `export default ${JSON.stringify(moved)};\n`);
    const ctx = new CliContext(
      {
        stdout: new Collect(),
        stderr: new Collect(),
        env: { AWS_REGION: REGION },
        cwd: dir,
        clients: { cloudformation: new CloudFormationClient({ region: REGION }) },
      },
      { stack: STACK, config: other },
    );
    const scope = await doctorScope(ctx, {});
    expect(scope.catalog).toEqual(parseCatalog(DEPLOYED));
    expect(scope.services.map(([, svc]) => svc.namespace)).toEqual(['shop', 'shop']);
  });
});

it('notifications of an in-process rollback (--kubeconfig) go to the topic the stack names', async () => {
  const sns = mockClient(SNSClient);
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  const ctx = new CliContext(
    {
      stdout: new Collect(),
      stderr: new Collect(),
      env: { AWS_REGION: REGION, TPS_TOPIC_ARN: `arn:aws:sns:${REGION}:${ACCOUNT}:someone-elses` },
      cwd: dir,
      clients: {
        cloudformation: new CloudFormationClient({ region: REGION }),
        sns: new SNSClient({ region: REGION }),
        dynamodb: dynamo.client,
      },
    },
    { stack: STACK },
  );
  await ctx.prepare();
  const ports = await cliPorts(ctx, {});
  await ports.notifier.notify({
    kind: 'rollback',
    service: 'api',
    deploymentId: 'st-n1',
    subject: 'api: rolled back',
    message: 'by a person',
  });
  expect(sns).toHaveReceivedCommandWith(PublishCommand, { TopicArn: TOPIC });
  sns.restore();
});

describe('region', () => {
  const ctx = (options: { region?: string }, env: Record<string, string> = {}) =>
    new CliContext(
      {
        stdout: new Collect(),
        stderr: new Collect(),
        env: { AWS_REGION: REGION, ...env },
        clients: { cloudformation: new CloudFormationClient({ region: REGION }) },
      },
      { stack: STACK, ...options },
    );

  it("the stack's region for the clients; a --region naming the same is accepted", async () => {
    deployed({ region: 'eu-west-1' });
    const fromStack = ctx({});
    await fromStack.prepare();
    expect(fromStack.region()).toBe('eu-west-1');
    expect(await fromStack.sns.config.region()).toBe('eu-west-1');
    const same = ctx({ region: 'eu-west-1' });
    await same.prepare();
    expect(await same.sns.config.region()).toBe('eu-west-1');
  });

  it("--region other than the stack's is refused (exit 2): its ARNs and table are in the stack's region", async () => {
    deployed({ region: 'eu-west-1' });
    const explicit = ctx({ region: 'us-west-2' });
    await expect(explicit.prepare()).rejects.toMatchObject({
      exitCode: 2,
      message: `--region us-west-2: stack "${STACK}" runs in eu-west-1 (its state machines, table and topic are there); drop --region or pass --region eu-west-1`,
    });
  });
});

describe("the answer endpoint: --answer-url, then the stack's AnswerUrl, then TPS_ANSWER_URL", () => {
  it("with both a stack and TPS_ANSWER_URL, the stack's endpoint is used", async () => {
    const { configuredAnswerUrl } = await import('../../cli/answer-client.js');
    const ctx = new CliContext(
      {
        stdout: new Collect(),
        stderr: new Collect(),
        env: { AWS_REGION: REGION, TPS_ANSWER_URL: 'https://elsewhere.example/' },
        clients: { cloudformation: new CloudFormationClient({ region: REGION }) },
      },
      { stack: STACK },
    );
    expect((await configuredAnswerUrl(ctx))?.href).toBe(new URL(endpoint.url).href);
    expect((await configuredAnswerUrl(ctx, 'https://given.example/'))?.href).toBe('https://given.example/');
  });

  it.each(['start', 'approve', 'reject', 'hold', 'promote', 'abort', 'rollback', 'unlock'])(
    '%s --help says that order',
    async (command) => {
      const r = await run([command, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout.replace(/\s+/g, ' ')).toContain(
        "(default: the stack's AnswerUrl output, else $TPS_ANSWER_URL",
      );
    },
  );
});

it('a parsed catalog parses again to itself (the output carries the parsed catalog)', async () => {
  const sample = (await import('../../tps.config.js')).default;
  const once = parseCatalog(sample);
  expect(parseCatalog(JSON.parse(JSON.stringify(once)))).toEqual(once);
  expect(parseCatalog(JSON.parse(JSON.stringify(parseCatalog(DEPLOYED))))).toEqual(parseCatalog(DEPLOYED));
});

/**
 * `watch`, `list` and `status --watch` against dynalite (the deployments table) and Step Functions
 * mocked with aws-sdk-client-mock in the shapes of the API reference (DescribeExecution,
 * GetExecutionHistory, DescribeStateMachineForExecution, ListStateMachines).
 */
import {
  DescribeExecutionCommand,
  DescribeStateMachineForExecutionCommand,
  GetExecutionHistoryCommand,
  type GetExecutionHistoryCommandInput,
  type HistoryEvent,
  ListStateMachinesCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import type { DynamoDbDeploymentStore } from '../../functions/adapters/aws/dynamodb-store.js';
import type { DeploymentRecord } from '../../functions/domain/record.js';
import type { LocalDynamo } from '../helpers/dynalite.js';
import { cli, executionArn, record, stateMachineArn, tableFixture } from './cli-harness.js';

const sfn = mockClient(SFNClient);
let dynamo: LocalDynamo;
let store: DynamoDbDeploymentStore;

beforeAll(async () => {
  ({ dynamo, store } = await tableFixture());
});
afterAll(async () => {
  await dynamo.stop();
});
beforeEach(() => {
  sfn.reset();
  // ListStateMachines (documented shape: stateMachines[{stateMachineArn, name, type, creationDate}]).
  sfn.on(ListStateMachinesCommand).resolves({
    stateMachines: ['api', 'web'].map((s) => ({
      stateMachineArn: stateMachineArn(s),
      name: `tps-test-${s}`,
      type: 'STANDARD',
      creationDate: new Date(),
    })),
  });
});

const t = (s: number) => new Date(Date.UTC(2026, 10, 20, 10, 0, s));

/** A small definition: a Wait state of 30 s (what the follower reads a wait's length from). */
const DEFINITION = JSON.stringify({
  StartAt: 'Shift 10% To Canary',
  States: {
    'Shift 10% To Canary': { Type: 'Task', Next: 'Canary Validation Window' },
    'Canary Validation Window': { Type: 'Wait', Seconds: 30, Next: 'Promote' },
    Promote: { Type: 'Task', Next: 'Released' },
    Released: { Type: 'Succeed' },
  },
});

/** A release that succeeds, as GetExecutionHistory documents its events (oldest first). */
function succeededHistory(): HistoryEvent[] {
  const ev = (id: number, type: string, extra: Partial<HistoryEvent> = {}): HistoryEvent => ({
    id,
    previousEventId: id - 1,
    timestamp: t(id),
    type: type as HistoryEvent['type'],
    ...extra,
  });
  const entered = (id: number, type: string, name: string) =>
    ev(id, type, { stateEnteredEventDetails: { name, input: '{}' } });
  return [
    ev(1, 'ExecutionStarted', {
      executionStartedEventDetails: { input: '{}', roleArn: 'arn:aws:iam::1:role/x' },
    }),
    entered(2, 'TaskStateEntered', 'Shift 10% To Canary'),
    ev(3, 'LambdaFunctionSucceeded', {
      lambdaFunctionSucceededEventDetails: {
        output: JSON.stringify({ targetWeight: 10, detail: '1 of 5 ready endpoints are canary (20%)' }),
      },
    }),
    entered(4, 'WaitStateEntered', 'Canary Validation Window'),
    entered(5, 'TaskStateEntered', 'Promote'),
    entered(6, 'SucceedStateEntered', 'Released'),
    ev(7, 'ExecutionSucceeded', { executionSucceededEventDetails: { output: '{}' } }),
  ];
}

/**
 * Serves one execution whose history grows by `step` events per DescribeExecution; when it ends,
 * `onEnd` runs first (the pipeline writing the record's outcome).
 */
function serveExecution(id: string, events: HistoryEvent[], step: number, onEnd?: () => Promise<void>) {
  let visible = 0;
  const arn = executionArn('api', id);
  sfn.on(DescribeStateMachineForExecutionCommand).resolves({
    stateMachineArn: stateMachineArn('api'),
    name: 'tps-test-api',
    definition: DEFINITION,
    roleArn: 'arn:aws:iam::123456789012:role/sm',
    updateDate: t(0),
  });
  sfn.on(DescribeExecutionCommand, { executionArn: arn }).callsFake(async () => {
    visible = Math.min(events.length, visible + step);
    const done = visible >= events.length;
    if (done) await onEnd?.();
    return {
      executionArn: arn,
      stateMachineArn: stateMachineArn('api'),
      name: id,
      status: done ? 'SUCCEEDED' : 'RUNNING',
      startDate: t(0),
      ...(done ? { stopDate: t(events.length) } : {}),
    };
  });
  sfn.on(GetExecutionHistoryCommand).callsFake((input: GetExecutionHistoryCommandInput) => {
    const list = events.slice(0, visible);
    const ordered = input.reverseOrder ? [...list].reverse() : list;
    return { events: ordered.slice(0, input.maxResults ?? 100) };
  });
}

const notFound = () =>
  Object.assign(new Error('Execution Does Not Exist'), {
    name: 'ExecutionDoesNotExist',
    $metadata: { httpStatusCode: 400 },
  });

describe('watch', () => {
  it('attaches to a running release, shows it as the history grows, and exits with its outcome', async () => {
    const running = record({ deploymentId: 'w-1' });
    await store.put(running);
    serveExecution('w-1', succeededHistory(), 2, async () => {
      await store.put({ ...running, outcome: 'SUCCEEDED', endedAt: t(7).toISOString() });
    });
    const r = await cli(['watch', 'w-1'], { dynamo });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      'watching api w-1 (repo/api:v2.0.0, started 2026-11-20T10:00:00.000Z by jane@example.com)',
    );
    expect(r.stderr).toContain(
      `console:   https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/${executionArn('api', 'w-1')}`,
    );
    const out = r.stdout;
    expect(out).toContain('▸ Shift 10% To Canary');
    expect(out).toContain('traffic 10%: 1 of 5 ready endpoints are canary (20%)');
    expect(out).toContain('⏸ Canary Validation Window: waiting 30 s (until 10:00:34)');
    expect(out).toContain('✓ Released');
    expect(out).toContain('execution SUCCEEDED');
    expect(out).toContain('outcome SUCCEEDED');
    // Every event once, in order, though it came over four polls.
    expect(out.match(/Shift 10% To Canary/g)).toHaveLength(1);
    expect(out.indexOf('Shift 10%')).toBeLessThan(out.indexOf('Released'));
    expect(sfn).toHaveReceivedCommandTimes(DescribeExecutionCommand, 4);
    expect(sfn.commandCalls(GetExecutionHistoryCommand).length).toBeGreaterThanOrEqual(4);
  });

  it('a release that already ended: its outcome at once, exit code of the outcome, no history read', async () => {
    await store.put(
      record({
        deploymentId: 'w-2',
        outcome: 'ROLLED_BACK',
        endedAt: t(50).toISOString(),
        rollback: {
          trigger: 'state-machine',
          reason: 'ValidationFailed',
          phase: 'canary',
          startedAt: t(40).toISOString(),
          completedAt: t(50).toISOString(),
        },
      }),
    );
    const r = await cli(['watch', 'w-2'], { dynamo });
    expect(r.code).toBe(3);
    expect(r.stdout).toContain('api w-2 already ended');
    expect(r.stdout).toContain('outcome ROLLED_BACK (rolled back at canary: ValidationFailed)');
    expect(sfn).not.toHaveReceivedCommand(GetExecutionHistoryCommand);
    const json = await cli(['watch', 'w-2', '--json'], { dynamo });
    expect(JSON.parse(json.stdout)).toMatchObject({
      deploymentId: 'w-2',
      outcome: 'ROLLED_BACK',
      exitCode: 3,
    });
  });

  it('an unknown id: a clear error naming the table and the services looked in', async () => {
    sfn.on(DescribeExecutionCommand).rejects(notFound());
    const r = await cli(['watch', 'nope'], { dynamo });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'tps-deploy: no deployment nope: not in table tps-test-deployments and no execution of that name (looked in api, web)\n',
    );
    expect(sfn).toHaveReceivedCommandWith(DescribeExecutionCommand, {
      executionArn: executionArn('web', 'nope'),
    });
    const bad = await cli(['watch', 'nope', '--service', 'payments'], { dynamo });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--service: unknown service "payments"; the catalog has api, web/);
  });

  it('an execution that has not written its record yet is found by name in the state machines', async () => {
    serveExecution('w-3', succeededHistory(), 7);
    sfn.on(DescribeExecutionCommand, { executionArn: executionArn('web', 'w-3') }).rejects(notFound());
    const r = await cli(['watch', 'w-3', '--json'], { dynamo });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('execution SUCCEEDED');
    expect(JSON.parse(r.stdout)).toEqual({
      service: 'api',
      deploymentId: 'w-3',
      executionArn: executionArn('api', 'w-3'),
      status: 'SUCCEEDED',
      error: null,
      cause: null,
      outcome: null,
      exitCode: 0,
      links: expect.objectContaining({ dashboard: expect.stringContaining('dashboard/tps-test-api') }),
    });
  });
});

describe('list', () => {
  it('one line per running release: api running at canary waiting for approval, web idle', async () => {
    const l = await dynamoFresh();
    const running: DeploymentRecord = record({
      deploymentId: 'l-1',
      image: 'repo/api:v2.4.0',
      startedAt: '2026-11-20T09:00:00.000Z',
      phases: [
        {
          name: 'canary',
          weight: 10,
          startedAt: '2026-11-20T09:01:00.000Z',
          endedAt: null,
          verdict: null,
          decisions: [],
          pods: null,
        },
      ],
      pendingApproval: { requestedAt: '2026-11-20T09:02:00.000Z', expiresAt: '2026-11-20T10:02:00.000Z' },
    });
    await l.store.begin(running);
    // web: an ended release, its lock freed.
    await l.store.put(record({ deploymentId: 'l-old', service: 'web', outcome: 'SUCCEEDED' }));
    const r = await cli(['list'], { dynamo: l.dynamo });
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^SERVICE\s+DEPLOYMENT\s+VERSION\s+PHASE\s+STARTED\s+BY\s+WAITING$/);
    expect(lines[1]).toMatch(
      /^api\s+l-1\s+v2\.4\.0\s+canary 10%\s+2026-11-20 09:00:00\s+jane@example\.com\s+approval: tps-deploy approve\|reject l-1$/,
    );
    const json = JSON.parse((await cli(['list', '--json'], { dynamo: l.dynamo })).stdout);
    expect(json).toEqual([
      {
        service: 'api',
        deploymentId: 'l-1',
        executionArn: executionArn('api', 'l-1'),
        image: 'repo/api:v2.4.0',
        version: 'v2.4.0',
        phase: 'canary',
        weight: 10,
        stage: 'releasing',
        startedAt: '2026-11-20T09:00:00.000Z',
        requestedBy: 'jane@example.com',
        outcome: 'RUNNING',
        waiting: 'approval: tps-deploy approve|reject l-1',
      },
    ]);
    const web = await cli(['list', '--service', 'web'], { dynamo: l.dynamo });
    expect(web.stdout).toBe('no release running (looked in web)\n');
    await l.dynamo.stop();
  });

  it('nothing running says so; --json is an empty array; an unreadable table is named', async () => {
    const l = await dynamoFresh();
    const r = await cli(['list'], { dynamo: l.dynamo });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('no release running (looked in api, web)\n');
    expect(JSON.parse((await cli(['list', '--json'], { dynamo: l.dynamo })).stdout)).toEqual([]);
    await l.dynamo.stop();
    const down = await cli(['list']);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/reading the lock of api from tps-test-deployments failed/);
  });

  it('a lock left behind by an ended release is listed with what frees it', async () => {
    const l = await dynamoFresh();
    const r0 = record({ deploymentId: 'l-2', service: 'web' });
    await l.store.begin(r0);
    await l.store.put({ ...r0, outcome: 'FAILED', endedAt: t(9).toISOString() });
    const r = await cli(['list'], { dynamo: l.dynamo });
    expect(r.stdout).toMatch(/web\s+l-2.*ended FAILED, lock left behind: tps-deploy unlock --service web/);
    await l.dynamo.stop();
  });
});

describe('list: holds and the post-deployment watch', () => {
  it('a release waiting at a hold names promote; one in its watch shows watch 100%', async () => {
    const l = await dynamoFresh();
    const phase = (name: 'canary' | 'staging', weight: number) => ({
      name,
      weight,
      startedAt: t(1).toISOString(),
      endedAt: null,
      verdict: null,
      decisions: [],
      pods: null,
    });
    await l.store.begin(
      record({
        deploymentId: 'l-h',
        phases: [phase('canary', 10), phase('staging', 50)],
        pendingApproval: {
          requestedAt: t(2).toISOString(),
          expiresAt: t(99).toISOString(),
          phase: 'staging',
        },
      }),
    );
    await l.store.begin(record({ deploymentId: 'l-w', service: 'web', phases: [phase('canary', 10)] }));
    await l.store.setStage('web', 'l-w', 'watching');
    const r = await cli(['list'], { dynamo: l.dynamo });
    expect(r.stdout).toMatch(
      /\napi\s+l-h\s+v2\.0\.0\s+staging 50%.*hold at staging: tps-deploy promote l-h\n/,
    );
    expect(r.stdout).toMatch(/\nweb\s+l-w\s+v2\.0\.0\s+watch 100%.*\s-\n$/);
    await l.dynamo.stop();
  });
});

describe('status --watch', () => {
  it('re-prints every --interval seconds until the outcome leaves RUNNING, then exits with it', async () => {
    const running = record({ deploymentId: 's-1' });
    await store.put(running);
    sfn.on(DescribeExecutionCommand).resolves({
      executionArn: executionArn('api', 's-1'),
      stateMachineArn: stateMachineArn('api'),
      name: 's-1',
      status: 'RUNNING',
      startDate: t(0),
    });
    const sleeps: number[] = [];
    const sleep = async (ms: number) => {
      sleeps.push(ms);
      if (sleeps.length === 2) {
        await store.put({ ...running, outcome: 'REJECTED', endedAt: t(60).toISOString() });
      }
      if (sleeps.length > 5) throw new Error('status --watch did not stop');
    };
    const r = await cli(['status', 's-1', '--watch', '--interval', '2.5'], { dynamo, io: { sleep } });
    expect(r.code).toBe(4);
    expect(sleeps).toEqual([2500, 2500]);
    expect(r.stdout.match(/^api s-1: /gm)).toHaveLength(3);
    expect(r.stdout.match(/^--- /gm)).toHaveLength(2);
    expect(r.stdout).toMatch(/api s-1: REJECTED/);
    expect(r.stdout).toContain(
      '  dashboard: https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards/dashboard/tps-test-api',
    );
  });

  it('--json: one JSON object per line per print; an ended release prints once', async () => {
    const running = record({ deploymentId: 's-2' });
    await store.put(running);
    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING', startDate: t(0) } as never);
    let n = 0;
    const sleep = async () => {
      n++;
      await store.put({ ...running, outcome: 'SUCCEEDED', endedAt: t(60).toISOString() });
    };
    const r = await cli(['status', 's-2', '--watch', '--json'], { dynamo, io: { sleep } });
    expect(r.code).toBe(0);
    const docs = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { outcome: string; links: unknown });
    expect(docs.map((d) => d.outcome)).toEqual(['RUNNING', 'SUCCEEDED']);
    expect(n).toBe(1);
    const once = await cli(['status', 's-2', '--watch'], { dynamo, io: { sleep } });
    expect(once.code).toBe(0);
    expect(n).toBe(1);
    const interval = await cli(['status', 's-2', '--watch', '--interval', '0'], { dynamo });
    expect(interval.code).toBe(2);
    expect(interval.stderr).toMatch(/--interval must be a positive number/);
  });
});

describe('status --watch without a record', () => {
  it('follows the execution until it leaves RUNNING', async () => {
    const arn = executionArn('api', 's-none');
    let calls = 0;
    sfn.on(DescribeExecutionCommand).callsFake(() => {
      calls++;
      return calls < 2
        ? { executionArn: arn, status: 'RUNNING', startDate: t(0) }
        : {
            executionArn: arn,
            status: 'FAILED',
            startDate: t(0),
            error: 'InvalidInputError',
            cause: 'image',
          };
    });
    const r = await cli(['status', arn, '--watch'], { dynamo });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^execution RUNNING; no deployment record/);
    expect(r.stdout).toMatch(/\nexecution FAILED \(InvalidInputError: image\); no deployment record/);
    expect(calls).toBe(2);
  });
});

async function dynamoFresh(): Promise<{ dynamo: LocalDynamo; store: DynamoDbDeploymentStore }> {
  return tableFixture();
}

import {
  DescribeExecutionCommand,
  DescribeStateMachineForExecutionCommand,
  GetExecutionHistoryCommand,
  type GetExecutionHistoryCommandInput,
  type HistoryEvent,
  ListStateMachinesCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { statusLine } from '../../cli/commands/follow.js';
import { extractAsl, synthTemplate } from '../../local/synth.js';
import type { LocalDynamo } from '../helpers/dynalite.js';
import { CATALOG, cli, executionArn, record, stateMachineArn, tableFixture } from './cli-harness.js';

const sfn = mockClient(SFNClient);
let dynamo: LocalDynamo;
let store: Awaited<ReturnType<typeof tableFixture>>['store'];
let definition: string;

beforeAll(async () => {
  ({ dynamo, store } = await tableFixture());
  // The real state machine of the test catalog: its Wait states tell the follower how long a window is.
  definition = JSON.stringify(extractAsl(synthTemplate({ catalog: CATALOG }), 'api'));
});
afterAll(async () => {
  await dynamo.stop();
});
beforeEach(() => {
  sfn.reset();
  listStateMachines();
});

function listStateMachines() {
  // ListStateMachines, paginated (documented shape: stateMachines[{stateMachineArn, name, type, creationDate}], nextToken).
  sfn
    .on(ListStateMachinesCommand)
    .resolves({
      stateMachines: [
        {
          stateMachineArn: stateMachineArn('other'),
          name: 'someone-else',
          type: 'STANDARD',
          creationDate: new Date(),
        },
      ],
      nextToken: 'page-2',
    })
    .on(ListStateMachinesCommand, { nextToken: 'page-2' })
    .resolves({
      stateMachines: [
        {
          stateMachineArn: stateMachineArn('api'),
          name: 'tps-test-api',
          type: 'STANDARD',
          creationDate: new Date(),
        },
        {
          stateMachineArn: stateMachineArn('web'),
          name: 'tps-test-web',
          type: 'STANDARD',
          creationDate: new Date(),
        },
      ],
    });
}

describe('start: input validated before StartExecution', () => {
  it.each([
    [['--image', 'repo/api'], /image: must be an image reference with a tag or digest/],
    [['--images', 'api=repo/api:v2,nope=repo/x:v1'], /images\.nope: not a container of api/],
    [[], /image: give image \(or images per container\)/],
    [['--image', 'repo/api:v2', '--images', 'api=repo/api:v2'], /give either image or images, not both/],
  ])('refuses %j with exit 2 naming the field and never starts', async (flags, message) => {
    const r = await cli(['start', '--service', 'api', ...flags]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/nothing was started/);
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
    expect(sfn).not.toHaveReceivedCommand(ListStateMachinesCommand);
  });

  it('refuses an unknown service, listing the catalog', async () => {
    const r = await cli(['start', '--service', 'payments', '--image', 'repo/p:v1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown service "payments"; the catalog has api, web/);
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it('names a malformed --images pair', async () => {
    const r = await cli(['start', '--service', 'api', '--images', 'api']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--images: "api" is not <container>=<image>/);
  });

  it('requires --service, naming the flag', async () => {
    const r = await cli(['start', '--image', 'repo/api:v2']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/required option '--service <name>' not specified/);
  });
});

describe('start', () => {
  it('finds <appName>-<service> across ListStateMachines pages and starts it with the input', async () => {
    sfn.on(StartExecutionCommand).resolves({
      executionArn: executionArn('api', 'd-100'),
      startDate: new Date('2026-11-20T10:00:00Z'),
    });
    const r = await cli([
      'start',
      '--service',
      'api',
      '--image',
      'repo/api:v2.1.0',
      '--hotfix',
      '--requested-by',
      'jane',
      '--change-ref',
      'CHG-2041',
      '--tests-passed',
      '--reviewers',
      'alice, bob',
    ]);
    expect(r.code).toBe(0);
    expect(sfn).toHaveReceivedCommandTimes(ListStateMachinesCommand, 2);
    const input = sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input;
    expect(input.stateMachineArn).toBe(stateMachineArn('api'));
    expect(JSON.parse(input.input!)).toEqual({
      service: 'api',
      image: 'repo/api:v2.1.0',
      mode: 'hotfix',
      requestedBy: 'jane',
      changeRef: 'CHG-2041',
      attestations: { testsPassed: true, reviewers: ['alice', 'bob'] },
    });
    expect(r.stdout).toContain(`started d-100`);
    expect(r.stdout).toContain(executionArn('api', 'd-100'));
    // Console links: the execution, the service's dashboard, the state machine's log group.
    expect(r.stdout).toContain(
      `  console:   https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/${executionArn('api', 'd-100')}`,
    );
    expect(r.stdout).toContain(
      '  dashboard: https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards/dashboard/tps-test-api',
    );
    expect(r.stdout).toContain(
      '  logs:      https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:log-groups/log-group/',
    );
    expect(r.stdout).toContain('tps-deploy watch d-100');
  });

  it('uses --state-machine-arn as given, per-container images, $USER as requester, --json output', async () => {
    sfn.on(StartExecutionCommand).resolves({
      executionArn: executionArn('api', 'd-101'),
      startDate: new Date('2026-11-20T10:00:00Z'),
    });
    const r = await cli([
      'start',
      '--service',
      'api',
      '--images',
      'api=repo/api:v2,sidecar=repo/envoy:v1.30',
      '--state-machine-arn',
      stateMachineArn('api'),
      '--json',
    ]);
    expect(r.code).toBe(0);
    expect(sfn).not.toHaveReceivedCommand(ListStateMachinesCommand);
    expect(JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input.input!)).toEqual({
      service: 'api',
      images: { api: 'repo/api:v2', sidecar: 'repo/envoy:v1.30' },
      requestedBy: 'tester',
    });
    expect(JSON.parse(r.stdout)).toEqual({
      executionArn: executionArn('api', 'd-101'),
      deploymentId: 'd-101',
      startDate: '2026-11-20T10:00:00.000Z',
      links: {
        execution: `https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/${executionArn('api', 'd-101')}`,
        dashboard:
          'https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards/dashboard/tps-test-api',
        logs: 'https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:log-groups/log-group/$252Faws$252Fvendedlogs$252Fstates$252Ftps-test-api',
      },
    });
  });

  it('says so when the stack has no state machine for the service', async () => {
    sfn.on(ListStateMachinesCommand).resolves({ stateMachines: [] });
    const r = await cli(['start', '--service', 'web', '--image', 'repo/web:v3']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no state machine named tps-test-web.*--state-machine-arn/);
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it('reports an AWS error with its name and a hint', async () => {
    const denied = Object.assign(new Error('User is not authorized to perform: states:StartExecution'), {
      name: 'AccessDeniedException',
    });
    sfn.on(StartExecutionCommand).rejects(denied);
    const r = await cli(['start', '--service', 'api', '--image', 'repo/api:v2']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /StartExecution failed: AccessDeniedException: User is not authorized.*lacks a permission/,
    );
  });
});

// ---- --follow ---------------------------------------------------------------------------------

const t = (s: number) => new Date(Date.UTC(2026, 10, 20, 10, 0, s));
const plan = { plan: { phases: { canary: { windowSeconds: 600 } } } };

/** A rolled-back execution's history as GetExecutionHistory documents it (oldest first). */
function rolledBackHistory(): HistoryEvent[] {
  const ev = (id: number, type: string, extra: Partial<HistoryEvent> = {}): HistoryEvent => ({
    id,
    previousEventId: id - 1,
    timestamp: t(id),
    type: type as HistoryEvent['type'],
    ...extra,
  });
  const entered = (id: number, type: string, name: string, input: unknown = {}) =>
    ev(id, type, { stateEnteredEventDetails: { name, input: JSON.stringify(input) } });
  const lambdaOk = (id: number, output: unknown) =>
    ev(id, 'LambdaFunctionSucceeded', {
      lambdaFunctionSucceededEventDetails: { output: JSON.stringify(output) },
    });
  return [
    ev(1, 'ExecutionStarted', {
      executionStartedEventDetails: { input: '{}', roleArn: 'arn:aws:iam::1:role/x' },
    }),
    entered(2, 'TaskStateEntered', 'Validate Input'),
    ev(3, 'LambdaFunctionScheduled', {
      lambdaFunctionScheduledEventDetails: { resource: 'arn:aws:lambda:x' },
    }),
    lambdaOk(4, { deploymentId: 'd-200' }),
    entered(5, 'TaskStateEntered', 'Shift 10% To Canary'),
    lambdaOk(6, {
      targetWeight: 10,
      actualWeight: 20,
      canaryReplicas: 1,
      stableReplicas: 4,
      detail: '1 of 5 ready endpoints are canary (20%)',
      shiftedAt: t(6).toISOString(),
    }),
    entered(7, 'WaitStateEntered', 'Wait For Canary Pods', plan),
    entered(8, 'TaskStateEntered', 'Check Canary Pods Ready'),
    lambdaOk(9, { status: 'waiting', ready: 0, desired: 1, readyAt: null, reason: '0/1 ready' }),
    entered(10, 'ChoiceStateEntered', 'Canary Pods Ready?'),
    entered(11, 'WaitStateEntered', 'Wait For Canary Pods', plan),
    entered(12, 'TaskStateEntered', 'Check Canary Pods Ready'),
    lambdaOk(13, {
      status: 'ready',
      ready: 1,
      desired: 1,
      readyAt: t(13).toISOString(),
      reason: '1/1 ready',
    }),
    entered(14, 'WaitStateEntered', 'Canary Validation Window', plan),
    entered(15, 'TaskStateEntered', 'Validate Canary'),
    ev(16, 'LambdaFunctionFailed', {
      lambdaFunctionFailedEventDetails: {
        error: 'KubernetesTransientError',
        cause: JSON.stringify({ errorType: 'KubernetesTransientError', errorMessage: 'API server 503' }),
      },
    }),
    lambdaOk(17, {
      verdict: 'fail',
      summary: 'Canary window failed: canary error rate 1.68% (401/23905) is above the 0.1% limit.',
      canExtend: false,
      attempt: 0,
    }),
    entered(18, 'ChoiceStateEntered', 'Canary Verdict?'),
    entered(19, 'PassStateEntered', 'Canary Failed Validation'),
    entered(20, 'TaskStateEntered', 'Roll Back'),
    lambdaOk(21, {
      trigger: 'state-machine',
      reason: 'ValidationFailed',
      phase: 'canary',
      claimed: true,
      actions: ['deleted canary deployment api-tps-canary'],
    }),
    entered(22, 'FailStateEntered', 'Rolled Back'),
    ev(23, 'ExecutionFailed', {
      executionFailedEventDetails: {
        error: 'ReleaseRolledBack',
        cause: 'ValidationFailed: canary error rate',
      },
    }),
  ];
}

/**
 * Serves an execution that advances a few events per DescribeExecution call; GetExecutionHistory
 * honours reverseOrder, maxResults and nextToken (pages of 4 at most).
 */
function serveExecution(
  id: string,
  events: HistoryEvent[],
  final: { status: 'SUCCEEDED' | 'FAILED' | 'ABORTED'; error?: string },
  step = 5,
) {
  let visible = 0;
  const arn = executionArn('api', id);
  sfn.on(StartExecutionCommand).resolves({ executionArn: arn, startDate: t(0) });
  sfn.on(DescribeStateMachineForExecutionCommand).resolves({
    stateMachineArn: stateMachineArn('api'),
    name: 'tps-test-api',
    definition,
    roleArn: 'arn:aws:iam::123456789012:role/sm',
    updateDate: t(0),
  });
  sfn.on(DescribeExecutionCommand).callsFake(() => {
    visible = Math.min(events.length, visible + step);
    const done = visible >= events.length;
    return {
      executionArn: arn,
      stateMachineArn: stateMachineArn('api'),
      name: id,
      status: done ? final.status : 'RUNNING',
      startDate: t(0),
      ...(done
        ? { stopDate: t(events.length), ...(final.error ? { error: final.error, cause: 'x' } : {}) }
        : {}),
    };
  });
  sfn.on(GetExecutionHistoryCommand).callsFake((input: GetExecutionHistoryCommandInput) => {
    const list = events.slice(0, visible);
    const ordered = input.reverseOrder ? [...list].reverse() : list;
    const start = Number(input.nextToken ?? 0);
    const size = Math.min(4, input.maxResults ?? 100);
    const page = ordered.slice(start, start + size);
    return { events: page, ...(start + size < ordered.length ? { nextToken: String(start + size) } : {}) };
  });
}

describe('start --follow', () => {
  it('shows phases, waits and verdicts live and exits 3 for a rollback', async () => {
    serveExecution('d-200', rolledBackHistory(), { status: 'FAILED', error: 'ReleaseRolledBack' });
    const r = await cli(['start', '--service', 'api', '--image', 'repo/api:v2', '--follow']);
    expect(r.code).toBe(3);
    const out = r.stdout;
    expect(out).toContain('▸ Shift 10% To Canary');
    expect(out).toContain('traffic 10%: 1 of 5 ready endpoints are canary (20%)');
    expect(out).toContain('pods waiting: 0/1 ready');
    expect(out).toContain('pods ready: 1/1 ready');
    // The window's length comes from the synthesized ASL (SecondsPath) and the state's input.
    expect(out).toContain('⏸ Canary Validation Window: waiting 10 min (until 10:10:14)');
    expect(out).toContain('! KubernetesTransientError: API server 503');
    expect(out).toContain('verdict fail: Canary window failed: canary error rate 1.68%');
    expect(out).toContain('✗ Canary Failed Validation');
    expect(out).toContain('rolled back (state-machine): deleted canary deployment api-tps-canary');
    expect(out).toContain('execution FAILED: ReleaseRolledBack');
    // A readiness loop is shown once, not once per poll; every event once although pages overlap polls.
    expect(out.match(/Wait For Canary Pods/g)).toHaveLength(1);
    expect(out.match(/Check Canary Pods Ready/g)).toHaveLength(1);
    expect(out.match(/▸ Roll Back/g)).toHaveLength(1);
    // Lines come in history order.
    expect(out.indexOf('Shift 10%')).toBeLessThan(out.indexOf('Validate Canary'));
    expect(out.indexOf('Validate Canary')).toBeLessThan(out.indexOf('Roll Back'));
    expect(
      sfn.commandCalls(GetExecutionHistoryCommand).every((c) => c.args[0].input.reverseOrder === true),
    ).toBe(true);
  });

  it('exits with the outcome of the record when the table has it', async () => {
    serveExecution('d-201', rolledBackHistory(), { status: 'FAILED', error: 'SomethingElse' });
    await store.put(
      record({
        deploymentId: 'd-201',
        outcome: 'REJECTED',
        endedAt: t(30).toISOString(),
      }),
    );
    const r = await cli(['start', '--service', 'api', '--image', 'repo/api:v2', '--follow'], { dynamo });
    expect(r.stdout).toContain('outcome REJECTED');
    expect(r.code).toBe(4);
  });

  it('exits 0 for SUCCEEDED and 6 for ABORTED', async () => {
    const ok = rolledBackHistory().slice(0, 15);
    ok.push({
      id: 16,
      timestamp: t(16),
      type: 'SucceedStateEntered',
      stateEnteredEventDetails: { name: 'Released' },
    });
    ok.push({
      id: 17,
      timestamp: t(17),
      type: 'ExecutionSucceeded',
      executionSucceededEventDetails: { output: '{}' },
    });
    serveExecution('d-202', ok, { status: 'SUCCEEDED' });
    const good = await cli(['start', '--service', 'api', '--image', 'repo/api:v2', '--follow']);
    expect(good.code).toBe(0);
    expect(good.stdout).toContain('✓ Released');
    expect(good.stdout).toContain('execution SUCCEEDED');

    sfn.reset();
    listStateMachines();
    const aborted = rolledBackHistory().slice(0, 8);
    aborted.push({
      id: 9,
      timestamp: t(9),
      type: 'ExecutionAborted',
      executionAbortedEventDetails: { cause: 'aborted by jane' },
    });
    serveExecution('d-203', aborted, { status: 'ABORTED' });
    const stopped = await cli(['start', '--service', 'api', '--image', 'repo/api:v2', '--follow']);
    expect(stopped.stderr).not.toMatch(/tps-deploy:/);
    expect(stopped.code).toBe(6);
    expect(stopped.stdout).toContain('execution ABORTED: aborted by jane');
  });

  it('--follow --json: progress on stderr, one JSON summary on stdout', async () => {
    serveExecution('d-205', rolledBackHistory(), { status: 'FAILED', error: 'ReleaseRolledBack' });
    const r = await cli(['start', '--service', 'api', '--image', 'repo/api:v2', '--follow', '--json']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('▸ Shift 10% To Canary');
    expect(JSON.parse(r.stdout)).toMatchObject({
      service: 'api',
      deploymentId: 'd-205',
      executionArn: executionArn('api', 'd-205'),
      status: 'FAILED',
      error: 'ReleaseRolledBack',
      outcome: null,
      exitCode: 3,
      links: { dashboard: expect.stringContaining('#dashboards/dashboard/tps-test-api') },
    });
  });

  it('counts down the current window on a terminal', async () => {
    const line = statusLine(
      { name: 'Canary Validation Window', seconds: 600, until: new Date(t(0).getTime() + 600_000) },
      new Date(t(0).getTime() + 150_000),
    );
    expect(line).toBe('… Canary Validation Window  2:30 / 10:00 [#####               ]');
    // Seven events per poll: one poll ends just after the window was entered.
    serveExecution('d-204', rolledBackHistory(), { status: 'FAILED', error: 'ReleaseRolledBack' }, 7);
    const r = await cli(['start', '--service', 'api', '--image', 'repo/api:v2', '--follow'], {
      tty: true,
      io: { now: () => new Date(t(14).getTime() + 60_000) },
    });
    expect(r.stdout).toContain('\r\x1b[2K… Canary Validation Window  1:00 / 10:00 [##');
    expect(r.code).toBe(3);
  });

  it("a clock behind the execution's (or past the window) counts from 0:00 and stops at the end, never throws", () => {
    const wait = {
      name: 'Canary Validation Window',
      seconds: 600,
      until: new Date(t(0).getTime() + 600_000),
    };
    // This machine's clock 30 s behind the one that stamped the event.
    expect(statusLine(wait, new Date(t(0).getTime() - 30_000))).toBe(
      '… Canary Validation Window  0:00 / 10:00 [                    ]',
    );
    expect(statusLine(wait, new Date(t(0).getTime() + 700_000))).toBe(
      '… Canary Validation Window  10:00 / 10:00 [####################]',
    );
  });
});

describe('start --input-file', () => {
  it('merges a JSON input under the flags and validates the result', async () => {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(join(tmpdir(), 'cli-start-'));
    try {
      const file = join(dir, 'input.json');
      await writeFile(
        file,
        JSON.stringify({
          image: 'repo/api:v1.9.0',
          changeRef: 'CHG-1',
          attestations: { reviewers: ['carol'], evidence: { ci: 'https://ci.example.com/run/42' } },
        }),
      );
      sfn
        .on(StartExecutionCommand)
        .resolves({ executionArn: executionArn('api', 'd-300'), startDate: new Date() });
      const r = await cli([
        'start',
        '--service',
        'api',
        '--input-file',
        file,
        '--change-ref',
        'CHG-2',
        '--tests-passed',
      ]);
      expect(r.code).toBe(0);
      expect(JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input.input!)).toEqual({
        service: 'api',
        image: 'repo/api:v1.9.0',
        changeRef: 'CHG-2',
        requestedBy: 'tester',
        attestations: {
          reviewers: ['carol'],
          evidence: { ci: 'https://ci.example.com/run/42' },
          testsPassed: true,
        },
      });
      await writeFile(file, JSON.stringify({ image: 'repo/api:v2', colour: 'blue' }));
      const bad = await cli(['start', '--service', 'api', '--input-file', file]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/colour: unknown field/);
      const missing = await cli(['start', '--service', 'api', '--input-file', join(dir, 'nope.json')]);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toMatch(/--input-file: cannot read .*nope\.json/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/**
 * The local Step Functions API (local/sfn-api.ts) as the real SDK client sees it: the AWS JSON 1.0
 * protocol (timestamps parse as Dates, errors as exceptions named like Step Functions'), paging of
 * GetExecutionHistory both ways, every bad field named; and the CLI's `--local` state file
 * (local/api-state.ts): a missing, broken or stale one is a clear error and nothing is called.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeExecutionCommand,
  DescribeStateMachineForExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { run } from '../../cli/main.js';
import {
  LOCAL_API_REGION,
  LOCAL_CREDENTIALS,
  type LocalApiState,
  removeLocalState,
  writeLocalState,
} from '../../local/api-state.js';
import { ExecutionHistories, ExecutionHistory } from '../../local/execution-history.js';
import { type LocalSfnApi, type LocalStateMachine, serveSfnApi } from '../../local/sfn-api.js';
import { Collect } from './cli-harness.js';

const MACHINE: LocalStateMachine = {
  arn: 'arn:aws:states:local:000000000000:stateMachine:tps-test-shop',
  name: 'tps-test-shop',
  service: 'shop',
  definition: JSON.stringify({ StartAt: 'A', States: { A: { Type: 'Succeed' } } }),
  creationDate: new Date(Date.UTC(2026, 11, 1)),
};
const arnOf = (name: string) => `${MACHINE.arn.replace(':stateMachine:', ':execution:')}:${name}`;
const clock = () => new Date(Date.UTC(2026, 11, 1, 10, 0, 0));

const histories = new ExecutionHistories();
const started: { name: string; input: Record<string, unknown> }[] = [];
const stopped: { arn: string; error: string | null; cause: string | null }[] = [];
let api: LocalSfnApi;
let sfn: SFNClient;

beforeAll(async () => {
  api = await serveSfnApi({
    stateMachines: [MACHINE],
    histories,
    // What the environment does on StartExecution: register the execution (the runner's first step).
    start: (machine, name, input) => {
      started.push({ name, input });
      histories.add(new ExecutionHistory(arnOf(name), machine.arn, name, input, clock));
    },
    stop: (arn, error, cause) => {
      const h = histories.get(arn);
      if (h?.status !== 'RUNNING') return false;
      stopped.push({ arn, error, cause });
      h.aborted(error, cause);
      return true;
    },
  });
  sfn = new SFNClient({
    region: LOCAL_API_REGION,
    endpoint: api.endpoint,
    credentials: { ...LOCAL_CREDENTIALS },
  });
  // A finished execution of 9 events (ids 1..9) and a running one.
  const done = histories.add(
    new ExecutionHistory(arnOf('done-1'), MACHINE.arn, 'done-1', { service: 'shop' }, clock),
  );
  for (let i = 0; i < 3; i++) {
    done.stateEntered('Task', `Step ${i}`, { i });
    done.lambdaScheduled('arn:aws:lambda:us-east-1:123456789012:function:F', { i }, 65);
    done.lambdaSucceeded({ i });
  }
  // 1 + 3 x 4 = 13 events, then the end: 14.
  done.failed('ReleaseRolledBack', 'rolled back at canary');
  histories.add(new ExecutionHistory(arnOf('run-1'), MACHINE.arn, 'run-1', { service: 'shop' }, clock));
});

afterAll(async () => {
  sfn.destroy();
  await api.close();
});

/** A raw request, for what the SDK would not send. */
async function raw(operation: string, body: unknown) {
  const res = await fetch(api.endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': `AWSStepFunctions.${operation}`,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as { __type?: string; message?: string } };
}

describe('the local Step Functions API through the SDK', () => {
  test('DescribeExecution: status, dates as Dates, the final error and cause', async () => {
    const d = await sfn.send(new DescribeExecutionCommand({ executionArn: arnOf('done-1') }));
    expect(d).toMatchObject({
      executionArn: arnOf('done-1'),
      stateMachineArn: MACHINE.arn,
      name: 'done-1',
      status: 'FAILED',
      error: 'ReleaseRolledBack',
      cause: 'rolled back at canary',
      input: '{"service":"shop"}',
    });
    expect(d.startDate).toEqual(clock());
    expect(d.stopDate).toBeInstanceOf(Date);
    const r = await sfn.send(new DescribeExecutionCommand({ executionArn: arnOf('run-1') }));
    expect(r.status).toBe('RUNNING');
    expect(r.stopDate).toBeUndefined();
  });

  test('an unknown execution is ExecutionDoesNotExist; a malformed ARN InvalidArn', async () => {
    await expect(
      sfn.send(new DescribeExecutionCommand({ executionArn: arnOf('nope') })),
    ).rejects.toMatchObject({
      name: 'ExecutionDoesNotExist',
      message: `Execution Does Not Exist: '${arnOf('nope')}'`,
      $metadata: expect.objectContaining({ httpStatusCode: 400 }),
    });
    await expect(
      sfn.send(new DescribeExecutionCommand({ executionArn: 'not-an-arn' })),
    ).rejects.toMatchObject({
      name: 'InvalidArn',
    });
  });

  test('GetExecutionHistory pages oldest first and newest first, every event once', async () => {
    const pages = async (reverseOrder: boolean) => {
      const seen: HistoryEvent[] = [];
      let nextToken: string | undefined;
      let calls = 0;
      do {
        const page = await sfn.send(
          new GetExecutionHistoryCommand({
            executionArn: arnOf('done-1'),
            maxResults: 4,
            reverseOrder,
            nextToken,
          }),
        );
        calls++;
        expect(page.events!.length).toBeLessThanOrEqual(4);
        seen.push(...page.events!);
        nextToken = page.nextToken;
      } while (nextToken);
      return { ids: seen.map((e) => e.id), calls, seen };
    };
    const asc = await pages(false);
    expect(asc.ids).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    expect(asc.calls).toBe(4);
    const desc = await pages(true);
    expect(desc.ids).toEqual([14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    expect(desc.seen[0]).toMatchObject({
      type: 'ExecutionFailed',
      previousEventId: 13,
      executionFailedEventDetails: { error: 'ReleaseRolledBack', cause: 'rolled back at canary' },
    });
    expect(desc.seen[0]!.timestamp).toBeInstanceOf(Date);
    // Without execution data: no inputs or outputs, the rest kept.
    const lean = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn: arnOf('done-1'), includeExecutionData: false }),
    );
    expect(lean.events![1]!.stateEnteredEventDetails).toEqual({ name: 'Step 0' });
    expect(lean.nextToken).toBeUndefined();
  });

  test('a token from another request is InvalidToken', async () => {
    const first = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn: arnOf('done-1'), maxResults: 2, reverseOrder: true }),
    );
    await expect(
      sfn.send(new GetExecutionHistoryCommand({ executionArn: arnOf('done-1'), nextToken: first.nextToken })),
    ).rejects.toMatchObject({ name: 'InvalidToken' });
  });

  test('ListStateMachines, ListExecutions (newest first, by status), DescribeStateMachineForExecution', async () => {
    const machines = await sfn.send(new ListStateMachinesCommand({}));
    expect(machines.stateMachines).toEqual([
      {
        stateMachineArn: MACHINE.arn,
        name: 'tps-test-shop',
        type: 'STANDARD',
        creationDate: MACHINE.creationDate,
      },
    ]);
    const all = await sfn.send(new ListExecutionsCommand({ stateMachineArn: MACHINE.arn }));
    expect(all.executions!.map((e) => [e.name, e.status])).toEqual([
      ['run-1', 'RUNNING'],
      ['done-1', 'FAILED'],
    ]);
    const running = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn: MACHINE.arn, statusFilter: 'RUNNING' }),
    );
    expect(running.executions!.map((e) => e.name)).toEqual(['run-1']);
    const forExecution = await sfn.send(
      new DescribeStateMachineForExecutionCommand({ executionArn: arnOf('run-1') }),
    );
    expect(forExecution).toMatchObject({ stateMachineArn: MACHINE.arn, definition: MACHINE.definition });
  });

  test('StartExecution starts through the environment; a name taken is ExecutionAlreadyExists', async () => {
    const out = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: MACHINE.arn,
        name: 'api-1',
        input: '{"service":"shop","image":"x:v2"}',
      }),
    );
    expect(out.executionArn).toBe(arnOf('api-1'));
    expect(out.startDate).toEqual(clock());
    expect(started.at(-1)).toEqual({ name: 'api-1', input: { service: 'shop', image: 'x:v2' } });
    await expect(
      sfn.send(new StartExecutionCommand({ stateMachineArn: MACHINE.arn, name: 'api-1', input: '{}' })),
    ).rejects.toMatchObject({ name: 'ExecutionAlreadyExists' });
    const before = started.length;
    await expect(
      sfn.send(new StartExecutionCommand({ stateMachineArn: MACHINE.arn, name: 'bad name', input: '{}' })),
    ).rejects.toMatchObject({ name: 'InvalidName' });
    await expect(
      sfn.send(new StartExecutionCommand({ stateMachineArn: MACHINE.arn, name: 'api-2', input: '[1]' })),
    ).rejects.toMatchObject({ name: 'InvalidExecutionInput' });
    await expect(
      sfn.send(new StartExecutionCommand({ stateMachineArn: `${MACHINE.arn}-nope`, input: '{}' })),
    ).rejects.toMatchObject({ name: 'StateMachineDoesNotExist' });
    expect(started).toHaveLength(before);
  });

  test('StopExecution aborts a running execution with its cause', async () => {
    const out = await sfn.send(
      new StopExecutionCommand({ executionArn: arnOf('run-1'), cause: 'wrong build' }),
    );
    expect(out.stopDate).toBeInstanceOf(Date);
    expect(stopped).toEqual([{ arn: arnOf('run-1'), error: null, cause: 'wrong build' }]);
    const d = await sfn.send(new DescribeExecutionCommand({ executionArn: arnOf('run-1') }));
    expect(d).toMatchObject({ status: 'ABORTED', cause: 'wrong build' });
  });

  test('bad fields: a ValidationException naming every one, nothing done', async () => {
    const r = await raw('GetExecutionHistory', { executionArn: 7, maxResults: 5000, reverseOrder: 'yes' });
    expect(r.status).toBe(400);
    expect(r.body.__type).toBe('com.amazonaws.sfn#ValidationException');
    expect(r.body.message).toBe(
      '3 validation errors detected: maxResults: must be an integer from 0 to 1000, got 5000; reverseOrder: must be true or false, got "yes"; executionArn: must be a string, got 7',
    );
    const before = started.length;
    const s = await raw('StartExecution', { name: 'x' });
    expect(s.body.message).toBe('1 validation error detected: stateMachineArn: required, got nothing');
    expect(started).toHaveLength(before);
    const notJson = await raw('DescribeExecution', '{oops');
    expect(notJson.body.__type).toBe('com.amazonaws.sfn#SerializationException');
    const unknown = await raw('DeleteStateMachine', { stateMachineArn: MACHINE.arn });
    expect(unknown.body.__type).toBe('com.amazonaws.sfn#UnknownOperationException');
    expect(unknown.body.message).toContain('serves DescribeExecution, DescribeStateMachine');
  });
});

describe('--local without a running local environment', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tps-local-state-'));
  const cli = async (argv: string[], statePath: string) => {
    const stdout = new Collect();
    const stderr = new Collect();
    const code = await run(argv, { stdout, stderr, env: { USER: 'tester', TPS_LOCAL_STATE: statePath } });
    return { code, stdout: stdout.text, stderr: stderr.text };
  };
  const state = (over: Partial<LocalApiState> = {}): LocalApiState => ({
    version: 1,
    pid: process.pid,
    region: LOCAL_API_REGION,
    endpoints: { stepFunctions: api.endpoint, dynamodb: 'http://127.0.0.1:1' },
    tableName: 'tps-test-deployments',
    stateMachines: { shop: MACHINE.arn },
    catalog: { appName: 'tps-test', services: {} },
    ...over,
  });

  test('no state file: says none is running and where it looked', async () => {
    const path = join(dir, 'missing.json');
    const r = await cli(['--local', 'list'], path);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `tps-deploy: no local environment is running: no state file at ${path} (tps-deploy local writes it while its release runs; TPS_LOCAL_STATE names another file)\n`,
    );
  });

  test('a state file with bad fields: every one named', async () => {
    const path = join(dir, 'bad.json');
    writeFileSync(
      path,
      JSON.stringify({
        ...state(),
        pid: -3,
        endpoints: { stepFunctions: 'https://states.amazonaws.com', dynamodb: 5 },
      }),
    );
    const r = await cli(['--local', 'watch', 'd-1'], path);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^tps-deploy: the local state file ${path} is not valid: `));
    expect(r.stderr).toContain('pid: ');
    expect(r.stderr).toContain('endpoints.stepFunctions: ');
    expect(r.stderr).toContain('endpoints.dynamodb: ');
  });

  test('a state file whose process is gone: says so; it is removed only by the process it names', async () => {
    const path = join(dir, 'stale.json');
    // A pid that is not running: above the kernel's pid_max.
    writeLocalState(path, state({ pid: 2 ** 22 + 1 }));
    const r = await cli(['--local', 'status', 'd-1'], path);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `tps-deploy: the local environment of ${path} is gone: its process ${2 ** 22 + 1} is not running (start one with tps-deploy local)\n`,
    );
    expect(removeLocalState(path, process.pid)).toBe(false);
    expect(removeLocalState(path, 2 ** 22 + 1)).toBe(true);
  });

  test('--config with --local is bad usage: the environment has its own catalog', async () => {
    const path = join(dir, 'ok.json');
    writeLocalState(path, state());
    const r = await cli(['--local', '--config', 'tps.config.ts', 'list'], path);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'tps-deploy: --config: a --local environment has its own catalog; give --config or --local, not both\n',
    );
  });
});

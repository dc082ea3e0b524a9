/**
 * The instrumented invocation (functions/invoke.ts) that the Lambda runtime and the local runner
 * share: which release each task's event is about, and the log lines it writes (Powertools JSON,
 * the release's service as `service`, the Lambda context, failures with their stack). Steps that
 * need no I/O stand in for the rest; the release end to end: test/integration/observability.test.ts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from '@jest/globals';
import { createFunctionLogger } from '../../functions/adapters/powertools/function-logger.js';
import type { TaskKey } from '../../functions/contract/tasks.js';
import { parseCatalog } from '../../functions/domain/config.js';
import { ERROR_NAMES } from '../../functions/domain/errors.js';
import { invokeTask, type LambdaContext } from '../../functions/invoke.js';
import type { ReleasePorts } from '../../functions/ports/release.js';
import { type ReleaseKeys, releaseKeysOf, withOutcomeKeys } from '../../functions/release/log-keys.js';
import sample from '../../tps.config.js';

const catalog = parseCatalog(sample);
const plan = { service: 'api', deploymentId: 'rel-7' };
const context: LambdaContext = {
  functionName: 'tps-deploy-ValidateInput',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:tps-deploy-ValidateInput',
  memoryLimitInMB: '256',
  awsRequestId: 'req-1',
};
const alarmEvent = (name: string, value = 'OK') => {
  const ev = JSON.parse(
    readFileSync(new URL('../fixtures/alarm-events/latency-ok.json', import.meta.url), 'utf8'),
  ) as { detail: { alarmName: string; state: { value: string } } };
  ev.detail.alarmName = name;
  ev.detail.state.value = value;
  return ev;
};
const statusEvent = (machine: string, status: string) => ({
  'detail-type': 'Step Functions Execution Status Change',
  source: 'aws.states',
  detail: {
    executionArn: `arn:aws:states:us-east-1:123456789012:execution:${machine}:rel-9`,
    stateMachineArn: `arn:aws:states:us-east-1:123456789012:stateMachine:${machine}`,
    name: 'rel-9',
    status,
  },
});

describe('which release an event is about', () => {
  test.each<[string, TaskKey, unknown, ReleaseKeys]>([
    ['a step with a plan', 'completeRelease', { plan }, plan],
    [
      'a step with a plan and a phase',
      'shiftTraffic',
      { plan, phase: 'canary', weight: 10 },
      { ...plan, phase: 'canary' },
    ],
    [
      '"Roll Back": the failure\'s phase',
      'rollBack',
      { plan, failure: { Error: 'X', phase: 'staging' } },
      { ...plan, phase: 'staging' },
    ],
    [
      'validateInput: input and execution name',
      'validateInput',
      { input: { service: 'web' }, executionName: 'rel-8' },
      { service: 'web', deploymentId: 'rel-8' },
    ],
    [
      'alarmRollback: the service of our alarm',
      'alarmRollback',
      alarmEvent('tps-deploy-api-latency'),
      { service: 'api' },
    ],
    ['alarmRollback: not our alarm', 'alarmRollback', alarmEvent('other-alarm'), {}],
    [
      'executionStopped: state machine and execution',
      'executionStopped',
      statusEvent('tps-deploy-web', 'ABORTED'),
      { service: 'web', deploymentId: 'rel-9' },
    ],
    ['a malformed event: nothing known, no error', 'shiftTraffic', 'garbage', {}],
    ['null', 'executionStopped', null, {}],
  ])('%s', (_name, task, event, keys) => {
    expect(releaseKeysOf(task, event, catalog)).toEqual(keys);
  });

  test('the outcome fills what the event did not say, and never overrides it', () => {
    expect(
      withOutcomeKeys({ service: 'api' }, { service: 'api', deploymentId: 'rel-3', action: 'rolled-back' }),
    ).toEqual({
      service: 'api',
      deploymentId: 'rel-3',
    });
    expect(withOutcomeKeys(plan, { service: 'x', deploymentId: 'y' })).toEqual(plan);
    expect(withOutcomeKeys({}, null)).toEqual({});
  });
});

describe('the log lines of an invocation', () => {
  function run(
    task: TaskKey,
    event: unknown,
    ports: () => ReleasePorts = () => ({ catalog }) as ReleasePorts,
  ) {
    const lines: string[] = [];
    const logger = createFunctionLogger({ appName: 'tps-deploy', sink: (l) => lines.push(l) });
    const done = invokeTask(task, ports, event, { logger, context });
    return { done, lines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
  }

  test('done: the release service as `service`, the app, the Lambda context, the task and its duration', async () => {
    const r = run('validateInput', {
      input: { service: 'api', image: 'registry/api:v2', requestedBy: 'jane' },
      executionName: 'rel-1',
    });
    await expect(r.done).resolves.toMatchObject({ service: 'api', deploymentId: 'rel-1' });
    const [line, ...rest] = r.lines();
    expect(rest).toEqual([]);
    expect(line).toEqual({
      level: 'INFO',
      message: 'task done',
      timestamp: expect.any(String),
      service: 'api',
      app: 'tps-deploy',
      cold_start: expect.any(Boolean),
      function_name: context.functionName,
      function_request_id: 'req-1',
      function_arn: context.invokedFunctionArn,
      function_memory_size: '256',
      sampling_rate: 0,
      deploymentId: 'rel-1',
      task: 'validateInput',
      durationMs: expect.any(Number),
    });
  });

  test('failed: logged with the error (name, message, stack) and rethrown unchanged', async () => {
    const r = run('validateInput', { input: { service: 'api' }, executionName: 'rel-2' });
    const error = await r.done.catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toBe(ERROR_NAMES.invalidInput);
    const [line] = r.lines();
    expect(line).toMatchObject({
      level: 'ERROR',
      message: 'task failed',
      service: 'api',
      deploymentId: 'rel-2',
      function_request_id: 'req-1',
      error: {
        name: ERROR_NAMES.invalidInput,
        message: (error as Error).message,
        stack: expect.stringContaining(`${ERROR_NAMES.invalidInput}: `),
        location: expect.any(String),
      },
    });
  });

  test('ports that cannot be built: the failure is logged too', async () => {
    const r = run('completeRelease', { plan }, () => {
      throw new Error('environment variable TPS_TABLE_NAME is not set');
    });
    await expect(r.done).rejects.toThrow('TPS_TABLE_NAME');
    expect(r.lines()).toEqual([
      expect.objectContaining({ level: 'ERROR', message: 'task failed', task: 'completeRelease' }),
    ]);
  });

  test('an ignored alarm: the service from the alarm name, the Lambda context', async () => {
    const r = run('alarmRollback', alarmEvent('tps-deploy-web-errorRate'));
    await expect(r.done).resolves.toMatchObject({ action: 'ignored' });
    expect(r.lines()).toEqual([
      expect.objectContaining({
        message: 'task done',
        service: 'web',
        app: 'tps-deploy',
        function_request_id: 'req-1',
      }),
    ]);
  });
});

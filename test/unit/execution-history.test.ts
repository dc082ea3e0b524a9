/**
 * The local executions' history recorder (local/execution-history.ts): events in the shapes of
 * GetExecutionHistory, numbered in order with a consistent previousEventId chain, timestamps that
 * never go back, nothing after the terminal event, and a status that changes with it.
 */
import { describe, expect, test } from '@jest/globals';
import {
  ExecutionHistories,
  ExecutionHistory,
  LOCAL_EXECUTION_ROLE_ARN,
} from '../../local/execution-history.js';

const MACHINE = 'arn:aws:states:local:000000000000:stateMachine:tps-test-shop';
const arnOf = (name: string) => `arn:aws:states:local:000000000000:execution:tps-test-shop:${name}`;
const FN = 'arn:aws:lambda:us-east-1:123456789012:function:TasksShiftTraffic';

/** A clock the test moves; `back` makes it go backwards once (the virtual clock never does, but the recorder must not trust it). */
function testClock(startMs = Date.UTC(2026, 11, 1, 10, 0, 0)) {
  let t = startMs;
  return {
    now: () => new Date(t),
    advance: (s: number) => {
      t += s * 1000;
    },
  };
}

/** One release's path through a task, a window, a token task and the end. */
function recordRelease(h: ExecutionHistory, clock: ReturnType<typeof testClock>) {
  h.stateEntered('Task', 'Shift 10% To Canary', { plan: { service: 'shop' } });
  h.lambdaScheduled(FN, { plan: { service: 'shop' } }, 65);
  clock.advance(1);
  h.lambdaSucceeded({ targetWeight: 10, detail: '1 of 5 ready endpoints are canary (20%)' });
  h.stateExited('Task', 'Shift 10% To Canary', { shift: { targetWeight: 10 } });
  h.stateEntered('Wait', 'Canary Validation Window', { plan: { windows: { canary: 600 } } });
  clock.advance(600);
  h.stateExited('Wait', 'Canary Validation Window', {});
  h.stateEntered('Task', 'Hold At Canary', {});
  h.taskScheduled('invoke.waitForTaskToken', { FunctionName: FN, Payload: { taskToken: 't-1' } }, 3600);
  h.taskSubmitted('invoke.waitForTaskToken', { Payload: { asked: true }, StatusCode: 200 });
  clock.advance(30);
  h.taskSucceeded('invoke.waitForTaskToken', { yes: true, by: 'erin' });
  h.stateExited('Task', 'Hold At Canary', {});
  h.stateEntered('Succeed', 'Released', {});
  h.stateExited('Succeed', 'Released', {});
  h.succeeded({ outcome: 'SUCCEEDED' });
}

describe('ExecutionHistory', () => {
  test('records the events of a run in order, ids 1..n, each previousEventId the event before', () => {
    const clock = testClock();
    const h = new ExecutionHistory(arnOf('r-1'), MACHINE, 'r-1', { service: 'shop' }, clock.now);
    recordRelease(h, clock);
    expect(h.events.map((e) => e.type)).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'LambdaFunctionScheduled',
      'LambdaFunctionStarted',
      'LambdaFunctionSucceeded',
      'TaskStateExited',
      'WaitStateEntered',
      'WaitStateExited',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskSubmitted',
      'TaskSucceeded',
      'TaskStateExited',
      'SucceedStateEntered',
      'SucceedStateExited',
      'ExecutionSucceeded',
    ]);
    expect(h.events.map((e) => e.id)).toEqual(h.events.map((_, i) => i + 1));
    expect(h.events.map((e) => e.previousEventId)).toEqual(h.events.map((_, i) => i));
    const times = h.events.map((e) => e.timestamp!.getTime());
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    // The wait's exit is 600 s after its entry: timestamps follow the clock given (the virtual one).
    const wait = h.events.filter((e) => e.type?.startsWith('WaitState')).map((e) => e.timestamp!.getTime());
    expect(wait[1]! - wait[0]!).toBe(600_000);
  });

  test('details in the shapes of the API reference (JSON strings, names, resources)', () => {
    const clock = testClock();
    const h = new ExecutionHistory(arnOf('r-2'), MACHINE, 'r-2', { service: 'shop' }, clock.now);
    recordRelease(h, clock);
    const byType = (t: string) => h.events.find((e) => e.type === t)!;
    expect(byType('ExecutionStarted').executionStartedEventDetails).toEqual({
      input: '{"service":"shop"}',
      inputDetails: { truncated: false },
      roleArn: LOCAL_EXECUTION_ROLE_ARN,
    });
    expect(byType('TaskStateEntered').stateEnteredEventDetails).toEqual({
      name: 'Shift 10% To Canary',
      input: '{"plan":{"service":"shop"}}',
      inputDetails: { truncated: false },
    });
    expect(byType('LambdaFunctionScheduled').lambdaFunctionScheduledEventDetails).toMatchObject({
      resource: FN,
      timeoutInSeconds: 65,
    });
    expect(
      JSON.parse(byType('LambdaFunctionSucceeded').lambdaFunctionSucceededEventDetails!.output!),
    ).toEqual({ targetWeight: 10, detail: '1 of 5 ready endpoints are canary (20%)' });
    expect(byType('TaskScheduled').taskScheduledEventDetails).toMatchObject({
      resourceType: 'lambda',
      resource: 'invoke.waitForTaskToken',
      region: 'local',
      timeoutInSeconds: 3600,
    });
    expect(JSON.parse(byType('TaskSucceeded').taskSucceededEventDetails!.output!)).toEqual({
      yes: true,
      by: 'erin',
    });
    expect(byType('ExecutionSucceeded').executionSucceededEventDetails!.output).toBe(
      '{"outcome":"SUCCEEDED"}',
    );
  });

  test('the status changes with the terminal event; nothing is recorded after it', () => {
    const clock = testClock();
    const h = new ExecutionHistory(arnOf('r-3'), MACHINE, 'r-3', {}, clock.now);
    expect(h.status).toBe('RUNNING');
    expect(h.describe()).toMatchObject({ status: 'RUNNING', stopDate: null, error: null, output: null });
    h.stateEntered('Task', 'Validate Canary', {});
    h.lambdaScheduled(FN, {}, 65);
    h.lambdaFailed('KubernetesTransientError', 'the API server said 503');
    h.stateEntered('Fail', 'Release Rolled Back', {});
    h.stateExited('Fail', 'Release Rolled Back', {});
    clock.advance(5);
    h.failed('ReleaseRolledBack', 'rolled back at canary');
    const count = h.events.length;
    h.stateEntered('Task', 'Too Late', {});
    h.succeeded({});
    h.aborted('X', 'y');
    expect(h.events).toHaveLength(count);
    expect(h.events.at(-1)!.type).toBe('ExecutionFailed');
    // A Fail state has no exit event: the execution fails.
    expect(h.events.map((e) => e.type)).not.toContain('FailStateExited');
    expect(h.events.find((e) => e.type === 'LambdaFunctionFailed')!.lambdaFunctionFailedEventDetails).toEqual(
      {
        error: 'KubernetesTransientError',
        cause: JSON.stringify({
          errorType: 'KubernetesTransientError',
          errorMessage: 'the API server said 503',
        }),
      },
    );
    expect(h.describe()).toMatchObject({
      status: 'FAILED',
      error: 'ReleaseRolledBack',
      cause: 'rolled back at canary',
      stopDate: h.events.at(-1)!.timestamp,
    });
  });

  test('an aborted execution keeps the error and cause it was stopped with', () => {
    const h = new ExecutionHistory(arnOf('r-4'), MACHINE, 'r-4', {}, testClock().now);
    h.aborted(null, 'aborted by oncall: wrong build');
    expect(h.events.at(-1)).toMatchObject({
      type: 'ExecutionAborted',
      executionAbortedEventDetails: { cause: 'aborted by oncall: wrong build' },
    });
    expect(h.describe()).toMatchObject({
      status: 'ABORTED',
      error: null,
      cause: 'aborted by oncall: wrong build',
    });
  });

  test('timestamps never go backwards, whatever the clock says', () => {
    const clock = testClock();
    const h = new ExecutionHistory(arnOf('r-5'), MACHINE, 'r-5', {}, clock.now);
    clock.advance(-60);
    h.stateEntered('Pass', 'Note', {});
    expect(h.events[1]!.timestamp!.getTime()).toBe(h.events[0]!.timestamp!.getTime());
  });

  test('an ASL state type it does not know is a programming error, not a silent event', () => {
    const h = new ExecutionHistory(arnOf('r-6'), MACHINE, 'r-6', {}, testClock().now);
    expect(() => h.stateEntered('Sleep', 'Nap', {})).toThrow('not a state type of the ASL: Sleep');
  });
});

describe('ExecutionHistories', () => {
  test('lists newest first, per state machine; a running name is refused, an ended one may be used again', () => {
    const clock = testClock();
    const all = new ExecutionHistories();
    const other = 'arn:aws:states:local:000000000000:stateMachine:tps-test-web';
    const a = all.add(new ExecutionHistory(arnOf('a'), MACHINE, 'a', {}, clock.now));
    all.add(
      new ExecutionHistory(`${other.replace(':stateMachine:', ':execution:')}:w`, other, 'w', {}, clock.now),
    );
    all.add(new ExecutionHistory(arnOf('b'), MACHINE, 'b', {}, clock.now));
    expect(all.list(MACHINE).map((h) => h.name)).toEqual(['b', 'a']);
    expect(all.list().map((h) => h.name)).toEqual(['b', 'w', 'a']);
    expect(() => all.add(new ExecutionHistory(arnOf('a'), MACHINE, 'a', {}, clock.now))).toThrow(
      expect.objectContaining({ name: 'ExecutionAlreadyExists' }),
    );
    a.succeeded({});
    const again = all.add(new ExecutionHistory(arnOf('a'), MACHINE, 'a', { second: true }, clock.now));
    expect(all.get(arnOf('a'))).toBe(again);
    expect(all.list(MACHINE).map((h) => h.name)).toEqual(['a', 'b']);
  });
});

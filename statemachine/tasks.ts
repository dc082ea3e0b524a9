/**
 * How the definition invokes task functions: every payload and result path is typed by the task's
 * contract (functions/contract/io.ts), every task gets its timeout from the task list and the
 * runbook's retry policy, and a person's wait (`.waitForTaskToken`) is one call.
 */
import { Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import type { PersonAnswer, TaskPayload, TaskReads } from '../functions/contract/io.js';
import { StatePath } from '../functions/contract/state.js';
import { TASKS, type TaskKey, type TokenTask } from '../functions/contract/tasks.js';
import { RUNBOOK } from '../functions/domain/defaults.js';
import { TRANSIENT_ERRORS } from '../functions/domain/errors.js';

/** A payload as the definition writes it: each field a value, or the state path that holds it. */
export type PayloadSpec<P> = { [F in keyof P]: P[F] | StatePath<P[F]> };

/** The payload object of a task: a path-valued field `f` becomes `"f.$": "<path>"`. */
export function toPayload<P>(spec: PayloadSpec<P>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(spec as Record<string, unknown>)) {
    if (value instanceof StatePath) out[`${key}.$`] = value.path;
    else out[key] = value;
  }
  return out;
}

/** Retries on transient errors: the runbook's policy (RUNBOOK.retry), with full jitter. */
export function retryTransient(t: sfn.TaskStateBase): void {
  const r = RUNBOOK.retry;
  t.addRetry({
    errors: [...TRANSIENT_ERRORS],
    interval: Duration.seconds(r.intervalSeconds),
    maxAttempts: r.maxAttempts,
    backoffRate: r.backoffRate,
    maxDelay: Duration.seconds(r.maxDelaySeconds),
    jitterStrategy: sfn.JitterType.FULL,
  });
}

/** Builds the task states of one state machine. */
export class TaskStates {
  constructor(
    private readonly scope: Construct,
    private readonly functions: Readonly<Record<TaskKey, IFunction>>,
  ) {}

  /** Invokes task `key`'s function with `payload`; its result goes to `result` (null: discarded). */
  invoke<K extends Exclude<TaskKey, TokenTask>>(
    id: string,
    key: K,
    payload: PayloadSpec<TaskPayload<K>>,
    result: StatePath<TaskReads<K>> | null,
  ): tasks.LambdaInvoke {
    const t = new tasks.LambdaInvoke(this.scope, id, {
      lambdaFunction: this.functions[key],
      payload: sfn.TaskInput.fromObject(toPayload(payload)),
      payloadResponseOnly: true,
      resultPath: result ? result.path : sfn.JsonPath.DISCARD,
      taskTimeout: sfn.Timeout.duration(Duration.seconds(TASKS[key].timeoutSeconds + 5)),
      comment: `task ${key}`,
    });
    retryTransient(t);
    return t;
  }

  /**
   * A task that waits for a person: its function stores the task token (and says how to answer);
   * the state ends when someone answers (SendTaskSuccess/SendTaskFailure), or with States.Timeout
   * after the number of seconds at `timeout`, which the function also receives.
   */
  waitForPerson<K extends TokenTask>(
    id: string,
    key: K,
    payload: PayloadSpec<Omit<TaskPayload<K>, 'taskToken' | 'timeoutSeconds'>>,
    result: StatePath<PersonAnswer>,
    timeout: StatePath<number>,
  ): tasks.LambdaInvoke {
    const t = new tasks.LambdaInvoke(this.scope, id, {
      lambdaFunction: this.functions[key],
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: sfn.TaskInput.fromObject({
        ...toPayload(payload),
        taskToken: sfn.JsonPath.taskToken,
        'timeoutSeconds.$': timeout.path,
      }),
      resultPath: result.path,
      taskTimeout: sfn.Timeout.at(timeout.path),
      comment: `task ${key}`,
    });
    retryTransient(t);
    return t;
  }

  /** A fixed pause (a polling loop's Wait). */
  pause(id: string, seconds: number): sfn.Wait {
    return new sfn.Wait(this.scope, id, { time: sfn.WaitTime.duration(Duration.seconds(seconds)) });
  }

  /** A pause as long as the number at `seconds` (a validation window, the watch). */
  pauseFor(id: string, seconds: StatePath<number>): sfn.Wait {
    return new sfn.Wait(this.scope, id, { time: sfn.WaitTime.secondsPath(seconds.path) });
  }
}

/** Choice conditions on typed paths. */
export const when = {
  isTrue: (p: StatePath<boolean>) => sfn.Condition.booleanEquals(p.path, true),
  isFalse: (p: StatePath<boolean>) => sfn.Condition.booleanEquals(p.path, false),
  equals: <T extends string>(p: StatePath<T>, value: T) => sfn.Condition.stringEquals(p.path, value),
} as const;

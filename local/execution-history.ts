/**
 * The execution history Step Functions keeps, for local executions: each execution's events in
 * the shapes of GetExecutionHistory (HistoryEvent, Step Functions API reference) and what
 * DescribeExecution and ListExecutions answer. The local executor (runner.ts) records into it as
 * the state machine runs; the local Step Functions API (sfn-api.ts) serves it to the CLI.
 *
 * Invariants, as in Step Functions: ids run 1, 2, 3, ... in the order the events happened; each
 * event's `previousEventId` is the event before it (0 for ExecutionStarted: the synthesized state
 * machines have no Parallel or Map state, so an execution's history is one chain); timestamps never
 * go backwards; nothing is recorded after the execution's terminal event, and the status changes
 * with that event, so a reader that sees the status ended also finds the terminal event.
 */
import type { HistoryEvent } from '@aws-sdk/client-sfn';

/** DescribeExecution's `status`. */
export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED' | 'TIMED_OUT';

/** What DescribeExecution answers about one execution. */
export interface ExecutionDescription {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly status: ExecutionStatus;
  readonly startDate: Date;
  readonly stopDate: Date | null;
  /** The execution input as JSON. */
  readonly input: string;
  /** The output as JSON, once SUCCEEDED. */
  readonly output: string | null;
  readonly error: string | null;
  readonly cause: string | null;
}

/** The `resourceType` of the Lambda integration's Task events. */
const LAMBDA_RESOURCE_TYPE = 'lambda';
/** Data details of an input or output: local values are never truncated. */
const WHOLE = { truncated: false } as const;
/** The role Step Functions would execute as; a local execution has none, so a local name. */
export const LOCAL_EXECUTION_ROLE_ARN = 'arn:aws:iam::000000000000:role/tps-deploy-local-execution';

/** State types of the ASL whose states have an `<Type>StateExited` event. */
const STATE_TYPES = new Set(['Task', 'Wait', 'Pass', 'Choice', 'Succeed', 'Fail', 'Map', 'Parallel']);

function json(value: unknown): string {
  return JSON.stringify(value ?? null);
}

/** The history of one execution. */
export class ExecutionHistory {
  private readonly list: HistoryEvent[] = [];
  private state: ExecutionStatus = 'RUNNING';
  private stopped: Date | null = null;
  private result: { output: string | null; error: string | null; cause: string | null } = {
    output: null,
    error: null,
    cause: null,
  };
  private lastTime = 0;
  readonly startDate: Date;
  readonly input: string;

  constructor(
    readonly executionArn: string,
    readonly stateMachineArn: string,
    readonly name: string,
    input: unknown,
    /** The time of each event (the local environment's virtual clock). */
    private readonly now: () => Date,
  ) {
    this.input = json(input);
    this.startDate = this.add('ExecutionStarted', {
      executionStartedEventDetails: {
        input: this.input,
        inputDetails: WHOLE,
        roleArn: LOCAL_EXECUTION_ROLE_ARN,
      },
    });
  }

  /** The events so far, oldest first. */
  get events(): readonly HistoryEvent[] {
    return this.list;
  }

  get status(): ExecutionStatus {
    return this.state;
  }

  /** DescribeExecution of this execution. */
  describe(): ExecutionDescription {
    return {
      executionArn: this.executionArn,
      stateMachineArn: this.stateMachineArn,
      name: this.name,
      status: this.state,
      startDate: this.startDate,
      stopDate: this.stopped,
      input: this.input,
      ...this.result,
    };
  }

  /** `<Type>StateEntered` with the state's input. */
  stateEntered(type: string, name: string, input: unknown): void {
    this.add(`${this.stateType(type)}StateEntered`, {
      stateEnteredEventDetails: { name, input: json(input), inputDetails: WHOLE },
    });
  }

  /** `<Type>StateExited` with the state's output (a Fail state has none: the execution fails). */
  stateExited(type: string, name: string, output: unknown): void {
    if (type === 'Fail') return;
    this.add(`${this.stateType(type)}StateExited`, {
      stateExitedEventDetails: { name, output: json(output), outputDetails: WHOLE },
    });
  }

  /** A Lambda function resource invoked with `input` (the function's ARN as `resource`). */
  lambdaScheduled(resource: string, input: unknown, timeoutInSeconds?: number): void {
    this.add('LambdaFunctionScheduled', {
      lambdaFunctionScheduledEventDetails: {
        resource,
        input: json(input),
        inputDetails: WHOLE,
        ...(timeoutInSeconds !== undefined ? { timeoutInSeconds } : {}),
      },
    });
    this.add('LambdaFunctionStarted', {});
  }

  /** The function returned `output`. */
  lambdaSucceeded(output: unknown): void {
    this.add('LambdaFunctionSucceeded', {
      lambdaFunctionSucceededEventDetails: { output: json(output), outputDetails: WHOLE },
    });
  }

  /** The function threw: `error` is its name; `cause` the `{errorType, errorMessage}` JSON Lambda reports. */
  lambdaFailed(error: string, message: string): void {
    this.add('LambdaFunctionFailed', {
      lambdaFunctionFailedEventDetails: { error, cause: lambdaCause(error, message) },
    });
  }

  /**
   * A Lambda integration task (`arn:aws:states:::lambda:<resource>`, e.g. `invoke.waitForTaskToken`)
   * scheduled with its Parameters, and started.
   */
  taskScheduled(resource: string, parameters: unknown, timeoutInSeconds?: number): void {
    const ids = { resourceType: LAMBDA_RESOURCE_TYPE, resource };
    this.add('TaskScheduled', {
      taskScheduledEventDetails: {
        ...ids,
        region: 'local',
        parameters: json(parameters),
        ...(timeoutInSeconds !== undefined && Number.isFinite(timeoutInSeconds) ? { timeoutInSeconds } : {}),
      },
    });
    this.add('TaskStarted', { taskStartedEventDetails: ids });
  }

  /** The integration's call returned `response`; a `.waitForTaskToken` task now waits for its token. */
  taskSubmitted(resource: string, response: unknown): void {
    this.add('TaskSubmitted', {
      taskSubmittedEventDetails: {
        resourceType: LAMBDA_RESOURCE_TYPE,
        resource,
        output: json(response),
        outputDetails: WHOLE,
      },
    });
  }

  /** The integration task ended with `output` (for a task token: the SendTaskSuccess output). */
  taskSucceeded(resource: string, output: unknown): void {
    this.add('TaskSucceeded', {
      taskSucceededEventDetails: {
        resourceType: LAMBDA_RESOURCE_TYPE,
        resource,
        output: json(output),
        outputDetails: WHOLE,
      },
    });
  }

  /** The integration task failed (SendTaskFailure, or its function threw). */
  taskFailed(resource: string, error: string, cause: string): void {
    this.add('TaskFailed', {
      taskFailedEventDetails: { resourceType: LAMBDA_RESOURCE_TYPE, resource, error, cause },
    });
  }

  /** The integration task timed out (`States.Timeout`). */
  taskTimedOut(resource: string, error: string, cause: string): void {
    this.add('TaskTimedOut', {
      taskTimedOutEventDetails: { resourceType: LAMBDA_RESOURCE_TYPE, resource, error, cause },
    });
  }

  /** ExecutionSucceeded: the status becomes SUCCEEDED. */
  succeeded(output: unknown): void {
    const out = json(output);
    this.end('SUCCEEDED', { output: out, error: null, cause: null }, 'ExecutionSucceeded', {
      executionSucceededEventDetails: { output: out, outputDetails: WHOLE },
    });
  }

  /** ExecutionFailed with the final error and cause: the status becomes FAILED. */
  failed(error: string, cause: string): void {
    this.end('FAILED', { output: null, error, cause }, 'ExecutionFailed', {
      executionFailedEventDetails: { error, cause },
    });
  }

  /** ExecutionAborted (StopExecution), with the error and cause it was stopped with, if any. */
  aborted(error: string | null, cause: string | null): void {
    this.end('ABORTED', { output: null, error, cause }, 'ExecutionAborted', {
      executionAbortedEventDetails: {
        ...(error !== null ? { error } : {}),
        ...(cause !== null ? { cause } : {}),
      },
    });
  }

  /** ExecutionTimedOut: the execution ran past its TimeoutSeconds. */
  timedOut(error: string, cause: string): void {
    this.end('TIMED_OUT', { output: null, error, cause }, 'ExecutionTimedOut', {
      executionTimedOutEventDetails: { error, cause },
    });
  }

  private end(
    status: Exclude<ExecutionStatus, 'RUNNING'>,
    result: ExecutionHistory['result'],
    type: string,
    details: Partial<HistoryEvent>,
  ): void {
    if (this.state !== 'RUNNING') return;
    // One step: the terminal event and the status it implies are seen together.
    this.stopped = this.add(type, details);
    this.result = result;
    this.state = status;
  }

  private stateType(type: string): string {
    if (!STATE_TYPES.has(type)) throw new Error(`not a state type of the ASL: ${type}`);
    return type;
  }

  /** Appends one event (nothing after the terminal one) and returns its time. */
  private add(type: string, details: Partial<HistoryEvent>): Date {
    const time = Math.max(this.now().getTime(), this.lastTime);
    this.lastTime = time;
    const timestamp = new Date(time);
    if (this.state !== 'RUNNING') return timestamp;
    const id = this.list.length + 1;
    this.list.push({
      timestamp,
      type: type as HistoryEvent['type'],
      id,
      previousEventId: id - 1,
      ...details,
    });
    return timestamp;
  }
}

/** The `cause` Step Functions records for a Lambda function that threw: Lambda's error JSON. */
export function lambdaCause(errorType: string, errorMessage: string): string {
  return JSON.stringify({ errorType, errorMessage });
}

/** Every local execution of an environment, by ARN, in the order they started. */
export class ExecutionHistories {
  private readonly byArn = new Map<string, ExecutionHistory>();

  /**
   * Registers a new execution. The name of one that ended may be used again (the local stand-in for
   * Step Functions forgetting an execution 90 days after it closed: tests reuse names); the name
   * of a running one may not.
   */
  add(history: ExecutionHistory): ExecutionHistory {
    if (this.byArn.get(history.executionArn)?.status === 'RUNNING') {
      const e = new Error(`execution ${history.executionArn} is already running`);
      e.name = 'ExecutionAlreadyExists';
      throw e;
    }
    // Deleted first: the reused name lists as the newest execution.
    this.byArn.delete(history.executionArn);
    this.byArn.set(history.executionArn, history);
    return history;
  }

  has(executionArn: string): boolean {
    return this.byArn.has(executionArn);
  }

  get(executionArn: string): ExecutionHistory | undefined {
    return this.byArn.get(executionArn);
  }

  /** The executions of one state machine (all when none is named), newest first, as ListExecutions orders them. */
  list(stateMachineArn?: string): ExecutionHistory[] {
    return [...this.byArn.values()]
      .filter((h) => !stateMachineArn || h.stateMachineArn === stateMachineArn)
      .reverse();
  }
}

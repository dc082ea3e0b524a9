import { randomUUID } from 'node:crypto';
import { setImmediate as afterQueuedEvents } from 'node:timers/promises';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  StateMachine,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';
import type { TaskKey } from '../functions/contract/tasks.js';
import { ERROR_NAMES, TpsError } from '../functions/domain/errors.js';
import { parseExecutionInput } from '../functions/domain/input.js';
import type { ExecutionState } from '../functions/domain/lock.js';
import type { ReleasePorts } from '../functions/ports/release.js';
import { ExecutionHistories, ExecutionHistory, lambdaCause } from './execution-history.js';
import type { LocalFunctions } from './invocation.js';
import type { VirtualClock } from './virtual-clock.js';

/** One state machine, as synthesized: its ASL and which task each Lambda resource runs. */
export interface SynthesizedMachine {
  readonly asl: StateMachineDefinition;
  /** Lambda resource (placeholder ARN in the ASL) -> task key. */
  readonly resourceTasks: Readonly<Record<string, TaskKey>>;
}

/** The local ARN of a service's state machine (`<appName>-<service>`, as the stack names it). */
export function localStateMachineArn(stateMachineName: string): string {
  return `arn:aws:states:local:000000000000:stateMachine:${stateMachineName}`;
}

/** The ARN of an execution of a state machine: its name is the deployment id. */
export function executionArnOf(stateMachineArn: string, executionName: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${executionName}`;
}

export interface LocalExecutionResult {
  readonly executionArn: string;
  readonly status: 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  readonly error: string | null;
  readonly cause: string | null;
  readonly output: unknown;
  /** Names of the states entered, in order. */
  readonly states: readonly string[];
  /** Virtual seconds the execution took. */
  readonly virtualSeconds: number;
  /** Wall-clock milliseconds it took. */
  readonly realMs: number;
  /**
   * The execution's `$$.Execution.StartTime` as the machine passed it to its tasks (null when no
   * task received it): the `startDate` of its status-change event.
   */
  readonly executionStartTime: string | null;
}

export interface LocalRunOptions {
  /** Virtual seconds per real second for validation windows (default 10 000: 10 min in 60 ms). */
  readonly speed?: number;
  /**
   * Real milliseconds of named Wait states, instead of their compressed duration (e.g. a long
   * "Post-Deployment Watch" while a test fires an alarm). Virtual time still advances by the
   * state's full duration.
   */
  readonly waitMs?: Readonly<Record<string, number>>;
  /**
   * Real milliseconds a waiting task token (an approval, a hold) waits for an answer before it
   * times out. A person's answer advances virtual time by the real time waited, nothing more; a
   * timeout advances it to the state's full TimeoutSeconds and fails the state with
   * `States.Timeout`, as Step Functions does. @default 60 000 (capped by the state's timeout)
   */
  readonly tokenTimeoutMs?: number;
  /**
   * Real milliseconds of a task's first retry interval (the ASL's IntervalSeconds; BackoffRate
   * still applies). @default 20
   */
  readonly retryIntervalMs?: number;
  /** Real milliseconds of a readiness poll wait (pods become Ready in real time). */
  readonly pollMs?: number;
  readonly executionName?: string;
  /** Called for every state entered (progress display). */
  readonly onState?: (name: string, type: string, virtualTime: Date) => void;
}

interface AslState {
  Type: string;
  Resource?: string;
  Seconds?: number;
  SecondsPath?: string;
  Parameters?: { FunctionName?: string; Payload?: Record<string, unknown> };
  TimeoutSeconds?: number;
  TimeoutSecondsPath?: string;
}

/** The integration of Lambda tasks that wait for a task token. */
const WAIT_FOR_TOKEN_SUFFIX = '.waitForTaskToken';
/** Longest timeout a Node timer takes (2^31 - 1 ms) in whole seconds. */
const LIBRARY_TIMEOUT_CAP_SECONDS = 2_000_000;
/** The context path of the task token. */
const TASK_TOKEN_PATH = '$$.Task.Token';
/** The library's events that end an execution. */
const LIBRARY_END_EVENTS = new Set([
  'ExecutionSucceeded',
  'ExecutionFailed',
  'ExecutionAborted',
  'ExecutionTimeout',
]);
/** Longest wait for the library's event loop to reach the end event once the execution settled. */
const CONSUME_CAP_MS = 2000;

/** An answer to a task token the local executor does not know (answered, timed out, or never issued). */
export class LocalTaskTokenError extends TpsError {
  constructor(name: typeof ERROR_NAMES.taskDoesNotExist | typeof ERROR_NAMES.taskTimedOut, message: string) {
    super(name, message);
  }
}

/** A task token waiting for an answer. */
interface PendingToken {
  readonly executionArn: string;
  readonly resolve: (output: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** An error with a Step Functions error name (`ErrorEquals` matches `name`, `Cause` is the message). */
function namedError(name: string, cause: string): Error {
  const e = new Error(cause);
  e.name = name;
  return e;
}

/** The payload key whose ASL value is `path` (`"key.$": path`), without the `.$`. */
function payloadKeyOf(payload: Record<string, unknown> | undefined, path: string): string | null {
  for (const [k, v] of Object.entries(payload ?? {}))
    if (k.endsWith('.$') && v === path) return k.slice(0, -2);
  return null;
}

function readPath(input: unknown, path: string): unknown {
  if (path === '$') return input;
  let cur: unknown = input;
  for (const key of path.replace(/^\$\./, '').split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/**
 * Runs the synthesized state machine in-process with aws-local-stepfunctions, the real step code
 * behind every Task state, and a virtual clock: each Wait state advances virtual time by its full
 * duration while really pausing only `seconds / speed` (windows) or `pollMs` (readiness polls).
 *
 * `.waitForTaskToken` tasks (approval, holds) run their step with a fresh task token and wait
 * for {@link LocalExecutor.sendTaskSuccess} / {@link LocalExecutor.sendTaskFailure}, the local
 * SendTaskSuccess/SendTaskFailure. Waiting for a person is real time on the virtual clock (nothing
 * added); an unanswered token times out after `tokenTimeoutMs` real milliseconds as if the state's
 * whole TimeoutSeconds had passed.
 */
export class LocalExecutor {
  private readonly running = new Map<string, { abort: () => void; history: ExecutionHistory }>();
  private readonly tokens = new Map<string, PendingToken>();
  /** Per execution, the virtual clock stepping through its latest Wait state (see run()). */
  private readonly steps = new Map<string, Promise<void>>();

  constructor(
    private readonly machine: SynthesizedMachine,
    /** The ports each task's function gets (its own cluster identity, or none). */
    private readonly portsFor: (task: TaskKey) => ReleasePorts,
    private readonly clock: VirtualClock,
    /** Every task runs as its Lambda function would (functions/invoke.ts): instrumented, logged. */
    private readonly functions: LocalFunctions,
    /**
     * The state machine's ARN (executions are named after it) and where each execution's history
     * goes (the local Step Functions API serves it). @default a machine named `tps-deploy`, its own histories
     */
    readonly recording: { readonly stateMachineArn: string; readonly histories: ExecutionHistories } = {
      stateMachineArn: localStateMachineArn('tps-deploy'),
      histories: new ExecutionHistories(),
    },
  ) {}

  /** How the executions that ended here ended. */
  private readonly ended = new Map<string, LocalExecutionResult['status']>();

  /** Where a local execution is (the local counterpart of DescribeExecution's status). */
  statusOf(executionArn: string): ExecutionState {
    if (this.running.has(executionArn)) return 'RUNNING';
    return this.ended.get(executionArn) ?? 'UNKNOWN';
  }

  /**
   * Stops a running local execution (the local counterpart of StopExecution): its history ends
   * with ExecutionAborted at once, with the error and cause given.
   */
  stop(executionArn: string, error: string | null = null, cause: string | null = null): boolean {
    const run = this.running.get(executionArn);
    if (!run) return false;
    run.history.aborted(error, cause);
    // Tokens of a stopped execution are never answered (as in Step Functions: TaskDoesNotExist).
    for (const [token, pending] of this.tokens) {
      if (pending.executionArn !== executionArn) continue;
      clearTimeout(pending.timer);
      this.tokens.delete(token);
    }
    run.abort();
    return true;
  }

  /** Whether a task token is waiting for an answer here. */
  hasTaskToken(taskToken: string): boolean {
    return this.tokens.has(taskToken);
  }

  /** The local SendTaskSuccess: the waiting state ends with `output` as its result. */
  sendTaskSuccess(taskToken: string, output: unknown): void {
    this.takeToken(taskToken).resolve(JSON.parse(JSON.stringify(output ?? {})));
  }

  /** The local SendTaskFailure: the waiting state fails with `error` (its Catch matches the name). */
  sendTaskFailure(taskToken: string, error: string, cause: string): void {
    this.takeToken(taskToken).reject(namedError(error, cause));
  }

  private takeToken(taskToken: string): PendingToken {
    const pending = this.tokens.get(taskToken);
    if (!pending)
      throw new LocalTaskTokenError(
        ERROR_NAMES.taskDoesNotExist,
        `no task is waiting for token ${taskToken}`,
      );
    clearTimeout(pending.timer);
    this.tokens.delete(taskToken);
    return pending;
  }

  async run(input: unknown, opts: LocalRunOptions = {}): Promise<LocalExecutionResult> {
    const speed = opts.speed ?? 10_000;
    const pollMs = opts.pollMs ?? 100;
    const name = opts.executionName ?? `local-${Date.now()}-${randomUUID().slice(0, 8)}`;
    const executionArn = executionArnOf(this.recording.stateMachineArn, name);
    const states = this.machine.asl.States as Record<string, AslState>;
    // Registered before anything runs: DescribeExecution finds the execution as soon as it exists.
    const history = this.recording.histories.add(
      new ExecutionHistory(executionArn, this.recording.stateMachineArn, name, input, () => this.clock.now()),
    );
    // A definition the runner cannot run fails the execution (and the caller) before it starts.
    const unrunnable = (error: Error): never => {
      history.failed('States.Runtime', error.message);
      throw error;
    };
    let executionStartTime: string | null = null;

    // Wait overrides: windows compressed by `speed`, polls at a fixed real interval.
    let planSeconds: Record<string, number> = {};
    try {
      const plan = parseExecutionInput(input, this.portsFor('validateInput').catalog, name);
      planSeconds = Object.fromEntries(
        Object.entries(states)
          .filter(([, s]) => s.Type === 'Wait')
          .map(([n, s]) => [n, s.SecondsPath ? Number(readPath({ plan }, s.SecondsPath)) : (s.Seconds ?? 0)]),
      );
    } catch {
      // invalid input: the execution fails at Validate Input before any Wait
    }
    const waitTimeOverrides: Record<string, number> = {};
    for (const [n, s] of Object.entries(states)) {
      if (s.Type !== 'Wait') continue;
      const fixed = opts.waitMs?.[n];
      if (fixed !== undefined) {
        waitTimeOverrides[n] = fixed;
        continue;
      }
      const isPoll = s.SecondsPath === undefined;
      waitTimeOverrides[n] = isPoll
        ? pollMs
        : Math.max(5, Math.round(((planSeconds[n] ?? 0) * 1000) / speed));
    }

    const taskResourceLocalHandlers: Record<string, (i: unknown) => Promise<unknown>> = {};
    const retryIntervalOverrides: Record<string, number> = {};
    for (const [n, s] of Object.entries(states)) {
      if (s.Type !== 'Task' || !s.Resource) continue;
      if (s.Resource.endsWith(WAIT_FOR_TOKEN_SUFFIX)) {
        try {
          taskResourceLocalHandlers[n] = this.tokenHandler(
            n,
            s,
            executionArn,
            history,
            opts.tokenTimeoutMs ?? 60_000,
          );
        } catch (error) {
          unrunnable(error as Error);
        }
        retryIntervalOverrides[n] = opts.retryIntervalMs ?? 20;
        continue;
      }
      const task =
        this.machine.resourceTasks[s.Resource] ??
        unrunnable(new Error(`state ${n}: no task function for ${s.Resource}`));
      retryIntervalOverrides[n] = opts.retryIntervalMs ?? 20;
      const resource = s.Resource;
      taskResourceLocalHandlers[n] = async (payload) => {
        // The library queued this state's StateEntered before calling here; the consumer below
        // records it within the current microtasks, so the Lambda events come after it.
        await this.afterWait(executionArn, n);
        await afterQueuedEvents();
        history.lambdaScheduled(resource, payload, s.TimeoutSeconds);
        const started = (payload as { executionStartTime?: unknown }).executionStartTime;
        if (typeof started === 'string') executionStartTime = started;
        // JSON round trips, as between Step Functions and Lambda.
        let result: unknown;
        try {
          result = await this.functions.invoke(
            task,
            this.portsFor(task),
            JSON.parse(JSON.stringify(payload)),
          );
        } catch (e) {
          const err = e as { name?: string; message?: string };
          history.lambdaFailed(err?.name ?? 'Error', err?.message ?? String(e));
          throw e;
        }
        const output = result === undefined ? null : JSON.parse(JSON.stringify(result));
        history.lambdaSucceeded(output);
        return output;
      };
    }

    // aws-local-stepfunctions 3 resolves TimeoutSecondsPath against the task's Parameters instead
    // of the state input, and times tasks out in real seconds: the waiting states' timeouts are
    // handled by tokenHandler (virtual time), so the library gets a timeout that never fires first.
    // A JSON copy (not structuredClone: under Jest its objects fail the library's plain-object test).
    const asl = JSON.parse(JSON.stringify(this.machine.asl)) as StateMachineDefinition & {
      States: Record<string, AslState>;
    };
    for (const st of Object.values(asl.States)) {
      if (st.Type === 'Task' && st.Resource?.endsWith(WAIT_FOR_TOKEN_SUFFIX)) {
        delete st.TimeoutSecondsPath;
        st.TimeoutSeconds = LIBRARY_TIMEOUT_CAP_SECONDS;
      }
    }
    let sm: StateMachine;
    try {
      sm = new StateMachine(asl, { validationOptions: { checkArn: false } });
    } catch (error) {
      return unrunnable(error as Error);
    }
    const startedVirtual = this.clock.now();
    const startedReal = Date.now();
    const execution = sm.run(input as never, {
      overrides: {
        taskResourceLocalHandlers: taskResourceLocalHandlers as never,
        waitTimeOverrides,
        retryIntervalOverrides,
      },
      context: {
        Execution: { Id: executionArn, Name: name, StartTime: startedVirtual.toISOString() },
        // Replaced per waiting state by a fresh token (see tokenHandler).
        Task: { Token: 'local-task-token' },
      } as never,
    });
    this.running.set(executionArn, { abort: execution.abort, history });
    const entered: string[] = [];
    // The library's events, in the order it queued them: states entered and exited go into the
    // history (the Lambda events come from the handlers above); its end event ends the loop.
    const consume = (async () => {
      for await (const ev of execution.eventLogs) {
        if (LIBRARY_END_EVENTS.has(ev.type)) return;
        if (ev.type === 'StateExited') {
          const st = ev.state as { name: string; type: string; output?: unknown };
          history.stateExited(st.type, st.name, st.output);
          continue;
        }
        if (ev.type !== 'StateEntered') continue;
        const st = ev.state as { name: string; type: string; input: unknown };
        entered.push(st.name);
        history.stateEntered(st.type, st.name, st.input);
        if (st.type === 'Wait') {
          const def = states[st.name];
          const secs = def?.SecondsPath ? Number(readPath(st.input, def.SecondsPath)) : (def?.Seconds ?? 0);
          // Through the Wait minute by minute: the local CloudWatch evaluates its alarms at each
          // minute, and an alarm's rollback stops the execution at that virtual time.
          const step = this.clock.advanceInSteps(Number.isFinite(secs) ? secs : 0, () =>
            this.running.has(executionArn),
          );
          this.steps.set(executionArn, step);
          step.catch(() => undefined);
        }
        opts.onState?.(st.name, st.type, this.clock.now());
      }
    })();
    let status: LocalExecutionResult['status'] = 'SUCCEEDED';
    let error: string | null = null;
    let cause: string | null = null;
    let output: unknown = null;
    try {
      output = await execution.result;
    } catch (e) {
      if (e instanceof ExecutionAbortedError) {
        status = 'ABORTED';
      } else if (e instanceof ExecutionError) {
        status = 'FAILED';
        const inner = e.cause as { name?: string; message?: string } | undefined;
        error = inner?.name ?? 'Error';
        cause = inner?.message ?? e.message;
      } else {
        if (e instanceof ExecutionTimeoutError) {
          history.timedOut(ERROR_NAMES.statesTimeout, 'the execution ran past its TimeoutSeconds');
        } else {
          history.failed('Error', (e as Error)?.message ?? String(e));
        }
        throw e;
      }
    } finally {
      this.running.delete(executionArn);
      this.ended.set(executionArn, status);
      for (const [token, pending] of this.tokens) {
        if (pending.executionArn !== executionArn) continue;
        clearTimeout(pending.timer);
        this.tokens.delete(token);
      }
    }
    // The loop ends at the library's end event; the cap only guards against one never coming.
    let cap: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([consume, new Promise((r) => (cap = setTimeout(r, CONSUME_CAP_MS)))]);
    clearTimeout(cap);
    // The last Wait's stepping (an alarm's rollback that stopped the execution) has finished.
    await this.steps.get(executionArn)?.catch(() => undefined);
    this.steps.delete(executionArn);
    if (status === 'SUCCEEDED') history.succeeded(output);
    else if (status === 'FAILED') history.failed(error ?? 'Error', cause ?? '');
    else history.aborted(null, null);
    return {
      executionArn,
      status,
      error,
      cause,
      output,
      states: entered,
      virtualSeconds: (this.clock.now().getTime() - startedVirtual.getTime()) / 1000,
      realMs: Date.now() - startedReal,
      executionStartTime,
    };
  }

  /**
   * A task state starts once the Wait before it has stepped through its time (the state machine's
   * own timer may end first). If the execution was stopped meanwhile (an alarm's rollback), the
   * task does not run: a stopped execution starts no task.
   */
  private async afterWait(executionArn: string, stateName: string): Promise<void> {
    const step = this.steps.get(executionArn);
    if (!step) return;
    await step.catch(() => undefined);
    if (!this.running.has(executionArn)) {
      throw namedError(
        'ExecutionAborted',
        `${stateName}: the execution was stopped before the state started`,
      );
    }
  }

  /**
   * The local handler of a `.waitForTaskToken` Lambda task: runs the step with a fresh token in
   * place of `$$.Task.Token`, then waits for {@link sendTaskSuccess} / {@link sendTaskFailure}, or
   * times out after `tokenTimeoutMs` real milliseconds (capped by the state's timeout) with
   * `States.Timeout`, advancing virtual time to the state's full timeout.
   */
  private tokenHandler(
    stateName: string,
    state: AslState,
    executionArn: string,
    history: ExecutionHistory,
    tokenTimeoutMs: number,
  ): (params: unknown) => Promise<unknown> {
    const fn = state.Parameters?.FunctionName;
    const task = fn ? this.machine.resourceTasks[fn] : undefined;
    if (!fn || !task)
      throw new Error(`state ${stateName}: no task function for ${fn ?? '(no FunctionName)'}`);
    const payloadAsl = state.Parameters?.Payload;
    const tokenKey = payloadKeyOf(payloadAsl, TASK_TOKEN_PATH);
    if (!tokenKey) throw new Error(`state ${stateName}: its payload does not pass ${TASK_TOKEN_PATH}`);
    const timeoutKey = state.TimeoutSecondsPath ? payloadKeyOf(payloadAsl, state.TimeoutSecondsPath) : null;
    if (state.TimeoutSecondsPath && !timeoutKey) {
      throw new Error(
        `state ${stateName}: TimeoutSecondsPath ${state.TimeoutSecondsPath} must also be in its payload for the local runner`,
      );
    }
    // `arn:aws:states:::lambda:invoke.waitForTaskToken`: the history names it `invoke.waitForTaskToken`.
    const resource = (state.Resource ?? '').replace(/^arn:[^:]+:states:::lambda:/, '');
    return async (params) => {
      await this.afterWait(executionArn, stateName);
      // After the consumer has recorded this state's TaskStateEntered (see the Lambda handlers).
      await afterQueuedEvents();
      const payload = JSON.parse(JSON.stringify((params as { Payload?: unknown }).Payload ?? {})) as Record<
        string,
        unknown
      >;
      const token = `${executionArn}#${stateName}#${randomUUID()}`;
      payload[tokenKey] = token;
      const timeoutSeconds = timeoutKey ? Number(payload[timeoutKey]) : (state.TimeoutSeconds ?? 99_999_999);
      history.taskScheduled(resource, { FunctionName: fn, Payload: payload }, timeoutSeconds);
      const answered = new Promise<unknown>((resolve, reject) => {
        const startedMs = Date.now();
        const timer = setTimeout(
          () => {
            if (!this.tokens.delete(token)) return;
            const waited = (Date.now() - startedMs) / 1000;
            this.clock.advance(Math.max(0, timeoutSeconds - waited));
            reject(
              namedError(ERROR_NAMES.statesTimeout, `${stateName}: no answer within ${timeoutSeconds} s`),
            );
          },
          Math.min(tokenTimeoutMs, timeoutSeconds * 1000),
        );
        // Registered before the step runs: an answer may arrive while it is still running.
        this.tokens.set(token, { executionArn, resolve, reject, timer });
      });
      answered.catch(() => undefined);
      let response: unknown;
      try {
        response = await this.functions.invoke(task, this.portsFor(task), payload);
      } catch (e) {
        const pending = this.tokens.get(token);
        if (pending) clearTimeout(pending.timer);
        this.tokens.delete(token);
        const err = e as { name?: string; message?: string };
        const name = err?.name ?? 'Error';
        history.taskFailed(resource, name, lambdaCause(name, err?.message ?? String(e)));
        throw e;
      }
      // What the Invoke returned (the function's result as its Payload): the task now waits.
      history.taskSubmitted(resource, { Payload: response ?? null, StatusCode: 200 });
      return answered.then(
        (output) => {
          history.taskSucceeded(resource, output);
          return output;
        },
        (e: Error) => {
          if (e.name === ERROR_NAMES.statesTimeout) history.taskTimedOut(resource, e.name, e.message);
          else history.taskFailed(resource, e.name, e.message);
          throw e;
        },
      );
    };
  }
}

import { randomUUID } from 'node:crypto';
import {
  ExecutionAbortedError,
  ExecutionError,
  StateMachine,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';
import { parseExecutionInput } from '../functions/domain/input.js';
import type { ReleasePorts } from '../functions/release/ports.js';
import { STEPS } from '../functions/release/registry.js';
import type { TaskKey } from '../statemachine/tasks.js';
import type { VirtualClock } from './virtual-clock.js';

/** One state machine, as synthesized: its ASL and which task each Lambda resource runs. */
export interface SynthesizedMachine {
  readonly asl: StateMachineDefinition;
  /** Lambda resource (placeholder ARN in the ASL) -> task key. */
  readonly resourceTasks: Readonly<Record<string, TaskKey>>;
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
}

export interface LocalRunOptions {
  /** Virtual seconds per real second for validation windows (default 10 000: 10 min in 60 ms). */
  readonly speed?: number;
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
 */
export class LocalExecutor {
  private readonly running = new Map<string, () => void>();

  constructor(
    private readonly machine: SynthesizedMachine,
    private readonly ports: ReleasePorts,
    private readonly clock: VirtualClock,
  ) {}

  /** Stops a running local execution (the local counterpart of StopExecution). */
  stop(executionArn: string): boolean {
    const abort = this.running.get(executionArn);
    if (!abort) return false;
    abort();
    return true;
  }

  async run(input: unknown, opts: LocalRunOptions = {}): Promise<LocalExecutionResult> {
    const speed = opts.speed ?? 10_000;
    const pollMs = opts.pollMs ?? 100;
    const name = opts.executionName ?? `local-${Date.now()}-${randomUUID().slice(0, 8)}`;
    const executionArn = `arn:aws:states:local:000000000000:execution:tps-deploy:${name}`;
    const states = this.machine.asl.States as Record<string, AslState>;

    // Wait overrides: windows compressed by `speed`, polls at a fixed real interval.
    let planSeconds: Record<string, number> = {};
    try {
      const plan = parseExecutionInput(input, this.ports.catalog, name);
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
      const isPoll = s.SecondsPath === undefined;
      waitTimeOverrides[n] = isPoll
        ? pollMs
        : Math.max(5, Math.round(((planSeconds[n] ?? 0) * 1000) / speed));
    }

    const taskResourceLocalHandlers: Record<string, (i: unknown) => Promise<unknown>> = {};
    const retryIntervalOverrides: Record<string, number> = {};
    for (const [n, s] of Object.entries(states)) {
      if (s.Type !== 'Task' || !s.Resource) continue;
      const task = this.machine.resourceTasks[s.Resource];
      if (!task) throw new Error(`state ${n}: no task function for ${s.Resource}`);
      const step = STEPS[task];
      retryIntervalOverrides[n] = 20;
      taskResourceLocalHandlers[n] = async (payload) => {
        // JSON round trips, as between Step Functions and Lambda.
        const result = await step(this.ports, JSON.parse(JSON.stringify(payload)));
        return result === undefined ? null : JSON.parse(JSON.stringify(result));
      };
    }

    const sm = new StateMachine(this.machine.asl, { validationOptions: { checkArn: false } });
    const startedVirtual = this.clock.now();
    const startedReal = Date.now();
    const execution = sm.run(input as never, {
      overrides: {
        taskResourceLocalHandlers: taskResourceLocalHandlers as never,
        waitTimeOverrides,
        retryIntervalOverrides,
      },
      context: { Execution: { Id: executionArn, Name: name, StartTime: startedVirtual.toISOString() } },
    });
    this.running.set(executionArn, execution.abort);
    const entered: string[] = [];
    const consume = (async () => {
      for await (const ev of execution.eventLogs) {
        if (ev.type !== 'StateEntered') continue;
        const st = ev.state as { name: string; type: string; input: unknown };
        entered.push(st.name);
        if (st.type === 'Wait') {
          const def = states[st.name];
          const secs = def?.SecondsPath ? Number(readPath(st.input, def.SecondsPath)) : (def?.Seconds ?? 0);
          this.clock.advance(Number.isFinite(secs) ? secs : 0);
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
        throw e;
      }
    } finally {
      this.running.delete(executionArn);
    }
    await Promise.race([consume, new Promise((r) => setTimeout(r, 200))]);
    return {
      executionArn,
      status,
      error,
      cause,
      output,
      states: entered,
      virtualSeconds: (this.clock.now().getTime() - startedVirtual.getTime()) / 1000,
      realMs: Date.now() - startedReal,
    };
  }
}

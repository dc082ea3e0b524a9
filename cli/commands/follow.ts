/**
 * `start --follow` and `watch`: polls DescribeExecution and GetExecutionHistory and shows phases,
 * waits and verdicts as they happen; on a terminal, a status line counts down the current wait.
 * {@link followRelease} is the one implementation both commands run.
 */
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  DescribeStateMachineForExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { ERROR_NAMES } from '../../functions/domain/errors.js';
import type { DeploymentRecord, Outcome } from '../../functions/domain/record.js';
import type { CliContext } from '../context.js';
import { EXIT_CODES, type ExitCode, line, type OutStream } from '../io.js';
import type { ConsoleLinks } from '../links.js';

/**
 * Final errors of the state machine (the catalogue in functions/domain/errors.ts, not the CDK
 * definition: the CLI never loads aws-cdk-lib). `rejected` covers the names an approval step may
 * end with; the record's outcome (REJECTED) decides when the table is readable.
 */
export const FINAL_ERRORS = {
  rolledBack: ERROR_NAMES.releaseRolledBack,
  rollbackFailed: ERROR_NAMES.rollbackFailed,
  releaseFailed: ERROR_NAMES.releaseFailed,
  rejected: [ERROR_NAMES.releaseRejected, ERROR_NAMES.approvalRejected],
} as const;

/** The exit code for a release outcome from the deployment record. */
export function exitForOutcome(outcome: Outcome): ExitCode {
  switch (outcome) {
    case 'SUCCEEDED':
      return EXIT_CODES.ok;
    case 'ROLLED_BACK':
      return EXIT_CODES.rolledBack;
    case 'REJECTED':
      return EXIT_CODES.rejected;
    default:
      return EXIT_CODES.failed;
  }
}

/** The exit code for an execution that ended, from its status and final error. */
export function exitForExecution(status: string | undefined, error: string | null | undefined): ExitCode {
  if (status === 'SUCCEEDED') return EXIT_CODES.ok;
  if (status === 'ABORTED' || status === 'TIMED_OUT') return EXIT_CODES.aborted;
  if (error === FINAL_ERRORS.rolledBack) return EXIT_CODES.rolledBack;
  if (error === FINAL_ERRORS.rollbackFailed) return EXIT_CODES.rollbackFailed;
  if (error && (FINAL_ERRORS.rejected as readonly string[]).includes(error)) return EXIT_CODES.rejected;
  return EXIT_CODES.failed;
}

/** How many polls `followRelease` waits for the record of a stopped execution to end. */
export const ABORTED_RECORD_POLLS = 60;

/** How an execution ended, as seen by {@link followExecution}. */
export interface FollowResult {
  readonly status: string;
  readonly error: string | null;
  readonly cause: string | null;
  readonly exitCode: ExitCode;
}

interface WaitDef {
  readonly Type?: string;
  readonly Seconds?: number;
  readonly SecondsPath?: string;
}

function readPath(input: unknown, path: string): unknown {
  let cur: unknown = input;
  for (const key of path
    .replace(/^\$\.?/, '')
    .split('.')
    .filter(Boolean)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function parseJson(text: string | undefined): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const clock = (d: Date) => d.toISOString().slice(11, 19);

function duration(seconds: number): string {
  if (seconds >= 60 && seconds % 60 === 0) return `${seconds / 60} min`;
  if (seconds >= 60) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  return `${seconds} s`;
}

/** Lambda errors arrive as `{"errorType","errorMessage"}` JSON in the cause. */
function causeMessage(cause: string | undefined | null): string {
  const parsed = parseJson(cause ?? undefined) as { errorMessage?: unknown } | undefined;
  return typeof parsed?.errorMessage === 'string' ? parsed.errorMessage : (cause ?? '');
}

/** Turns history events into display lines; keeps what it needs to collapse repetition. */
export class HistoryPrinter {
  private readonly waitStates: Record<string, WaitDef>;
  private lastReadiness = '';
  /** States shown since the last validation window: a readiness loop shows each state once. */
  private readonly shownInLoop = new Set<string>();
  /** The wait in progress: what the status line counts down. */
  current: { name: string; until: Date | null; seconds: number | null } | null = null;

  constructor(
    definition: string | undefined,
    private readonly deploymentId: string,
  ) {
    const asl = parseJson(definition) as { States?: Record<string, WaitDef> } | undefined;
    this.waitStates = Object.fromEntries(
      Object.entries(asl?.States ?? {}).filter(([, s]) => s.Type === 'Wait'),
    );
  }

  /** Display lines for one event (often none). */
  lines(ev: HistoryEvent): string[] {
    const at = ev.timestamp ? new Date(ev.timestamp) : new Date();
    const t = `[${clock(at)}]`;
    const entered = ev.stateEnteredEventDetails;
    switch (ev.type) {
      case 'ExecutionStarted':
        return [`${t} execution started`];
      case 'TaskStateEntered': {
        this.current = null;
        const name = entered?.name ?? '';
        if (this.shownInLoop.has(name)) return [];
        this.shownInLoop.add(name);
        return [`${t} ▸ ${name}`];
      }
      case 'WaitStateEntered': {
        const name = entered?.name ?? '';
        const def = this.waitStates[name];
        const seconds = def?.SecondsPath
          ? Number(readPath(parseJson(entered?.input), def.SecondsPath))
          : (def?.Seconds ?? null);
        const secs = seconds !== null && Number.isFinite(seconds) ? seconds : null;
        this.current = {
          name,
          seconds: secs,
          until: secs === null ? null : new Date(at.getTime() + secs * 1000),
        };
        // Windows (SecondsPath) start a new stretch; readiness polls repeat: show them once.
        if (def?.SecondsPath !== undefined) {
          this.shownInLoop.clear();
        } else {
          if (this.shownInLoop.has(name)) return [];
          this.shownInLoop.add(name);
        }
        return [
          `${t} ⏸ ${name}${secs === null ? '' : `: waiting ${duration(secs)} (until ${clock(this.current.until!)})`}`,
        ];
      }
      case 'PassStateEntered':
        return /Failed|Inconclusive/.test(entered?.name ?? '') ? [`${t} ✗ ${entered?.name}`] : [];
      case 'SucceedStateEntered':
        return [`${t} ✓ ${entered?.name}`];
      case 'FailStateEntered':
        return [`${t} ✗ ${entered?.name}`];
      case 'TaskScheduled':
      case 'TaskSubmitted': {
        const resource = ev.taskScheduledEventDetails?.resource ?? '';
        if (ev.type === 'TaskScheduled' && resource.endsWith('.waitForTaskToken')) {
          this.current = { name: 'waiting for a person', seconds: null, until: null };
          return [
            `${t}   waiting for a person: tps-deploy approve ${this.deploymentId} | tps-deploy reject ${this.deploymentId}`,
          ];
        }
        return [];
      }
      case 'LambdaFunctionSucceeded':
      case 'TaskSucceeded': {
        const out = (ev.lambdaFunctionSucceededEventDetails?.output ??
          ev.taskSucceededEventDetails?.output) as string | undefined;
        return this.taskOutput(t, parseJson(out));
      }
      case 'LambdaFunctionFailed':
      case 'TaskFailed': {
        const d = ev.lambdaFunctionFailedEventDetails ?? ev.taskFailedEventDetails;
        return [`${t}   ! ${d?.error ?? 'Error'}: ${causeMessage(d?.cause)}`];
      }
      case 'LambdaFunctionTimedOut':
      case 'TaskTimedOut':
        return [`${t}   ! task timed out`];
      case 'ExecutionSucceeded':
        this.current = null;
        return [`${t} execution SUCCEEDED`];
      case 'ExecutionFailed': {
        this.current = null;
        const d = ev.executionFailedEventDetails;
        return [`${t} execution FAILED: ${d?.error ?? 'Error'}: ${causeMessage(d?.cause)}`];
      }
      case 'ExecutionAborted':
        this.current = null;
        return [
          `${t} execution ABORTED${ev.executionAbortedEventDetails?.cause ? `: ${ev.executionAbortedEventDetails.cause}` : ''}`,
        ];
      case 'ExecutionTimedOut':
        this.current = null;
        return [`${t} execution TIMED_OUT`];
      default:
        return [];
    }
  }

  private taskOutput(t: string, out: unknown): string[] {
    if (out === null || typeof out !== 'object') return [];
    const o = out as Record<string, unknown>;
    if (typeof o.verdict === 'string' && typeof o.summary === 'string') {
      return [`${t}   verdict ${o.verdict}: ${o.summary}`];
    }
    if (typeof o.status === 'string' && typeof o.ready === 'number' && typeof o.desired === 'number') {
      const text = `pods ${o.status}: ${o.ready}/${o.desired} ready${o.status === 'failed' ? ` (${o.reason})` : ''}`;
      if (text === this.lastReadiness) return [];
      this.lastReadiness = text;
      return [`${t}   ${text}`];
    }
    if (typeof o.targetWeight === 'number' && typeof o.detail === 'string') {
      return [`${t}   traffic ${o.targetWeight}%: ${o.detail}`];
    }
    if (typeof o.trigger === 'string' && Array.isArray(o.actions)) {
      return [
        `${t}   rolled back (${o.trigger}): ${(o.actions as string[]).join('; ') || 'nothing to undo'}`,
      ];
    }
    if (typeof o.previousImage === 'string' && typeof o.replicas === 'number') {
      return [`${t}   rollback plan: ${o.replicas} replicas of ${o.previousImage}`];
    }
    return [];
  }
}

/** A one-line countdown of the current wait for terminals: `Canary Validation Window  3:12 / 10:00 [####      ]`. */
export function statusLine(current: HistoryPrinter['current'], now: Date): string {
  if (!current) return '';
  if (!current.until || !current.seconds) return `… ${current.name}`;
  // Clamped to the window: this machine's clock may be behind the one that stamped the event.
  const left = Math.min(
    current.seconds,
    Math.max(0, Math.round((current.until.getTime() - now.getTime()) / 1000)),
  );
  const done = current.seconds - left;
  const width = 20;
  const filled = Math.min(width, Math.round((done / current.seconds) * width));
  const mmss = (s: number) => `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  return `… ${current.name}  ${mmss(done)} / ${mmss(current.seconds)} [${'#'.repeat(filled)}${' '.repeat(width - filled)}]`;
}

/**
 * Follows one execution to its end, printing as it goes. Returns how it ended; the exit code
 * comes from the execution's final error (see {@link exitForExecution}).
 */
export async function followExecution(
  ctx: CliContext,
  executionArn: string,
  out: OutStream,
  opts: { pollMs: number; deploymentId: string },
): Promise<FollowResult> {
  const definition = await ctx.sfn
    .send(new DescribeStateMachineForExecutionCommand({ executionArn }))
    .then((o) => o.definition)
    .catch(() => undefined);
  const printer = new HistoryPrinter(definition, opts.deploymentId);
  // No countdown against a local environment: its times are a virtual clock's, ahead of this one.
  const tty = out.isTTY === true && !ctx.options.local;
  let statusShown = false;
  const clearStatus = () => {
    if (statusShown) out.write('\r\x1b[2K');
    statusShown = false;
  };
  let lastId = 0;
  const printNew = async () => {
    // Newest first, until an event already shown: one page per poll in the steady state.
    const fresh: HistoryEvent[] = [];
    let nextToken: string | undefined;
    pages: do {
      const page = await ctx.aws('GetExecutionHistory', () =>
        ctx.sfn.send(
          new GetExecutionHistoryCommand({ executionArn, reverseOrder: true, maxResults: 100, nextToken }),
        ),
      );
      for (const ev of page.events ?? []) {
        if ((ev.id ?? 0) <= lastId) break pages;
        fresh.push(ev);
      }
      nextToken = page.nextToken;
    } while (nextToken);
    fresh.sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
    for (const ev of fresh) {
      lastId = Math.max(lastId, ev.id ?? 0);
      const lines = printer.lines(ev);
      if (lines.length > 0) clearStatus();
      for (const l of lines) line(out, l);
    }
  };
  for (;;) {
    const desc: DescribeExecutionCommandOutput = await ctx.aws('DescribeExecution', () =>
      ctx.sfn.send(new DescribeExecutionCommand({ executionArn })),
    );
    await printNew();
    if (desc.status && desc.status !== 'RUNNING' && desc.status !== 'PENDING_REDRIVE') {
      clearStatus();
      return {
        status: desc.status,
        error: desc.error ?? null,
        cause: desc.cause ?? null,
        exitCode: exitForExecution(desc.status, desc.error),
      };
    }
    if (tty) {
      const text = statusLine(printer.current, ctx.now());
      if (text) {
        out.write(`\r\x1b[2K${text}`);
        statusShown = true;
      }
    }
    await ctx.sleep(opts.pollMs);
  }
}

/** How a followed release ended: the execution, and the record's outcome when the table has it. */
export interface ReleaseResult extends FollowResult {
  readonly outcome: Outcome | null;
  readonly record: DeploymentRecord | null;
}

/**
 * Follows a release to its end (`start --follow`, `watch`): the execution's progress on `out`,
 * then the record's outcome. The exit code is the record's outcome when it has ended (it tells
 * REJECTED from a failure better than the execution's error), else the execution's; a failed
 * rollback (5) always wins.
 */
export async function followRelease(
  ctx: CliContext,
  opts: {
    readonly executionArn: string;
    readonly service: string;
    readonly deploymentId: string;
    readonly pollMs: number;
    readonly out: OutStream;
  },
): Promise<ReleaseResult> {
  const result = await followExecution(ctx, opts.executionArn, opts.out, {
    pollMs: opts.pollMs,
    deploymentId: opts.deploymentId,
  });
  const store = await ctx.store();
  const read = () => store.get(opts.service, opts.deploymentId).catch(() => null);
  let record = await read();
  // An alarm's rollback (or a person's stop) ends the execution first and rolls back after it:
  // the record then still says RUNNING. Wait for the rollback to end it (bounded), so the exit
  // code is the release's outcome, not the race between the two.
  for (
    let i = 0;
    i < ABORTED_RECORD_POLLS &&
    (result.status === 'ABORTED' || result.status === 'TIMED_OUT') &&
    record?.outcome === 'RUNNING';
    i++
  ) {
    await ctx.sleep(opts.pollMs);
    record = await read();
  }
  if (record) line(opts.out, outcomeLine(record));
  const exitCode =
    result.exitCode !== EXIT_CODES.rollbackFailed && record && record.outcome !== 'RUNNING'
      ? exitForOutcome(record.outcome)
      : result.exitCode;
  return { ...result, exitCode, outcome: record?.outcome ?? null, record };
}

/** `outcome ROLLED_BACK (rolled back at canary: ...)`. */
export function outcomeLine(record: DeploymentRecord): string {
  return `outcome ${record.outcome}${record.rollback ? ` (rolled back at ${record.rollback.phase ?? '?'}: ${record.rollback.reason})` : ''}`;
}

/** The JSON summary of a followed release (`start --follow --json`, `watch --json`). */
export function releaseJson(
  service: string,
  deploymentId: string,
  executionArn: string,
  result: ReleaseResult,
  links: ConsoleLinks | null,
) {
  return {
    service,
    deploymentId,
    executionArn,
    status: result.status,
    error: result.error,
    cause: result.cause,
    outcome: result.outcome,
    exitCode: result.exitCode,
    links,
  };
}

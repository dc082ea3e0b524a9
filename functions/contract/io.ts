/**
 * The contract between the state machine and the task functions: what each task receives (its
 * payload, exactly) and the fields of its result the state machine reads (its Choices, its Fail
 * states' causes, later payloads). Both sides import this module and nothing of each other:
 *
 * - statemachine/ builds every payload and every JSONPath through {@link StatePath} values typed by
 *   these interfaces, so a payload field or result field renamed here fails the typecheck there;
 * - functions/release/registry.ts types each step against its task here, so a step whose event
 *   or result no longer fits fails the typecheck there.
 */

import type { HoldCause } from '../domain/decisions.js';
import type { PhaseName } from '../domain/defaults.js';
import type { RunbookSettings } from '../domain/gates.js';
import type { ReleasePlan } from '../domain/input.js';
import type { JobRun, SnapshotInfo, Verdict } from '../domain/record.js';
import type { TaskKey } from './tasks.js';

/** What a Catch puts at `$.failure` (Step Functions' error output, plus the phase a Pass adds). */
export interface StepFailure {
  readonly Error?: string;
  readonly Cause?: string;
  readonly phase?: string;
}

/** The settings "Check Gates" returns that the state machine branches on (functions/domain/gates.ts). */
export type { RunbookSettings } from '../domain/gates.js';

/** The answer a person's SendTaskSuccess carries to "Request Approval" or "Hold At <Phase>". */
export interface PersonAnswer {
  readonly by?: unknown;
  readonly comment?: unknown;
  readonly approved?: unknown;
  readonly at?: unknown;
  /** True when `by` is the ARN AWS verified (sent only by the answer endpoint). */
  readonly verified?: unknown;
}

/** Each task: its payload, and the part of its result the state machine reads. */
export interface TaskIO {
  validateInput: {
    payload: { input: unknown; executionName: string; executionArn: string };
    reads: ReleasePlan;
  };
  checkGates: {
    payload: { plan: ReleasePlan; executionArn: string; executionStartTime: string };
    reads: { passed: boolean; summary: string; settings: RunbookSettings };
  };
  requestApproval: {
    payload: { plan: ReleasePlan; taskToken: string; timeoutSeconds: number };
    reads: PersonAnswer;
  };
  recheckGates: { payload: { plan: ReleasePlan }; reads: { passed: boolean; summary: string } };
  recordApproval: { payload: { plan: ReleasePlan; answer: PersonAnswer | null }; reads: unknown };
  rejectRelease: {
    payload: { plan: ReleasePlan; error: StepFailure | null; timeoutSeconds: number };
    reads: { outcome: 'REJECTED' | 'FAILED'; reason: string };
  };
  beginRelease: {
    payload: { plan: ReleasePlan; executionArn: string; executionStartTime: string };
    reads: unknown;
  };
  shiftTraffic: {
    payload: { plan: ReleasePlan; phase: PhaseName; weight: number };
    reads: { shiftedAt: string };
  };
  checkReadiness: {
    payload: { plan: ReleasePlan; phase: PhaseName; since: string };
    reads: { status: 'ready' | 'waiting' | 'failed'; readyAt: string | null; reason: string };
  };
  validateWindow: {
    payload: { plan: ReleasePlan; phase: PhaseName; windowStart: string };
    reads: {
      verdict: Verdict;
      summary: string;
      canExtend: boolean;
      hold: boolean;
      holdCause: HoldCause | null;
    };
  };
  startTests: { payload: { plan: ReleasePlan; phase: PhaseName }; reads: unknown };
  checkTests: { payload: { plan: ReleasePlan; phase: PhaseName }; reads: { status: 'running' | 'done' } };
  holdRelease: {
    payload: {
      plan: ReleasePlan;
      phase: PhaseName;
      cause: HoldCause | null;
      taskToken: string;
      timeoutSeconds: number;
    };
    reads: PersonAnswer;
  };
  recordHoldDecision: {
    payload: {
      plan: ReleasePlan;
      phase: PhaseName;
      decision: 'promoted' | 'timed-out' | 'aborted';
      answer?: PersonAnswer | null;
      error?: StepFailure | null;
    };
    /** Timed out or aborted: the failure the state machine rolls back with (at `$.failure`). */
    reads: StepFailure | { decision: 'promoted' };
  };
  snapshotDatabase: {
    payload: { plan: ReleasePlan };
    reads: { status: SnapshotInfo['status']; reason: string };
  };
  checkSnapshot: {
    payload: { plan: ReleasePlan };
    reads: { status: SnapshotInfo['status']; reason: string };
  };
  startMigration: { payload: { plan: ReleasePlan }; reads: { status: JobRun['status']; summary: string } };
  checkMigration: { payload: { plan: ReleasePlan }; reads: { status: JobRun['status']; summary: string } };
  startMigrationRollback: {
    payload: { plan: ReleasePlan };
    reads: { status: JobRun['status']; summary: string };
  };
  checkMigrationRollback: {
    payload: { plan: ReleasePlan };
    reads: { status: JobRun['status']; summary: string };
  };
  declareMajorIncident: { payload: { plan: ReleasePlan }; reads: unknown };
  finalize: { payload: { plan: ReleasePlan }; reads: unknown };
  startWatch: { payload: { plan: ReleasePlan }; reads: unknown };
  standDown: { payload: { plan: ReleasePlan }; reads: unknown };
  completeRelease: { payload: { plan: ReleasePlan }; reads: unknown };
  failRelease: {
    payload: { plan: ReleasePlan; failure: StepFailure | null };
    reads: { outcome: 'REJECTED' | 'FAILED'; reason: string };
  };
  rollBack: {
    payload: { plan: ReleasePlan; failure: StepFailure | null; trigger: string };
    reads: { reason: string };
  };
  /** Started by EventBridge, not by the state machine: the event is parsed by the step. */
  alarmRollback: { payload: unknown; reads: unknown };
  executionStopped: { payload: unknown; reads: unknown };
}

/** The payload of task `K`. */
export type TaskPayload<K extends TaskKey> = TaskIO[K]['payload'];
/** The result fields of task `K` that the state machine reads. */
export type TaskReads<K extends TaskKey> = TaskIO[K]['reads'];

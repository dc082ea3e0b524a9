/**
 * JSONPaths into the execution state, typed by what is stored there. The state machine never
 * writes a path as a bare string: it takes one from {@link STATE} (or {@link CONTEXT}) and goes
 * deeper with {@link field}, whose key must exist on the stored type, so a renamed result field
 * fails the typecheck instead of the execution.
 *
 * State shape: `$` keeps the raw input; the tasks add `$.plan`, `$.gates`, `$.approval`,
 * `$.traffic`, `$.readiness`, `$.verdicts.<phase>`, `$.tests.<phase>`, `$.holds.<phase>`,
 * `$.snapshot`, `$.migration`, `$.migrationRollback`, `$.watch` and `$.failure` as the release goes.
 */
import type { PhaseName } from '../domain/defaults.js';
import type { ReleasePlan } from '../domain/input.js';
import type { PersonAnswer, StepFailure, TaskReads } from './io.js';

/** A JSONPath whose value has type `T` (the type exists only for the compiler). */
export class StatePath<T> {
  declare readonly _type: T;
  constructor(readonly path: string) {}
  toString(): string {
    return this.path;
  }
}

/** `base.key`, typed by the field's type. */
export function field<T, K extends keyof T & string>(base: StatePath<T>, key: K): StatePath<T[K]> {
  return new StatePath<T[K]>(`${base.path}.${key}`);
}

/**
 * The same path, for a state the machine reaches only once the value is set (a Choice checked it):
 * e.g. `readyAt` after "Pods Ready?" said ready.
 */
export function present<T>(p: StatePath<T | null>): StatePath<T> {
  return new StatePath<T>(p.path);
}

const at = <T>(path: string) => new StatePath<T>(path);

/** Where each task's result (and the failures) are kept. */
export const STATE = {
  input: at<unknown>('$'),
  plan: at<ReleasePlan>('$.plan'),
  gates: at<TaskReads<'checkGates'>>('$.gates'),
  approval: at<PersonAnswer>('$.approval'),
  approvalError: at<StepFailure>('$.approvalError'),
  approvalRecorded: at<TaskReads<'recordApproval'>>('$.approvalRecorded'),
  recheck: at<TaskReads<'recheckGates'>>('$.recheck'),
  failed: at<TaskReads<'rejectRelease'>>('$.failed'),
  recorded: at<TaskReads<'beginRelease'>>('$.recorded'),
  traffic: at<TaskReads<'shiftTraffic'>>('$.traffic'),
  readiness: at<TaskReads<'checkReadiness'>>('$.readiness'),
  verdict: (phase: PhaseName) => at<TaskReads<'validateWindow'>>(`$.verdicts.${phase}`),
  tests: (phase: PhaseName) => at<TaskReads<'checkTests'>>(`$.tests.${phase}`),
  hold: (phase: PhaseName) => at<PersonAnswer>(`$.holds.${phase}`),
  holdDecision: (phase: PhaseName) => at<TaskReads<'recordHoldDecision'>>(`$.holdDecisions.${phase}`),
  holdError: at<StepFailure>('$.holdError'),
  snapshot: at<TaskReads<'snapshotDatabase'>>('$.snapshot'),
  migration: at<TaskReads<'startMigration'>>('$.migration'),
  migrationRollback: at<TaskReads<'startMigrationRollback'>>('$.migrationRollback'),
  migrationRollbackError: at<StepFailure>('$.migrationRollbackError'),
  incident: at<TaskReads<'declareMajorIncident'>>('$.incident'),
  incidentError: at<StepFailure>('$.incidentError'),
  cleanup: at<TaskReads<'finalize'>>('$.cleanup'),
  watch: at<TaskReads<'startWatch'>>('$.watch'),
  watchError: at<StepFailure>('$.watchError'),
  standDown: at<TaskReads<'standDown'>>('$.standDown'),
  standDownError: at<StepFailure>('$.standDownError'),
  completed: at<TaskReads<'completeRelease'>>('$.completed'),
  failure: at<StepFailure>('$.failure'),
  rollback: at<TaskReads<'rollBack'>>('$.rollback'),
  rollbackError: at<StepFailure>('$.rollbackError'),
} as const;

/** The context object (`$$`). */
export const CONTEXT = {
  executionName: at<string>('$$.Execution.Name'),
  executionId: at<string>('$$.Execution.Id'),
  /** When the execution started (ISO 8601): tells it from an older one that had its name. */
  executionStartTime: at<string>('$$.Execution.StartTime'),
} as const;

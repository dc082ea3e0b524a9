/**
 * Where a release ends, and the two tasks every failure leads to: "Roll Back" (after the rollback
 * plan is recorded) and "Mark Release Failed" (before any cluster change). Each Fail state's
 * error comes from the catalogue (functions/domain/errors.ts); CodePipeline and the CLI read it.
 */
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import type { StatePath } from '../functions/contract/state.js';
import { field, STATE } from '../functions/contract/state.js';
import type { PhaseName } from '../functions/domain/defaults.js';
import { ERROR_NAMES } from '../functions/domain/errors.js';
import { STATE_MACHINE_TRIGGER } from '../functions/domain/record.js';
import type { TaskStates } from './tasks.js';

/** The end states and the failure paths into them. */
export interface Ends {
  readonly released: sfn.Succeed;
  readonly releaseFailed: sfn.Fail;
  readonly gatesFailed: sfn.Fail;
  readonly releaseRejected: sfn.Fail;
  readonly majorIncident: sfn.Fail;
  /** "Roll Back": restores the recorded plan, then "Rolled Back" (or "Rollback Failed"). */
  readonly rollBack: tasks.LambdaInvoke;
  /** "Mark Release Failed": records the failure, releases the lock, then "Release Failed". */
  readonly failRelease: tasks.LambdaInvoke;
  /** Every task after the record step rolls back on any error it cannot retry. */
  catchToRollback(t: tasks.LambdaInvoke): tasks.LambdaInvoke;
  /** Before any cluster change, an error marks the release failed (and releases the lock). */
  catchToFailed(t: tasks.LambdaInvoke): tasks.LambdaInvoke;
  /** A Pass that puts a failure of the runbook's own (a failed window, pods) into `$.failure`, then rolls back. */
  failure(id: string, phase: PhaseName | null, error: string, cause: StatePath<string>): sfn.Pass;
}

export function buildEnds(scope: Construct, t: TaskStates): Ends {
  const released = new sfn.Succeed(scope, 'Released', { comment: 'New version serves 100% of traffic.' });
  const rolledBack = new sfn.Fail(scope, 'Rolled Back', {
    error: ERROR_NAMES.releaseRolledBack,
    causePath: field(STATE.rollback, 'reason').path,
  });
  const rollbackFailed = new sfn.Fail(scope, 'Rollback Failed', {
    error: ERROR_NAMES.rollbackFailed,
    cause: 'Rolling back did not reach the recorded state; a person is paged.',
  });
  const releaseFailed = new sfn.Fail(scope, 'Release Failed', {
    error: ERROR_NAMES.releaseFailed,
    causePath: field(STATE.failed, 'reason').path,
  });
  const gatesFailed = new sfn.Fail(scope, 'Gates Failed', {
    error: ERROR_NAMES.gateFailed,
    causePath: field(STATE.gates, 'summary').path,
  });
  const releaseRejected = new sfn.Fail(scope, 'Release Rejected', {
    error: ERROR_NAMES.releaseRejected,
    causePath: field(STATE.failed, 'reason').path,
  });
  const majorIncident = new sfn.Fail(scope, 'Major Incident', {
    error: ERROR_NAMES.majorIncident,
    cause:
      'The migration and its rollback Job both failed: the schema is in an unknown state. Nothing more was changed; people are paged.',
  });

  const rollBack = t.invoke(
    'Roll Back',
    'rollBack',
    { plan: STATE.plan, failure: STATE.failure, trigger: STATE_MACHINE_TRIGGER },
    STATE.rollback,
  );
  rollBack.addCatch(rollbackFailed, {
    errors: [ERROR_NAMES.statesAll],
    resultPath: STATE.rollbackError.path,
  });
  rollBack.next(rolledBack);

  const failRelease = t.invoke(
    'Mark Release Failed',
    'failRelease',
    { plan: STATE.plan, failure: STATE.failure },
    STATE.failed,
  );
  failRelease.next(releaseFailed);

  return {
    released,
    releaseFailed,
    gatesFailed,
    releaseRejected,
    majorIncident,
    rollBack,
    failRelease,
    catchToRollback(task) {
      task.addCatch(rollBack, { errors: [ERROR_NAMES.statesAll], resultPath: STATE.failure.path });
      return task;
    },
    catchToFailed(task) {
      task.addCatch(failRelease, { errors: [ERROR_NAMES.statesAll], resultPath: STATE.failure.path });
      return task;
    },
    failure(id, phase, error, cause) {
      const pass = new sfn.Pass(scope, id, {
        parameters: { Error: error, 'Cause.$': cause.path, ...(phase ? { phase } : {}) },
        resultPath: STATE.failure.path,
      });
      pass.next(rollBack);
      return pass;
    },
  };
}

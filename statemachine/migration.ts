/**
 * The migration chain of the runbook, decoupled from the deploy: a snapshot of the database first
 * (when one is named), the migration Job, and on its failure the rollback Job; if that fails too,
 * a major incident. `label` tells the two places apart ("Before Deploy", "After Deploy").
 */
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { field, STATE, type StatePath } from '../functions/contract/state.js';
import { RUNBOOK } from '../functions/domain/defaults.js';
import { ERROR_NAMES } from '../functions/domain/errors.js';
import type { Ends } from './ends.js';
import { type TaskStates, when } from './tasks.js';

/** The chain's entry; `next` follows a good migration. */
export function buildMigration(
  scope: Construct,
  t: TaskStates,
  ends: Ends,
  label: string,
  next: sfn.IChainable,
): sfn.IChainable {
  const plan = { plan: STATE.plan };
  const incident = t.invoke(`Declare Major Incident ${label}`, 'declareMajorIncident', plan, STATE.incident);
  incident.addCatch(ends.majorIncident, {
    errors: [ERROR_NAMES.statesAll],
    resultPath: STATE.incidentError.path,
  });
  incident.next(ends.majorIncident);
  const toIncident = { errors: [ERROR_NAMES.statesAll], resultPath: STATE.migrationRollbackError.path };

  const rollbackMigration = pollLoop(scope, t, {
    start: t.invoke(`Roll Back Migration ${label}`, 'startMigrationRollback', plan, STATE.migrationRollback),
    wait: [`Wait For Migration Rollback ${label}`, RUNBOOK.migration.pollSeconds],
    check: t.invoke(
      `Check Migration Rollback ${label}`,
      'checkMigrationRollback',
      plan,
      STATE.migrationRollback,
    ),
    choice: `Migration Rollback Done ${label}?`,
    status: field(STATE.migrationRollback, 'status'),
    done: [
      'succeeded',
      ends.failure(
        `Migration Failed ${label}`,
        null,
        ERROR_NAMES.migrationFailed,
        field(STATE.migrationRollback, 'summary'),
      ),
    ],
    failed: incident,
    guard: (task) => task.addCatch(incident, toIncident),
  });

  const runMigration = pollLoop(scope, t, {
    start: t.invoke(`Run Migration ${label}`, 'startMigration', plan, STATE.migration),
    wait: [`Wait For Migration ${label}`, RUNBOOK.migration.pollSeconds],
    check: t.invoke(`Check Migration ${label}`, 'checkMigration', plan, STATE.migration),
    choice: `Migration Done ${label}?`,
    status: field(STATE.migration, 'status'),
    done: ['succeeded', next],
    failed: rollbackMigration,
    guard: ends.catchToRollback,
  });

  const snapshot = pollLoop(scope, t, {
    start: t.invoke(`Snapshot Database ${label}`, 'snapshotDatabase', plan, STATE.snapshot),
    wait: [`Wait For Snapshot ${label}`, RUNBOOK.migration.snapshotPollSeconds],
    check: t.invoke(`Check Snapshot ${label}`, 'checkSnapshot', plan, STATE.snapshot),
    choice: `Snapshot Available ${label}?`,
    status: field(STATE.snapshot, 'status'),
    done: ['available', runMigration],
    failed: ends.failure(
      `Snapshot Failed ${label}`,
      null,
      ERROR_NAMES.snapshotFailed,
      field(STATE.snapshot, 'reason'),
    ),
    guard: ends.catchToRollback,
    // A snapshot may already be there: its status is judged before the first wait.
    judgeStart: true,
  });

  return new sfn.Choice(scope, `Snapshot Database ${label}?`)
    .when(when.isTrue(field(field(STATE.gates, 'settings'), 'snapshot')), snapshot)
    .otherwise(runMigration);
}

/**
 * Start, wait, check, and a Choice on `status`: `done[0]` goes to `done[1]`, "failed" to `failed`,
 * anything else waits again. `guard` adds the tasks' catch. With `judgeStart` the Choice follows
 * the start too (a status that is already final is not waited for).
 */
function pollLoop(
  scope: Construct,
  t: TaskStates,
  o: {
    start: tasks.LambdaInvoke;
    wait: [string, number];
    check: tasks.LambdaInvoke;
    choice: string;
    status: StatePath<string>;
    done: [string, sfn.IChainable];
    failed: sfn.IChainable;
    guard: (task: tasks.LambdaInvoke) => unknown;
    judgeStart?: boolean;
  },
): sfn.IChainable {
  o.guard(o.start);
  o.guard(o.check);
  const wait = t.pause(o.wait[0], o.wait[1]);
  const judge = new sfn.Choice(scope, o.choice)
    .when(when.equals(o.status, o.done[0]), o.done[1])
    .when(when.equals(o.status, 'failed'), o.failed)
    .otherwise(wait);
  o.start.next(o.judgeStart ? judge : wait);
  wait.next(o.check);
  o.check.next(judge);
  return o.start;
}

/**
 * The migration chain of the runbook, decoupled from the deploy: a snapshot of the database first
 * (when one is named), the migration Job, and on its failure the rollback Job; if that fails too,
 * a major incident. `label` tells the two places apart ("Before Deploy", "After Deploy").
 */
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { field, STATE } from '../functions/contract/state.js';
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

  const rollbackStatus = field(STATE.migrationRollback, 'status');
  const rollbackMigration = t.invoke(
    `Roll Back Migration ${label}`,
    'startMigrationRollback',
    plan,
    STATE.migrationRollback,
  );
  rollbackMigration.addCatch(incident, toIncident);
  const waitRollback = t.pause(`Wait For Migration Rollback ${label}`, RUNBOOK.migration.pollSeconds);
  const checkRollback = t.invoke(
    `Check Migration Rollback ${label}`,
    'checkMigrationRollback',
    plan,
    STATE.migrationRollback,
  );
  checkRollback.addCatch(incident, toIncident);
  rollbackMigration.next(waitRollback);
  waitRollback.next(checkRollback);
  checkRollback.next(
    new sfn.Choice(scope, `Migration Rollback Done ${label}?`)
      .when(
        when.equals(rollbackStatus, 'succeeded'),
        ends.failure(
          `Migration Failed ${label}`,
          null,
          ERROR_NAMES.migrationFailed,
          field(STATE.migrationRollback, 'summary'),
        ),
      )
      .when(when.equals(rollbackStatus, 'failed'), incident)
      .otherwise(waitRollback),
  );

  const migrationStatus = field(STATE.migration, 'status');
  const runMigration = ends.catchToRollback(
    t.invoke(`Run Migration ${label}`, 'startMigration', plan, STATE.migration),
  );
  const waitMigration = t.pause(`Wait For Migration ${label}`, RUNBOOK.migration.pollSeconds);
  const checkMigration = ends.catchToRollback(
    t.invoke(`Check Migration ${label}`, 'checkMigration', plan, STATE.migration),
  );
  runMigration.next(waitMigration);
  waitMigration.next(checkMigration);
  checkMigration.next(
    new sfn.Choice(scope, `Migration Done ${label}?`)
      .when(when.equals(migrationStatus, 'succeeded'), next)
      .when(when.equals(migrationStatus, 'failed'), rollbackMigration)
      .otherwise(waitMigration),
  );

  const snapshotStatus = field(STATE.snapshot, 'status');
  const snapshot = ends.catchToRollback(
    t.invoke(`Snapshot Database ${label}`, 'snapshotDatabase', plan, STATE.snapshot),
  );
  const waitSnapshot = t.pause(`Wait For Snapshot ${label}`, RUNBOOK.migration.snapshotPollSeconds);
  const checkSnapshot = ends.catchToRollback(
    t.invoke(`Check Snapshot ${label}`, 'checkSnapshot', plan, STATE.snapshot),
  );
  const snapshotReady = new sfn.Choice(scope, `Snapshot Available ${label}?`)
    .when(when.equals(snapshotStatus, 'available'), runMigration)
    .when(
      when.equals(snapshotStatus, 'failed'),
      ends.failure(
        `Snapshot Failed ${label}`,
        null,
        ERROR_NAMES.snapshotFailed,
        field(STATE.snapshot, 'reason'),
      ),
    )
    .otherwise(waitSnapshot);
  snapshot.next(snapshotReady);
  waitSnapshot.next(checkSnapshot);
  checkSnapshot.next(snapshotReady);

  return new sfn.Choice(scope, `Snapshot Database ${label}?`)
    .when(when.isTrue(field(field(STATE.gates, 'settings'), 'snapshot')), snapshot)
    .otherwise(runMigration);
}

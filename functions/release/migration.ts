/**
 * Database migrations (execution input `migration`), before or after the new code as asked:
 *
 * 1. a snapshot of the named RDS instance / Aurora cluster, waited for until `available`
 *    (no snapshot, no migration);
 * 2. the migration Job (`command` in `image`), waited for;
 * 3. it fails: the rollback Job (`rollbackCommand`) restores the old schema and the release rolls
 *    back (the old code stays or comes back); the rollback Job fails too: stop, page (a MAJOR
 *    INCIDENT), touch nothing more;
 * 4. the new code fails after a successful migration: the code rolls back, the new schema stays
 *    (migrations must be backward compatible with the previous version; the record says so).
 */
import { RUNBOOK } from '../domain/defaults.js';
import { InvalidInputError } from '../domain/errors.js';
import type { ReleasePlan } from '../domain/input.js';
import type { JobsConfig } from '../domain/job-policy.js';
import type { JobRun, MigrationState, SnapshotInfo } from '../domain/record.js';
import { addEvent } from '../domain/record-transitions.js';
import { digest } from '../domain/text.js';
import type { JobRequest } from '../ports/jobs.js';
import type { ReleasePorts } from '../ports/release.js';
import { jobNameFor, jobRunnerOf, jobRunOf, updateJobRun } from './job-runs.js';
import { releaseJob } from './jobs.js';
import { loadRecord, secondsBetween, serviceOf } from './support.js';
import { changeCluster } from './write-ahead.js';

/**
 * A snapshot identifier RDS accepts (1-63 letters, digits and hyphens, starting with a letter,
 * no double or trailing hyphen) for a release: `tps-<service>-<deploymentId>` (pure). When RDS's
 * rules change the id (case, characters, length), a digest of the exact service and id is
 * appended: `Rel_1` and `rel-1` must never share a snapshot, or one release would take another's
 * backup for its own.
 */
export function snapshotIdFor(service: string, deploymentId: string): string {
  const exact = `tps-${service}-${deploymentId}`;
  const folded = exact
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/-+/g, '-')
    .replace(/-+$/, '');
  if (folded === exact && folded.length <= 63) return folded;
  const suffix = `-${digest(`${service}/${deploymentId}`)}`;
  return `${folded.slice(0, 63 - suffix.length).replace(/-+$/, '')}${suffix}`;
}

/**
 * The plan's migration. The state machine runs the migration states only for a plan with one (the
 * gates' settings say so), so a plan without one is a task input that does not fit the task.
 */
function migrationOf(plan: ReleasePlan) {
  const m = plan.input.migration;
  if (!m) {
    throw new InvalidInputError(
      [{ path: 'migration', message: `release ${plan.deploymentId} has no migration` }],
      'migration step input',
    );
  }
  return m;
}

/** The database to snapshot; the snapshot states run only for a migration that names one. */
function snapshotDatabaseOf(plan: ReleasePlan) {
  const db = migrationOf(plan).database;
  if (!db) {
    throw new InvalidInputError(
      [{ path: 'migration.database', message: 'the migration names no database to snapshot' }],
      'snapshot step input',
    );
  }
  return db;
}

function stateOf(record: { migration?: MigrationState | null }, plan: ReleasePlan): MigrationState {
  const m = migrationOf(plan);
  return (
    record.migration ?? {
      when: m.when,
      image: m.image,
      snapshot: null,
      job: null,
      rollbackJob: null,
      status: 'pending',
      schema: 'old',
    }
  );
}

/** The migration Job (or its rollback Job) of a release, run as the service's `jobs` say (pure). */
export function migrationJob(plan: ReleasePlan, jobs: JobsConfig | undefined, rollback: boolean): JobRequest {
  const m = migrationOf(plan);
  return releaseJob(
    plan,
    jobs,
    rollback ? 'migrate-rollback' : 'migrate',
    { image: m.image, command: rollback ? m.rollbackCommand : m.command, env: m.env },
    RUNBOOK.migration.timeoutSeconds,
    { TPS_MIGRATION: rollback ? 'rollback' : 'migrate' },
  );
}

/** What the snapshot steps return (`$.snapshot`). */
export interface SnapshotStepResult {
  readonly status: SnapshotInfo['status'];
  readonly snapshotId: string;
  readonly reason: string;
}

function snapshotResult(s: SnapshotInfo): SnapshotStepResult {
  const reason =
    s.status === 'failed'
      ? `database snapshot ${s.snapshotId} of ${s.identifier} failed (${s.detail}); the migration did not run`
      : `snapshot ${s.snapshotId} ${s.status} (${s.detail})`;
  return { status: s.status, snapshotId: s.snapshotId, reason };
}

/** "Snapshot Database ...": starts the snapshot of the migration's database. Idempotent. */
export async function snapshotDatabase(
  ports: ReleasePorts,
  event: { plan: ReleasePlan },
): Promise<SnapshotStepResult> {
  const { plan } = event;
  const db = snapshotDatabaseOf(plan);
  const snapshotId = snapshotIdFor(plan.service, plan.deploymentId);
  const s = await ports.snapshots.create(db, snapshotId);
  const now = ports.clock.now();
  const record = await loadRecord(ports, plan);
  const state = stateOf(record, plan);
  const info: SnapshotInfo = {
    kind: db.kind,
    identifier: db.identifier,
    snapshotId,
    status: s.status,
    requestedAt: state.snapshot?.requestedAt ?? now.toISOString(),
    availableAt: s.status === 'available' ? now.toISOString() : null,
    arn: s.arn,
    detail: s.detail,
  };
  record.migration = { ...state, snapshot: info };
  addEvent(record, now, `snapshot ${snapshotId} of ${db.kind} ${db.identifier} requested: ${s.detail}`);
  await ports.store.put(record);
  return snapshotResult(info);
}

/** "Check Snapshot ...": until available; failed when RDS says so or the snapshot timeout passed. */
export async function checkSnapshot(
  ports: ReleasePorts,
  event: { plan: ReleasePlan },
): Promise<SnapshotStepResult> {
  const { plan } = event;
  const db = snapshotDatabaseOf(plan);
  const record = await loadRecord(ports, plan);
  const state = stateOf(record, plan);
  const snapshotId = state.snapshot?.snapshotId ?? snapshotIdFor(plan.service, plan.deploymentId);
  const s = await ports.snapshots.status(db, snapshotId);
  const now = ports.clock.now();
  const requestedAt = state.snapshot?.requestedAt ?? now.toISOString();
  const elapsed = secondsBetween(requestedAt, now);
  let status = s.status;
  let detail = s.detail;
  if (status === 'creating' && elapsed > RUNBOOK.migration.snapshotTimeoutSeconds) {
    status = 'failed';
    detail = `${s.detail}; not available after ${Math.round(elapsed)} s (limit ${RUNBOOK.migration.snapshotTimeoutSeconds} s)`;
  }
  const info: SnapshotInfo = {
    kind: db.kind,
    identifier: db.identifier,
    snapshotId,
    status,
    requestedAt,
    availableAt: status === 'available' ? now.toISOString() : null,
    arn: s.arn ?? state.snapshot?.arn ?? null,
    detail,
  };
  record.migration = { ...state, snapshot: info };
  if (status !== 'creating') addEvent(record, now, `snapshot ${snapshotId}: ${status} (${detail})`);
  await ports.store.put(record);
  return snapshotResult(info);
}

/** What the migration Job steps return (`$.migration`, `$.migrationRollback`). */
export interface MigrationStepResult {
  readonly status: JobRun['status'];
  /** A sentence for the record and the rollback reason. */
  readonly summary: string;
}

async function startJob(
  ports: ReleasePorts,
  plan: ReleasePlan,
  rollback: boolean,
): Promise<MigrationStepResult> {
  const svc = serviceOf(ports, plan);
  const request = migrationJob(plan, svc.jobs, rollback);
  const jobs = await jobRunnerOf(ports, svc);
  const { result: status, record } = await changeCluster(ports, plan, {
    intent: `${rollback ? 'migration rollback' : 'migration'}: start Job ${request.name}`,
    apply: () => jobs.start(request),
    undo: null,
    // The migration's own rollback runs on the way to "Roll Back": it must not be refused.
    fenced: !rollback,
  });
  const now = ports.clock.now();
  const state = stateOf(record, plan);
  const run = (rollback ? state.rollbackJob : state.job) ?? jobRunOf(request, status, now);
  record.migration = rollback ? { ...state, rollbackJob: run } : { ...state, job: run };
  const cmd = (rollback ? migrationOf(plan).rollbackCommand : migrationOf(plan).command).join(' ');
  addEvent(
    record,
    now,
    `${rollback ? 'migration rollback' : 'migration'} Job ${request.name} started: ${cmd}; logs: ${run.logs}`,
  );
  await ports.store.put(record);
  return { status: run.status, summary: `Job ${request.name} ${run.status}` };
}

async function checkJob(
  ports: ReleasePorts,
  plan: ReleasePlan,
  rollback: boolean,
): Promise<MigrationStepResult> {
  const svc = serviceOf(ports, plan);
  const name = jobNameFor(plan.deployment, rollback ? 'migrate-rollback' : 'migrate', plan.deploymentId);
  const jobs = await jobRunnerOf(ports, svc);
  const status = await jobs.status(plan.namespace, name);
  const now = ports.clock.now();
  const record = await loadRecord(ports, plan);
  const state = stateOf(record, plan);
  const previous =
    (rollback ? state.rollbackJob : state.job) ??
    jobRunOf(migrationJob(plan, svc.jobs, rollback), status, now);
  const run = updateJobRun(previous, status, now);
  let next: MigrationState = rollback ? { ...state, rollbackJob: run } : { ...state, job: run };
  let summary = `Job ${name} ${run.status}: ${run.detail}`;
  if (run.status !== 'running') {
    if (!rollback) {
      next = run.passed
        ? { ...next, status: 'applied', schema: 'new' }
        : { ...next, status: 'failed', schema: 'unknown' };
      summary = run.passed
        ? `migration Job ${name} succeeded in ${run.durationSeconds} s: the new schema is in place`
        : `migration Job ${name} failed (${run.detail}); logs: ${run.logs}`;
    } else {
      const failedJob = state.job;
      const why = failedJob
        ? `migration Job ${failedJob.name} failed (${failedJob.detail}; logs: ${failedJob.logs})`
        : 'the migration failed';
      next = run.passed
        ? { ...next, status: 'rolled-back', schema: 'old' }
        : { ...next, status: 'rollback-failed', schema: 'unknown' };
      summary = run.passed
        ? `${why}; rollback Job ${name} restored the old schema in ${run.durationSeconds} s; the old code is kept`
        : `${why}, and its rollback Job ${name} failed too (${run.detail}; logs: ${run.logs}): the schema is in an unknown state`;
    }
    addEvent(record, now, summary);
  }
  record.migration = next;
  await ports.store.put(record);
  return { status: run.status, summary };
}

/** "Run Migration ...": creates the migration Job. Idempotent. */
export function startMigration(
  ports: ReleasePorts,
  event: { plan: ReleasePlan },
): Promise<MigrationStepResult> {
  return startJob(ports, event.plan, false);
}

/** "Check Migration ...": the migration Job's status; `succeeded` means the new schema is in place. */
export function checkMigration(
  ports: ReleasePorts,
  event: { plan: ReleasePlan },
): Promise<MigrationStepResult> {
  return checkJob(ports, event.plan, false);
}

/** "Roll Back Migration ...": creates the rollback Job (`rollbackCommand`). Idempotent. */
export function startMigrationRollback(
  ports: ReleasePorts,
  event: { plan: ReleasePlan },
): Promise<MigrationStepResult> {
  return startJob(ports, event.plan, true);
}

/** "Check Migration Rollback ...": the rollback Job's status. */
export function checkMigrationRollback(
  ports: ReleasePorts,
  event: { plan: ReleasePlan },
): Promise<MigrationStepResult> {
  return checkJob(ports, event.plan, true);
}

/**
 * "Declare Major Incident": the migration and its rollback both failed. Nothing more is changed
 * (another automatic step could make it worse); people are paged with MAJOR INCIDENT, the record
 * says so, and the lock is released so a fix can be released.
 */
export async function declareMajorIncident(
  ports: ReleasePorts,
  event: { plan: ReleasePlan; reason?: string },
): Promise<{ reason: string }> {
  const { plan } = event;
  const now = ports.clock.now();
  const record = await loadRecord(ports, plan);
  const m = stateOf(record, plan);
  const what =
    event.reason ??
    [
      m.job
        ? `migration Job ${m.job.name} failed (${m.job.detail}; logs: ${m.job.logs})`
        : 'the migration failed',
      m.rollbackJob
        ? `and its rollback Job ${m.rollbackJob.name} failed too (${m.rollbackJob.detail}; logs: ${m.rollbackJob.logs})`
        : 'and its rollback Job could not be started',
    ].join(' ');
  record.migration = { ...m, status: 'rollback-failed', schema: 'unknown' };
  const reason = `MAJOR INCIDENT: ${what}`;
  record.majorIncident = { at: now.toISOString(), reason: what };
  record.outcome = 'FAILED';
  record.endedAt = now.toISOString();
  addEvent(record, now, `${reason}. Stopped without further changes; people are paged.`);
  await ports.store.put(record);
  await ports.store.release(plan.service, plan.deploymentId);
  await ports.notifier.notify({
    kind: 'rollback',
    service: plan.service,
    deploymentId: plan.deploymentId,
    subject: `MAJOR INCIDENT: ${plan.service} ${plan.version}: migration and its rollback failed`,
    message: `${reason}.\nNothing more was changed automatically. Snapshot: ${record.migration?.snapshot?.snapshotId ?? 'none'}.`,
  });
  return { reason };
}

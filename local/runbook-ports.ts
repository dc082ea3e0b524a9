/**
 * Local implementations of the runbook's AWS-only ports, for local runs and the end-to-end tests:
 * alarm states kept in a table a test (or the demo) sets, and database snapshots that exist only
 * in memory. Both are named Local* on purpose: the AWS adapters are
 * functions/adapters/aws/alarm-states.ts and functions/adapters/aws/rds-snapshots.ts.
 */
import type { Catalog } from '../functions/domain/config.js';
import { serviceAlarmNames } from '../functions/domain/gates.js';
import type { AlarmStateReading, AlarmStates } from '../functions/ports/alarms.js';
import type { Clock } from '../functions/ports/clock.js';
import type { PipelineActionExecution, PipelineRecords } from '../functions/ports/pipelines.js';
import type { DatabaseRef, DatabaseSnapshots, SnapshotStatus } from '../functions/ports/snapshots.js';

/**
 * The catalog's alarms and their states: every alarm the stack would create for a service starts
 * `OK`; an unknown name reads `MISSING`, as DescribeAlarms leaves it out.
 */
export class LocalAlarmStates implements AlarmStates {
  private readonly states = new Map<string, AlarmStateReading>();

  constructor(
    catalog: Catalog,
    private readonly clock: Clock,
  ) {
    for (const [name, svc] of Object.entries(catalog.services)) {
      for (const alarm of serviceAlarmNames(catalog.appName, name, svc))
        this.set(alarm, 'OK', 'local: initial state');
    }
  }

  /** Sets an alarm's state (what CloudWatch would do when a metric crosses its threshold). */
  set(name: string, state: AlarmStateReading['state'], reason: string | null = null): void {
    if (state === 'MISSING') {
      this.states.delete(name);
      return;
    }
    this.states.set(name, { name, state, reason, since: this.clock.now().toISOString() });
  }

  async read(names: readonly string[]): Promise<AlarmStateReading[]> {
    return names.map(
      (name) => this.states.get(name) ?? { name, state: 'MISSING', reason: null, since: null },
    );
  }
}

/** One snapshot a local run "took". */
export interface LocalSnapshot {
  readonly db: DatabaseRef;
  readonly snapshotId: string;
  readonly createdAt: string;
  /** Status reads so far. */
  reads: number;
}

/**
 * Local stand-in for CodePipeline's record of action executions: what a pipeline ran, as tests
 * add it (`record`, with the output variables the action exported); the tests-provenance gate finds an action execution by pipeline, pipeline
 * execution and id, as ListActionExecutions filtered by the pipeline execution does.
 */
export class LocalPipelineRecords implements PipelineRecords {
  private readonly executions: PipelineActionExecution[] = [];

  /** Adds an action execution as CodePipeline would have recorded it. */
  record(execution: PipelineActionExecution): void {
    this.executions.push(execution);
  }

  async actionExecution(
    pipeline: string,
    pipelineExecutionId: string,
    actionExecutionId: string,
  ): Promise<PipelineActionExecution | null> {
    return (
      this.executions.find(
        (e) =>
          e.pipelineName === pipeline &&
          e.pipelineExecutionId === pipelineExecutionId &&
          e.actionExecutionId === actionExecutionId,
      ) ?? null
    );
  }
}

/**
 * Local stand-in for RDS snapshots: records each snapshot asked for; it is `creating` when
 * created and `available` from the first status read on. Databases listed in `failing` fail
 * their snapshots (to exercise that path).
 */
export class LocalDatabaseSnapshots implements DatabaseSnapshots {
  /** Every snapshot taken, oldest first. */
  readonly taken: LocalSnapshot[] = [];
  readonly failing = new Set<string>();

  constructor(private readonly clock: Clock) {}

  async create(db: DatabaseRef, snapshotId: string): Promise<SnapshotStatus> {
    if (!this.taken.some((s) => s.snapshotId === snapshotId)) {
      this.taken.push({ db, snapshotId, createdAt: this.clock.now().toISOString(), reads: 0 });
    }
    return this.status(db, snapshotId, false);
  }

  async status(db: DatabaseRef, snapshotId: string, read = true): Promise<SnapshotStatus> {
    const s = this.taken.find((t) => t.snapshotId === snapshotId);
    if (!s)
      return { snapshotId, status: 'failed', detail: `local snapshot ${snapshotId} not found`, arn: null };
    if (read) s.reads++;
    const arn = `arn:aws:rds:local:000000000000:${db.kind === 'rds-instance' ? 'snapshot' : 'cluster-snapshot'}:${snapshotId}`;
    if (this.failing.has(db.identifier))
      return { snapshotId, status: 'failed', detail: 'failed (local)', arn };
    return s.reads > 0
      ? { snapshotId, status: 'available', detail: 'available (local, 100%)', arn }
      : { snapshotId, status: 'creating', detail: 'creating (local, 0%)', arn };
  }
}

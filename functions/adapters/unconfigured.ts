/**
 * "Not configured" as real adapters (Flagger's NopRouter): a runtime without one of the optional
 * capabilities (an RDS snapshot service, an on-call directory, task-token answers, ...) gets one of
 * these, so steps call every port without testing for its presence. Each answers with
 * {@link NotConfiguredError} naming what is missing; a gate records that as its evidence, a step
 * fails with it. {@link unconfiguredReason} lets a check that must not call the port (the
 * migration-plan gate) ask first.
 */
import { NotConfiguredError } from '../domain/errors.js';
import type { ExecutionState } from '../domain/lock.js';
import type { AlarmStateReading, AlarmStates, AlarmThresholds } from '../ports/alarms.js';
import type { Executions } from '../ports/executions.js';
import type { JobRequest, JobRunner, JobStatus } from '../ports/jobs.js';
import type { OnCallAnswer, OnCallDirectory } from '../ports/on-call.js';
import type { PipelineActionExecution, PipelineRecords } from '../ports/pipelines.js';
import type { DatabaseRef, DatabaseSnapshots, SnapshotStatus } from '../ports/snapshots.js';
import type { TaskTokens } from '../ports/task-tokens.js';

const UNCONFIGURED = Symbol('tps-deploy.unconfigured');

interface Unconfigured {
  readonly [UNCONFIGURED]: string;
}

/** Why `port` cannot act (it is an unconfigured adapter), or null for a real adapter. */
export function unconfiguredReason(port: object): string | null {
  return (port as Partial<Unconfigured>)[UNCONFIGURED] ?? null;
}

abstract class UnconfiguredPort implements Unconfigured {
  readonly [UNCONFIGURED]: string;
  constructor(what: string) {
    this[UNCONFIGURED] = `no ${what} is configured`;
  }
  protected refuse(): never {
    throw new NotConfiguredError(this[UNCONFIGURED]);
  }
}

/** No control over the latency alarm's threshold: the alarm keeps its configured threshold. */
export class UnconfiguredAlarmThresholds extends UnconfiguredPort implements AlarmThresholds {
  constructor() {
    super('alarm-threshold control (CloudWatch PutMetricAlarm)');
  }
  async setLatencyThreshold(): Promise<{ previous: number | null }> {
    return this.refuse();
  }
  async restore(): Promise<void> {
    return this.refuse();
  }
}

/** No alarm-state source: the monitoring gate fails with this reason. */
export class UnconfiguredAlarmStates extends UnconfiguredPort implements AlarmStates {
  constructor() {
    super('alarm-state source (CloudWatch DescribeAlarms)');
  }
  async read(): Promise<AlarmStateReading[]> {
    return this.refuse();
  }
}

/** No on-call directory: an on-call gate fails with this reason. */
export class UnconfiguredOnCall extends UnconfiguredPort implements OnCallDirectory {
  constructor() {
    super('on-call directory');
  }
  async whoIsOnCall(): Promise<OnCallAnswer> {
    return this.refuse();
  }
}

/** No snapshot service: a migration that names a database cannot run. */
export class UnconfiguredSnapshots extends UnconfiguredPort implements DatabaseSnapshots {
  constructor() {
    super('database snapshot service (RDS)');
  }
  async create(_db: DatabaseRef, _id: string): Promise<SnapshotStatus> {
    return this.refuse();
  }
  async status(_db: DatabaseRef, _id: string): Promise<SnapshotStatus> {
    return this.refuse();
  }
}

/** No CodePipeline to ask (a runtime without its client). */
export class UnconfiguredPipelineRecords extends UnconfiguredPort implements PipelineRecords {
  constructor() {
    super('pipeline records (CodePipeline ListActionExecutions)');
  }
  async actionExecution(_p: string, _e: string, _a: string): Promise<PipelineActionExecution | null> {
    return this.refuse();
  }
}

/** No way to answer a waiting task token. */
export class UnconfiguredTaskTokens extends UnconfiguredPort implements TaskTokens {
  constructor() {
    super('task-token sender (Step Functions SendTaskSuccess/SendTaskFailure)');
  }
  async succeed(): Promise<void> {
    return this.refuse();
  }
  async fail(): Promise<void> {
    return this.refuse();
  }
}

/** No Step Functions access: nothing can be stopped, and no execution's state is known. */
export class UnconfiguredExecutions extends UnconfiguredPort implements Executions {
  constructor() {
    super('Step Functions client (StopExecution, DescribeExecution)');
  }
  async stop(): Promise<void> {
    return this.refuse();
  }
  async status(): Promise<ExecutionState> {
    return 'UNKNOWN';
  }
}

/** No Kubernetes Job runner: test hooks and migrations cannot run. */
export class UnconfiguredJobRunner extends UnconfiguredPort implements JobRunner {
  constructor() {
    super('Kubernetes Job runner');
  }
  async start(_job: JobRequest): Promise<JobStatus> {
    return this.refuse();
  }
  async status(): Promise<JobStatus> {
    return this.refuse();
  }
}

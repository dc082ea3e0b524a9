import type { Catalog, ServiceConfig } from '../domain/config.js';
import type { Clock } from '../ports/clock.js';
import type { ClusterClient } from '../ports/cluster.js';
import type { MetricsSource } from '../ports/metrics.js';
import type { Notifier } from '../ports/notifier.js';
import type { TrafficRouter } from '../ports/router.js';
import type { DeploymentStore } from '../ports/store.js';

/** Workload access for one service: the cluster client and the service's traffic router. */
export interface Workloads {
  readonly cluster: ClusterClient;
  readonly router: TrafficRouter;
  /** Kubernetes Jobs in the service's cluster (test hooks, migrations); absent: none can run. */
  readonly jobs?: JobRunner;
}

/**
 * The p99 alarm's threshold during a release: "Record Rollback Plan" moves it to
 * RUNBOOK.rollbackTriggers.p99BaselineMultiplier x the measured baseline p99, and the end of the
 * release (complete, roll back, fail) puts the configured threshold back. CloudWatch in AWS
 * (functions/adapters/aws/alarm-thresholds.ts); local/alarm-thresholds.ts locally.
 */
export interface AlarmThresholds {
  /**
   * Sets the threshold of the service's latency alarm. `previous` is the alarm's configured
   * threshold (the one {@link AlarmThresholds.restore} puts back), or null when the service has
   * no latency alarm, in which case nothing changed. Idempotent.
   */
  setLatencyThreshold(service: string, thresholdMs: number): Promise<{ previous: number | null }>;
  /** Puts the configured threshold back; a no-op when nothing was set. Idempotent. */
  restore(service: string): Promise<void>;
}

/**
 * Everything a release step needs, injected. The Lambda handlers build the AWS adapters
 * (EKS, CloudWatch, DynamoDB, SNS); the local runner builds the local ones (local control plane,
 * synthetic traffic, dynalite, a collecting notifier) around the same step code.
 */
export interface ReleasePorts {
  readonly catalog: Catalog;
  readonly store: DeploymentStore;
  readonly notifier: Notifier;
  readonly clock: Clock;
  workloads(service: ServiceConfig): Promise<Workloads>;
  metrics(service: ServiceConfig, deploymentStart: Date): MetricsSource;
  /** Stops a running execution (rollback by alarm or by a person). */
  stopExecution(executionArn: string, cause: string): Promise<void>;
  /** The p99 alarm's threshold; absent: the alarm keeps its configured threshold. */
  readonly alarmThresholds?: AlarmThresholds;
  /** Current states of the service's alarms (the monitoring gate); absent: that gate fails. */
  readonly alarmStates?: AlarmStates;
  /** Who is on call, from an HTTP endpoint (the on-call gate); absent: such a gate fails. */
  readonly onCall?: OnCallDirectory;
  /** Database snapshots before migrations; absent: a migration with a database fails. */
  readonly snapshots?: DatabaseSnapshots;
  /** Answers waiting `.waitForTaskToken` states (approval, hold): SendTaskSuccess/Failure. */
  readonly taskTokens?: TaskTokens;
  /**
   * How long "Check <Phase> Pods Ready" may wait inside the task for the new pods; absent: it
   * checks once (the local runner, whose readiness loop runs on its own short real-time polls).
   */
  readonly readinessWait?: ReadinessWait;
}

/** A wait inside the readiness task: up to `budgetMs`, checking every `checkMs`. */
export interface ReadinessWait {
  readonly budgetMs: number;
  readonly checkMs: number;
  readonly sleep: (ms: number) => Promise<void>;
}

// ---- ports of the runbook's gates, holds, tests and migrations ----------------------------------

/** The state of one CloudWatch alarm; `MISSING` when no alarm has that name. */
export interface AlarmStateReading {
  readonly name: string;
  readonly state: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA' | 'MISSING';
  readonly reason: string | null;
  readonly since: string | null;
}

/** Reads alarm states: CloudWatch DescribeAlarms in AWS, a settable table locally. */
export interface AlarmStates {
  /** One reading per name, in the order asked. */
  read(names: readonly string[]): Promise<AlarmStateReading[]>;
}

/** Who an on-call endpoint says is on call. */
export interface OnCallAnswer {
  readonly onCall: readonly string[];
  /** What answered, for the evidence (URL and HTTP status). */
  readonly source: string;
}

/** An HTTP endpoint that says who is on call (functions/adapters/http-oncall.ts). */
export interface OnCallDirectory {
  /** Throws when the endpoint cannot be reached or answers nonsense; the gate records why. */
  whoIsOnCall(endpoint: { readonly url: string; readonly timeoutSeconds: number }): Promise<OnCallAnswer>;
}

/** A database a migration snapshots first. */
export interface DatabaseRef {
  readonly kind: 'rds-instance' | 'aurora-cluster';
  readonly identifier: string;
}

/** Where a snapshot is. */
export interface SnapshotStatus {
  readonly snapshotId: string;
  readonly status: 'creating' | 'available' | 'failed';
  /** The service's own status word and progress, for the record. */
  readonly detail: string;
  readonly arn: string | null;
}

/** RDS/Aurora snapshots: CreateDBSnapshot / CreateDBClusterSnapshot and Describe* in AWS. */
export interface DatabaseSnapshots {
  /** Starts a snapshot; asking again for the same id returns its status (idempotent). */
  create(db: DatabaseRef, snapshotId: string): Promise<SnapshotStatus>;
  status(db: DatabaseRef, snapshotId: string): Promise<SnapshotStatus>;
}

/** A Kubernetes Job to run once (restartPolicy Never, no retries). */
export interface JobRequest {
  readonly namespace: string;
  readonly name: string;
  readonly image: string;
  readonly command?: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
  /** activeDeadlineSeconds: Kubernetes fails the Job after this. */
  readonly timeoutSeconds: number;
}

/** What a Job did so far. */
export interface JobStatus {
  readonly name: string;
  readonly state: 'running' | 'succeeded' | 'failed' | 'missing';
  readonly startedAt: string | null;
  readonly completedAt: string | null;
  /** The Job's conditions and pod counts in words. */
  readonly detail: string;
  /** Where its logs are. */
  readonly logs: string;
}

/** Runs Kubernetes Jobs (functions/adapters/kubernetes/jobs.ts). */
export interface JobRunner {
  /** Creates the Job unless it exists (a retry finds the first one) and returns its status. */
  start(job: JobRequest): Promise<JobStatus>;
  status(namespace: string, name: string): Promise<JobStatus>;
}

/** The answer to a waiting task token. */
export interface TaskTokens {
  /** SendTaskSuccess; throws an error named `TaskTimedOut`/`InvalidToken`/`TaskDoesNotExist` when too late. */
  succeed(taskToken: string, output: Readonly<Record<string, unknown>>): Promise<void>;
  /** SendTaskFailure with an error name the state machine catches. */
  fail(taskToken: string, error: string, cause: string): Promise<void>;
}

/**
 * Everything a release step needs, injected: every port is required. Where a runtime has no real
 * implementation of one (a unit test, a CLI without AWS access to a part), the composition root
 * (functions/compose.ts) puts an "unconfigured" adapter there (functions/adapters/unconfigured.ts)
 * that answers with a clear NotConfiguredError, so no step ever tests for a missing port.
 */
import type { Catalog, ServiceConfig } from '../domain/config.js';
import type { AlarmStates, AlarmThresholds } from './alarms.js';
import type { Clock } from './clock.js';
import type { ClusterClient } from './cluster.js';
import type { Executions } from './executions.js';
import type { JobRunner } from './jobs.js';
import type { MetricsSource } from './metrics.js';
import type { Notifier } from './notifier.js';
import type { OnCallDirectory } from './on-call.js';
import type { PipelineRecords } from './pipelines.js';
import type { TrafficRouter } from './router.js';
import type { DatabaseSnapshots } from './snapshots.js';
import type { DeploymentStore } from './store.js';
import type { TaskTokens } from './task-tokens.js';
import type { ReleaseTelemetry } from './telemetry.js';

/** Workload access for one service: the cluster client, its traffic router and its Jobs. */
export interface Workloads {
  readonly cluster: ClusterClient;
  readonly router: TrafficRouter;
  /** Kubernetes Jobs in the service's cluster (test hooks, migrations). */
  readonly jobs: JobRunner;
}

/** A wait inside the readiness task: up to `budgetMs`, checking every `checkMs`. */
export interface ReadinessWait {
  readonly budgetMs: number;
  readonly checkMs: number;
  readonly sleep: (ms: number) => Promise<void>;
}

/** The ports of one release step. */
export interface ReleasePorts {
  readonly catalog: Catalog;
  readonly store: DeploymentStore;
  readonly notifier: Notifier;
  readonly clock: Clock;
  workloads(service: ServiceConfig): Promise<Workloads>;
  metrics(service: ServiceConfig, deploymentStart: Date): MetricsSource;
  /** The release executions: stop one (rollback by alarm or by a person), tell where one is. */
  readonly executions: Executions;
  /** The p99 alarm's threshold during a release. */
  readonly alarmThresholds: AlarmThresholds;
  /** Current states of the service's alarms (the monitoring gate). */
  readonly alarmStates: AlarmStates;
  /** Who is on call, from an HTTP endpoint (the on-call gate). */
  readonly onCall: OnCallDirectory;
  /** Database snapshots before migrations. */
  readonly snapshots: DatabaseSnapshots;
  /** CodePipeline's record of its action executions (the tests-provenance gate). */
  readonly pipelines: PipelineRecords;
  /** Answers waiting `.waitForTaskToken` states (approval, hold): SendTaskSuccess/Failure. */
  readonly taskTokens: TaskTokens;
  /** The release metrics (started, ended, rolled back), written where each event happens. */
  readonly telemetry: ReleaseTelemetry;
  /**
   * How long "Check <Phase> Pods Ready" may wait inside the task for the new pods: in AWS up to
   * RUNBOOK.readinessWaitSeconds; {@link NO_READINESS_WAIT} checks once (the local runner, whose
   * readiness loop runs on its own short real-time polls).
   */
  readonly readinessWait: ReadinessWait;
}

/** Check once and answer: no wait inside the readiness task. */
export const NO_READINESS_WAIT: ReadinessWait = { budgetMs: 0, checkMs: 0, sleep: async () => {} };

/**
 * The one composition root. The Lambda runtime (functions/handlers/aws-runtime.ts), the CLI
 * (cli/aws-ports.ts) and the local environment (local/environment.ts) all build their
 * {@link ReleasePorts} here, each feeding its own clients and overrides, so the three cannot drift
 * apart: a capability given an AWS client is wired the same way everywhere, and one not given
 * gets an "unconfigured" adapter that says so (functions/adapters/unconfigured.ts).
 *
 * No Kubernetes client is imported here: cluster access arrives as a `workloads` factory, so the
 * functions that never reach the cluster are bundled without @kubernetes/client-node.
 */
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { CodePipelineClient } from '@aws-sdk/client-codepipeline';
import type { RDSClient } from '@aws-sdk/client-rds';
import type { SFNClient } from '@aws-sdk/client-sfn';
import { CloudWatchAlarmStates } from './adapters/aws/alarm-states.js';
import { CloudWatchAlarmThresholds } from './adapters/aws/alarm-thresholds.js';
import { CodePipelineRecords } from './adapters/aws/codepipeline-records.js';
import { RdsDatabaseSnapshots } from './adapters/aws/rds-snapshots.js';
import { SfnExecutions } from './adapters/aws/sfn-executions.js';
import { SfnTaskTokens } from './adapters/aws/task-tokens.js';
import { bestEffort, type NotifyFailure } from './adapters/best-effort-notifier.js';
import { HttpOnCallDirectory } from './adapters/http-oncall.js';
import { createMetricsSource, type MetricsFactory } from './adapters/metrics-factory.js';
import { EmfReleaseTelemetry } from './adapters/powertools/emf-telemetry.js';
import {
  UnconfiguredAlarmStates,
  UnconfiguredAlarmThresholds,
  UnconfiguredExecutions,
  UnconfiguredPipelineRecords,
  UnconfiguredSnapshots,
  UnconfiguredTaskTokens,
} from './adapters/unconfigured.js';
import { alarmName } from './domain/alarms.js';
import type { Catalog, ServiceConfig } from './domain/config.js';
import { RUNBOOK } from './domain/defaults.js';
import { NotConfiguredError } from './domain/errors.js';
import { type Clock, systemClock } from './ports/clock.js';
import type { Notifier } from './ports/notifier.js';
import { NO_READINESS_WAIT, type ReadinessWait, type ReleasePorts, type Workloads } from './ports/release.js';
import type { DeploymentStore } from './ports/store.js';
import type { ReleaseTelemetry } from './ports/telemetry.js';

/** Cluster access per service (EKS or a kubeconfig), built by the caller. */
export type WorkloadsFactory = (svc: ServiceConfig) => Promise<Workloads>;

/** The AWS clients a runtime has; each one given turns on the adapters that use it. */
export interface AwsClients {
  /** Alarm thresholds and states, and CloudWatch metrics. */
  readonly cloudwatch?: CloudWatchClient;
  /** StopExecution and task-token answers. */
  readonly sfn?: SFNClient;
  /** Database snapshots before migrations. */
  readonly rds?: RDSClient;
  /** The pipeline records the tests-provenance gate reads. */
  readonly codepipeline?: CodePipelineClient;
}

/** What a runtime feeds the composition root. */
export interface PortsSources {
  readonly catalog: Catalog;
  readonly store: DeploymentStore;
  readonly notifier: Notifier;
  /** @default the system clock */
  readonly clock?: Clock;
  /** @default none: a step that reaches the cluster fails with NotConfiguredError */
  readonly workloads?: WorkloadsFactory;
  /** @default none: every AWS capability is unconfigured */
  readonly aws?: AwsClients;
  /** @default {@link createMetricsSource} with `aws.cloudwatch` */
  readonly metrics?: MetricsFactory;
  /** @default {@link NO_READINESS_WAIT} (check once per call) */
  readonly readinessWait?: ReadinessWait;
  /**
   * The release metrics. @default Embedded Metric Format on standard output (Lambda: CloudWatch
   * Logs makes metrics of it); the CLI, whose standard output is a person's, puts them elsewhere
   */
  readonly telemetry?: ReleaseTelemetry;
  /** Where a notification that could not be sent is reported. @default one JSON line on stderr */
  readonly onNotifyFailure?: NotifyFailure;
  /** Adapters that replace what the clients would give (local stand-ins, tests). */
  readonly overrides?: Partial<
    Pick<
      ReleasePorts,
      'alarmThresholds' | 'alarmStates' | 'onCall' | 'snapshots' | 'taskTokens' | 'executions' | 'pipelines'
    >
  >;
}

/** The in-task readiness wait of the Lambda runtime: RUNBOOK.readinessWaitSeconds, checking every readinessCheckSeconds. */
export const LAMBDA_READINESS_WAIT: ReadinessWait = {
  budgetMs: RUNBOOK.readinessWaitSeconds * 1000,
  checkMs: RUNBOOK.readinessCheckSeconds * 1000,
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

/** Builds every port from what the runtime has. */
export function composePorts(src: PortsSources): ReleasePorts {
  const { catalog } = src;
  const aws = src.aws ?? {};
  const cloudwatch = aws.cloudwatch ?? null;
  const o = src.overrides ?? {};
  const workloads: WorkloadsFactory =
    src.workloads ??
    (async () => {
      throw new NotConfiguredError('this runtime has no cluster access (no workloads factory)');
    });
  return {
    catalog,
    store: src.store,
    notifier: bestEffort(src.notifier, src.onNotifyFailure),
    clock: src.clock ?? systemClock,
    workloads,
    metrics: src.metrics ?? ((svc, start) => createMetricsSource(svc, start, { catalog, cloudwatch })),
    executions:
      o.executions ?? (aws.sfn ? new SfnExecutions({ client: aws.sfn }) : new UnconfiguredExecutions()),
    alarmThresholds:
      o.alarmThresholds ??
      (cloudwatch
        ? new CloudWatchAlarmThresholds({
            client: cloudwatch,
            alarmNameOf: (service) => alarmName(catalog.appName, service, 'latency'),
          })
        : new UnconfiguredAlarmThresholds()),
    alarmStates:
      o.alarmStates ??
      (cloudwatch ? new CloudWatchAlarmStates({ client: cloudwatch }) : new UnconfiguredAlarmStates()),
    onCall: o.onCall ?? new HttpOnCallDirectory(),
    snapshots:
      o.snapshots ?? (aws.rds ? new RdsDatabaseSnapshots({ client: aws.rds }) : new UnconfiguredSnapshots()),
    pipelines:
      o.pipelines ??
      (aws.codepipeline
        ? new CodePipelineRecords({ client: aws.codepipeline })
        : new UnconfiguredPipelineRecords()),
    taskTokens:
      o.taskTokens ?? (aws.sfn ? new SfnTaskTokens({ client: aws.sfn }) : new UnconfiguredTaskTokens()),
    readinessWait: src.readinessWait ?? NO_READINESS_WAIT,
    telemetry: src.telemetry ?? new EmfReleaseTelemetry(),
  };
}

import { Logger } from '@aws-lambda-powertools/logger';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { RDSClient } from '@aws-sdk/client-rds';
import { SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import type { TaskKey } from '../../statemachine/tasks.js';
import catalogInput from '../../tps.config.js';
import { CloudWatchAlarmStates } from '../adapters/aws/alarm-states.js';
import { CloudWatchAlarmThresholds } from '../adapters/aws/alarm-thresholds.js';
import { CloudWatchMetricsSource } from '../adapters/aws/cloudwatch-metrics.js';
import { DynamoDbDeploymentStore } from '../adapters/aws/dynamodb-store.js';
import { RdsDatabaseSnapshots } from '../adapters/aws/rds-snapshots.js';
import { SnsNotifier } from '../adapters/aws/sns-notifier.js';
import { SfnTaskTokens } from '../adapters/aws/task-tokens.js';
import { HttpOnCallDirectory } from '../adapters/http-oncall.js';
import { loadProfile } from '../adapters/synthetic/index.js';
import { SyntheticMetricsSource } from '../adapters/synthetic/source.js';
import { alarmName } from '../domain/alarms.js';
import type { Catalog, ServiceConfig } from '../domain/config.js';
import { parseCatalog } from '../domain/config.js';
import { RUNBOOK } from '../domain/defaults.js';
import { ConfigError } from '../domain/errors.js';
import { systemClock } from '../ports/clock.js';
import type { ReleasePorts, Workloads } from '../release/ports.js';
import { STEPS } from '../release/registry.js';

const logger = new Logger({ serviceName: 'tps-deploy' });

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new ConfigError(`environment variable ${name} is not set`);
  return v;
}

/**
 * Cluster access for the tasks that act on Kubernetes. It lives in cluster-runtime.ts so that the
 * functions that never reach the cluster are bundled without @kubernetes/client-node (2.4 MB of
 * each bundle, bench/results/coldstart.json).
 */
export type WorkloadsFactory = (catalog: Catalog) => (svc: ServiceConfig) => Promise<Workloads>;

const noCluster: WorkloadsFactory = () => async () => {
  throw new ConfigError(
    'this task function has no cluster access (see functions/handlers/cluster-runtime.ts)',
  );
};

/** The AWS adapters behind the ports, built once per Lambda container (module scope caches). */
export function awsPorts(workloadsFactory: WorkloadsFactory = noCluster): ReleasePorts {
  const catalog = parseCatalog(catalogInput);
  const workloads = workloadsFactory(catalog);
  const cloudwatch = new CloudWatchClient({});
  const sfn = new SFNClient({});
  return {
    catalog,
    clock: systemClock,
    store: new DynamoDbDeploymentStore({ client: new DynamoDBClient({}), tableName: env('TPS_TABLE_NAME') }),
    notifier: new SnsNotifier({ client: new SNSClient({}), topicArn: env('TPS_TOPIC_ARN') }),
    workloads,
    metrics(svc, deploymentStart) {
      if (svc.metrics.source === 'synthetic') {
        return new SyntheticMetricsSource({ profile: loadProfile(svc.metrics.profile), deploymentStart });
      }
      return new CloudWatchMetricsSource({ client: cloudwatch, services: catalog.services });
    },
    async stopExecution(executionArn, cause) {
      try {
        await sfn.send(new StopExecutionCommand({ executionArn, cause: cause.slice(0, 32_000) }));
      } catch (e) {
        // An execution that already ended cannot be stopped: nothing to do.
        if ((e as { name?: string }).name !== 'ExecutionDoesNotExist') throw e;
      }
    },
    alarmThresholds: new CloudWatchAlarmThresholds({
      client: cloudwatch,
      alarmNameOf: (service) => alarmName(catalog.appName, service, 'latency'),
    }),
    alarmStates: new CloudWatchAlarmStates({ client: cloudwatch }),
    onCall: new HttpOnCallDirectory(),
    snapshots: new RdsDatabaseSnapshots({ client: new RDSClient({}) }),
    taskTokens: new SfnTaskTokens({ client: sfn }),
    readinessWait: {
      budgetMs: RUNBOOK.readinessWaitSeconds * 1000,
      checkMs: RUNBOOK.readinessCheckSeconds * 1000,
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    },
  };
}

let cached: ReleasePorts | undefined;

/**
 * The Lambda entry of one task: parse nothing here (each step validates its event), run the step
 * with the AWS ports, log failures with their error name (the state machine's Retry/Catch match it).
 */
export function lambdaHandler(task: TaskKey, workloads?: WorkloadsFactory) {
  return async (event: unknown, context?: { awsRequestId?: string }): Promise<unknown> => {
    if (context) logger.appendKeys({ requestId: context.awsRequestId });
    cached ??= awsPorts(workloads);
    try {
      const result = await STEPS[task](cached, event);
      logger.info('task done', { task });
      return result;
    } catch (e) {
      const err = e as Error;
      logger.error('task failed', { task, errorName: err.name, errorMessage: err.message });
      throw e;
    }
  };
}

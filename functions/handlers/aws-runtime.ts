import { Logger } from '@aws-lambda-powertools/logger';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { RDSClient } from '@aws-sdk/client-rds';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import catalogInput from '../../tps.config.js';
import { DynamoDbDeploymentStore } from '../adapters/aws/dynamodb-store.js';
import { SnsNotifier } from '../adapters/aws/sns-notifier.js';
import { composePorts, LAMBDA_READINESS_WAIT, type WorkloadsFactory } from '../compose.js';
import type { TaskKey } from '../contract/tasks.js';
import { parseCatalog } from '../domain/config.js';
import { ConfigError } from '../domain/errors.js';
import type { ReleasePorts } from '../ports/release.js';
import { runStep } from '../release/registry.js';

const logger = new Logger({ serviceName: 'tps-deploy' });

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new ConfigError(`environment variable ${name} is not set`);
  return v;
}

/**
 * The AWS ports of a Lambda container, built once (module scope caches) by the composition root.
 * Cluster access comes from `clusterAccess` (functions/handlers/cluster-runtime.ts), which only the
 * functions that act on Kubernetes import: the others are bundled without @kubernetes/client-node
 * (bench/results/coldstart.json).
 */
export function awsPorts(clusterAccess?: () => WorkloadsFactory): ReleasePorts {
  const catalog = parseCatalog(catalogInput);
  return composePorts({
    catalog,
    store: new DynamoDbDeploymentStore({ client: new DynamoDBClient({}), tableName: env('TPS_TABLE_NAME') }),
    notifier: new SnsNotifier({ client: new SNSClient({}), topicArn: env('TPS_TOPIC_ARN') }),
    ...(clusterAccess ? { workloads: clusterAccess() } : {}),
    aws: { cloudwatch: new CloudWatchClient({}), sfn: new SFNClient({}), rds: new RDSClient({}) },
    readinessWait: LAMBDA_READINESS_WAIT,
  });
}

let cached: ReleasePorts | undefined;

/**
 * The Lambda entry of one task: parse nothing here (each step validates its event), run the step
 * with the AWS ports, log failures with their error name (the state machine's Retry/Catch match it).
 */
export function lambdaHandler(task: TaskKey, clusterAccess?: () => WorkloadsFactory) {
  return async (event: unknown, context?: { awsRequestId?: string }): Promise<unknown> => {
    if (context) logger.appendKeys({ requestId: context.awsRequestId });
    cached ??= awsPorts(clusterAccess);
    try {
      const result = await runStep(task, cached, event);
      logger.info('task done', { task });
      return result;
    } catch (e) {
      const err = e as Error;
      logger.error('task failed', { task, errorName: err.name, errorMessage: err.message });
      throw e;
    }
  };
}

import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CodePipelineClient } from '@aws-sdk/client-codepipeline';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { RDSClient } from '@aws-sdk/client-rds';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { DynamoDbDeploymentStore } from '../adapters/aws/dynamodb-store.js';
import { SnsNotifier } from '../adapters/aws/sns-notifier.js';
import { createFunctionLogger } from '../adapters/powertools/function-logger.js';
import { composePorts, LAMBDA_READINESS_WAIT, type WorkloadsFactory } from '../compose.js';
import type { TaskKey } from '../contract/tasks.js';
import { ConfigError } from '../domain/errors.js';
import { invokeTask, type LambdaContext } from '../invoke.js';
import type { ReleasePorts } from '../ports/release.js';
import { runtimeCatalog } from './catalog-file.js';

/** One logger per container: Powertools tracks the cold start on it (serviceName: POWERTOOLS_SERVICE_NAME, the app). */
const logger = createFunctionLogger();

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new ConfigError(`environment variable ${name} is not set`);
  return v;
}

/**
 * The AWS ports of a Lambda container, built once (module scope caches) by the composition root.
 * Cluster access comes from `clusterAccess` (functions/handlers/cluster-runtime.ts), which only the
 * functions that act on Kubernetes import: the others are bundled without @kubernetes/client-node
 * (bench/results/coldstart.json). The catalog is the `catalog.json` shipped next to the handler
 * (functions/handlers/catalog-file.ts), checked with `parseCatalog`.
 */
export function awsPorts(clusterAccess?: () => WorkloadsFactory): ReleasePorts {
  return composePorts({
    catalog: runtimeCatalog(),
    store: new DynamoDbDeploymentStore({ client: new DynamoDBClient({}), tableName: env('TPS_TABLE_NAME') }),
    notifier: new SnsNotifier({ client: new SNSClient({}), topicArn: env('TPS_TOPIC_ARN') }),
    ...(clusterAccess ? { workloads: clusterAccess() } : {}),
    aws: {
      cloudwatch: new CloudWatchClient({}),
      sfn: new SFNClient({}),
      rds: new RDSClient({}),
      codepipeline: new CodePipelineClient({}),
    },
    readinessWait: LAMBDA_READINESS_WAIT,
  });
}

let cached: ReleasePorts | undefined;

/**
 * The Lambda entry of one task: the step with the AWS ports (built on first use, once per
 * container), through the instrumented invocation that the local runner uses too.
 */
export function lambdaHandler(task: TaskKey, clusterAccess?: () => WorkloadsFactory) {
  return (event: unknown, context: LambdaContext): Promise<unknown> =>
    invokeTask(task, () => (cached ??= awsPorts(clusterAccess)), event, { logger, context });
}

import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { type BundlingOptions, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { TASK_ENV, TASK_KEYS, TASKS, type TaskKey } from '../../functions/contract/tasks.js';
import { pascalCase } from '../../functions/domain/text.js';
import { acknowledgeNag } from '../nag.js';
import { type FunctionNetwork, VPC_ENI_ACTIONS } from './task-network.js';

/** Lambda runtime of every task function (checked: aws-cdk-lib 2.276 defines NODEJS_24_X). */
export const TASK_RUNTIME: lambda.Runtime = lambda.Runtime.NODEJS_24_X;

/**
 * The esbuild banner of an ESM bundle: bundled CommonJS dependencies call `require`, which ESM
 * does not define.
 */
export const ESM_BANNER =
  "import { createRequire } from 'module'; const require = createRequire(import.meta.url);";

/** How every function of the stack is bundled (the task functions and the answer endpoint). */
export const FUNCTION_BUNDLING: BundlingOptions = {
  format: OutputFormat.ESM,
  banner: ESM_BANNER,
  mainFields: ['module', 'main'],
  target: 'node24',
  minify: true,
  sourceMap: true,
  // The SDK is bundled: the functions run the versions the tests ran (package-lock.json),
  // not whichever v3 release the Lambda runtime happens to carry.
  bundleAwsSDK: true,
  externalModules: [],
};

/** Props of {@link TaskFunctions}. */
export interface TaskFunctionsProps {
  /** Absolute path of the repository root; the TASKS entries are relative to it. */
  readonly projectRoot: string;
  /** Environment shared by every function (each also gets `TPS_TASK`). */
  readonly environment: Readonly<Record<string, string>>;
  /** Retention of each function's log group. @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
  /** `POWERTOOLS_SERVICE_NAME` of the functions. @default 'tps-deploy' */
  readonly serviceName?: string;
  /**
   * The VPC of the tasks that reach the cluster (infra/constructs/task-network.ts); the other
   * tasks stay outside any VPC.
   * @default every function outside any VPC
   */
  readonly network?: {
    /** The tasks whose functions run in the VPC. */
    readonly tasks: readonly TaskKey[];
    /** Their VPC, subnets and security groups. */
    readonly config: FunctionNetwork;
  };
}

/**
 * One NodejsFunction per task of functions/contract/tasks.ts, each with its own execution role.
 * A role starts with only the permission to write its function's own log group (and X-Ray, added
 * by active tracing); the stack grants each the rest from functions/contract/permissions.ts
 * (infra/constructs/task-permissions.ts), so a task can do only what its own code calls.
 */
export class TaskFunctions extends Construct {
  /** The execution role of each task's function (also the principal of its EKS access entries). */
  readonly roles: Readonly<Record<TaskKey, iam.Role>>;
  /** The function of each task, by task key. */
  readonly functions: Readonly<Record<TaskKey, NodejsFunction>>;
  /** The log group of each task's function. */
  readonly logGroups: Readonly<Record<TaskKey, logs.LogGroup>>;

  constructor(scope: Construct, id: string, props: TaskFunctionsProps) {
    super(scope, id);
    if (!isAbsolute(props.projectRoot) || !existsSync(join(props.projectRoot, 'package-lock.json'))) {
      throw new Error(
        `TaskFunctions: projectRoot must be the absolute path of the repository root (the folder with package-lock.json); got "${props.projectRoot}". Pass the folder that holds package.json and functions/.`,
      );
    }
    if (Object.hasOwn(props.environment, TASK_ENV)) {
      throw new Error(
        `TaskFunctions: environment must not set ${TASK_ENV} (got "${props.environment[TASK_ENV]}"); each function gets its own task key. Remove it from the shared environment.`,
      );
    }
    const missing = TASK_KEYS.filter((k) => !existsSync(join(props.projectRoot, TASKS[k].entry)));
    if (missing.length > 0) {
      throw new Error(
        `TaskFunctions: handler files are missing: ${missing.map((k) => `${k} -> ${TASKS[k].entry}`).join(', ')}. Create them or fix the entries in statemachine/tasks.ts.`,
      );
    }

    const functions: Partial<Record<TaskKey, NodejsFunction>> = {};
    const logGroups: Partial<Record<TaskKey, logs.LogGroup>> = {};
    const roles: Partial<Record<TaskKey, iam.Role>> = {};
    for (const key of TASK_KEYS) {
      const task = TASKS[key];
      const id = pascalCase(key);
      const logGroup = new logs.LogGroup(this, `${id}Logs`, {
        retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      logGroups[key] = logGroup;
      const role = new iam.Role(this, `${id}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `Execution role of the tps-deploy task ${key} (only what its code calls).`,
      });
      roles[key] = role;
      // Lambda writes to the explicit log group; nothing else needs CloudWatch Logs access.
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'WriteOwnLogs',
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [logGroup.logGroupArn],
        }),
      );
      const inVpc = props.network?.tasks.includes(key) ?? false;
      if (inVpc) {
        // What AWSLambdaVPCAccessExecutionRole allows (its log actions aside), on this role only.
        role.addToPrincipalPolicy(
          new iam.PolicyStatement({
            sid: 'VpcNetworkInterfaces',
            actions: [...VPC_ENI_ACTIONS],
            resources: ['*'],
          }),
        );
      }
      acknowledgeNag(
        role,
        'AwsSolutions-IAM5',
        'Resource::*',
        (inVpc
          ? 'The EC2 network-interface actions Lambda needs to attach a function to its VPC (those of AWSLambdaVPCAccessExecutionRole) have no resource types. '
          : '') +
          'X-Ray PutTraceSegments/PutTelemetryRecords (added by active tracing) have no resource types, and cloudwatch:GetMetricData (on the roles of the tasks that read metrics) has none for the classic metric queries they send (its only, optional, resource type `dataset` is for PromQL queries): "*" is the only valid resource.',
      );
      functions[key] = new NodejsFunction(this, id, {
        entry: join(props.projectRoot, task.entry),
        handler: 'handler',
        projectRoot: props.projectRoot,
        depsLockFilePath: join(props.projectRoot, 'package-lock.json'),
        runtime: TASK_RUNTIME,
        architecture: lambda.Architecture.ARM_64,
        memorySize: task.memoryMb,
        timeout: Duration.seconds(task.timeoutSeconds),
        tracing: lambda.Tracing.ACTIVE,
        role,
        logGroup,
        description: `tps-deploy task ${key}`,
        environment: {
          ...props.environment,
          [TASK_ENV]: key,
          POWERTOOLS_SERVICE_NAME: props.serviceName ?? 'tps-deploy',
          // No --enable-source-maps: parsing the 9.6 MB map costs 70-150 ms of every cold start
          // (bench/results/coldstart.json); the map is still shipped for offline symbolication.
        },
        bundling: FUNCTION_BUNDLING,
        ...(inVpc ? props.network!.config : {}),
      });
    }
    this.functions = functions as Record<TaskKey, NodejsFunction>;
    this.logGroups = logGroups as Record<TaskKey, logs.LogGroup>;
    this.roles = roles as Record<TaskKey, iam.Role>;
  }
}

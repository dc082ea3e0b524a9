import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { TASK_ENV, TASK_KEYS, TASKS, type TaskKey } from '../../functions/contract/tasks.js';
import type { Catalog } from '../../functions/domain/config.js';
import { pascalCase } from '../../functions/domain/text.js';
import { acknowledgeNag } from '../nag.js';
import {
  codeSourceProblems,
  type FunctionCodeSource,
  RunbookCode,
  writeCatalogFile,
} from './function-code.js';
import { type FunctionNetwork, VPC_ENI_ACTIONS } from './task-network.js';

/** Lambda runtime of every task function (checked: aws-cdk-lib 2.276 defines NODEJS_24_X). */
export const TASK_RUNTIME: lambda.Runtime = lambda.Runtime.NODEJS_24_X;

export { ESM_BANNER, FUNCTION_BUNDLING } from './function-code.js';

/** Props of {@link TaskFunctions}. */
export interface TaskFunctionsProps {
  /**
   * Where the functions' code comes from (infra/constructs/function-code.ts).
   * @default { kind: 'source', projectRoot }
   */
  readonly code?: FunctionCodeSource | RunbookCode;
  /**
   * Absolute path of the repository root, for `code` from the sources (the TASKS entries are
   * relative to it).
   * @default none: `code` is required
   */
  readonly projectRoot?: string;
  /** The parsed catalog, shipped with each function as catalog.json (unless `code` is a RunbookCode). */
  readonly catalog?: Catalog;
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
 * One function per task of functions/contract/tasks.ts, each with its own execution role: a
 * NodejsFunction bundled from the sources, or a lambda.Function of the package's prebuilt bundles
 * (infra/constructs/function-code.ts); either way the catalog file is shipped next to the handler.
 * A role starts with only the permission to write its function's own log group (and X-Ray, added
 * by active tracing); the stack grants each the rest from functions/contract/permissions.ts
 * (infra/constructs/task-permissions.ts), so a task can do only what its own code calls.
 */
export class TaskFunctions extends Construct {
  /** The execution role of each task's function (also the principal of its EKS access entries). */
  readonly roles: Readonly<Record<TaskKey, iam.Role>>;
  /** The function of each task, by task key. */
  readonly functions: Readonly<Record<TaskKey, lambda.Function>>;
  /** The log group of each task's function. */
  readonly logGroups: Readonly<Record<TaskKey, logs.LogGroup>>;

  constructor(scope: Construct, id: string, props: TaskFunctionsProps) {
    super(scope, id);
    const source: FunctionCodeSource | RunbookCode | undefined =
      props.code ??
      (props.projectRoot !== undefined ? { kind: 'source', projectRoot: props.projectRoot } : undefined);
    if (source === undefined) {
      throw new Error(
        'TaskFunctions: neither code nor projectRoot is given. Pass code (the prebuilt bundles or the sources) or projectRoot (the repository root).',
      );
    }
    const problems = codeSourceProblems(
      source instanceof RunbookCode ? source.source : source,
      TASK_KEYS.map((k) => TASKS[k].entry),
    );
    if (problems.length > 0) throw new Error(`TaskFunctions: ${problems.join('; ')}.`);
    if (Object.hasOwn(props.environment, TASK_ENV)) {
      throw new Error(
        `TaskFunctions: environment must not set ${TASK_ENV} (got "${props.environment[TASK_ENV]}"); each function gets its own task key. Remove it from the shared environment.`,
      );
    }
    let code: RunbookCode;
    if (source instanceof RunbookCode) {
      code = source;
    } else {
      if (!props.catalog) {
        throw new Error(
          'TaskFunctions: catalog is missing; the functions read it at run time from the catalog.json shipped with them. Pass the parsed catalog.',
        );
      }
      code = new RunbookCode(source, writeCatalogFile(props.catalog));
    }

    const functions: Partial<Record<TaskKey, lambda.Function>> = {};
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
      functions[key] = code.createFunction(this, id, task.entry, {
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
        ...(inVpc ? props.network!.config : {}),
      });
    }
    this.functions = functions as Record<TaskKey, lambda.Function>;
    this.logGroups = logGroups as Record<TaskKey, logs.LogGroup>;
    this.roles = roles as Record<TaskKey, iam.Role>;
  }
}

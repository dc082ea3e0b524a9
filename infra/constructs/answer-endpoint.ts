import { join } from 'node:path';
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { acknowledgeNag } from '../nag.js';
import { FUNCTION_BUNDLING, TASK_RUNTIME } from './task-functions.js';

/** The handler of the answer endpoint, relative to the repository root. */
export const ANSWER_ENTRY = 'functions/handlers/answer.ts';

/**
 * The only actions the endpoint's role has on the state machines: answer a waiting task, and start
 * a release for a verified caller.
 */
export const ANSWER_SFN_ACTIONS: readonly string[] = [
  'states:SendTaskSuccess',
  'states:SendTaskFailure',
  'states:StartExecution',
];

/** The environment variable with the state machines' ARNs by service (functions/handlers/answer-runtime.ts). */
export const STATE_MACHINES_ENV = 'TPS_STATE_MACHINE_ARNS';

/**
 * The table actions of what the endpoint's steps do: read the record and the token, update the
 * record, write a verified start.
 */
export const ANSWER_TABLE_ACTIONS: readonly string[] = [
  'dynamodb:GetItem',
  'dynamodb:UpdateItem',
  'dynamodb:PutItem',
];

/** Props of {@link AnswerEndpoint}. */
export interface AnswerEndpointProps {
  /** Absolute path of the repository root. */
  readonly projectRoot: string;
  readonly table: dynamodb.ITable;
  /** The key that encrypts the table. */
  readonly key: kms.IKey;
  /** The release state machine of each service: the endpoint answers their waiting tasks and starts them. */
  readonly stateMachines: Readonly<Record<string, sfn.IStateMachine>>;
  /** Environment of the function (the table name). */
  readonly environment: Readonly<Record<string, string>>;
  /** `POWERTOOLS_SERVICE_NAME`. @default 'tps-deploy' */
  readonly serviceName?: string;
  /** @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The answer endpoint (functions/handlers/answer.ts): a function with its own role behind a
 * function URL with AuthType AWS_IAM, so Lambda verifies each caller's SigV4 signature and hands
 * the function the caller's ARN. Its role is the only one the stack creates with
 * `states:SendTaskSuccess`/`SendTaskFailure`; people get the right to invoke the URL
 * (`lambda:InvokeFunctionUrl` on {@link AnswerEndpoint.fn}) from their own roles, and the
 * catalog's `duties` decides what each may answer.
 */
export class AnswerEndpoint extends Construct {
  readonly fn: NodejsFunction;
  readonly url: lambda.FunctionUrl;
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: AnswerEndpointProps) {
    super(scope, id);
    const machines = Object.values(props.stateMachines);
    if (machines.length === 0) {
      throw new Error(
        'AnswerEndpoint: stateMachines is empty; pass the release state machine of every service.',
      );
    }
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description:
        'Execution role of the tps-deploy answer endpoint: answers waiting releases for verified callers.',
    });
    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.fn = new NodejsFunction(this, 'Function', {
      entry: join(props.projectRoot, ANSWER_ENTRY),
      handler: 'handler',
      projectRoot: props.projectRoot,
      depsLockFilePath: join(props.projectRoot, 'package-lock.json'),
      runtime: TASK_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.seconds(30),
      tracing: lambda.Tracing.ACTIVE,
      role: this.role,
      logGroup,
      description: 'tps-deploy answer endpoint (approve, reject, promote, abort as the verified caller)',
      environment: {
        ...props.environment,
        [STATE_MACHINES_ENV]: Stack.of(this).toJsonString(
          Object.fromEntries(Object.entries(props.stateMachines).map(([s, m]) => [s, m.stateMachineArn])),
        ),
        POWERTOOLS_SERVICE_NAME: props.serviceName ?? 'tps-deploy',
      },
      bundling: FUNCTION_BUNDLING,
    });
    this.url = this.fn.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM });

    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'WriteOwnLogs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn],
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadRecordsAndTokens',
        actions: [...ANSWER_TABLE_ACTIONS],
        resources: [props.table.tableArn],
      }),
    );
    props.key.grant(this.role, 'kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey*');
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'AnswerWaitingReleases',
        actions: [...ANSWER_SFN_ACTIONS],
        resources: machines.map((m) => m.stateMachineArn),
      }),
    );
    acknowledgeNag(
      this.role,
      'AwsSolutions-IAM5',
      'Resource::*',
      'X-Ray PutTraceSegments/PutTelemetryRecords (added by active tracing) have no resource types: "*" is the only valid resource.',
    );
    acknowledgeNag(
      this.role,
      'AwsSolutions-IAM5',
      'Action::kms:GenerateDataKey*',
      'Data-key actions on the one key that encrypts the deployments table, as DynamoDB requires of callers of a KMS-encrypted table.',
    );
  }
}

import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { endpointGrants, type GrantTarget } from '../../functions/contract/permissions.js';
import { acknowledgeNag } from '../nag.js';
import type { RunbookCode } from './function-code.js';
import { TASK_RUNTIME } from './task-functions.js';
import { grantExactly } from './task-permissions.js';

/** The handler of the answer endpoint, relative to the repository root. */
export const ANSWER_ENTRY = 'functions/handlers/answer.ts';

/** The environment variable with the state machines' ARNs by service (functions/handlers/answer-runtime.ts). */
export const STATE_MACHINES_ENV = 'TPS_STATE_MACHINE_ARNS';

/** The environment variable with the rollback function's name (functions/handlers/answer-runtime.ts). */
export const ROLLBACK_FUNCTION_ENV = 'TPS_ROLLBACK_FUNCTION';

/** Props of {@link AnswerEndpoint}. */
export interface AnswerEndpointProps {
  /** The runbook's function code (the same source and catalog file as the task functions'). */
  readonly code: RunbookCode;
  /**
   * The ARNs of each grant target (functions/contract/permissions.ts): the role allows exactly
   * `endpointGrants()` on them, as the task functions' roles allow their tasks' grants.
   */
  readonly targets: Readonly<Record<GrantTarget, readonly string[]>>;
  /** Why each wildcard ARN of the targets cannot be narrower (cdk-nag acknowledgement), by ARN. */
  readonly wildcardReasons: Readonly<Record<string, string>>;
  /** The key that encrypts the table. */
  readonly key: kms.IKey;
  /** The topic's key when it is not `key` (`null`: an unencrypted topic). @default key */
  readonly topicKey?: kms.IKey | null;
  /** The function a person's rollback is handed to (the execution-stopped function). */
  readonly rollbackFunction: lambda.IFunction;
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
 * `states:SendTaskSuccess`/`SendTaskFailure`, and it allows exactly what the endpoint's code calls
 * (functions/contract/permissions.ts `ENDPOINT_AWS_CALLS`, checked by
 * test/infra/task-permissions.test.ts): the record, the lock and the token item, answering and
 * starting releases, stopping and describing their executions, and invoking the rollback function.
 * People get the right to invoke the URL (`lambda:InvokeFunctionUrl` on {@link AnswerEndpoint.fn})
 * from their own roles, plus read access to the table; the catalog's `duties` decides what each
 * may answer, hold, abort, roll back or unlock.
 */
export class AnswerEndpoint extends Construct {
  readonly fn: lambda.Function;
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
    this.fn = props.code.createFunction(this, 'Function', ANSWER_ENTRY, {
      runtime: TASK_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.seconds(30),
      tracing: lambda.Tracing.ACTIVE,
      role: this.role,
      logGroup,
      description:
        'tps-deploy answer endpoint (approve, reject, promote, abort, hold, stop, rollback, unlock as the verified caller)',
      environment: {
        ...props.environment,
        [STATE_MACHINES_ENV]: Stack.of(this).toJsonString(
          Object.fromEntries(Object.entries(props.stateMachines).map(([s, m]) => [s, m.stateMachineArn])),
        ),
        [ROLLBACK_FUNCTION_ENV]: props.rollbackFunction.functionName,
        POWERTOOLS_SERVICE_NAME: props.serviceName ?? 'tps-deploy',
      },
    });
    this.url = this.fn.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM });

    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'WriteOwnLogs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn],
      }),
    );
    grantExactly(this, this.role, endpointGrants(), {
      targets: props.targets,
      dataKey: props.key,
      topicKey: props.topicKey,
      wildcardReasons: props.wildcardReasons,
    });
    acknowledgeNag(
      this.role,
      'AwsSolutions-IAM5',
      'Resource::*',
      'X-Ray PutTraceSegments/PutTelemetryRecords (added by active tracing) have no resource types: "*" is the only valid resource.',
    );
  }
}

import { type Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { TASK_KEYS, type TaskKey } from '../../functions/contract/tasks.js';
import type { PhaseName } from '../../functions/domain/defaults.js';
import { buildReleaseDefinition } from '../../statemachine/definition.js';
import { acknowledgeNag } from '../nag.js';

/** Props of {@link ReleasePipeline}. */
export interface ReleasePipelineProps {
  /** Physical state machine name, `<appName>-<service>`. */
  readonly stateMachineName: string;
  /** Log group name of the execution history (`/aws/vendedlogs/states/...`). */
  readonly logGroupName: string;
  /** One function per task. */
  readonly functions: Readonly<Record<TaskKey, IFunction>>;
  /** Traffic weight of each phase (for the state names). */
  readonly weights: Readonly<Record<PhaseName, number>>;
  /** Seconds between readiness checks. */
  readonly readinessPollSeconds: number;
  /**
   * The longest an execution may run: the service's longest release plus a margin
   * (functions/domain/budget.ts `executionTimeoutSeconds`); past it the execution times out (and
   * CodePipeline fails the action) instead of hanging for a year.
   */
  readonly timeout: Duration;
  /** Retention of the execution log group. @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The task functions as the state machine sees them: CDK's LambdaInvoke grants
 * `lambda:InvokeFunction` on `resourceArnsForGrantInvoke`, which for a Function is its ARN and
 * `<ARN>:*` (every version and alias). The states invoke the unqualified ARN (`FunctionName` is the
 * function ARN, no `Qualifier`) and the functions publish no versions or aliases, so the grant is
 * narrowed to the unqualified ARN; everything else is the function itself.
 */
export function invokeUnqualifiedOnly(
  functions: Readonly<Record<TaskKey, IFunction>>,
): Readonly<Record<TaskKey, IFunction>> {
  return Object.fromEntries(
    Object.entries(functions).map(([key, fn]) => [
      key,
      new Proxy(fn, {
        get: (target, prop, receiver) =>
          prop === 'resourceArnsForGrantInvoke' ? [target.functionArn] : Reflect.get(target, prop, receiver),
      }),
    ]),
  ) as Record<TaskKey, IFunction>;
}

/**
 * The release state machine of one service: the runbook from statemachine/definition.ts as a
 * Standard workflow (executions last hours), logging every event (without execution data) to
 * CloudWatch Logs and traced.
 */
export class ReleasePipeline extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ReleasePipelineProps) {
    super(scope, id);
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(props.stateMachineName)) {
      throw new Error(
        `ReleasePipeline: stateMachineName must be 1-80 characters of A-Z, a-z, 0-9, - and _ (got "${props.stateMachineName}"). Shorten appName or the service name in tps.config.ts.`,
      );
    }
    const missing = TASK_KEYS.filter((k) => props.functions[k] === undefined);
    if (missing.length > 0) {
      throw new Error(
        `ReleasePipeline: functions is missing tasks ${missing.join(', ')}. Pass one function per TASKS key.`,
      );
    }
    for (const [phase, w] of Object.entries(props.weights)) {
      if (!Number.isInteger(w) || w < 1 || w > 100) {
        throw new Error(
          `ReleasePipeline: weights.${phase} must be an integer percent 1-100 (got ${w}). Fix phases.${phase}.weight in tps.config.ts.`,
        );
      }
    }
    if (!Number.isInteger(props.readinessPollSeconds) || props.readinessPollSeconds < 1) {
      throw new Error(
        `ReleasePipeline: readinessPollSeconds must be a positive integer (got ${props.readinessPollSeconds}). Fix RUNBOOK.readinessPollSeconds.`,
      );
    }

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: props.logGroupName,
      retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const definition = buildReleaseDefinition(this, {
      functions: invokeUnqualifiedOnly(props.functions),
      weights: props.weights,
      readinessPollSeconds: props.readinessPollSeconds,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: props.stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      timeout: props.timeout,
      tracingEnabled: true,
      // No execution data in the logs: a `.waitForTaskToken` state's parameters carry the task
      // token (`$$.Task.Token`), which must never reach a log (#15). The events keep their types,
      // names and timestamps (the dashboard's query reads only those).
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      comment: `tps-deploy release runbook: ${props.stateMachineName}`,
    });

    acknowledgeNag(
      this.stateMachine,
      'AwsSolutions-IAM5',
      'Resource::*',
      'Step Functions log delivery (logs:CreateLogDelivery, logs:DescribeResourcePolicies and related) and X-Ray (xray:PutTraceSegments and related) do not support resource-level permissions; CDK adds them for logging ALL and tracing.',
    );
  }
}

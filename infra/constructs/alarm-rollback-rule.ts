import { Duration, Token } from 'aws-cdk-lib';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledgeNag } from '../nag.js';

/** Delivery settings of the alarm events to the rollback function. */
export const ALARM_EVENT_DELIVERY = {
  /** EventBridge retries a failed invocation with backoff this many times... */
  retryAttempts: 8,
  /** ...for at most this long; then the event goes to the dead-letter queue. */
  maxEventAge: Duration.hours(1),
  /** How long an undelivered alarm event stays in the dead-letter queue. */
  deadLetterRetention: Duration.days(14),
} as const;

/**
 * Delivery of execution status changes to the cleanup function: EventBridge's most patient
 * retry policy (185 attempts, 24 h) for events it cannot hand to Lambda (throttling, Lambda
 * unavailable), since it is the last path that rolls a release back.
 */
export const STOPPED_EVENT_DELIVERY = {
  retryAttempts: 185,
  maxEventAge: Duration.hours(24),
} as const;

/**
 * EventBridge invokes Lambda asynchronously: its retry policy covers delivery only. A function
 * error (the table or the cluster unreachable) is retried by Lambda's asynchronous invocation,
 * at most twice (about 1 and 2 minutes later), with events kept up to 6 hours; an event that
 * still fails goes to the dead-letter queue, whose alarm pages a person.
 */
export const FUNCTION_ERROR_RETRIES = { retryAttempts: 2, maxEventAge: Duration.hours(6) } as const;

/** Lambda's own retries of a failing event function, then the dead-letter queue. */
export function retryFunctionErrors(fn: IFunction, deadLetterQueue: sqs.IQueue): void {
  fn.configureAsyncInvoke({
    retryAttempts: FUNCTION_ERROR_RETRIES.retryAttempts,
    maxEventAge: FUNCTION_ERROR_RETRIES.maxEventAge,
    onFailure: new destinations.SqsDestination(deadLetterQueue),
  });
}

/**
 * EventBridge's default quota on the size of an event pattern, in characters (adjustable to
 * 4,096). The alarm ARNs are spread over as many rules as needed to stay under it.
 */
export const EVENT_PATTERN_MAX_CHARS = 2048;

/** Longest an alarm ARN's fixed parts can be (10-character partition, 14-character region). */
const ARN_PREFIX_MAX_CHARS = 'arn:aws-us-gov:cloudwatch:ap-southeast-7:123456789012:alarm:'.length;
/** CloudWatch's limit on alarm names, assumed for alarms whose name is not known at synth. */
const ALARM_NAME_MAX_CHARS = 255;

/** Props of {@link AlarmRollbackRule}. */
export interface AlarmRollbackRuleProps {
  /** The alarms whose ALARM state is sent to the function (all services). */
  readonly alarms: readonly cw.IAlarm[];
  /** The function that rolls back (critical) or notifies (warning). */
  readonly handler: IFunction;
  /** Where the dead-letter alarm notifies a person. */
  readonly topic: sns.ITopic;
}

/**
 * Alarm to rollback: an EventBridge rule matches "CloudWatch Alarm State Change" events of the
 * service alarms entering ALARM and invokes the alarm-rollback function, with delivery retries,
 * Lambda's retries of function errors ({@link FUNCTION_ERROR_RETRIES}) and a dead-letter queue. Many alarms are spread over several such rules (event patterns are limited
 * to {@link EVENT_PATTERN_MAX_CHARS} characters). The DLQ has its own alarm, which notifies the topic directly: an alarm event
 * that never reached the function is a rollback that did not happen.
 */
export class AlarmRollbackRule extends Construct {
  /** The rules; more than one only when the alarm ARNs do not fit one event pattern. */
  readonly rules: readonly events.Rule[];
  readonly deadLetterQueue: sqs.Queue;
  readonly deadLetterAlarm: cw.Alarm;

  constructor(scope: Construct, id: string, props: AlarmRollbackRuleProps) {
    super(scope, id);
    if (props.alarms.length === 0) {
      throw new Error(
        "AlarmRollbackRule: alarms is empty; an event rule without alarm ARNs would match nothing. Pass the services' alarms.",
      );
    }
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: ALARM_EVENT_DELIVERY.deadLetterRetention,
    });
    acknowledgeNag(
      this.deadLetterQueue,
      'AwsSolutions-SQS3',
      undefined,
      'This queue is itself the dead-letter queue of the EventBridge target; cdk-nag only recognises SQS redrive policies.',
    );

    retryFunctionErrors(props.handler, this.deadLetterQueue);
    const rules: events.Rule[] = [];
    for (const [i, chunk] of chunkByPatternSize(props.alarms).entries()) {
      const rule = new events.Rule(this, i === 0 ? 'Rule' : `Rule${i + 1}`, {
        description: 'tps-deploy: service alarm entered ALARM -> roll back (critical) or notify (warning)',
        eventPattern: {
          source: ['aws.cloudwatch'],
          detailType: ['CloudWatch Alarm State Change'],
          resources: chunk.map((a) => a.alarmArn),
          detail: { state: { value: ['ALARM'] } },
        },
      });
      rule.addTarget(
        new targets.LambdaFunction(props.handler, {
          retryAttempts: ALARM_EVENT_DELIVERY.retryAttempts,
          maxEventAge: ALARM_EVENT_DELIVERY.maxEventAge,
          deadLetterQueue: this.deadLetterQueue,
        }),
      );
      rules.push(rule);
    }
    this.rules = rules;

    this.deadLetterAlarm = new cw.Alarm(this, 'DeadLetterAlarm', {
      alarmDescription:
        '[critical] An alarm or execution status event could not be delivered, or its function failed three times: a rollback may not have happened. Check the dead-letter queue and the function logs; tps-deploy abort <id> (a release still RUNNING) or tps-deploy rollback finishes it.',
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: cw.Stats.MAXIMUM,
      }),
      threshold: 1,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
    });
    this.deadLetterAlarm.addAlarmAction(new actions.SnsAction(props.topic));
  }
}

/**
 * Splits the alarms so that each rule's event pattern stays under the size quota, counting each
 * ARN at its longest (any partition, region and account) and its name as written, or at
 * CloudWatch's maximum when the name is only known at deploy time.
 */
export function chunkByPatternSize(
  alarms: readonly cw.IAlarm[],
  maxChars = EVENT_PATTERN_MAX_CHARS,
): cw.IAlarm[][] {
  const base = JSON.stringify({
    source: ['aws.cloudwatch'],
    'detail-type': ['CloudWatch Alarm State Change'],
    resources: [],
    detail: { state: { value: ['ALARM'] } },
  }).length;
  const chunks: cw.IAlarm[][] = [];
  let current: cw.IAlarm[] = [];
  let size = base;
  for (const alarm of alarms) {
    const cost = ARN_PREFIX_MAX_CHARS + nameLength(alarm) + 3; // quotes and comma
    if (base + cost > maxChars) {
      throw new Error(
        `AlarmRollbackRule: alarm ${alarm.node.path} alone does not fit an event pattern of ${maxChars} characters. Shorten its name.`,
      );
    }
    if (size + cost > maxChars) {
      chunks.push(current);
      current = [];
      size = base;
    }
    current.push(alarm);
    size += cost;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

function nameLength(alarm: cw.IAlarm): number {
  const cfn = alarm.node.defaultChild;
  const name = cfn instanceof cw.CfnAlarm ? cfn.alarmName : undefined;
  return typeof name === 'string' && !Token.isUnresolved(name) ? name.length : ALARM_NAME_MAX_CHARS;
}

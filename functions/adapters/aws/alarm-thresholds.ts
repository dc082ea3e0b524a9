import {
  type CloudWatchClient,
  DescribeAlarmsCommand,
  ListTagsForResourceCommand,
  type MetricAlarm,
  PutMetricAlarmCommand,
  type PutMetricAlarmInput,
  type Tag,
  TagResourceCommand,
  UntagResourceCommand,
} from '@aws-sdk/client-cloudwatch';
import { AwsTransientError, ConfigError } from '../../domain/errors.js';
import type { AlarmThresholds } from '../../ports/alarms.js';
import { describeError, isTransientAwsError } from './errors.js';

// ---- pure: what to change -----------------------------------------------------------------------

/**
 * Tags tps-deploy puts on a latency alarm while its threshold is the release's: the configured
 * threshold to put back, and the threshold tps-deploy applied. PutMetricAlarm ignores `Tags` when
 * it updates an existing alarm, so they are written with TagResource and removed with
 * UntagResource.
 */
export const THRESHOLD_TAGS = {
  configured: 'tps-deploy:configured-threshold',
  applied: 'tps-deploy:applied-threshold',
} as const;

/** The two marks, read back from the alarm's tags. */
export interface ThresholdMarks {
  readonly configured: number;
  readonly applied: number;
}

/** The marks among an alarm's tags; null unless both are present and numeric. */
export function readMarks(tags: readonly Tag[] | undefined): ThresholdMarks | null {
  const value = (key: string) => {
    const raw = tags?.find((t) => t.Key === key)?.Value;
    const n = raw === undefined || raw.trim() === '' ? Number.NaN : Number(raw);
    return Number.isFinite(n) ? n : null;
  };
  const configured = value(THRESHOLD_TAGS.configured);
  const applied = value(THRESHOLD_TAGS.applied);
  return configured === null || applied === null ? null : { configured, applied };
}

/** The tags that mark an alarm as set by tps-deploy. */
export function marksToTags(marks: ThresholdMarks): Tag[] {
  return [
    { Key: THRESHOLD_TAGS.configured, Value: String(marks.configured) },
    { Key: THRESHOLD_TAGS.applied, Value: String(marks.applied) },
  ];
}

/** What setting a threshold does to an alarm whose threshold is `current`. */
export interface SetPlan {
  /** The alarm's configured threshold: what a restore puts back. */
  readonly configured: number;
  /** Marks to write (before the threshold, so a failed update still restores exactly); null: none. */
  readonly marks: ThresholdMarks | null;
  /** The threshold to put; null when the alarm already has it. */
  readonly put: number | null;
}

/**
 * Setting `wanted` on an alarm at `current` with these marks. While the alarm still has the
 * threshold tps-deploy applied, the marked configured threshold stands (a retried step, or a
 * release whose end never restored, does not mistake the release's threshold for the configured
 * one). When its threshold is anything else, someone reconfigured it since (a deploy, a person):
 * the current threshold is the configured one.
 */
export function planSet(current: number, marks: ThresholdMarks | null, wanted: number): SetPlan {
  const configured = marks !== null && marks.applied === current ? marks.configured : current;
  const upToDate = marks !== null && marks.configured === configured && marks.applied === wanted;
  return {
    configured,
    marks: upToDate ? null : { configured, applied: wanted },
    put: current === wanted ? null : wanted,
  };
}

/** What restoring does to an alarm at `current` with these marks. */
export interface RestorePlan {
  /** The threshold to put back; null when there is nothing to put. */
  readonly put: number | null;
  /** Remove the marks (they exist). */
  readonly unmark: boolean;
}

/**
 * Restoring an alarm at `current`: the configured threshold goes back only while the alarm still
 * has the threshold tps-deploy applied; a threshold someone set since is theirs and stays.
 */
export function planRestore(current: number, marks: ThresholdMarks | null): RestorePlan {
  if (marks === null) return { put: null, unmark: false };
  const put = marks.applied === current && marks.configured !== current ? marks.configured : null;
  return { put, unmark: true };
}

type SharedField = keyof MetricAlarm & keyof PutMetricAlarmInput;

/** Fails to compile, naming the field, when a field both shapes have is left out of `fields`. */
function everySharedField<const T extends readonly SharedField[]>(
  fields: T &
    ([Exclude<SharedField, T[number]>] extends [never]
      ? unknown
      : { missing: Exclude<SharedField, T[number]> }),
): T {
  return fields;
}

/**
 * Every field DescribeAlarms returns (MetricAlarm) that PutMetricAlarm takes back. PutMetricAlarm
 * replaces the whole configuration, so a field left out would be reset; the compiler checks this
 * list against the SDK's two shapes, so an SDK that adds a field fails the build until it is here.
 */
export const ALARM_CONFIG_FIELDS = everySharedField([
  'AlarmName',
  'AlarmDescription',
  'ActionsEnabled',
  'OKActions',
  'AlarmActions',
  'InsufficientDataActions',
  'MetricName',
  'Namespace',
  'Statistic',
  'ExtendedStatistic',
  'Dimensions',
  'Period',
  'Unit',
  'EvaluationPeriods',
  'DatapointsToAlarm',
  'Threshold',
  'ComparisonOperator',
  'TreatMissingData',
  'EvaluateLowSampleCountPercentile',
  'Metrics',
  'ThresholdMetricId',
  'EvaluationWindow',
  'WarmUpConfiguration',
  'EvaluationCriteria',
  'EvaluationInterval',
  'ActionConfiguration',
]);

/** The PutMetricAlarm input that keeps every described field and changes only the threshold. */
export function withThreshold(alarm: MetricAlarm, threshold: number): PutMetricAlarmInput {
  const input: Record<string, unknown> = {};
  for (const field of ALARM_CONFIG_FIELDS) {
    if (alarm[field] !== undefined) input[field] = alarm[field];
  }
  input.Threshold = threshold;
  return input as unknown as PutMetricAlarmInput;
}

// ---- the adapter ----------------------------------------------------------------------------------

/** Where the latency alarms are. */
export interface CloudWatchAlarmThresholdsProps {
  /** A CloudWatch client (its retry settings apply before errors become AwsTransientError). */
  readonly client: CloudWatchClient;
  /** The latency alarm of a service: `alarmName(appName, service, 'latency')`. */
  readonly alarmNameOf: (service: string) => string;
}

/**
 * The latency alarm's threshold in CloudWatch: DescribeAlarms, then PutMetricAlarm with every
 * described field and only `Threshold` changed. The configured threshold is kept on the alarm
 * itself ({@link THRESHOLD_TAGS}), so a restore from another function, or after a failed one, puts
 * back exactly the configured value. IAM: cloudwatch:DescribeAlarms, PutMetricAlarm,
 * ListTagsForResource, TagResource and UntagResource on the latency alarms.
 *
 * Throttling and server errors after the SDK's retries become AwsTransientError; anything else
 * (access denied, a malformed alarm) is thrown as the SDK raised it.
 */
export class CloudWatchAlarmThresholds implements AlarmThresholds {
  constructor(private readonly props: CloudWatchAlarmThresholdsProps) {}

  async setLatencyThreshold(service: string, thresholdMs: number): Promise<{ previous: number | null }> {
    if (!(Number.isFinite(thresholdMs) && thresholdMs > 0)) {
      throw new ConfigError(
        `latency threshold for ${service} must be a positive number (got ${thresholdMs})`,
      );
    }
    const alarm = await this.describe(service);
    if (!alarm) return { previous: null };
    const current = thresholdOf(alarm);
    const plan = planSet(current, await this.marks(alarm), thresholdMs);
    const arn = alarm.AlarmArn!;
    if (plan.marks) {
      await this.call('TagResource', alarm.AlarmName, () =>
        this.props.client.send(new TagResourceCommand({ ResourceARN: arn, Tags: marksToTags(plan.marks!) })),
      );
    }
    if (plan.put !== null) {
      const put = plan.put;
      await this.call('PutMetricAlarm', alarm.AlarmName, () =>
        this.props.client.send(new PutMetricAlarmCommand(withThreshold(alarm, put))),
      );
    }
    return { previous: plan.configured };
  }

  async restore(service: string): Promise<void> {
    const alarm = await this.describe(service);
    if (!alarm) return;
    const plan = planRestore(thresholdOf(alarm), await this.marks(alarm));
    if (plan.put !== null) {
      const put = plan.put;
      await this.call('PutMetricAlarm', alarm.AlarmName, () =>
        this.props.client.send(new PutMetricAlarmCommand(withThreshold(alarm, put))),
      );
    }
    // Marks go last: a failed put leaves them, and the retried restore still knows the value.
    if (plan.unmark) {
      await this.call('UntagResource', alarm.AlarmName, () =>
        this.props.client.send(
          new UntagResourceCommand({
            ResourceARN: alarm.AlarmArn!,
            TagKeys: [THRESHOLD_TAGS.configured, THRESHOLD_TAGS.applied],
          }),
        ),
      );
    }
  }

  private async describe(service: string): Promise<MetricAlarm | null> {
    const name = this.props.alarmNameOf(service);
    const out = await this.call('DescribeAlarms', name, () =>
      this.props.client.send(new DescribeAlarmsCommand({ AlarmNames: [name], AlarmTypes: ['MetricAlarm'] })),
    );
    const alarm = out.MetricAlarms?.find((a) => a.AlarmName === name) ?? null;
    if (alarm && !alarm.AlarmArn) {
      throw new ConfigError(`DescribeAlarms returned alarm ${name} without an AlarmArn`);
    }
    return alarm;
  }

  private async marks(alarm: MetricAlarm): Promise<ThresholdMarks | null> {
    const out = await this.call('ListTagsForResource', alarm.AlarmName, () =>
      this.props.client.send(new ListTagsForResourceCommand({ ResourceARN: alarm.AlarmArn! })),
    );
    return readMarks(out.Tags);
  }

  private async call<T>(action: string, alarm: string | undefined, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      if (isTransientAwsError(error)) {
        throw new AwsTransientError(
          `CloudWatch ${action} on alarm ${alarm} failed: ${describeError(error)}`,
          {
            cause: error,
          },
        );
      }
      throw error;
    }
  }
}

function thresholdOf(alarm: MetricAlarm): number {
  if (typeof alarm.Threshold !== 'number') {
    throw new ConfigError(
      `alarm ${alarm.AlarmName} has no static threshold (ThresholdMetricId ${alarm.ThresholdMetricId ?? 'unset'}); a latency alarm must compare p99 with a fixed threshold`,
    );
  }
  return alarm.Threshold;
}

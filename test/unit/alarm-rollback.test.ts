/**
 * The alarm side that cannot run here: the EventBridge events' shape (fixtures in the documented
 * AWS shape, test/fixtures/alarm-events) and the CloudWatch adapter that moves the p99 alarm's
 * threshold, against aws-sdk-client-mock with DescribeAlarms / ListTagsForResource answers in the
 * documented response shapes. The behaviour of the alarm function itself runs on the local
 * cluster: test/integration/alarm-rollback.test.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import {
  CloudWatchClient,
  DescribeAlarmsCommand,
  type DescribeAlarmsCommandOutput,
  ListTagsForResourceCommand,
  type MetricAlarm,
  PutMetricAlarmCommand,
  type Tag,
  TagResourceCommand,
  UntagResourceCommand,
} from '@aws-sdk/client-cloudwatch';
import { beforeEach, describe, expect, it } from '@jest/globals';
import { mockClient } from 'aws-sdk-client-mock';
import {
  ALARM_CONFIG_FIELDS,
  CloudWatchAlarmThresholds,
  planRestore,
  planSet,
  readMarks,
  THRESHOLD_TAGS,
  withThreshold,
} from '../../functions/adapters/aws/alarm-thresholds.js';
import { alarmEventSchema, alarmName, parseAlarmName } from '../../functions/domain/alarms.js';
import { ERROR_NAMES } from '../../functions/domain/errors.js';

const FIXTURES = new URL('../fixtures/alarm-events/', import.meta.url);
const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8'));

describe('alarm event fixtures', () => {
  const valid = readdirSync(FIXTURES).filter((f) => f.endsWith('.json') && f !== 'malformed.json');

  it.each(valid)('%s has the documented shape and parses', (name) => {
    const raw = fixture(name) as Record<string, unknown>;
    // The envelope fields the AWS CloudWatch user guide documents for every alarm event.
    expect(Object.keys(raw).sort()).toEqual(
      ['account', 'detail', 'detail-type', 'id', 'region', 'resources', 'source', 'time', 'version'].sort(),
    );
    const ev = alarmEventSchema.parse(raw);
    expect(ev.resources[0]).toMatch(
      new RegExp(`^arn:aws:cloudwatch:[a-z0-9-]+:\\d{12}:alarm:${ev.detail.alarmName}$`),
    );
    const detail = (raw as { detail: { configuration: { metrics: unknown[] } } }).detail;
    expect(detail.configuration.metrics.length).toBeGreaterThan(0);
    if (ev.detail.state.reasonData !== undefined) {
      // reasonData is a JSON document inside a string.
      expect(JSON.parse(ev.detail.state.reasonData)).toEqual(expect.objectContaining({ version: '1.0' }));
    }
  });

  it("our fixtures carry our alarms' deterministic names; the documented examples are other alarms", () => {
    const services = ['shop'];
    const of = (name: string) =>
      parseAlarmName('tps-test', alarmEventSchema.parse(fixture(name)).detail.alarmName, services);
    expect(of('latency-alarm.json')).toEqual({ service: 'shop', signal: 'latency' });
    expect(of('error-rate-alarm.json')).toEqual({ service: 'shop', signal: 'errorRate' });
    expect(of('metrics-missing-alarm.json')).toEqual({ service: 'shop', signal: 'metricsMissing' });
    expect(of('documented-single-metric.json')).toBeNull();
    expect(of('documented-metric-math.json')).toBeNull();
    expect(alarmName('tps-test', 'shop', 'latency')).toBe('tps-test-shop-latency');
  });

  it('the metric-math fixture keeps the expression and its metrics as CloudWatch sends them', () => {
    const raw = fixture('error-rate-alarm.json') as {
      detail: { configuration: { metrics: { id: string; expression?: string; returnData: boolean }[] } };
    };
    const metrics = raw.detail.configuration.metrics;
    expect(metrics.filter((m) => m.returnData).map((m) => m.expression)).toEqual([
      'IF(requests > 0, FILL(errors, 0) / requests, 0)',
    ]);
    expect(metrics.map((m) => m.id).sort()).toEqual(['errors', 'expr_1', 'requests']);
  });

  it('the malformed fixture fails on every bad field', () => {
    const parsed = alarmEventSchema.safeParse(fixture('malformed.json'));
    expect(parsed.success).toBe(false);
    const paths = parsed.error!.issues.map((i) => i.path.join('.')).sort();
    expect(paths).toEqual(
      [
        'detail-type',
        'source',
        'resources',
        'detail.alarmName',
        'detail.state.value',
        'detail.state.timestamp',
      ].sort(),
    );
  });
});

describe('threshold plans', () => {
  const marks = (configured: number, applied: number) => ({ configured, applied });

  it.each([
    // current, marks, wanted -> configured, marks written, put
    ['a configured alarm', 900, null, 654, 900, marks(900, 654), 654],
    ['a retried set (already applied)', 654, marks(900, 654), 654, 900, null, null],
    ['an unrestored earlier release', 600, marks(900, 600), 654, 900, marks(900, 654), 654],
    ['a reconfigured alarm with stale marks', 1200, marks(900, 600), 654, 1200, marks(1200, 654), 654],
    ['a marks write whose put failed', 900, marks(900, 654), 654, 900, null, 654],
    ['a baseline equal to the configured threshold', 900, null, 900, 900, marks(900, 900), null],
  ] as const)('set on %s', (_, current, m, wanted, configured, written, put) => {
    expect(planSet(current, m, wanted)).toEqual({ configured, marks: written, put });
  });

  it.each([
    ['an armed alarm', 654, marks(900, 654), 900, true],
    ['an alarm never armed', 900, null, null, false],
    ['an alarm someone changed since', 700, marks(900, 654), null, true],
    ['an alarm armed at its configured value', 900, marks(900, 900), null, true],
    ['an alarm whose put failed after the marks', 900, marks(900, 654), null, true],
  ] as const)('restore of %s', (_, current, m, put, unmark) => {
    expect(planRestore(current, m)).toEqual({ put, unmark });
  });

  it('reads the marks only when both tags hold numbers', () => {
    const tag = (Key: string, Value: string): Tag => ({ Key, Value });
    expect(
      readMarks([
        tag('severity', 'critical'),
        tag(THRESHOLD_TAGS.configured, '900'),
        tag(THRESHOLD_TAGS.applied, '654.3'),
      ]),
    ).toEqual({ configured: 900, applied: 654.3 });
    expect(readMarks([tag(THRESHOLD_TAGS.configured, '900')])).toBeNull();
    expect(readMarks([tag(THRESHOLD_TAGS.configured, 'x'), tag(THRESHOLD_TAGS.applied, '654')])).toBeNull();
    expect(readMarks([tag(THRESHOLD_TAGS.configured, ''), tag(THRESHOLD_TAGS.applied, '654')])).toBeNull();
    expect(readMarks(undefined)).toBeNull();
  });
});

// ---- the CloudWatch adapter -----------------------------------------------------------------------

const cw = mockClient(CloudWatchClient);
const NAME = 'tps-test-shop-latency';
const ARN = `arn:aws:cloudwatch:us-east-1:123456789012:alarm:${NAME}`;
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:tps-test-notifications';

/**
 * The latency alarm as DescribeAlarms returns it (MetricAlarm, as in the CloudWatch API reference
 * and the AWS CLI's describe-alarms example): a single-metric p99 alarm as ServiceAlarms creates it,
 * plus the read-only state fields a describe carries.
 */
function latencyAlarm(threshold: number, extra: Partial<MetricAlarm> = {}): MetricAlarm {
  return {
    AlarmName: NAME,
    AlarmArn: ARN,
    AlarmDescription:
      '[critical] shop: p99 > 3x baseline for 2 minutes. p99 above 3x baseline for 120 s (initial baseline: the SLO, 300 ms). Rolls back.',
    AlarmConfigurationUpdatedTimestamp: new Date('2026-11-01T08:00:00.000Z'),
    ActionsEnabled: true,
    OKActions: [],
    AlarmActions: [TOPIC],
    InsufficientDataActions: [],
    StateValue: 'OK',
    StateReason:
      'Threshold Crossed: 2 out of the last 2 datapoints [231.8 (05/11/26 10:02:00), 224.5 (05/11/26 10:01:00)] were not greater than the threshold (900.0).',
    StateReasonData:
      '{"version":"1.0","queryDate":"2026-11-05T10:03:12.211+0000","startDate":"2026-11-05T10:01:00.000+0000","period":60,"recentDatapoints":[224.5,231.8],"threshold":900.0}',
    StateUpdatedTimestamp: new Date('2026-11-05T10:03:12.214Z'),
    StateTransitionedTimestamp: new Date('2026-11-05T10:03:12.214Z'),
    MetricName: 'LatencyMs',
    Namespace: 'TpsTest/Shop',
    ExtendedStatistic: 'p99',
    Dimensions: [{ Name: 'Service', Value: 'shop' }],
    Period: 60,
    EvaluationPeriods: 2,
    DatapointsToAlarm: 2,
    Threshold: threshold,
    ComparisonOperator: 'GreaterThanThreshold',
    TreatMissingData: 'notBreaching',
    EvaluateLowSampleCountPercentile: 'evaluate',
    ...extra,
  };
}

function described(...alarms: MetricAlarm[]): DescribeAlarmsCommandOutput {
  return { MetricAlarms: alarms, CompositeAlarms: [], $metadata: { httpStatusCode: 200 } };
}

function tagged(tags: Tag[]) {
  return {
    Tags: [{ Key: 'severity', Value: 'critical' }, { Key: 'tps-deploy:service', Value: 'shop' }, ...tags],
    $metadata: { httpStatusCode: 200 },
  };
}

const marksTags = (configured: number, applied: number): Tag[] => [
  { Key: THRESHOLD_TAGS.configured, Value: String(configured) },
  { Key: THRESHOLD_TAGS.applied, Value: String(applied) },
];

function adapter() {
  return new CloudWatchAlarmThresholds({
    client: new CloudWatchClient({ region: 'us-east-1' }),
    alarmNameOf: (service) => alarmName('tps-test', service, 'latency'),
  });
}

/** Command names in the order the adapter sent them. */
const sent = () => cw.calls().map((c) => (c.args[0] as object).constructor.name);
const putInput = () => cw.commandCalls(PutMetricAlarmCommand)[0]!.args[0].input;

/** What PutMetricAlarm must receive: every configuration field of the described alarm, one threshold changed. */
function expectedPut(alarm: MetricAlarm, threshold: number) {
  const {
    AlarmArn: _arn,
    AlarmConfigurationUpdatedTimestamp: _updated,
    StateValue: _value,
    StateReason: _reason,
    StateReasonData: _data,
    StateUpdatedTimestamp: _stateUpdated,
    StateTransitionedTimestamp: _transitioned,
    EvaluationState: _evaluation,
    ...config
  } = alarm;
  return { ...config, Threshold: threshold };
}

beforeEach(() => {
  cw.reset();
});

describe('CloudWatchAlarmThresholds.setLatencyThreshold', () => {
  it('marks the configured threshold, then puts the described alarm back with only the threshold changed', async () => {
    const alarm = latencyAlarm(900);
    cw.on(DescribeAlarmsCommand).resolves(described(alarm));
    cw.on(ListTagsForResourceCommand).resolves(tagged([]));
    cw.on(TagResourceCommand).resolves({});
    cw.on(PutMetricAlarmCommand).resolves({});

    await expect(adapter().setLatencyThreshold('shop', 654.3)).resolves.toEqual({ previous: 900 });

    expect(sent()).toEqual([
      'DescribeAlarmsCommand',
      'ListTagsForResourceCommand',
      'TagResourceCommand',
      'PutMetricAlarmCommand',
    ]);
    expect(cw.commandCalls(DescribeAlarmsCommand)[0]!.args[0].input).toEqual({
      AlarmNames: [NAME],
      AlarmTypes: ['MetricAlarm'],
    });
    expect(cw.commandCalls(ListTagsForResourceCommand)[0]!.args[0].input).toEqual({ ResourceARN: ARN });
    expect(cw.commandCalls(TagResourceCommand)[0]!.args[0].input).toEqual({
      ResourceARN: ARN,
      Tags: marksTags(900, 654.3),
    });
    expect(putInput()).toEqual(expectedPut(alarm, 654.3));
    // Nothing read-only (ARN, state, timestamps) goes into the update, and the p99 statistic,
    // actions, periods and missing-data treatment survive it.
    expect(Object.keys(putInput()).sort()).toEqual(
      Object.keys(alarm)
        .filter((k) => (ALARM_CONFIG_FIELDS as readonly string[]).includes(k))
        .sort(),
    );
    expect(putInput()).toEqual(
      expect.objectContaining({
        ExtendedStatistic: 'p99',
        AlarmActions: [TOPIC],
        EvaluationPeriods: 2,
        DatapointsToAlarm: 2,
        TreatMissingData: 'notBreaching',
      }),
    );
  });

  it('copies a metric-math alarm whole: its Metrics queries, no single-metric fields', async () => {
    const alarm = latencyAlarm(900, {
      MetricName: undefined,
      Namespace: undefined,
      ExtendedStatistic: undefined,
      Dimensions: undefined,
      Period: undefined,
      Metrics: [
        { Id: 'p99', Expression: 'MAX([stable, canary])', Label: 'p99 (worst version)', ReturnData: true },
        {
          Id: 'stable',
          MetricStat: {
            Metric: {
              Namespace: 'TpsTest/Shop',
              MetricName: 'LatencyMs',
              Dimensions: [
                { Name: 'Service', Value: 'shop' },
                { Name: 'Version', Value: 'v1' },
              ],
            },
            Period: 60,
            Stat: 'p99',
          },
          ReturnData: false,
        },
        {
          Id: 'canary',
          MetricStat: {
            Metric: {
              Namespace: 'TpsTest/Shop',
              MetricName: 'LatencyMs',
              Dimensions: [
                { Name: 'Service', Value: 'shop' },
                { Name: 'Version', Value: 'v2' },
              ],
            },
            Period: 60,
            Stat: 'p99',
          },
          ReturnData: false,
        },
      ],
    });
    cw.on(DescribeAlarmsCommand).resolves(described(alarm));
    cw.on(ListTagsForResourceCommand).resolves(tagged([]));
    cw.on(TagResourceCommand).resolves({});
    cw.on(PutMetricAlarmCommand).resolves({});

    await adapter().setLatencyThreshold('shop', 700);

    expect(putInput()).toEqual(expectedPut(alarm, 700));
    expect(putInput().Metrics).toEqual(alarm.Metrics);
    expect(putInput()).not.toHaveProperty('MetricName');
  });

  it('keeps the first configured threshold across a retried step: no second write', async () => {
    cw.on(DescribeAlarmsCommand).resolves(described(latencyAlarm(654)));
    cw.on(ListTagsForResourceCommand).resolves(tagged(marksTags(900, 654)));

    await expect(adapter().setLatencyThreshold('shop', 654)).resolves.toEqual({ previous: 900 });
    expect(sent()).toEqual(['DescribeAlarmsCommand', 'ListTagsForResourceCommand']);
  });

  it('after a release that never restored, still reports and keeps the configured threshold', async () => {
    cw.on(DescribeAlarmsCommand).resolves(described(latencyAlarm(600)));
    cw.on(ListTagsForResourceCommand).resolves(tagged(marksTags(900, 600)));
    cw.on(TagResourceCommand).resolves({});
    cw.on(PutMetricAlarmCommand).resolves({});

    await expect(adapter().setLatencyThreshold('shop', 654)).resolves.toEqual({ previous: 900 });
    expect(cw.commandCalls(TagResourceCommand)[0]!.args[0].input.Tags).toEqual(marksTags(900, 654));
    expect(putInput().Threshold).toBe(654);
  });

  it('changes nothing when the service has no latency alarm (synthetic metrics)', async () => {
    cw.on(DescribeAlarmsCommand).resolves(described());

    await expect(adapter().setLatencyThreshold('shop', 654)).resolves.toEqual({ previous: null });
    expect(sent()).toEqual(['DescribeAlarmsCommand']);
  });

  it('refuses an alarm without a static threshold (anomaly band) and a non-positive threshold', async () => {
    cw.on(DescribeAlarmsCommand).resolves(
      described(latencyAlarm(900, { Threshold: undefined, ThresholdMetricId: 'ad1' })),
    );
    cw.on(ListTagsForResourceCommand).resolves(tagged([]));
    await expect(adapter().setLatencyThreshold('shop', 654)).rejects.toMatchObject({
      name: ERROR_NAMES.config,
      message: expect.stringContaining('no static threshold'),
    });
    await expect(adapter().setLatencyThreshold('shop', 0)).rejects.toMatchObject({
      name: ERROR_NAMES.config,
    });
    await expect(adapter().setLatencyThreshold('shop', Number.NaN)).rejects.toMatchObject({
      name: ERROR_NAMES.config,
    });
    expect(cw.commandCalls(PutMetricAlarmCommand)).toHaveLength(0);
  });

  it('turns throttling into AwsTransientError and passes access denied through, writing nothing', async () => {
    cw.on(DescribeAlarmsCommand).rejects(
      Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: { httpStatusCode: 400 } }),
    );
    await expect(adapter().setLatencyThreshold('shop', 654)).rejects.toMatchObject({
      name: ERROR_NAMES.awsTransient,
      message: expect.stringContaining(`DescribeAlarms on alarm ${NAME}`),
    });

    cw.reset();
    cw.on(DescribeAlarmsCommand).resolves(described(latencyAlarm(900)));
    cw.on(ListTagsForResourceCommand).resolves(tagged([]));
    cw.on(TagResourceCommand).rejects(
      Object.assign(new Error('not authorized to perform: cloudwatch:TagResource'), {
        name: 'AccessDeniedException',
        $metadata: { httpStatusCode: 403 },
      }),
    );
    await expect(adapter().setLatencyThreshold('shop', 654)).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
    // The marks come first: without them the threshold is never changed.
    expect(cw.commandCalls(PutMetricAlarmCommand)).toHaveLength(0);
  });
});

describe('CloudWatchAlarmThresholds.restore', () => {
  it('puts the marked configured threshold back, every other field as described, then removes the marks', async () => {
    const alarm = latencyAlarm(654.3);
    cw.on(DescribeAlarmsCommand).resolves(described(alarm));
    cw.on(ListTagsForResourceCommand).resolves(tagged(marksTags(900, 654.3)));
    cw.on(PutMetricAlarmCommand).resolves({});
    cw.on(UntagResourceCommand).resolves({});

    await adapter().restore('shop');

    expect(sent()).toEqual([
      'DescribeAlarmsCommand',
      'ListTagsForResourceCommand',
      'PutMetricAlarmCommand',
      'UntagResourceCommand',
    ]);
    expect(putInput()).toEqual(expectedPut(alarm, 900));
    expect(cw.commandCalls(UntagResourceCommand)[0]!.args[0].input).toEqual({
      ResourceARN: ARN,
      TagKeys: [THRESHOLD_TAGS.configured, THRESHOLD_TAGS.applied],
    });
  });

  it('leaves a threshold someone changed since alone, and only removes the marks', async () => {
    cw.on(DescribeAlarmsCommand).resolves(described(latencyAlarm(700)));
    cw.on(ListTagsForResourceCommand).resolves(tagged(marksTags(900, 654)));
    cw.on(UntagResourceCommand).resolves({});

    await adapter().restore('shop');
    expect(sent()).toEqual(['DescribeAlarmsCommand', 'ListTagsForResourceCommand', 'UntagResourceCommand']);
  });

  it('is a no-op for an alarm never armed, and for a service without the alarm', async () => {
    cw.on(DescribeAlarmsCommand).resolves(described(latencyAlarm(900)));
    cw.on(ListTagsForResourceCommand).resolves(tagged([]));
    await adapter().restore('shop');
    expect(sent()).toEqual(['DescribeAlarmsCommand', 'ListTagsForResourceCommand']);

    cw.reset();
    cw.on(DescribeAlarmsCommand).resolves(described());
    await adapter().restore('shop');
    expect(sent()).toEqual(['DescribeAlarmsCommand']);
  });

  it('keeps the marks when the put fails, so the retried restore is exact', async () => {
    cw.on(DescribeAlarmsCommand).resolves(described(latencyAlarm(654)));
    cw.on(ListTagsForResourceCommand).resolves(tagged(marksTags(900, 654)));
    cw.on(PutMetricAlarmCommand).rejects(
      Object.assign(new Error('Service unavailable'), {
        name: 'ServiceUnavailable',
        $metadata: { httpStatusCode: 503 },
      }),
    );
    await expect(adapter().restore('shop')).rejects.toMatchObject({ name: ERROR_NAMES.awsTransient });
    expect(cw.commandCalls(UntagResourceCommand)).toHaveLength(0);
  });
});

describe('withThreshold', () => {
  it('changes only Threshold and leaves the described alarm untouched', () => {
    const alarm = latencyAlarm(900);
    const before = structuredClone(alarm);
    const input = withThreshold(alarm, 321);
    expect(input).toEqual(expectedPut(alarm, 321));
    expect(alarm).toEqual(before);
  });
});

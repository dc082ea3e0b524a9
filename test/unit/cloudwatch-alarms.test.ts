/**
 * The local CloudWatch's alarm evaluation (local/cloudwatch/): CloudWatch's rules for M out of N,
 * the evaluation range and missing data, the reasons it writes, metric math, and the state-change
 * events the local CloudWatch sends (one per change, with the configuration current at each
 * evaluation).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from '@jest/globals';
import { parseProfile, SyntheticMetricsSource } from '../../functions/adapters/synthetic/index.js';
import {
  type AlarmDefinition,
  AlarmDefinitionError,
  type MetricStat,
  parseAlarm,
  type TreatMissingData,
} from '../../local/cloudwatch/alarm-definition.js';
import {
  type AlarmStateValue,
  type Datapoint,
  EVALUATION_RANGE_EXTRA,
  evaluate,
  periodsAt,
} from '../../local/cloudwatch/evaluation.js';
import {
  checkPattern,
  type EventPatternError,
  matchesPattern,
} from '../../local/cloudwatch/event-pattern.js';
import {
  type AlarmStateChange,
  LocalCloudWatch,
  type MetricPublisher,
  publishedBy,
} from '../../local/cloudwatch/local-cloudwatch.js';
import { evaluateExpression, MetricMathError, parseExpression } from '../../local/cloudwatch/metric-math.js';
import { SyntheticMetricData, type TrafficTimeline } from '../../local/cloudwatch/synthetic-metrics.js';

const T0 = Date.parse('2026-11-02T10:00:00.000Z');
const min = (k: number) => new Date(T0 + k * 60_000);

/** A single-metric alarm as the template gives it (intrinsics resolved). */
function alarm(over: Record<string, unknown> = {}): AlarmDefinition {
  return parseAlarm(
    {
      AlarmName: 'app-svc-latency',
      AlarmDescription: '[critical] svc: p99',
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      Threshold: 10,
      TreatMissingData: 'missing',
      Namespace: 'Shop/Api',
      MetricName: 'Latency',
      Dimensions: [{ Name: 'Service', Value: 'svc' }],
      ExtendedStatistic: 'p99',
      Period: 60,
      ...over,
    },
    'Fallback',
  );
}

/**
 * Datapoints written as the CloudWatch guide's table writes them, oldest first: `0` not breaching,
 * `X` breaching, `-` missing; returned newest first for an evaluation at minute 10.
 */
function row(text: string): { points: Datapoint[]; at: Date } {
  const marks = text.split(' ');
  const at = min(10);
  const starts = periodsAt({ evaluationPeriods: marks.length - EVALUATION_RANGE_EXTRA, period: 60 }, at);
  const newestFirst = [...marks].reverse();
  return {
    at,
    points: starts.map((start, i) => ({
      start,
      value: newestFirst[i] === 'X' ? 20 : newestFirst[i] === '0' ? 1 : null,
    })),
  };
}

describe("evaluate: CloudWatch's missing-data table (3 of 3, evaluation range of 5)", () => {
  // CloudWatch user guide, "Configuring how CloudWatch alarms treat missing data": the table for
  // an alarm with EvaluationPeriods = DatapointsToAlarm = 3. "keep" = the state is retained.
  const table: [string, Record<TreatMissingData, AlarmStateValue | 'keep'>][] = [
    ['0 - X - X', { missing: 'OK', ignore: 'OK', breaching: 'OK', notBreaching: 'OK' }],
    ['0 - - - -', { missing: 'OK', ignore: 'OK', breaching: 'OK', notBreaching: 'OK' }],
    ['- - - - -', { missing: 'INSUFFICIENT_DATA', ignore: 'keep', breaching: 'ALARM', notBreaching: 'OK' }],
    ['0 X X - X', { missing: 'ALARM', ignore: 'ALARM', breaching: 'ALARM', notBreaching: 'ALARM' }],
    ['- - X - -', { missing: 'ALARM', ignore: 'keep', breaching: 'ALARM', notBreaching: 'OK' }],
  ];
  for (const [points, expected] of table) {
    for (const treat of ['missing', 'ignore', 'breaching', 'notBreaching'] as const) {
      for (const current of ['OK', 'ALARM'] as const) {
        const want = expected[treat] === 'keep' ? current : expected[treat];
        test(`${points}, ${treat}, from ${current}: ${want}`, () => {
          const { points: dps, at } = row(points);
          expect(evaluate(alarm({ TreatMissingData: treat }), current, dps, at).state).toBe(want);
        });
      }
    }
  }
});

describe('evaluate: M out of N', () => {
  const cases: [string, number, number, string, AlarmStateValue][] = [
    // [name, N, M, datapoints oldest first (range N + 2), expected]
    ['2 of 3 breaching, not consecutive', 3, 2, '0 0 X 0 X', 'ALARM'],
    ['1 of 3 breaching', 3, 2, '0 0 0 0 X', 'OK'],
    ['breaching datapoints older than the newest N do not count', 3, 2, 'X X 0 0 X', 'OK'],
    ['missing datapoints are skipped when N real ones remain in the range', 3, 2, 'X X - 0 -', 'ALARM'],
    ['2 of 2 breaching', 2, 2, '0 0 X X', 'ALARM'],
    ['the newest of 2 recovers', 2, 2, '0 X X 0', 'OK'],
    ['1 of 1', 1, 1, '0 0 X', 'ALARM'],
  ];
  for (const [name, n, m, points, expected] of cases) {
    test(`${name}: ${points} -> ${expected}`, () => {
      const { points: dps, at } = row(points);
      const def = alarm({ EvaluationPeriods: n, DatapointsToAlarm: m, TreatMissingData: 'notBreaching' });
      expect(evaluate(def, 'OK', dps, at).state).toBe(expected);
    });
  }

  test('the comparison operators: at the threshold only the "or equal" ones breach', () => {
    const { points, at } = row('- - X');
    const judged = (op: string) =>
      evaluate(
        alarm({ ComparisonOperator: op, EvaluationPeriods: 1, DatapointsToAlarm: 1 }),
        'OK',
        points.map((p) => ({ ...p, value: p.value === null ? null : 10 })),
        at,
      ).state;
    expect([
      judged('GreaterThanThreshold'),
      judged('GreaterThanOrEqualToThreshold'),
      judged('LessThanThreshold'),
      judged('LessThanOrEqualToThreshold'),
    ]).toEqual(['OK', 'ALARM', 'OK', 'ALARM']);
  });

  test("reason and reasonData in CloudWatch's form: the breaching datapoints newest first, the evaluated ones, the queryDate", () => {
    const at = min(10);
    const [p1, p2, p3, p4] = periodsAt({ evaluationPeriods: 2, period: 60 }, at);
    const def = alarm({ EvaluationPeriods: 2, DatapointsToAlarm: 2, Threshold: 0.01 });
    const r = evaluate(
      def,
      'OK',
      [
        { start: p1!, value: 0.0271 },
        { start: p2!, value: 0.0194 },
        { start: p3!, value: 0.0002 },
        { start: p4!, value: 0.0001 },
      ],
      at,
    );
    expect(r.state).toBe('ALARM');
    expect(r.reason).toBe(
      'Threshold Crossed: 2 out of the last 2 datapoints [0.0271 (02/11/26 10:09:00), 0.0194 (02/11/26 10:08:00)] were greater than the threshold (0.01) (minimum 2 datapoints for OK -> ALARM transition).',
    );
    expect(r.reasonData).toEqual({
      version: '1.0',
      queryDate: '2026-11-02T10:10:00.000+0000',
      startDate: '2026-11-02T10:08:00.000+0000',
      extendedStatistic: 'p99',
      period: 60,
      recentDatapoints: [0.0194, 0.0271],
      threshold: 0.01,
      evaluatedDatapoints: [
        { timestamp: '2026-11-02T10:09:00.000+0000', value: 0.0271 },
        { timestamp: '2026-11-02T10:08:00.000+0000', value: 0.0194 },
      ],
    });
    const back = evaluate(
      def,
      'ALARM',
      [
        { start: p1!, value: 0.0002 },
        { start: p2!, value: 0.03 },
        { start: p3!, value: null },
        { start: p4!, value: null },
      ],
      at,
    );
    expect(back.state).toBe('OK');
    expect(back.reason).toBe(
      'Threshold Crossed: 1 out of the last 2 datapoints [0.0002 (02/11/26 10:09:00)] was not greater than the threshold (0.01) (minimum 1 datapoint for ALARM -> OK transition).',
    );
  });

  test('periods are aligned to the period: an evaluation at 10:10:37 judges 10:09, 10:08, ...', () => {
    const starts = periodsAt({ evaluationPeriods: 2, period: 60 }, new Date(T0 + 10 * 60_000 + 37_000));
    expect(starts.map((d) => d.toISOString().slice(11, 19))).toEqual([
      '10:09:00',
      '10:08:00',
      '10:07:00',
      '10:06:00',
    ]);
  });
});

describe('metric math (the subset the stack uses)', () => {
  const errorRate = parseExpression('IF(requests > 0, FILL(errors, 0) / requests, 0)', [
    'requests',
    'errors',
  ]);
  const oom = parseExpression('FILL(stable, 0) + FILL(canary, 0)', ['stable', 'canary']);
  const cases: [string, Record<string, number | null>, number | null][] = [
    ['errors / requests', { requests: 200, errors: 5 }, 0.025],
    ['errors missing: FILL makes them 0', { requests: 200, errors: null }, 0],
    ['no requests datapoint: no datapoint', { requests: null, errors: 3 }, null],
    ['0 requests: 0', { requests: 0, errors: 0 }, 0],
  ];
  for (const [name, values, want] of cases) {
    test(`error rate: ${name}`, () => {
      expect(evaluateExpression(errorRate, (id) => values[id] ?? null)).toBe(want);
    });
  }
  test('OOM kills: the two FILLed metrics summed', () => {
    expect(evaluateExpression(oom, (id) => (id === 'canary' ? 1 : null))).toBe(1);
    expect(evaluateExpression(oom, () => null)).toBe(0);
  });
  test('arithmetic precedence, parentheses, negation and division by zero', () => {
    const e = parseExpression('-(a + b) * 2 / c', ['a', 'b', 'c']);
    expect(evaluateExpression(e, (id) => ({ a: 1, b: 2, c: 3 })[id] ?? null)).toBe(-2);
    expect(evaluateExpression(e, (id) => ({ a: 1, b: 2, c: 0 })[id] ?? null)).toBeNull();
  });
  test('other functions, unknown ids and stray tokens are refused by name', () => {
    expect(() => parseExpression('SUM(METRICS())', [])).toThrow(MetricMathError);
    expect(() => parseExpression('SUM(METRICS())', [])).toThrow(/METRICS\(0 arguments\).*supported: IF/);
    expect(() => parseExpression('ANOMALY_DETECTION_BAND(m1, 2)', ['m1'])).toThrow(/ANOMALY_DETECTION_BAND/);
    expect(() => parseExpression('errors / reqs', ['errors'])).toThrow(/"reqs" .* not a metric id/);
    expect(() => parseExpression('a ) b', ['a', 'b'])).toThrow(/unexpected "\)"/);
  });
});

describe('parseAlarm refuses forms the local CloudWatch cannot evaluate, naming every field', () => {
  test('an anomaly band, high-resolution period, unknown property and statistic at once', () => {
    let error: AlarmDefinitionError | undefined;
    try {
      alarm({
        ComparisonOperator: 'LessThanLowerOrGreaterThanUpperThreshold',
        Period: 10,
        ThresholdMetricId: 'ad1',
        ExtendedStatistic: undefined,
        Statistic: 'IQM',
        TreatMissingData: 'sometimes',
        DatapointsToAlarm: 5,
      });
    } catch (e) {
      error = e as AlarmDefinitionError;
    }
    expect(error).toBeInstanceOf(AlarmDefinitionError);
    const text = error!.message;
    for (const field of [
      'ThresholdMetricId',
      'ComparisonOperator',
      'Period',
      'Statistic "IQM"',
      'TreatMissingData',
      'DatapointsToAlarm (5)',
    ]) {
      expect(text).toContain(field);
    }
  });
  test('metric math: a MetricStat that returns data, two results, a mixed period and an unsupported function', () => {
    const stat = (id: string, period = 60, returnData = false) => ({
      Id: id,
      MetricStat: { Metric: { Namespace: 'N', MetricName: id }, Period: period, Stat: 'Sum' },
      ReturnData: returnData,
    });
    expect(() =>
      parseAlarm(
        {
          AlarmName: 'x',
          ComparisonOperator: 'GreaterThanThreshold',
          EvaluationPeriods: 1,
          Threshold: 1,
          Metrics: [{ Id: 'e1', Expression: 'RATE(a)', ReturnData: true }, stat('a'), stat('b', 300, true)],
        },
        'x',
      ),
    ).toThrow(
      /Metrics.2: a MetricStat that returns data.*exactly one entry with ReturnData true \(got 2\).*b has a period of 300 s.*RATE\(1 arguments\)/,
    );
  });
});

/** Datapoints from a table (minute -> value); nothing else published. */
class TableMetrics implements MetricPublisher {
  constructor(readonly values: Map<number, number>) {}
  publishes(m: MetricStat) {
    return m.namespace === 'Shop/Api';
  }
  problem() {
    return null;
  }
  datapoint(_m: MetricStat, start: Date) {
    return this.values.get((start.getTime() - T0) / 60_000) ?? null;
  }
}

function cloudwatch(
  values: Map<number, number>,
  defs: AlarmDefinition[] = [
    alarm({ EvaluationPeriods: 2, DatapointsToAlarm: 2, TreatMissingData: 'notBreaching' }),
  ],
) {
  const sent: unknown[] = [];
  const changes: AlarmStateChange[] = [];
  const cw = new LocalCloudWatch(defs, {
    data: publishedBy([new TableMetrics(values)]),
    send: async (e) => {
      sent.push(e);
    },
    start: new Date(T0),
  });
  cw.onStateChange((c) => changes.push(c));
  return { cw, sent, changes };
}

describe('LocalCloudWatch', () => {
  test('INSUFFICIENT_DATA -> OK -> ALARM -> OK: one event per change, none while a state holds', async () => {
    // 2 of 2 above 10: minutes 3 and 4 breach (ALARM at 10:05), minute 6 recovers (OK at 10:07).
    const values = new Map(
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((k) => [k, k === 3 || k === 4 || k === 5 ? 50 : 1]),
    );
    const { cw, sent, changes } = cloudwatch(values);
    await cw.evaluateUntil(min(10));
    expect(changes.map((c) => `${c.at.toISOString().slice(11, 16)} ${c.from}->${c.to}`)).toEqual([
      '10:01 INSUFFICIENT_DATA->OK',
      '10:05 OK->ALARM',
      '10:07 ALARM->OK',
    ]);
    expect(sent).toHaveLength(3);
    expect(cw.describe('app-svc-latency')?.state).toBe('OK');
  });

  test('a threshold changed between evaluations applies from the next one, with the state kept until then', async () => {
    const values = new Map(Array.from({ length: 10 }, (_, k) => [k, 700] as [number, number]));
    const { cw, changes } = cloudwatch(values, [
      alarm({ EvaluationPeriods: 2, DatapointsToAlarm: 2, Threshold: 900, TreatMissingData: 'notBreaching' }),
    ]);
    await cw.evaluateUntil(min(4));
    expect(cw.describe('app-svc-latency')?.state).toBe('OK');
    expect(cw.setThreshold('app-svc-latency', 600)).toBe(true);
    expect(cw.describe('app-svc-latency')?.state).toBe('OK');
    await cw.evaluateUntil(min(5));
    expect(changes.at(-1)).toMatchObject({ to: 'ALARM', at: min(5) });
    expect(changes.at(-1)?.reason).toContain('greater than the threshold (600)');
    cw.setThreshold('app-svc-latency', 900);
    await cw.evaluateUntil(min(6));
    expect(changes.at(-1)).toMatchObject({ from: 'ALARM', to: 'OK', at: min(6) });
    expect(cw.setThreshold('no-such-alarm', 1)).toBe(false);
  });

  test('PutMetricAlarm of a new alarm starts it in INSUFFICIENT_DATA; DeleteAlarms stops its evaluation', async () => {
    const values = new Map(Array.from({ length: 10 }, (_, k) => [k, 50] as [number, number]));
    const { cw, changes } = cloudwatch(values, []);
    await cw.evaluateUntil(min(2));
    cw.putMetricAlarm(alarm({ AlarmName: 'canary-latency', EvaluationPeriods: 1, DatapointsToAlarm: 1 }));
    expect(cw.describe('canary-latency')?.state).toBe('INSUFFICIENT_DATA');
    await cw.evaluateUntil(min(3));
    expect(changes.map((c) => `${c.alarm} ${c.to}`)).toEqual(['canary-latency ALARM']);
    cw.deleteAlarms(['canary-latency']);
    await cw.evaluateUntil(min(6));
    expect(cw.names()).toEqual([]);
    expect(changes).toHaveLength(1);
  });

  test("the event has the documented shape of a metric math alarm's state change", async () => {
    const values = new Map(Array.from({ length: 10 }, (_, k) => [k, k >= 3 ? 30 : 1] as [number, number]));
    const math = parseAlarm(
      {
        AlarmName: 'app-svc-errorRate',
        AlarmDescription: '[critical] svc: error rate',
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: 2,
        DatapointsToAlarm: 2,
        Threshold: 0.01,
        TreatMissingData: 'notBreaching',
        Metrics: [
          {
            Id: 'expr_1',
            Expression: 'IF(requests > 0, FILL(errors, 0) / requests, 0)',
            Label: 'error rate (ratio)',
            ReturnData: true,
          },
          {
            Id: 'requests',
            MetricStat: {
              Metric: {
                Namespace: 'Shop/Api',
                MetricName: 'RequestCount',
                Dimensions: [{ Name: 'Service', Value: 'svc' }],
              },
              Period: 60,
              Stat: 'Sum',
            },
            ReturnData: false,
          },
          {
            Id: 'errors',
            MetricStat: {
              Metric: {
                Namespace: 'Shop/Api',
                MetricName: 'ErrorCount',
                Dimensions: [{ Name: 'Service', Value: 'svc' }],
              },
              Period: 60,
              Stat: 'Sum',
            },
            ReturnData: false,
          },
        ],
      },
      'x',
    );
    // requests 100 per minute; errors 1 then 30 from minute 3: 1% (not above) then 30%.
    const data: MetricPublisher = {
      publishes: () => true,
      problem: () => null,
      datapoint: (m, start) =>
        m.metricName === 'RequestCount' ? 100 : (values.get((start.getTime() - T0) / 60_000) ?? null),
    };
    const sent: Record<string, unknown>[] = [];
    const cw = new LocalCloudWatch([math], {
      data,
      send: async (e) => void sent.push(e as never),
      start: new Date(T0),
    });
    await cw.evaluateUntil(min(6));
    const alarmEvent = sent.find(
      (e) => (e as { detail: { state: { value: string } } }).detail.state.value === 'ALARM',
    ) as never as {
      detail: {
        state: { reason: string; reasonData: string; timestamp: string };
        configuration: { metrics: unknown[] };
      };
      resources: string[];
    };
    expect(alarmEvent.resources).toEqual([
      'arn:aws:cloudwatch:us-east-1:123456789012:alarm:app-svc-errorRate',
    ]);
    expect(alarmEvent.detail.state.timestamp).toBe('2026-11-02T10:05:00.000+0000');
    expect(JSON.parse(alarmEvent.detail.state.reasonData).recentDatapoints).toEqual([0.3, 0.3]);
    expect(alarmEvent.detail.configuration.metrics).toEqual([
      {
        id: 'expr_1',
        expression: 'IF(requests > 0, FILL(errors, 0) / requests, 0)',
        label: 'error rate (ratio)',
        returnData: true,
      },
      {
        id: 'requests',
        metricStat: {
          metric: { namespace: 'Shop/Api', name: 'RequestCount', dimensions: { Service: 'svc' } },
          period: 60,
          stat: 'Sum',
        },
        returnData: false,
      },
      {
        id: 'errors',
        metricStat: {
          metric: { namespace: 'Shop/Api', name: 'ErrorCount', dimensions: { Service: 'svc' } },
          period: 60,
          stat: 'Sum',
        },
        returnData: false,
      },
    ]);
    // The same keys, at every level, as the guide's metric math example (whose previous state is
    // the initial one, which has no reasonData; a previous state from an evaluation has one).
    const documented = JSON.parse(
      readFileSync(new URL('../fixtures/alarm-events/documented-metric-math.json', import.meta.url), 'utf8'),
    );
    const shape = (v: unknown): unknown =>
      Array.isArray(v)
        ? shape(v[0])
        : v && typeof v === 'object'
          ? Object.fromEntries(
              Object.keys(v)
                .sort()
                .map((k) => [k, shape((v as Record<string, unknown>)[k])]),
            )
          : typeof v;
    const withoutPreviousData = JSON.parse(JSON.stringify(alarmEvent));
    expect(typeof withoutPreviousData.detail.previousState.reasonData).toBe('string');
    delete withoutPreviousData.detail.previousState.reasonData;
    expect(shape(withoutPreviousData)).toEqual(shape(documented));
  });

  test('alarms of a stack deployed before the run can start OK: no event until a real change', async () => {
    const values = new Map(
      Array.from({ length: 10 }, (_, k) => [k, k === 4 || k === 5 ? 50 : 1] as [number, number]),
    );
    const changes: AlarmStateChange[] = [];
    const cw = new LocalCloudWatch(
      [alarm({ EvaluationPeriods: 2, DatapointsToAlarm: 2, TreatMissingData: 'notBreaching' })],
      {
        data: publishedBy([new TableMetrics(values)]),
        send: async () => undefined,
        start: new Date(T0),
        initialState: 'OK',
      },
    );
    cw.onStateChange((c) => changes.push(c));
    await cw.evaluateUntil(min(8));
    expect(changes.map((c) => `${c.from}->${c.to}`)).toEqual(['OK->ALARM', 'ALARM->OK']);
  });

  test('a metric the source cannot read as asked is refused when the alarm is put', () => {
    const data: MetricPublisher = {
      publishes: () => true,
      problem: (m) => `no ${m.stat}`,
      datapoint: () => null,
    };
    expect(
      () => new LocalCloudWatch([alarm()], { data, send: async () => undefined, start: new Date(T0) }),
    ).toThrow(/app-svc-latency.*no p99/);
  });
});

describe('event patterns (the subset the rules use)', () => {
  const pattern = {
    source: ['aws.cloudwatch'],
    'detail-type': ['CloudWatch Alarm State Change'],
    resources: ['arn:a', 'arn:b'],
    detail: { state: { value: ['ALARM'] } },
  };
  const event = (over: Record<string, unknown> = {}, state = 'ALARM') => ({
    source: 'aws.cloudwatch',
    'detail-type': 'CloudWatch Alarm State Change',
    resources: ['arn:x', 'arn:b'],
    detail: { alarmName: 'n', state: { value: state, reason: 'r' } },
    ...over,
  });
  test.each([
    ['an ALARM event of a listed alarm (arrays intersect)', event(), true],
    ['an OK event', event({}, 'OK'), false],
    ['an unlisted alarm', event({ resources: ['arn:x'] }), false],
    ['another source', event({ source: 'aws.states' }), false],
    ['a field of the pattern missing from the event', event({ detail: { alarmName: 'n' } }), false],
    ['a number is not the same string', { ...event(), detail: { state: { value: 1 } } }, false],
  ])('%s: %s', (_name, e, want) => {
    expect(matchesPattern(pattern, e)).toBe(want);
  });
  test('content filters and other forms are refused, each named', () => {
    let error: EventPatternError | undefined;
    try {
      checkPattern({
        source: [{ prefix: 'aws.' }],
        detail: { status: [{ 'anything-but': 'OK' }], n: 3 },
        $or: [],
        x: [],
      });
    } catch (e) {
      error = e as EventPatternError;
    }
    expect(error?.issues).toEqual([
      'source.0: the content filter {"prefix":"aws."} is not supported locally (exact values only)',
      'detail.status.0: the content filter {"anything-but":"OK"} is not supported locally (exact values only)',
      'detail.n must be a list of values or an object (got 3)',
      '$or: $or is not supported locally',
      'x is an empty list (matches nothing)',
    ]);
  });
});

describe('SyntheticMetricData: the synthetic traffic as CloudWatch datapoints', () => {
  const profile = parseProfile({
    name: 'two-versions',
    seed: 5,
    rps: 200,
    canaryWeight: 50,
    versions: {
      stable: { errorRate: 0.001, latency: { p50Ms: 60, p99Ms: 220 } },
      canary: { errorRate: 0.05, latency: { p50Ms: 60, p99Ms: 220 } },
    },
  });
  const start = new Date(T0);
  const source = new SyntheticMetricsSource({ profile, deploymentStart: start });
  const timeline: TrafficTimeline = {
    id: 1,
    traffic: (a, b, of) => source.traffic(a, b, of),
    version: 'v2',
    previousVersion: 'v1',
  };
  const data = new SyntheticMetricData(
    [
      {
        service: 'svc',
        namespace: 'Shop/Api',
        requests: 'Requests',
        errors: 'Errors',
        latency: 'Latency',
        dimensions: { Service: 'svc' },
        versionDimension: 'Version',
      },
    ],
    () => timeline,
  );
  const metric = (name: string, stat: string, version?: string): MetricStat => ({
    namespace: 'Shop/Api',
    metricName: name,
    dimensions: { Service: 'svc', ...(version ? { Version: version } : {}) },
    period: 60,
    stat,
  });

  test("a version's datapoint is what a window over the same minute gives; the service is both versions", async () => {
    const w = await source.window({
      service: 'svc',
      start: min(3),
      end: min(4),
      canaryVersion: 'v2',
      stableVersion: 'v1',
    });
    expect(data.datapoint(metric('Requests', 'Sum', 'v2'), min(3))).toBe(w.canary?.requests);
    expect(data.datapoint(metric('Errors', 'Sum', 'v1'), min(3))).toBe(w.stable?.errors);
    expect(data.datapoint(metric('Latency', 'p99', 'v2'), min(3))).toBe(w.canary?.p99Ms);
    expect(data.datapoint(metric('Requests', 'Sum'), min(3))).toBe(
      (w.canary?.requests ?? 0) + (w.stable?.requests ?? 0),
    );
    expect(data.datapoint(metric('Requests', 'SampleCount'), min(3))).toBe(
      (w.canary?.requests ?? 0) + (w.stable?.requests ?? 0),
    );
    expect(data.datapoint(metric('Requests', 'Sum', 'v0'), min(3))).toBeNull();
  });

  test('other metrics are not published by it; other statistics of its metrics are refused', () => {
    expect(data.publishes(metric('CircuitBreakerOpen', 'Maximum'))).toBe(false);
    expect(data.publishes({ ...metric('Requests', 'Sum'), dimensions: { Service: 'other' } })).toBe(false);
    expect(data.problem(metric('Latency', 'Average'))).toMatch(/latency as pNN, SampleCount/);
    expect(data.problem(metric('Errors', 'p99'))).toMatch(/errors as Sum, SampleCount/);
    expect(data.problem(metric('Errors', 'Sum'))).toBeNull();
  });
});

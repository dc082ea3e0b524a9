import {
  CloudWatchClient,
  GetMetricDataCommand,
  type GetMetricDataCommandOutput,
  type MetricDataResult,
} from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { CloudWatchMetricsSource } from '../../functions/adapters/aws/cloudwatch-metrics.js';
import { parseCatalog } from '../../functions/domain/config.js';
import { ERROR_NAMES } from '../../functions/domain/errors.js';
import type { MetricsQuery } from '../../functions/ports/metrics.js';

const cw = mockClient(CloudWatchClient);

const catalog = parseCatalog({
  services: {
    api: {
      cluster: { name: 'prod', region: 'us-east-1' },
      namespace: 'shop',
      deployment: 'api',
      containers: ['app'],
      router: { type: 'replica-ratio', service: 'api' },
      slo: { p99Ms: 250 },
      metrics: {
        source: 'cloudwatch',
        namespace: 'Shop/Api',
        requests: 'RequestCount',
        errors: 'ErrorCount',
        latency: 'LatencyMs',
        dimensions: { Service: 'api' },
        versionDimension: 'Version',
      },
    },
    local: {
      cluster: { name: 'prod', region: 'us-east-1' },
      namespace: 'shop',
      deployment: 'local',
      containers: ['app'],
      router: { type: 'replica-ratio', service: 'local' },
      slo: { p99Ms: 250 },
      metrics: { source: 'synthetic' },
    },
  },
});

// A 10-minute canary window that does not start on a whole minute.
const query: MetricsQuery = {
  service: 'api',
  start: new Date('2026-11-02T10:00:20Z'),
  end: new Date('2026-11-02T10:10:40Z'),
  canaryVersion: 'v2.1.0',
  stableVersion: 'v2.0.0',
};
const START = Date.parse('2026-11-02T10:01:00Z');
const minute = (i: number) => new Date(START + i * 60_000);

function source(): CloudWatchMetricsSource {
  return new CloudWatchMetricsSource({
    client: new CloudWatchClient({ region: 'us-east-1' }),
    services: catalog.services,
  });
}

/** A MetricDataResult as the GetMetricData reference documents it. */
function result(
  id: string,
  values: number[],
  status: MetricDataResult['StatusCode'] = 'Complete',
  first = 0,
): MetricDataResult {
  return {
    Id: id,
    Label: id,
    Timestamps: values.map((_, i) => minute(first + i)),
    Values: values,
    StatusCode: status,
  };
}

/** Nine one-minute periods of healthy data for both versions, plus Container Insights. */
function healthy(): MetricDataResult[] {
  const nine = (v: number) => Array.from({ length: 9 }, () => v);
  return [
    result('canary_requests', nine(100)),
    result('canary_errors', [0, 0, 1, 0, 0, 0, 0, 0, 0]),
    result('canary_p50', nine(40)),
    result('canary_p99', [120, 130, 180, 120, 125, 121, 119, 140, 150]),
    result('canary_p50Window', [41]),
    result('canary_p99Window', [150]),
    result('canary_cpu', [35, 42, 38]),
    result('canary_memory', [50, 51]),
    result('stable_requests', nine(900)),
    result('stable_errors', nine(0)),
    result('stable_p50', nine(38)),
    result('stable_p99', nine(110)),
    result('stable_p50Window', [38]),
    result('stable_p99Window', [112]),
    result('stable_cpu', [30]),
    result('stable_memory', [45]),
    result('cluster_disk', [61, 64]),
  ];
}

function page(
  results: MetricDataResult[],
  extra: Partial<GetMetricDataCommandOutput> = {},
): GetMetricDataCommandOutput {
  return { MetricDataResults: results, Messages: [], $metadata: {}, ...extra } as GetMetricDataCommandOutput;
}

beforeEach(() => cw.reset());

describe('CloudWatchMetricsSource request', () => {
  it('asks once for both versions, told apart by the version dimension, in whole minutes', async () => {
    cw.on(GetMetricDataCommand).resolves(page(healthy()));
    await source().window(query);

    expect(cw).toHaveReceivedCommandTimes(GetMetricDataCommand, 1);
    const input = cw.commandCalls(GetMetricDataCommand)[0]!.args[0].input;
    expect(input.StartTime).toEqual(new Date('2026-11-02T10:01:00Z'));
    expect(input.EndTime).toEqual(new Date('2026-11-02T10:10:00Z'));
    expect(input.ScanBy).toBe('TimestampAscending');
    const byId = new Map(input.MetricDataQueries!.map((q) => [q.Id, q]));
    expect([...byId.keys()].sort()).toEqual(
      [
        'canary_requests',
        'canary_errors',
        'canary_p50',
        'canary_p99',
        'canary_p50Window',
        'canary_p99Window',
        'canary_cpu',
        'canary_memory',
        'stable_requests',
        'stable_errors',
        'stable_p50',
        'stable_p99',
        'stable_p50Window',
        'stable_p99Window',
        'stable_cpu',
        'stable_memory',
        'cluster_disk',
      ].sort(),
    );
    expect(byId.get('canary_requests')).toEqual({
      Id: 'canary_requests',
      Label: 'canary v2.1.0 requests',
      MetricStat: {
        Metric: {
          Namespace: 'Shop/Api',
          MetricName: 'RequestCount',
          Dimensions: [
            { Name: 'Service', Value: 'api' },
            { Name: 'Version', Value: 'v2.1.0' },
          ],
        },
        Period: 60,
        Stat: 'Sum',
      },
      ReturnData: true,
    });
    expect(byId.get('stable_errors')?.MetricStat).toMatchObject({
      Metric: {
        MetricName: 'ErrorCount',
        Dimensions: [
          { Name: 'Service', Value: 'api' },
          { Name: 'Version', Value: 'v2.0.0' },
        ],
      },
      Stat: 'Sum',
      Period: 60,
    });
    expect(byId.get('canary_p99')?.MetricStat).toMatchObject({
      Metric: { MetricName: 'LatencyMs' },
      Stat: 'p99',
      Period: 60,
    });
    expect(byId.get('stable_p50')?.MetricStat).toMatchObject({ Stat: 'p50', Period: 60 });
    // The whole (aligned) window as one period: 9 minutes.
    expect(byId.get('canary_p99Window')?.MetricStat).toMatchObject({ Stat: 'p99', Period: 540 });
    expect(byId.get('canary_cpu')?.MetricStat).toEqual({
      Metric: {
        Namespace: 'ContainerInsights',
        MetricName: 'pod_cpu_utilization',
        Dimensions: [
          { Name: 'ClusterName', Value: 'prod' },
          { Name: 'Namespace', Value: 'shop' },
          { Name: 'PodName', Value: 'api-tps-canary' },
        ],
      },
      Period: 60,
      Stat: 'Average',
    });
    expect(byId.get('stable_memory')?.MetricStat?.Metric?.Dimensions).toContainEqual({
      Name: 'PodName',
      Value: 'api',
    });
    expect(byId.get('cluster_disk')?.MetricStat).toMatchObject({
      Metric: {
        MetricName: 'node_filesystem_utilization',
        Dimensions: [{ Name: 'ClusterName', Value: 'prod' }],
      },
      Stat: 'Maximum',
    });
  });

  it('follows NextToken and joins the pages of each query', async () => {
    const all = healthy();
    const firstHalf = all.map((r) => ({
      ...r,
      Timestamps: r.Timestamps!.slice(0, 5),
      Values: r.Values!.slice(0, 5),
      StatusCode: 'PartialData' as const,
    }));
    const secondHalf = all.map((r) => ({
      ...r,
      Timestamps: r.Timestamps!.slice(5),
      Values: r.Values!.slice(5),
    }));
    cw.on(GetMetricDataCommand)
      .resolvesOnce(page(firstHalf, { NextToken: 'page-2' }))
      .resolvesOnce(page(secondHalf));

    const out = await source().window(query);

    expect(cw).toHaveReceivedCommandTimes(GetMetricDataCommand, 2);
    expect(cw.commandCalls(GetMetricDataCommand)[1]!.args[0].input.NextToken).toBe('page-2');
    expect(out.measurementErrors).toEqual([]);
    expect(out.canary?.requests).toBe(900);
    expect(out.canary?.p99Series).toEqual([120, 130, 180, 120, 125, 121, 119, 140, 150]);
  });
});

describe('CloudWatchMetricsSource results', () => {
  it('sums counts, takes window percentiles and builds per-period series', async () => {
    cw.on(GetMetricDataCommand).resolves(page(healthy()));
    const out = await source().window(query);

    expect(out.measurementErrors).toEqual([]);
    expect(out.canary).toEqual({
      requests: 900,
      errors: 1,
      errorRate: 1 / 900,
      p50Ms: 41,
      p99Ms: 150,
      rps: 900 / 540,
      cpu: 0.42,
      memory: 0.51,
      disk: 0.64,
      p99Series: [120, 130, 180, 120, 125, 121, 119, 140, 150],
      errorRateSeries: [0, 0, 0.01, 0, 0, 0, 0, 0, 0],
      requestSeries: Array.from({ length: 9 }, (_, i) => ({
        start: minute(i).toISOString(),
        seconds: 60,
        requests: 100,
      })),
    });
    expect(out.stable).toMatchObject({
      requests: 8100,
      errors: 0,
      errorRate: 0,
      p99Ms: 112,
      cpu: 0.3,
      disk: 0.64,
    });
  });

  it('falls back to the largest per-period p99 and request-weighted p50 when the window period is split', async () => {
    const results = healthy().map((r) => {
      if (r.Id === 'canary_p99Window') return result('canary_p99Window', [140, 160]);
      if (r.Id === 'canary_p50Window') return result('canary_p50Window', [40, 42]);
      if (r.Id === 'canary_requests')
        return result('canary_requests', [300, 100, 100, 100, 100, 100, 100, 0, 0]);
      if (r.Id === 'canary_p50') return result('canary_p50', [10, 50, 50, 50, 50, 50, 50, 90, 90]);
      return r;
    });
    cw.on(GetMetricDataCommand).resolves(page(results));
    const out = await source().window(query);
    expect(out.canary?.p99Ms).toBe(180);
    expect(out.canary?.p50Ms).toBeCloseTo((300 * 10 + 600 * 50) / 900, 10);
    // Periods without requests have no error rate.
    expect(out.canary?.errorRateSeries).toHaveLength(7);
  });

  it('reports every whole minute of the window per version, 0 requests where a minute has no data point', async () => {
    const results = healthy().map((r) =>
      r.Id === 'canary_requests'
        ? { ...r, Timestamps: [minute(0), minute(1), minute(5)], Values: [100, 90, 40] }
        : r,
    );
    cw.on(GetMetricDataCommand).resolves(page(results));
    const out = await source().window(query);
    // The window 10:00:20-10:10:40 is measured over the whole minutes 10:01-10:10.
    expect(out.canary?.requestSeries.map((p) => [p.start.slice(11, 16), p.seconds, p.requests])).toEqual([
      ['10:01', 60, 100],
      ['10:02', 60, 90],
      ['10:03', 60, 0],
      ['10:04', 60, 0],
      ['10:05', 60, 0],
      ['10:06', 60, 40],
      ['10:07', 60, 0],
      ['10:08', 60, 0],
      ['10:09', 60, 0],
    ]);
    expect(out.stable?.requestSeries.map((p) => p.requests)).toEqual(Array(9).fill(900));
  });

  it('records missing series as measurement errors, never as numbers that pass', async () => {
    cw.on(GetMetricDataCommand).resolves(
      page(
        healthy().map((r) =>
          r.Id === 'canary_requests' ||
          r.Id === 'stable_errors' ||
          r.Id?.endsWith('cpu') ||
          r.Id?.endsWith('memory') ||
          r.Id === 'cluster_disk'
            ? { ...r, Timestamps: [], Values: [] }
            : r,
        ),
      ),
    );
    const out = await source().window(query);

    expect(out.canary).toBeNull();
    expect(out.stable).toMatchObject({
      requests: 8100,
      errors: 0,
      errorRate: null,
      errorRateSeries: [],
      cpu: null,
      disk: null,
    });
    expect(out.measurementErrors).toEqual([
      'canary requests (Shop/Api/RequestCount{Service=api,Version=v2.1.0} Sum): no data in 2026-11-02T10:01:00.000Z..2026-11-02T10:10:00.000Z',
      'stable errors (Shop/Api/ErrorCount{Service=api,Version=v2.0.0} Sum): no data in 2026-11-02T10:01:00.000Z..2026-11-02T10:10:00.000Z',
    ]);
  });

  it('turns an empty response into measurement errors for every required query', async () => {
    cw.on(GetMetricDataCommand).resolves(page([]));
    const out = await source().window(query);
    expect(out.canary).toBeNull();
    expect(out.stable).toBeNull();
    expect(out.measurementErrors).toHaveLength(17);
    expect(out.measurementErrors.every((e) => e.endsWith('missing from the GetMetricData response'))).toBe(
      true,
    );
  });

  it.each([
    [
      'PartialData',
      'canary p99 (Shop/Api/LatencyMs{Service=api,Version=v2.1.0} p99): status PartialData: MaxDatapointsExceeded too many',
    ],
    [
      'InternalError',
      'canary p99 (Shop/Api/LatencyMs{Service=api,Version=v2.1.0} p99): status InternalError: MaxDatapointsExceeded too many',
    ],
  ] as const)('records a final %s status as a measurement error', async (status, message) => {
    cw.on(GetMetricDataCommand).resolves(
      page(
        healthy().map((r) =>
          r.Id === 'canary_p99'
            ? { ...r, StatusCode: status, Messages: [{ Code: 'MaxDatapointsExceeded', Value: 'too many' }] }
            : r,
        ),
      ),
    );
    const out = await source().window(query);
    expect(out.measurementErrors).toEqual([message]);
    expect(out.canary?.p99Series).toEqual([]);
    expect(out.canary?.p99Ms).toBe(150); // the window query itself was complete
  });

  it('records a failed Container Insights query, though its absence is fine', async () => {
    cw.on(GetMetricDataCommand).resolves(
      page(
        healthy().map((r) =>
          r.Id === 'stable_cpu' ? { ...r, StatusCode: 'Forbidden', Values: [], Timestamps: [] } : r,
        ),
      ),
    );
    const out = await source().window(query);
    expect(out.measurementErrors).toEqual([
      'stable cpu (ContainerInsights/pod_cpu_utilization{ClusterName=prod,Namespace=shop,PodName=api} Average): status Forbidden',
    ]);
    expect(out.stable?.cpu).toBeNull();
  });

  it('records top-level messages of the call', async () => {
    cw.on(GetMetricDataCommand).resolves(
      page(healthy(), { Messages: [{ Code: 'Throttled', Value: 'some queries were throttled' }] }),
    );
    const out = await source().window(query);
    expect(out.measurementErrors).toEqual(['GetMetricData: Throttled some queries were throttled']);
  });
});

describe('CloudWatchMetricsSource failures', () => {
  it('throws AwsTransientError when the whole call is still throttled after the SDK retries', async () => {
    cw.on(GetMetricDataCommand).rejects(
      Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: { httpStatusCode: 400 } }),
    );
    await expect(source().window(query)).rejects.toMatchObject({ name: ERROR_NAMES.awsTransient });
  });

  it('records any other failed call as a measurement error', async () => {
    cw.on(GetMetricDataCommand).rejects(
      Object.assign(new Error('User is not authorized to perform: cloudwatch:GetMetricData'), {
        name: 'AccessDenied',
        $metadata: { httpStatusCode: 403 },
      }),
    );
    const out = await source().window(query);
    expect(out).toEqual({
      canary: null,
      stable: null,
      measurementErrors: [
        'GetMetricData failed: AccessDenied: User is not authorized to perform: cloudwatch:GetMetricData',
      ],
    });
  });

  it('refuses to compare a version with itself without calling CloudWatch', async () => {
    const out = await source().window({ ...query, canaryVersion: 'v2.0.0' });
    expect(out.measurementErrors[0]).toMatch(/same version label "v2.0.0"/);
    expect(cw).toHaveReceivedCommandTimes(GetMetricDataCommand, 0);
  });

  it('says so when the window is shorter than a whole minute', async () => {
    const out = await source().window({
      ...query,
      start: new Date('2026-11-02T10:00:20Z'),
      end: new Date('2026-11-02T10:01:10Z'),
    });
    expect(out.measurementErrors).toEqual([
      'window 2026-11-02T10:01:00.000Z..2026-11-02T10:01:00.000Z is shorter than one whole minute; nothing to measure',
    ]);
    expect(cw).toHaveReceivedCommandTimes(GetMetricDataCommand, 0);
  });

  it('refuses services whose metrics are not in CloudWatch', async () => {
    await expect(source().window({ ...query, service: 'local' })).rejects.toMatchObject({
      name: ERROR_NAMES.config,
    });
    await expect(source().window({ ...query, service: 'nope' })).rejects.toMatchObject({
      name: ERROR_NAMES.config,
    });
  });
});

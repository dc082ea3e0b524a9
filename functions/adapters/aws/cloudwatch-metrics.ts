import {
  type CloudWatchClient,
  type Dimension,
  type MetricDataQuery,
  type MetricDataResult,
  paginateGetMetricData,
} from '@aws-sdk/client-cloudwatch';
import type { ServiceConfig } from '../../domain/config.js';
import { AwsTransientError, ConfigError } from '../../domain/errors.js';
import type { MetricsQuery, MetricsSource, VersionSeries, WindowMetrics } from '../../ports/metrics.js';
// The canary's Kubernetes name is what Container Insights reports; the label module has no runtime dependency.
import { canaryName } from '../kubernetes/labels.js';
import { describeError, isTransientAwsError } from './errors.js';

/** The `metrics` block of a service whose source is CloudWatch. */
export type CloudWatchMetricsConfig = Extract<ServiceConfig['metrics'], { source: 'cloudwatch' }>;

/** Seconds per data point of the per-period series. */
export const METRICS_PERIOD_SECONDS = 60;
/** Namespace of the Container Insights metrics (EKS). */
export const CONTAINER_INSIGHTS_NAMESPACE = 'ContainerInsights';

export type Track = 'canary' | 'stable';
const TRACKS: readonly Track[] = ['canary', 'stable'];

/** What one query of the GetMetricData call measures. */
export interface QueryMeaning {
  readonly track: Track | 'cluster';
  readonly measure:
    | 'requests'
    | 'errors'
    | 'p50'
    | 'p99'
    | 'p50Window'
    | 'p99Window'
    | 'cpu'
    | 'memory'
    | 'disk';
  /** `Namespace/Metric{Dim=Value,...}` for measurement errors. */
  readonly metric: string;
  /** Container Insights may be absent: no data there is not a measurement error. */
  readonly optional: boolean;
}

/** The GetMetricData request of one window and what each query id means. */
export interface WindowRequest {
  /** Window start rounded up to the minute (data before it belongs to the previous phase). */
  readonly start: Date;
  /** Window end rounded down to the minute. */
  readonly end: Date;
  /** Seconds per data point of the per-period queries. */
  readonly periodSeconds: number;
  readonly queries: MetricDataQuery[];
  readonly meanings: ReadonlyMap<string, QueryMeaning>;
}

/** Who the Container Insights pods of a track are. */
export type PodNameOf = (service: ServiceConfig, track: Track) => string;

/**
 * Container Insights' `PodName` dimension carries the pod's workload name (the Deployment, not
 * the pod): the canary runs as `<deployment>-tps-canary`, the stable version as `<deployment>`.
 */
export const defaultPodName: PodNameOf = (svc, track) =>
  track === 'canary' ? canaryName(svc.deployment) : svc.deployment;

/**
 * Builds the one GetMetricData request of a window: for each version (told apart by the
 * versionDimension, whose value is the image tag) requests Sum, errors Sum, p50 and p99 per
 * period, p50 and p99 over the whole window (one period as long as the window, so CloudWatch
 * computes the window's percentiles from all its samples), Container Insights pod CPU and memory
 * (`pod_cpu_utilization`, `pod_memory_utilization` by ClusterName/Namespace/PodName, Average),
 * and the cluster's `node_filesystem_utilization` (ClusterName only: disk is per node, not per
 * version, so both versions get the cluster-wide value).
 */
export function buildWindowRequest(
  svc: ServiceConfig,
  query: MetricsQuery,
  options: { periodSeconds?: number; podName?: PodNameOf } = {},
): WindowRequest {
  const cfg = cloudWatchConfig(svc, query.service);
  const period = options.periodSeconds ?? METRICS_PERIOD_SECONDS;
  const podName = options.podName ?? defaultPodName;
  const start = new Date(Math.ceil(query.start.getTime() / 60_000) * 60_000);
  const end = new Date(Math.floor(query.end.getTime() / 60_000) * 60_000);
  const windowSeconds = Math.max(60, (end.getTime() - start.getTime()) / 1000);
  const cluster = cfg.containerInsightsCluster ?? svc.cluster.name;
  const queries: MetricDataQuery[] = [];
  const meanings = new Map<string, QueryMeaning>();

  const add = (
    id: string,
    meaning: Omit<QueryMeaning, 'metric'>,
    namespace: string,
    name: string,
    dims: Record<string, string>,
    stat: string,
    periodSeconds: number,
    label: string,
  ) => {
    const dimensions: Dimension[] = Object.entries(dims).map(([Name, Value]) => ({ Name, Value }));
    queries.push({
      Id: id,
      Label: label,
      MetricStat: {
        Metric: { Namespace: namespace, MetricName: name, Dimensions: dimensions },
        Period: periodSeconds,
        Stat: stat,
      },
      ReturnData: true,
    });
    const dimText = Object.entries(dims)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    meanings.set(id, { ...meaning, metric: `${namespace}/${name}{${dimText}} ${stat}` });
  };

  for (const track of TRACKS) {
    const version = track === 'canary' ? query.canaryVersion : query.stableVersion;
    const dims = { ...cfg.dimensions, [cfg.versionDimension]: version };
    const app = (measure: QueryMeaning['measure'], name: string, stat: string, p = period) =>
      add(
        `${track}_${measure}`,
        { track, measure, optional: false },
        cfg.namespace,
        name,
        dims,
        stat,
        p,
        `${track} ${version} ${measure}`,
      );
    app('requests', cfg.requests, 'Sum');
    app('errors', cfg.errors, 'Sum');
    app('p50', cfg.latency, 'p50');
    app('p99', cfg.latency, 'p99');
    app('p50Window', cfg.latency, 'p50', windowSeconds);
    app('p99Window', cfg.latency, 'p99', windowSeconds);
    const pods = { ClusterName: cluster, Namespace: svc.namespace, PodName: podName(svc, track) };
    for (const [measure, name] of [
      ['cpu', 'pod_cpu_utilization'],
      ['memory', 'pod_memory_utilization'],
    ] as const) {
      add(
        `${track}_${measure}`,
        { track, measure, optional: true },
        CONTAINER_INSIGHTS_NAMESPACE,
        name,
        pods,
        'Average',
        period,
        `${track} ${version} ${measure}`,
      );
    }
  }
  add(
    'cluster_disk',
    { track: 'cluster', measure: 'disk', optional: true },
    CONTAINER_INSIGHTS_NAMESPACE,
    'node_filesystem_utilization',
    { ClusterName: cluster },
    'Maximum',
    period,
    'cluster disk',
  );
  return { start, end, periodSeconds: period, queries, meanings };
}

function cloudWatchConfig(svc: ServiceConfig, service: string): CloudWatchMetricsConfig {
  if (svc.metrics.source !== 'cloudwatch') {
    throw new ConfigError(
      `service ${service} reads metrics from "${svc.metrics.source}", not CloudWatch; use the matching metrics source`,
    );
  }
  return svc.metrics;
}

/** One query's merged data, oldest first. */
interface Series {
  readonly points: { t: number; v: number }[];
  status: string;
  readonly messages: string[];
}

/**
 * Turns the (merged) results of a window request into per-version numbers. Failed, partial or
 * empty queries of the service's own metrics become measurement errors; so does Container
 * Insights data that failed (its mere absence does not: clusters without it get null CPU/memory).
 *
 * `requestSeries` has every period of the window; a period without a requests data point served
 * none (CloudWatch returns no point for a count with no data).
 *
 * Window percentiles come from the window-long queries. If CloudWatch split that period (more
 * than one data point), p99 falls back to the largest per-period p99 — an upper bound of the
 * window's p99, so the approximation errs towards failing — and p50 to the request-weighted mean
 * of the per-period p50s.
 */
export function summarizeWindow(
  request: WindowRequest,
  results: readonly MetricDataResult[],
  messages: readonly string[] = [],
): WindowMetrics {
  const errors: string[] = messages.map((m) => `GetMetricData: ${m}`);
  const series = mergeResults(results);
  const windowSeconds = (request.end.getTime() - request.start.getTime()) / 1000;
  const span = `${request.start.toISOString()}..${request.end.toISOString()}`;

  // Checks one query's outcome; returns its points, or null (and records why) when unusable.
  const usable = (id: string): { t: number; v: number }[] | null => {
    const meaning = request.meanings.get(id)!;
    const s = series.get(id);
    const what = `${meaning.track === 'cluster' ? 'cluster' : meaning.track} ${meaning.measure} (${meaning.metric})`;
    if (!s) {
      errors.push(`${what}: missing from the GetMetricData response`);
      return null;
    }
    if (s.status !== 'Complete') {
      const detail = s.messages.length > 0 ? `: ${s.messages.join('; ')}` : '';
      errors.push(`${what}: status ${s.status}${detail}`);
      return null;
    }
    if (s.points.length === 0) {
      if (!meaning.optional) errors.push(`${what}: no data in ${span}`);
      return null;
    }
    return s.points;
  };

  if (windowSeconds < 60) {
    errors.push(`window ${span} is shorter than one whole minute; nothing to measure`);
    return { canary: null, stable: null, measurementErrors: errors };
  }

  const diskPoints = usable('cluster_disk');
  const disk = diskPoints ? Math.max(...diskPoints.map((p) => p.v)) / 100 : null;

  const versions: Record<Track, VersionSeries | null> = { canary: null, stable: null };
  for (const track of TRACKS) {
    const requests = usable(`${track}_requests`);
    const errs = usable(`${track}_errors`);
    const p50 = usable(`${track}_p50`);
    const p99 = usable(`${track}_p99`);
    const p50w = usable(`${track}_p50Window`);
    const p99w = usable(`${track}_p99Window`);
    const cpu = usable(`${track}_cpu`);
    const memory = usable(`${track}_memory`);
    if (!requests) continue; // without a request count nothing else about this version can be judged

    const totalRequests = sum(requests);
    const totalErrors = errs ? sum(errs) : 0;
    const reqAt = new Map(requests.map((p) => [p.t, p.v]));
    const errAt = new Map((errs ?? []).map((p) => [p.t, p.v]));
    versions[track] = {
      requests: totalRequests,
      errors: totalErrors,
      errorRate: errs && totalRequests > 0 ? totalErrors / totalRequests : null,
      p50Ms: p50w?.length === 1 ? p50w[0]!.v : weightedMean(p50, reqAt),
      p99Ms: p99w?.length === 1 ? p99w[0]!.v : p99 ? Math.max(...p99.map((p) => p.v)) : null,
      rps: totalRequests / windowSeconds,
      cpu: cpu ? Math.max(...cpu.map((p) => p.v)) / 100 : null,
      memory: memory ? Math.max(...memory.map((p) => p.v)) / 100 : null,
      disk,
      p99Series: (p99 ?? []).map((p) => p.v),
      // Periods with requests; a period without an error data point had no errors.
      errorRateSeries: errs ? requests.filter((p) => p.v > 0).map((p) => (errAt.get(p.t) ?? 0) / p.v) : [],
      requestSeries: periodGrid(request).map((t) => ({
        start: new Date(t).toISOString(),
        seconds: Math.min(request.periodSeconds, (request.end.getTime() - t) / 1000),
        // A period without a data point served no requests (the metric is a count).
        requests: reqAt.get(t) ?? 0,
      })),
    };
  }
  return { canary: versions.canary, stable: versions.stable, measurementErrors: errors };
}

/** Start (ms) of every period of the window, oldest first: the grid the per-period queries fill. */
function periodGrid(request: WindowRequest): number[] {
  const step = request.periodSeconds * 1000;
  const out: number[] = [];
  for (let t = request.start.getTime(); t < request.end.getTime(); t += step) out.push(t);
  return out;
}

function mergeResults(results: readonly MetricDataResult[]): Map<string, Series> {
  const out = new Map<string, Series>();
  for (const r of results) {
    if (!r.Id) continue;
    let s = out.get(r.Id);
    if (!s) {
      s = { points: [], status: 'Complete', messages: [] };
      out.set(r.Id, s);
    }
    const ts = r.Timestamps ?? [];
    const vs = r.Values ?? [];
    for (let i = 0; i < Math.min(ts.length, vs.length); i++) {
      const v = vs[i]!;
      if (Number.isFinite(v)) s.points.push({ t: new Date(ts[i]!).getTime(), v });
    }
    // A later page's status wins: PartialData on an earlier page only meant "more follows".
    s.status = r.StatusCode ?? 'Complete';
    for (const m of r.Messages ?? []) s.messages.push(`${m.Code ?? ''} ${m.Value ?? ''}`.trim());
  }
  for (const s of out.values()) s.points.sort((a, b) => a.t - b.t);
  return out;
}

function sum(points: readonly { v: number }[]): number {
  return points.reduce((acc, p) => acc + p.v, 0);
}

/** Mean of per-period values weighted by the period's requests (plain mean if none are known). */
function weightedMean(
  points: readonly { t: number; v: number }[] | null,
  weights: ReadonlyMap<number, number>,
): number | null {
  if (!points || points.length === 0) return null;
  let num = 0;
  let den = 0;
  for (const p of points) {
    const w = weights.get(p.t) ?? 0;
    num += w * p.v;
    den += w;
  }
  return den > 0 ? num / den : sum(points) / points.length;
}

/** What {@link CloudWatchMetricsSource} needs. */
export interface CloudWatchMetricsSourceProps {
  readonly client: CloudWatchClient;
  /** The catalog's services; `window` refuses services whose metrics are not from CloudWatch. */
  readonly services: Readonly<Record<string, ServiceConfig>>;
  /** @default {@link METRICS_PERIOD_SECONDS} */
  readonly periodSeconds?: number;
  /** @default {@link defaultPodName} */
  readonly podName?: PodNameOf;
}

/**
 * The metrics source in AWS: one paginated GetMetricData call per window. A query that fails,
 * comes back partial or empty is a measurement error (Argo Rollouts style), never an exception
 * and never a pass. Only a whole call that still fails with throttling, 5xx or a network error
 * after the SDK's retries throws AwsTransientError, so the state machine retries the task; any
 * other failure of the call is recorded as a measurement error.
 */
export class CloudWatchMetricsSource implements MetricsSource {
  constructor(private readonly props: CloudWatchMetricsSourceProps) {}

  async window(query: MetricsQuery): Promise<WindowMetrics> {
    const svc = this.props.services[query.service];
    if (!svc) throw new ConfigError(`service ${query.service} is not in the catalog`);
    const request = buildWindowRequest(svc, query, {
      periodSeconds: this.props.periodSeconds,
      podName: this.props.podName,
    });
    if (query.canaryVersion === query.stableVersion) {
      return {
        canary: null,
        stable: null,
        measurementErrors: [
          `canary and stable carry the same version label "${query.canaryVersion}"; their metrics cannot be told apart`,
        ],
      };
    }
    if (request.end.getTime() - request.start.getTime() < 60_000) return summarizeWindow(request, []);

    const results: MetricDataResult[] = [];
    const messages: string[] = [];
    try {
      const pages = paginateGetMetricData(
        { client: this.props.client },
        {
          MetricDataQueries: request.queries,
          StartTime: request.start,
          EndTime: request.end,
          ScanBy: 'TimestampAscending',
        },
      );
      for await (const page of pages) {
        results.push(...(page.MetricDataResults ?? []));
        for (const m of page.Messages ?? []) messages.push(`${m.Code ?? ''} ${m.Value ?? ''}`.trim());
      }
    } catch (error) {
      if (isTransientAwsError(error)) {
        throw new AwsTransientError(
          `CloudWatch GetMetricData for ${query.service} failed: ${describeError(error)}`,
          {
            cause: error,
          },
        );
      }
      return {
        canary: null,
        stable: null,
        measurementErrors: [`GetMetricData failed: ${describeError(error)}`],
      };
    }
    return summarizeWindow(request, results, messages);
  }
}

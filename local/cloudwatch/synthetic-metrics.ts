/**
 * The run's synthetic traffic as CloudWatch metrics, for the local CloudWatch's alarms.
 *
 * A service with `metrics.source: 'cloudwatch'` publishes its requests, errors and latency under
 * its own names; a service with synthetic metrics is synthesized locally as if its traffic were
 * published under {@link SYNTHETIC_CLOUDWATCH_METRICS} ({@link publishedToCloudWatch}), so its
 * alarms are the ones a service with CloudWatch metrics gets. Either way the numbers come from the
 * synthetic source of the release that runs (functions/adapters/synthetic/source.ts,
 * `traffic()`), as a service publishing one metric record per request would give them:
 *
 * - requests: `Sum` and `SampleCount` are the number of requests;
 * - errors: `Sum` is the number of failed requests, `SampleCount` the number of requests;
 * - latency: a percentile `pNN` is that quantile of the period's requests, `SampleCount` the
 *   number of requests;
 * - a period without requests has no datapoint for any of them.
 *
 * With the service's dimensions alone a metric covers both versions; with the version dimension
 * added it covers the version of that image tag (the release's new version or the one it replaces;
 * any other tag has no datapoints). Any other statistic of these metrics is refused when an alarm
 * asks for it. Metrics the source does not publish (a circuit breaker, Container Insights) have no
 * datapoints and are listed in `unpublished`.
 */
import type { TrafficSample } from '../../functions/adapters/synthetic/source.js';
import type { Catalog, CatalogInput } from '../../functions/domain/config.js';
import type { MetricStat } from './alarm-definition.js';
import type { MetricPublisher } from './local-cloudwatch.js';

/** The CloudWatch names under which local runs publish a synthetic service's traffic. */
export const SYNTHETIC_CLOUDWATCH_METRICS = {
  namespace: 'TpsDeploy/Synthetic',
  requests: 'Requests',
  errors: 'Errors',
  latency: 'Latency',
  /** The service's dimension: `{ Service: <service key> }`. */
  serviceDimension: 'Service',
  versionDimension: 'Version',
} as const;

/**
 * `catalog` with every synthetic service's metrics published under
 * {@link SYNTHETIC_CLOUDWATCH_METRICS}: what local runs synthesize, so that the template has the
 * alarms of a service with CloudWatch metrics. Other services are unchanged.
 */
export function publishedToCloudWatch(catalog: CatalogInput): CatalogInput {
  const m = SYNTHETIC_CLOUDWATCH_METRICS;
  return {
    ...catalog,
    services: Object.fromEntries(
      Object.entries(catalog.services).map(([name, svc]) => [
        name,
        svc.metrics?.source === 'synthetic'
          ? {
              ...svc,
              metrics: {
                source: 'cloudwatch',
                namespace: m.namespace,
                requests: m.requests,
                errors: m.errors,
                latency: m.latency,
                dimensions: { [m.serviceDimension]: name },
                versionDimension: m.versionDimension,
              },
            }
          : svc,
      ]),
    ),
  };
}

/** Where one service's traffic is published in CloudWatch. */
export interface ServiceMetricNames {
  readonly service: string;
  readonly namespace: string;
  readonly requests: string;
  readonly errors: string;
  readonly latency: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly versionDimension: string;
}

/** The CloudWatch names of every service's traffic (synthetic services under the local names). */
export function metricNamesOf(catalog: Catalog): ServiceMetricNames[] {
  const s = SYNTHETIC_CLOUDWATCH_METRICS;
  return Object.entries(catalog.services).map(([service, svc]) =>
    svc.metrics.source === 'cloudwatch'
      ? {
          service,
          namespace: svc.metrics.namespace,
          requests: svc.metrics.requests,
          errors: svc.metrics.errors,
          latency: svc.metrics.latency,
          dimensions: { ...svc.metrics.dimensions },
          versionDimension: svc.metrics.versionDimension,
        }
      : {
          service,
          namespace: s.namespace,
          requests: s.requests,
          errors: s.errors,
          latency: s.latency,
          dimensions: { [s.serviceDimension]: service },
          versionDimension: s.versionDimension,
        },
  );
}

/** The traffic of a service at some time: the release whose traffic it is. */
export interface TrafficTimeline {
  /** Identifies the timeline (cache key). */
  readonly id: number;
  /** {@link SyntheticMetricsSource.traffic} of the release's source. */
  readonly traffic: (start: Date, end: Date, of: 'service' | 'stable' | 'canary') => TrafficSample;
  /** The release's version (image tag), once known. */
  readonly version: string | null;
  /** The version it replaces, once known. */
  readonly previousVersion: string | null;
}

const PERCENTILE = /^p(\d{1,2}(?:\.\d+)?|100)$/;
/** Datapoints kept per cache before old ones are dropped. */
const CACHE_LIMIT = 20_000;

/** The synthetic traffic as CloudWatch datapoints (see the module comment). */
export class SyntheticMetricData implements MetricPublisher {
  private readonly cache = new Map<string, number | null>();
  /** One traffic sample per release timeline, version and period: its requests, errors and latency serve every metric. */
  private readonly samples = new Map<string, TrafficSample>();
  private readonly found = new WeakMap<MetricStat, ReturnType<SyntheticMetricData['lookup']>>();

  constructor(
    private readonly names: readonly ServiceMetricNames[],
    /** The timeline of `service` at `at`. */
    private readonly timelineAt: (service: string, at: Date) => TrafficTimeline,
  ) {}

  publishes(metric: MetricStat): boolean {
    return this.find(metric) !== null;
  }

  problem(metric: MetricStat): string | null {
    const found = this.find(metric);
    if (!found) return null;
    const { kind } = found;
    const ok =
      metric.stat === 'SampleCount' ||
      (kind !== 'latency' && metric.stat === 'Sum') ||
      (kind === 'latency' && PERCENTILE.test(metric.stat));
    if (ok) return null;
    const allowed = kind === 'latency' ? 'pNN, SampleCount' : 'Sum, SampleCount';
    return `${metric.namespace}/${metric.metricName} ${metric.stat}: the local synthetic traffic gives ${kind} as ${allowed}`;
  }

  datapoint(metric: MetricStat, start: Date): number | null {
    const found = this.find(metric);
    if (!found) return null;
    const end = new Date(start.getTime() + metric.period * 1000);
    const tl = this.timelineAt(found.names.service, start);
    const key = `${tl.id}|${metric.namespace}|${metric.metricName}|${JSON.stringify(metric.dimensions)}|${metric.stat}|${metric.period}|${start.getTime()}`;
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    let of: 'service' | 'stable' | 'canary' | null = 'service';
    if (found.version !== null) {
      of = found.version === tl.version ? 'canary' : found.version === tl.previousVersion ? 'stable' : null;
    }
    let value: number | null = null;
    if (of !== null) {
      const sampleKey = `${tl.id}|${of}|${start.getTime()}|${end.getTime()}`;
      let t = this.samples.get(sampleKey);
      if (!t) {
        if (this.samples.size >= CACHE_LIMIT) this.samples.clear();
        t = tl.traffic(start, end, of);
        this.samples.set(sampleKey, t);
      }
      if (t.requests > 0) {
        if (metric.stat === 'SampleCount') value = t.requests;
        else if (found.kind === 'requests') value = t.requests;
        else if (found.kind === 'errors') value = t.errors;
        else value = t.quantileMs(Number(metric.stat.slice(1)) / 100);
      }
    }
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(key, value);
    return value;
  }

  private find(metric: MetricStat): ReturnType<SyntheticMetricData['lookup']> {
    if (!this.found.has(metric)) this.found.set(metric, this.lookup(metric));
    return this.found.get(metric) ?? null;
  }

  private lookup(
    metric: MetricStat,
  ): { names: ServiceMetricNames; kind: 'requests' | 'errors' | 'latency'; version: string | null } | null {
    for (const names of this.names) {
      if (metric.namespace !== names.namespace) continue;
      const kind =
        metric.metricName === names.requests
          ? 'requests'
          : metric.metricName === names.errors
            ? 'errors'
            : metric.metricName === names.latency
              ? 'latency'
              : null;
      if (!kind) continue;
      const dims = { ...metric.dimensions };
      const version = dims[names.versionDimension] ?? null;
      delete dims[names.versionDimension];
      if (JSON.stringify(sorted(dims)) !== JSON.stringify(sorted(names.dimensions))) continue;
      return { names, kind, version };
    }
    return null;
  }
}

function sorted(o: Readonly<Record<string, string>>): [string, string][] {
  return Object.entries(o).sort(([a], [b]) => a.localeCompare(b));
}

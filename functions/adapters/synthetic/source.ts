/**
 * Synthetic traffic: the metrics-source port answered from a traffic profile instead of
 * CloudWatch, for local runs, tests and the bench. Deterministic for a seed.
 */
import { normalCdf, normalPdf, normalQuantile } from '../../domain/stats.js';
import type { MetricsQuery, MetricsSource, VersionSeries, WindowMetrics } from '../../ports/metrics.js';
import { RUNBOOK_WEIGHT_SCHEDULE, type TrafficProfile, type VersionProfile, valueAt } from './profile.js';
import { binomial, normal, poisson, stream } from './random.js';

/** z of the 99th percentile of the standard normal. */
const Z99 = normalQuantile(0.99);

/** Standard error of a sample q-quantile of n standard-normal draws (asymptotic). */
function quantileStandardError(q: number, n: number): number {
  return Math.sqrt((q * (1 - q)) / n) / normalPdf(normalQuantile(q));
}

export interface SyntheticMetricsSourceProps {
  /** A parsed profile (see `parseProfile` and `loadProfile`). */
  readonly profile: TrafficProfile;
  /** Time zero of the profile's piecewise functions. */
  readonly deploymentStart: Date;
  /**
   * The canary's real share of traffic (percent) at a moment, when the caller knows it (the
   * local runner knows which weights it set and when). Returning null, or leaving this out, uses
   * the profile's `canaryWeight` schedule.
   * @default the profile's schedule
   */
  readonly weightAt?: (at: Date) => number | null;
}

type Kind = 'stable' | 'canary';

/** The traffic of one stretch of time (see {@link SyntheticMetricsSource.traffic}). */
export interface TrafficSample {
  readonly requests: number;
  readonly errors: number;
  /** Latency quantile q (0..1) in ms; null without requests. */
  quantileMs(q: number): number | null;
}

/** The numbers of one metrics period for one version. */
interface Period {
  /** Seconds since the deployment start at which the period (inside the window) starts and ends. */
  readonly a: number;
  readonly b: number;
  readonly requests: number;
  readonly errors: number;
  /** Log-normal parameters of this period's latency (noise included). */
  readonly mu: number;
  readonly sigma: number;
  readonly p99Ms: number | null;
  readonly cpu: number | null;
  readonly memory: number | null;
  readonly disk: number | null;
}

/** Log-latency at quantile q of a mixture of log-normals weighted by requests, by bisection. */
function mixtureQuantile(periods: readonly Period[], q: number): number {
  const total = periods.reduce((s, p) => s + p.requests, 0);
  const sigmaMax = Math.max(...periods.map((p) => p.sigma), 1e-9);
  let lo = Math.min(...periods.map((p) => p.mu)) - 12 * sigmaMax - 1;
  let hi = Math.max(...periods.map((p) => p.mu)) + 12 * sigmaMax + 1;
  const cdf = (x: number) =>
    periods.reduce((s, p) => s + p.requests * normalCdf((x - p.mu) / Math.max(p.sigma, 1e-9)), 0) / total;
  for (let i = 0; i < 200 && hi - lo > 1e-12; i++) {
    const mid = (lo + hi) / 2;
    if (cdf(mid) < q) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/**
 * The {@link MetricsSource} port over a traffic profile. Each version's numbers are built period
 * by period (periods aligned to the deployment start), each period from its own seeded random
 * streams, so any window gives the same numbers for the periods it shares with another.
 *
 * Per period: the service's rps (times noise) is split by the canary weight, and each version
 * counts the share of its part it `served`; requests are a Poisson draw, errors a binomial draw
 * at the profile's error rate (times noise); latency is log-normal from the profile's p50/p99
 * (median shifted by noise). Noise factors are drawn once per
 * period for the whole service, so both versions share them. The period's p99 carries
 * the sampling error of a p99 measured on that many requests. Over the window: counts are summed,
 * p50/p99 are quantiles of the requests-weighted mixture of the periods' distributions, rps is
 * requests over the window's length, and cpu/memory/disk are the highest period value. Each
 * period's requests are reported too (`requestSeries`, the window's edges cutting a period short).
 * The canary does not exist before the deployment start. When the query's two version labels are
 * the same (the pre-deployment baseline), both sides report that one version with all the traffic.
 */
export class SyntheticMetricsSource implements MetricsSource {
  private readonly profile: TrafficProfile;
  private readonly startMs: number;
  private readonly weightAt: ((at: Date) => number | null) | undefined;

  constructor(props: SyntheticMetricsSourceProps) {
    if (Number.isNaN(props.deploymentStart.getTime()))
      throw new RangeError('deploymentStart is not a valid date');
    this.profile = props.profile;
    this.startMs = props.deploymentStart.getTime();
    this.weightAt = props.weightAt;
  }

  async window(query: MetricsQuery): Promise<WindowMetrics> {
    const t0 = (query.start.getTime() - this.startMs) / 1000;
    const t1 = (query.end.getTime() - this.startMs) / 1000;
    if (!(t1 > t0)) {
      return {
        canary: null,
        stable: null,
        measurementErrors: [`empty window ${query.start.toISOString()} to ${query.end.toISOString()}`],
      };
    }
    if (query.canaryVersion === query.stableVersion) {
      const only = this.version('stable', t0, t1, true);
      return { canary: only, stable: only, measurementErrors: [] };
    }
    return {
      canary: this.version('canary', t0, t1, false),
      stable: this.version('stable', t0, t1, false),
      measurementErrors: [],
    };
  }

  /** Percent of traffic to the canary at `t` seconds. */
  private canaryWeight(t: number): number {
    if (t < 0) return 0;
    const told = this.weightAt?.(new Date(this.startMs + t * 1000));
    const w =
      typeof told === 'number' && Number.isFinite(told)
        ? told
        : valueAt(this.profile.canaryWeight ?? RUNBOOK_WEIGHT_SCHEDULE, t).value;
    return Math.min(100, Math.max(0, w));
  }

  private period(
    kind: Kind,
    v: VersionProfile,
    k: number,
    a: number,
    b: number,
    allTraffic: boolean,
  ): Period {
    const { seed, noise } = this.profile;
    const mid = (a + b) / 2;
    const weight = allTraffic ? 0 : this.canaryWeight(mid);
    const share = kind === 'canary' ? weight / 100 : 1 - weight / 100;
    // Noise is service-wide: a traffic dip, a flaky dependency or a slow period hits both
    // versions alike, so the versions differ only where the profile says so (and by sampling).
    const rpsFactor = Math.max(0, 1 + noise.rps * normal(stream(seed, 'service', k, 'rps')));
    const served = valueAt(v.served, mid).value;
    const expected = valueAt(this.profile.rps, mid).value * share * served * rpsFactor * (b - a);
    const requests = poisson(stream(seed, kind, k, 'requests', a, b), expected);

    const rateFactor = Math.max(0, 1 + noise.errorRate * normal(stream(seed, 'service', k, 'errorRate')));
    const rate = Math.min(1, valueAt(v.errorRate, mid).value * rateFactor);
    const errors = binomial(stream(seed, kind, k, 'errors', a, b), requests, rate);

    const lat = valueAt(v.latency, mid);
    const sigma = Math.log(lat.p99Ms / lat.p50Ms) / Z99;
    const mu = Math.log(lat.p50Ms) + noise.latency * normal(stream(seed, 'service', k, 'latency'));
    const p99Ms =
      requests > 0
        ? Math.exp(
            mu +
              sigma *
                (Z99 + quantileStandardError(0.99, requests) * normal(stream(seed, kind, k, 'p99', a, b))),
          )
        : null;

    const resource = (name: 'cpu' | 'memory' | 'disk') => {
      const segments = v.resources[name];
      if (!segments) return null;
      const jitter = noise.resources * normal(stream(seed, kind, k, name));
      return Math.min(1, Math.max(0, valueAt(segments, mid).value + jitter));
    };
    return {
      a,
      b,
      requests,
      errors,
      mu,
      sigma,
      p99Ms,
      cpu: resource('cpu'),
      memory: resource('memory'),
      disk: resource('disk'),
    };
  }

  /**
   * Requests, errors and latency quantiles over [start, end) of the whole service (both versions:
   * what the service's metrics without a version dimension aggregate) or of one version: the
   * numbers a CloudWatch datapoint of one period would carry. The same periods and random streams
   * as {@link window}, so a version's numbers agree with a window over the same time.
   */
  traffic(start: Date, end: Date, of: 'service' | Kind): TrafficSample {
    const t0 = (start.getTime() - this.startMs) / 1000;
    const t1 = (end.getTime() - this.startMs) / 1000;
    const periods =
      of === 'service'
        ? [...this.periods('stable', t0, t1, false), ...this.periods('canary', t0, t1, false)]
        : this.periods(of, t0, t1, false);
    const requests = periods.reduce((s, p) => s + p.requests, 0);
    const errors = periods.reduce((s, p) => s + p.errors, 0);
    return { requests, errors, quantileMs: (q) => this.quantile(periods, q, of, t0, t1) };
  }

  /** The periods of one version over [t0, t1) (seconds since the deployment start). */
  private periods(kind: Kind, t0: number, t1: number, allTraffic: boolean): Period[] {
    const v = this.profile.versions[kind];
    const size = this.profile.periodSeconds;
    const periods: Period[] = [];
    // The canary exists from the deployment start on.
    const from = kind === 'canary' ? Math.max(t0, 0) : t0;
    for (let k = Math.floor(from / size); k * size < t1; k++) {
      const a = Math.max(from, k * size);
      const b = Math.min(t1, (k + 1) * size);
      if (b > a) periods.push(this.period(kind, v, k, a, b, allTraffic));
    }
    return periods;
  }

  /**
   * Quantile q of the requests-weighted mixture of the periods' latency, with the sampling error
   * of a quantile measured on that many requests; null without requests.
   */
  private quantile(periods: readonly Period[], q: number, of: string, t0: number, t1: number): number | null {
    const served = periods.filter((p) => p.requests > 0);
    if (served.length === 0) return null;
    const requests = served.reduce((s, p) => s + p.requests, 0);
    const logQ = mixtureQuantile(served, q);
    const sigma = served.reduce((s, p) => s + p.sigma * p.requests, 0) / requests;
    const purpose = q === 0.5 ? 'p50' : q === 0.99 ? 'p99' : `q${q}`;
    const jitter =
      sigma *
      quantileStandardError(q, requests) *
      normal(stream(this.profile.seed, of, 'window', t0, t1, purpose));
    return Math.exp(logQ + jitter);
  }

  private version(kind: Kind, t0: number, t1: number, allTraffic: boolean): VersionSeries {
    const periods = this.periods(kind, t0, t1, allTraffic);
    const requests = periods.reduce((s, p) => s + p.requests, 0);
    const errors = periods.reduce((s, p) => s + p.errors, 0);
    const served = periods.filter((p) => p.requests > 0);
    const highest = (name: 'cpu' | 'memory' | 'disk'): number | null => {
      const values = periods.map((p) => p[name]).filter((x): x is number => x !== null);
      return values.length > 0 ? Math.max(...values) : null;
    };
    return {
      requests,
      errors,
      errorRate: requests > 0 ? errors / requests : null,
      p50Ms: this.quantile(periods, 0.5, kind, t0, t1),
      p99Ms: this.quantile(periods, 0.99, kind, t0, t1),
      rps: requests / (t1 - t0),
      cpu: highest('cpu'),
      memory: highest('memory'),
      disk: highest('disk'),
      p99Series: served.map((p) => p.p99Ms as number),
      errorRateSeries: served.map((p) => p.errors / p.requests),
      requestSeries: periods.map((p) => ({
        start: new Date(this.startMs + p.a * 1000).toISOString(),
        seconds: p.b - p.a,
        requests: p.requests,
      })),
    };
  }
}

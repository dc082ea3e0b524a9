import type { VersionMetrics } from '../domain/record.js';

/** A window of time and the two versions to compare in it. */
export interface MetricsQuery {
  readonly service: string;
  readonly start: Date;
  readonly end: Date;
  /** Version labels (image tags) as the metrics' version dimension carries them. */
  readonly canaryVersion: string;
  readonly stableVersion: string;
}

/** Raw per-version data of one window, before judgment. */
export interface VersionSeries extends VersionMetrics {
  /** Per-period p99 (ms) values, for distribution comparisons; may be empty. */
  readonly p99Series: readonly number[];
  /** Per-period error rates, may be empty. */
  readonly errorRateSeries: readonly number[];
}

export interface WindowMetrics {
  readonly canary: VersionSeries | null;
  readonly stable: VersionSeries | null;
  /** Failed or empty queries, recorded as measurement errors (never thrown, never a pass). */
  readonly measurementErrors: readonly string[];
}

/** The metrics-source port: CloudWatch in AWS, synthetic traffic locally. */
export interface MetricsSource {
  window(query: MetricsQuery): Promise<WindowMetrics>;
}

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

/** The requests one version served in one metrics period of a window. */
export interface PeriodRequests {
  /** Start of the period (ISO 8601); the two versions of a window share the periods' starts. */
  readonly start: string;
  /**
   * Seconds of the period inside the window: the source's period length, or less where a window
   * edge falls inside a period.
   */
  readonly seconds: number;
  readonly requests: number;
}

/** Raw per-version data of one window, before judgment. */
export interface VersionSeries extends VersionMetrics {
  /** Per-period p99 (ms) values, for distribution comparisons; may be empty. */
  readonly p99Series: readonly number[];
  /** Per-period error rates, may be empty. */
  readonly errorRateSeries: readonly number[];
  /**
   * Requests per period, oldest first, every period of the window (0 where none were served),
   * for the judgment of the window's last periods (a step the window's average hides); empty
   * when the source cannot tell.
   */
  readonly requestSeries: readonly PeriodRequests[];
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

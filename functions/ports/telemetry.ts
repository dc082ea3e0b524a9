import type { ReleaseEvent } from '../domain/release-metrics.js';

/**
 * The release metrics (started, succeeded, rolled back, failed; time to detect, time to roll back,
 * duration): what happened to a release, counted where it happened. The documents each event
 * becomes are pure (functions/domain/release-metrics.ts); an adapter only writes them out.
 */
export interface ReleaseTelemetry {
  /**
   * Records one event. Never throws: a metric that could not be written is not a reason to fail
   * or retry a release step (the record in the table stays the source of truth).
   */
  record(event: ReleaseEvent): Promise<void>;
}

/**
 * The release metrics, pure: their names, namespace and dimensions (one constant that the functions
 * emit by and the dashboard draws from, so the two cannot drift), the events a release has, and
 * which metric documents each event becomes. Adapters only write the documents out (Embedded
 * Metric Format from Lambda, PutMetricData from the CLI). Table-driven tests:
 * test/unit/release-metrics.test.ts.
 */
import type { DeploymentRecord, Outcome } from './record.js';
import { type TriggerKind, triggerKind } from './record.js';

/** Namespace, metric names and dimension names of the release metrics. */
export const RELEASE_METRICS = {
  namespace: 'TpsDeploy/Releases',
  names: {
    /** Count: the rollback plan was recorded ("Record Rollback Plan"), once per release. */
    started: 'ReleasesStarted',
    /** Count: "Complete Release" marked it SUCCEEDED. */
    succeeded: 'ReleasesSucceeded',
    /** Count: a rollback was recorded (once per release, whoever rolled it back). */
    rolledBack: 'ReleasesRolledBack',
    /** Count: it ended FAILED before any cluster change ("Mark Release Failed"). */
    failed: 'ReleasesFailed',
    /** Seconds from the start of what failed (its phase, the watch, else the release) to the rollback decision. */
    timeToDetect: 'TimeToDetect',
    /** Seconds from the rollback decision to the recorded version serving again (time to restore). */
    timeToRollBack: 'TimeToRollBack',
    /** Seconds from the release's record being written (gates and approval included) to its end. */
    duration: 'ReleaseDuration',
  },
  dimensions: {
    /** The release's service (the catalog key, e.g. `api`): on every metric. */
    service: 'service',
    /** Rollbacks: the phase it happened in (`canary`, ..., `watch`, `none`). */
    phase: 'phase',
    /** Rollbacks: who decided it, as a {@link TriggerKind}. */
    trigger: 'trigger',
    /** ReleaseDuration: the outcome (SUCCEEDED, ROLLED_BACK, FAILED). */
    outcome: 'outcome',
  },
} as const;

export type ReleaseMetricName = (typeof RELEASE_METRICS.names)[keyof typeof RELEASE_METRICS.names];

/** The phase dimension of a rollback before any phase opened. */
export const NO_PHASE = 'none';

/** Something that happened to a release that the metrics count. */
export type ReleaseEvent =
  | { readonly kind: 'started'; readonly service: string; readonly deploymentId: string }
  | {
      readonly kind: 'ended';
      readonly service: string;
      readonly deploymentId: string;
      readonly outcome: Extract<Outcome, 'SUCCEEDED' | 'FAILED'>;
      readonly durationSeconds: number;
    }
  | {
      readonly kind: 'rolled-back';
      readonly service: string;
      readonly deploymentId: string;
      readonly phase: string;
      readonly trigger: TriggerKind;
      readonly timeToDetectSeconds: number;
      readonly timeToRollBackSeconds: number;
      readonly durationSeconds: number;
    };

/** A release that began: the rollback plan is recorded and the cluster is about to change. */
export function releaseStarted(plan: { service: string; deploymentId: string }): ReleaseEvent {
  return { kind: 'started', service: plan.service, deploymentId: plan.deploymentId };
}

/** Seconds from `from` to `to` (ISO times), never negative. */
function seconds(from: string, to: string): number {
  return Math.max(0, (Date.parse(to) - Date.parse(from)) / 1000);
}

/**
 * Where detection started for a rolled-back release: the failing phase's start, the watch's start
 * for a rollback during the post-deployment watch, else the release's start (a rollback while
 * recording, cleaning up, or before any phase opened).
 */
export function detectionStartedAt(record: DeploymentRecord): string {
  const phase = record.rollback?.phase ?? null;
  if (phase === 'watch') return record.watch?.startedAt ?? record.startedAt;
  return record.phases.find((p) => p.name === phase)?.startedAt ?? record.startedAt;
}

/**
 * The event of a release that ended: SUCCEEDED, FAILED, or ROLLED_BACK with its time to detect,
 * time to roll back and trigger kind. Null for a record that has not ended (or was REJECTED at the
 * gates or by the team lead: nothing was released, nothing to count).
 */
export function releaseEnded(record: DeploymentRecord): ReleaseEvent | null {
  const { service, deploymentId } = record;
  const endedAt = record.endedAt;
  if (!endedAt) return null;
  const durationSeconds = seconds(record.startedAt, endedAt);
  if (record.outcome === 'SUCCEEDED' || record.outcome === 'FAILED') {
    return { kind: 'ended', service, deploymentId, outcome: record.outcome, durationSeconds };
  }
  const rb = record.rollback;
  if (record.outcome !== 'ROLLED_BACK' || !rb) return null;
  return {
    kind: 'rolled-back',
    service,
    deploymentId,
    phase: rb.phase ?? NO_PHASE,
    trigger: triggerKind(rb.trigger),
    timeToDetectSeconds: seconds(detectionStartedAt(record), rb.startedAt),
    timeToRollBackSeconds: seconds(rb.startedAt, rb.completedAt ?? endedAt),
    durationSeconds,
  };
}

/** One metric value. */
export interface MetricDatum {
  readonly name: ReleaseMetricName;
  readonly unit: 'Count' | 'Seconds';
  readonly value: number;
}

/** Metrics that share one set of dimensions: one EMF document, or one PutMetricData batch. */
export interface MetricDocument {
  readonly dimensions: Readonly<Record<string, string>>;
  readonly metrics: readonly MetricDatum[];
  /** High-cardinality context that is not a dimension (searchable in the logs, not in metrics). */
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * The documents of one event. Every count also exists by `service` alone, so the dashboard's sums
 * and rates need no SEARCH; rollbacks also by service, phase and trigger; ReleaseDuration by service
 * and outcome (a rolled-back release's duration is not a released one's).
 */
export function metricDocuments(event: ReleaseEvent): MetricDocument[] {
  const { names, dimensions: d } = RELEASE_METRICS;
  const byService = { [d.service]: event.service };
  const metadata = { deploymentId: event.deploymentId };
  const count = (name: ReleaseMetricName): MetricDatum => ({ name, unit: 'Count', value: 1 });
  const secs = (name: ReleaseMetricName, value: number): MetricDatum => ({
    name,
    unit: 'Seconds',
    value: Math.round(value * 10) / 10,
  });
  switch (event.kind) {
    case 'started':
      return [{ dimensions: byService, metrics: [count(names.started)], metadata }];
    case 'ended':
      return [
        {
          dimensions: byService,
          metrics: [count(event.outcome === 'SUCCEEDED' ? names.succeeded : names.failed)],
          metadata,
        },
        {
          dimensions: { ...byService, [d.outcome]: event.outcome },
          metrics: [secs(names.duration, event.durationSeconds)],
          metadata,
        },
      ];
    case 'rolled-back': {
      const rollback = [
        count(names.rolledBack),
        secs(names.timeToDetect, event.timeToDetectSeconds),
        secs(names.timeToRollBack, event.timeToRollBackSeconds),
      ];
      return [
        { dimensions: byService, metrics: rollback, metadata },
        {
          dimensions: { ...byService, [d.phase]: event.phase, [d.trigger]: event.trigger },
          metrics: rollback,
          metadata,
        },
        {
          dimensions: { ...byService, [d.outcome]: 'ROLLED_BACK' },
          metrics: [secs(names.duration, event.durationSeconds)],
          metadata,
        },
      ];
    }
  }
}

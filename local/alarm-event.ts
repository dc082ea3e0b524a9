import { randomUUID } from 'node:crypto';
import { type AlarmSignal, alarmName } from '../functions/domain/alarms.js';
import type { AlarmDefinition, MetricStat } from './cloudwatch/alarm-definition.js';

/** CloudWatch's timestamp form in alarm events: `2026-11-02T10:00:00.000+0000`. */
export const cwTime = (d: Date) => d.toISOString().replace('Z', '+0000');

/** What an alarm event says about the evaluation; defaults describe a 2-of-2 error-rate breach. */
export interface AlarmEventState {
  readonly id?: string;
  readonly description?: string;
  readonly previousReason?: string;
  readonly previousAt?: Date;
  readonly reason?: string;
  /** CloudWatch's reasonData JSON (it carries the evaluation's queryDate). */
  readonly reasonData?: Record<string, unknown>;
}

/**
 * An EventBridge "CloudWatch Alarm State Change" event (AWS CloudWatch user guide, "Alarm events
 * and EventBridge"), OK -> ALARM at `at`, for `<appName>-<service>-<signal>`: the shape the
 * alarmRollback function receives. `reasonData` carries the evaluation's queryDate, so each event
 * is a new state change.
 */
export function alarmEvent(
  appName: string,
  service: string,
  signal: AlarmSignal,
  at = new Date(),
  state: AlarmEventState = {},
) {
  const name = alarmName(appName, service, signal);
  return {
    version: '0',
    id: state.id ?? randomUUID(),
    'detail-type': 'CloudWatch Alarm State Change',
    source: 'aws.cloudwatch',
    account: '123456789012',
    time: at.toISOString().replace(/\.\d+Z$/, 'Z'),
    region: 'us-east-1',
    resources: [`arn:aws:cloudwatch:us-east-1:123456789012:alarm:${name}`],
    detail: {
      alarmName: name,
      configuration: {
        description: state.description ?? `[critical] ${service}: local alarm. Rolls back.`,
        metrics: [
          {
            id: 'expr_1',
            expression: 'IF(requests > 0, FILL(errors, 0) / requests, 0)',
            label: 'error rate (ratio)',
            returnData: true,
          },
        ],
      },
      previousState: {
        value: 'OK',
        reason:
          state.previousReason ??
          'Threshold Crossed: 2 out of the last 2 datapoints were not greater than the threshold (0.01).',
        timestamp: cwTime(state.previousAt ?? at),
      },
      state: {
        value: 'ALARM',
        reason:
          state.reason ??
          'Threshold Crossed: 2 out of the last 2 datapoints [0.0271, 0.0194] were greater than the threshold (0.01) (minimum 2 datapoints for OK -> ALARM transition).',
        reasonData: JSON.stringify(
          state.reasonData ?? {
            version: '1.0',
            queryDate: cwTime(at),
            period: 60,
            recentDatapoints: [0.0194, 0.0271],
            threshold: 0.01,
          },
        ),
        timestamp: cwTime(at),
      },
    },
  };
}

/**
 * `event` as if its state had changed at `at` (CloudWatch's `+0000` timestamp form): a recorded
 * event replayed during a local release must have happened during it, or the alarm function
 * rightly takes it for a late delivery about an earlier release.
 */
export function asOf<S extends { timestamp: string }, T extends { detail: { state: S } }>(
  event: T,
  at: Date,
): T {
  const timestamp = at.toISOString().replace('Z', '+0000');
  return { ...event, detail: { ...event.detail, state: { ...event.detail.state, timestamp } } };
}

/** One side of a state change in a "CloudWatch Alarm State Change" event. */
export interface AlarmEventSide {
  readonly value: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';
  readonly reason: string;
  /** CloudWatch's reasonData (the event carries it as a JSON string); null when there is none. */
  readonly reasonData: Record<string, unknown> | null;
  readonly timestamp: Date;
}

/**
 * The EventBridge "CloudWatch Alarm State Change" event CloudWatch sends when `alarm` goes from
 * `previous` to `state` (AWS CloudWatch user guide, "Alarm events and EventBridge": the single
 * metric and metric math examples): `resources` is the alarm's ARN, `detail.configuration.metrics`
 * lists the alarm's metric (`metricStat`) or its expression and the metrics it reads, and
 * `state.reasonData` is a JSON string.
 */
export function alarmStateChangeEvent(
  alarm: AlarmDefinition,
  previous: AlarmEventSide,
  state: AlarmEventSide,
  id: string = randomUUID(),
) {
  const side = (s: AlarmEventSide) => ({
    value: s.value,
    reason: s.reason,
    ...(s.reasonData ? { reasonData: JSON.stringify(s.reasonData) } : {}),
    timestamp: cwTime(s.timestamp),
  });
  const metricStat = (m: MetricStat) => ({
    metric: { namespace: m.namespace, name: m.metricName, dimensions: { ...m.dimensions } },
    period: m.period,
    stat: m.stat,
  });
  const metrics =
    alarm.metric.kind === 'metric'
      ? [{ id: 'm1', metricStat: metricStat(alarm.metric.metric), returnData: true }]
      : [
          {
            id: alarm.metric.id,
            expression: alarm.metric.expression,
            ...(alarm.metric.label ? { label: alarm.metric.label } : {}),
            returnData: true,
          },
          ...alarm.metric.metrics.map((m) => ({
            id: m.id,
            metricStat: metricStat(m.metric),
            ...(m.label ? { label: m.label } : {}),
            returnData: false,
          })),
        ];
  const [, , , region, account] = alarm.arn.split(':');
  return {
    version: '0',
    id,
    'detail-type': 'CloudWatch Alarm State Change',
    source: 'aws.cloudwatch',
    account,
    time: state.timestamp.toISOString().replace(/\.\d+Z$/, 'Z'),
    region,
    resources: [alarm.arn],
    detail: {
      alarmName: alarm.name,
      state: side(state),
      previousState: side(previous),
      configuration: { ...(alarm.description ? { description: alarm.description } : {}), metrics },
    },
  };
}

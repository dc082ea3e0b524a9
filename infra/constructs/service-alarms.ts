import { Annotations, Duration, Tags } from 'aws-cdk-lib';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { canaryName } from '../../functions/adapters/kubernetes/labels.js';
import { ALARM_SIGNALS, type AlarmSignal, alarmName } from '../../functions/domain/alarms.js';
import type { ServiceConfig } from '../../functions/domain/config.js';
import { RUNBOOK } from '../../functions/domain/defaults.js';
import { pascalCase } from '../../functions/domain/text.js';

/** Period of every alarm: one-minute data points, so "for 2 minutes" means two periods. */
export const ALARM_PERIOD = Duration.minutes(1);

/** Container Insights (enhanced observability) metric: containers whose last termination was an OOM kill. */
export const OOM_KILLED_METRIC = 'pod_container_status_terminated_reason_oom_killed';

/** Consecutive one-minute periods without request data before the metrics-missing warning fires. */
export const METRICS_MISSING_PERIODS = 5;

/** The rollback triggers as numbers (RUNBOOK.rollbackTriggers by default). */
export interface RollbackTriggers {
  readonly errorRate: number;
  readonly errorRateForSeconds: number;
  readonly p99BaselineMultiplier: number;
  readonly p99ForSeconds: number;
  readonly circuitBreakerOpenSeconds: number;
}

/** Props of {@link ServiceAlarms}. */
export interface ServiceAlarmsProps {
  /** The catalog's appName (alarm names start with it). */
  readonly appName: string;
  /** The service's key in the catalog. */
  readonly serviceName: string;
  /** The parsed service config. */
  readonly service: ServiceConfig;
  /** @default RUNBOOK.rollbackTriggers */
  readonly triggers?: RollbackTriggers;
}

/**
 * The CloudWatch alarms of one service: the runbook's four rollback triggers (critical) and a
 * warning when the request metrics stop arriving. Each alarm's name is
 * `<appName>-<service>-<signal>` (functions/domain/alarms.ts) and its severity is in its
 * description and in a `severity` tag.
 *
 * Missing data, per signal:
 * - error rate, p99, circuit breaker: missing is not breaching. No traffic is not an outage, and a
 *   rollback on a gap in the metrics would itself be an incident. The gap is caught by the
 *   metrics-missing warning instead, which treats missing data as breaching.
 * - OOM kills: missing is not breaching; Container Insights publishes the metric only while pods
 *   exist, and a missing value never means a kill happened.
 */
export class ServiceAlarms extends Construct {
  /** The alarms by signal; a signal the service does not declare has none. */
  readonly alarms: Readonly<Partial<Record<AlarmSignal, cw.Alarm>>>;

  constructor(scope: Construct, id: string, props: ServiceAlarmsProps) {
    super(scope, id);
    const t = props.triggers ?? RUNBOOK.rollbackTriggers;
    const periods = (field: keyof RollbackTriggers): number => {
      const seconds = t[field];
      const n = seconds / ALARM_PERIOD.toSeconds();
      if (!Number.isInteger(n) || n < 1) {
        throw new Error(
          `ServiceAlarms: triggers.${field} must be a positive multiple of ${ALARM_PERIOD.toSeconds()} seconds (got ${seconds}). Change it in functions/domain/defaults.ts.`,
        );
      }
      return n;
    };
    if (!(t.errorRate > 0 && t.errorRate < 1)) {
      throw new Error(
        `ServiceAlarms: triggers.errorRate must be a ratio between 0 and 1 (got ${t.errorRate}), e.g. 0.01 for 1%.`,
      );
    }
    if (!(t.p99BaselineMultiplier >= 1)) {
      throw new Error(
        `ServiceAlarms: triggers.p99BaselineMultiplier must be >= 1 (got ${t.p99BaselineMultiplier}).`,
      );
    }

    const { appName, serviceName, service } = props;
    const alarms: Partial<Record<AlarmSignal, cw.Alarm>> = {};
    const make = (
      signal: AlarmSignal,
      what: string,
      p: Omit<cw.AlarmProps, 'alarmName' | 'alarmDescription'>,
    ) => {
      const { severity, title } = ALARM_SIGNALS[signal];
      const alarm = new cw.Alarm(this, pascalCase(signal), {
        ...p,
        alarmName: alarmName(appName, serviceName, signal),
        alarmDescription: `[${severity}] ${serviceName}: ${title}. ${what}`,
      });
      Tags.of(alarm).add('severity', severity);
      Tags.of(alarm).add('tps-deploy:service', serviceName);
      Tags.of(alarm).add('tps-deploy:signal', signal);
      alarms[signal] = alarm;
    };

    const m = service.metrics;
    if (m.source === 'cloudwatch') {
      // No labels on single-metric alarms: they keep the classic MetricName/Statistic form that
      // DescribeAlarms returns and PutMetricAlarm takes back (the p99 baseline update).
      const metric = (metricName: string, statistic: string) =>
        new cw.Metric({
          namespace: m.namespace,
          metricName,
          dimensionsMap: { ...m.dimensions },
          statistic,
          period: ALARM_PERIOD,
        });
      make(
        'errorRate',
        `Errors / requests above ${pct(t.errorRate)} for ${t.errorRateForSeconds} s. Rolls back.`,
        {
          metric: new cw.MathExpression({
            // No requests in a minute counts as 0% rather than a division by zero.
            expression: 'IF(requests > 0, FILL(errors, 0) / requests, 0)',
            usingMetrics: {
              requests: metric(m.requests, cw.Stats.SUM),
              errors: metric(m.errors, cw.Stats.SUM),
            },
            period: ALARM_PERIOD,
            label: 'error rate (ratio)',
          }),
          threshold: t.errorRate,
          comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: periods('errorRateForSeconds'),
          datapointsToAlarm: periods('errorRateForSeconds'),
          treatMissingData: cw.TreatMissingData.NOT_BREACHING,
        },
      );
      // The threshold starts at multiplier x SLO; the functions replace it with multiplier x the
      // measured pre-deployment p99 (PutMetricAlarm on this alarm's deterministic name).
      make(
        'latency',
        `p99 above ${t.p99BaselineMultiplier}x baseline for ${t.p99ForSeconds} s (initial baseline: the SLO, ${service.slo.p99Ms} ms). Rolls back.`,
        {
          metric: metric(m.latency, cw.Stats.p(99)),
          threshold: t.p99BaselineMultiplier * service.slo.p99Ms,
          comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: periods('p99ForSeconds'),
          datapointsToAlarm: periods('p99ForSeconds'),
          treatMissingData: cw.TreatMissingData.NOT_BREACHING,
        },
      );
      if (m.circuitBreaker) {
        const cb = m.circuitBreaker;
        make(
          'circuitBreaker',
          `Circuit breaker open for ${t.circuitBreakerOpenSeconds} s or more. Rolls back.`,
          {
            metric: new cw.Metric({
              namespace: cb.namespace,
              metricName: cb.name,
              dimensionsMap: { ...cb.dimensions },
              statistic: cb.stat,
              period: ALARM_PERIOD,
            }),
            threshold: 1,
            comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluationPeriods: periods('circuitBreakerOpenSeconds'),
            datapointsToAlarm: periods('circuitBreakerOpenSeconds'),
            treatMissingData: cw.TreatMissingData.NOT_BREACHING,
          },
        );
      }
      make(
        'metricsMissing',
        `No request data for ${METRICS_MISSING_PERIODS} minutes: the error-rate and p99 alarms cannot fire. Notifies only.`,
        {
          metric: metric(m.requests, cw.Stats.SAMPLE_COUNT),
          threshold: 1,
          comparisonOperator: cw.ComparisonOperator.LESS_THAN_THRESHOLD,
          evaluationPeriods: METRICS_MISSING_PERIODS,
          datapointsToAlarm: METRICS_MISSING_PERIODS,
          treatMissingData: cw.TreatMissingData.BREACHING,
        },
      );
    } else {
      Annotations.of(this).addWarningV2(
        'tps-deploy:synthetic-metrics',
        `service ${serviceName} uses synthetic metrics: no error-rate, p99, circuit-breaker or metrics-missing alarms are created. Set metrics.source to "cloudwatch" in tps.config.ts for production.`,
      );
    }

    const ciCluster =
      (m.source === 'cloudwatch' ? m.containerInsightsCluster : undefined) ?? service.cluster.name;
    const oom = (podName: string, label: string) =>
      new cw.Metric({
        namespace: 'ContainerInsights',
        metricName: OOM_KILLED_METRIC,
        dimensionsMap: { ClusterName: ciCluster, Namespace: service.namespace, PodName: podName },
        statistic: cw.Stats.MAXIMUM,
        period: ALARM_PERIOD,
        label,
      });
    make('oomKills', 'A container of the stable or canary Deployment was OOM-killed. Rolls back.', {
      metric: new cw.MathExpression({
        expression: 'FILL(stable, 0) + FILL(canary, 0)',
        usingMetrics: {
          stable: oom(service.deployment, 'stable'),
          canary: oom(canaryName(service.deployment), 'canary'),
        },
        period: ALARM_PERIOD,
        label: 'OOM-killed containers',
      }),
      threshold: 1,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
    });

    this.alarms = alarms;
  }

  /** Every alarm of the service. */
  get all(): cw.Alarm[] {
    return Object.values(this.alarms).filter((a): a is cw.Alarm => a !== undefined);
  }
}

function pct(ratio: number): string {
  return `${Number((ratio * 100).toFixed(4))}%`;
}

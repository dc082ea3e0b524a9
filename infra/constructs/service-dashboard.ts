import { Duration } from 'aws-cdk-lib';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { canaryName } from '../../functions/adapters/kubernetes/labels.js';
import type { AlarmSignal } from '../../functions/domain/alarms.js';
import type { ServiceConfig } from '../../functions/domain/config.js';
import { RUNBOOK } from '../../functions/domain/defaults.js';
import { RELEASE_METRICS, type ReleaseMetricName } from '../../functions/domain/release-metrics.js';

/** Period of the dashboard graphs. */
const PERIOD = Duration.minutes(1);
const FULL = 24;
const HALF = 12;
const THIRD = 8;
const HEIGHT = 6;

/** Period and time range of the release-health view: one point per day over the last 30 days. */
const HEALTH_PERIOD = Duration.days(1);
const HEALTH_RANGE = '-P30D';

/** Titles of the release-health widgets (the infra tests find them by these). */
export const RELEASE_HEALTH_TITLES = {
  frequency: 'Deployment frequency: releases started per day',
  changeFailureRate: 'Change failure rate: rolled back / ended (%)',
  timeToRestore: 'Time to restore: time to roll back (s)',
  timeToDetect: 'Time to detect: failing phase start to rollback decision (s)',
  duration: 'Release duration by outcome (s)',
} as const;

/** Props of {@link ServiceDashboard}. */
export interface ServiceDashboardProps {
  /** Physical dashboard name. */
  readonly dashboardName: string;
  /** The service's key in the catalog. */
  readonly serviceName: string;
  /** The parsed service config. */
  readonly service: ServiceConfig;
  /** The service's alarms by signal (drawn with their thresholds). */
  readonly alarms: Readonly<Partial<Record<AlarmSignal, cw.IAlarm>>>;
  /** Execution log group of the service's state machine (recent deployments). */
  readonly executionLogGroup: logs.ILogGroup;
  /** The service's state machine name (shown in the header). */
  readonly stateMachineName: string;
}

/**
 * The runbook's six views for one service: error rate, latency p50/p99 against the SLO,
 * throughput, queue depth, worker utilization, and CPU/memory/disk. Canary and stable appear side
 * by side: service metrics through SEARCH expressions grouped by the version dimension (one line
 * per image tag), Container Insights metrics by the stable and canary Deployment names. The
 * rollback alarms are drawn with their thresholds; a view without a metric says how to add one.
 *
 * Then the release-health view, from the release metrics the functions emit
 * (functions/domain/release-metrics.ts, the names and namespace both sides read): deployment
 * frequency, change failure rate, time to restore, time to detect and release duration.
 */
export class ServiceDashboard extends Construct {
  readonly dashboard: cw.Dashboard;

  constructor(scope: Construct, id: string, props: ServiceDashboardProps) {
    super(scope, id);
    if (!/^[A-Za-z0-9_-]{1,255}$/.test(props.dashboardName)) {
      throw new Error(
        `ServiceDashboard: dashboardName must be 1-255 characters of A-Z, a-z, 0-9, - and _ (got "${props.dashboardName}"). Change appName or the service name in tps.config.ts.`,
      );
    }
    const { service, serviceName, alarms } = props;
    const m = service.metrics;
    this.dashboard = new cw.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.hours(3),
    });

    const notConfigured = (view: string, how: string, width = HALF) =>
      new cw.TextWidget({ markdown: `### ${view}\nnot configured: ${how}`, width, height: HEIGHT });
    const alarmOr = (signal: AlarmSignal, title: string, how: string, width = HALF) => {
      const alarm = alarms[signal];
      return alarm
        ? new cw.AlarmWidget({ alarm, title, width, height: HEIGHT })
        : notConfigured(title, how, width);
    };
    const sloLine: cw.HorizontalAnnotation = {
      value: service.slo.p99Ms,
      label: `SLO p99 ${service.slo.p99Ms} ms`,
      color: cw.Color.RED,
    };

    this.dashboard.addWidgets(
      new cw.TextWidget({
        markdown: [
          `# ${serviceName}: releases by tps-deploy`,
          `Deployment \`${service.namespace}/${service.deployment}\` on cluster \`${service.cluster.name}\` (${service.cluster.region}); state machine \`${props.stateMachineName}\`.`,
          `SLO: p99 < ${service.slo.p99Ms} ms. Canary and stable are one line each per version (the \`${m.source === 'cloudwatch' ? m.versionDimension : 'version'}\` dimension).`,
          `Recent deployments: run \`tps-deploy history --service ${serviceName}\`, or see the execution log below.`,
        ].join('\n\n'),
        width: FULL,
        height: 4,
      }),
    );
    const allAlarms = Object.values(alarms).filter((a): a is cw.IAlarm => a !== undefined);
    if (allAlarms.length > 0) {
      this.dashboard.addWidgets(
        new cw.AlarmStatusWidget({ title: 'Rollback alarms', alarms: allAlarms, width: FULL, height: 3 }),
      );
    }

    // 1-3: error rate, latency, throughput from the service's own metrics.
    if (m.source === 'cloudwatch') {
      const search = (metricName: string, stat: string, label: string) =>
        new cw.MathExpression({
          expression: searchExpression(
            m.namespace,
            m.dimensions,
            m.versionDimension,
            metricName,
            stat,
            PERIOD,
          ),
          usingMetrics: {},
          period: PERIOD,
          label,
        });
      this.dashboard.addWidgets(
        alarmOr('errorRate', 'Error rate (all versions) and rollback threshold', ''),
        new cw.GraphWidget({
          title: 'Errors per version (canary vs stable)',
          left: [search(m.errors, 'Sum', 'errors')],
          width: HALF,
          height: HEIGHT,
        }),
      );
      this.dashboard.addWidgets(
        new cw.GraphWidget({
          title: 'Latency p50 / p99 per version (ms)',
          left: [search(m.latency, 'p50', 'p50'), search(m.latency, 'p99', 'p99')],
          leftAnnotations: [sloLine],
          leftYAxis: { min: 0, label: 'ms', showUnits: false },
          width: HALF,
          height: HEIGHT,
        }),
        alarmOr('latency', 'p99 (all versions) and rollback threshold', ''),
      );
      this.dashboard.addWidgets(
        new cw.GraphWidget({
          title: 'Throughput: requests per minute per version',
          left: [search(m.requests, 'Sum', 'requests')],
          width: HALF,
          height: HEIGHT,
        }),
        alarmOr('circuitBreaker', 'Circuit breaker', 'set metrics.circuitBreaker in tps.config.ts'),
      );
    } else {
      const how = 'metrics.source is "synthetic"; set metrics.source to "cloudwatch" in tps.config.ts';
      this.dashboard.addWidgets(notConfigured('Error rate', how), notConfigured('Latency p50 / p99', how));
      this.dashboard.addWidgets(notConfigured('Throughput', how), notConfigured('Circuit breaker', how));
    }

    // 4-5: queue depth and worker utilization, when declared.
    const ref = m.source === 'cloudwatch' ? m : undefined;
    const refGraph = (title: string, r: MetricRefLike) =>
      new cw.GraphWidget({
        title,
        left: [
          new cw.Metric({
            namespace: r.namespace,
            metricName: r.name,
            dimensionsMap: { ...r.dimensions },
            statistic: r.stat,
            period: PERIOD,
          }),
        ],
        width: HALF,
        height: HEIGHT,
      });
    this.dashboard.addWidgets(
      ref?.queueDepth
        ? refGraph('Queue depth', ref.queueDepth)
        : notConfigured('Queue depth', 'set metrics.queueDepth in tps.config.ts'),
      ref?.workerUtilization
        ? refGraph('Worker utilization', ref.workerUtilization)
        : notConfigured('Worker utilization', 'set metrics.workerUtilization in tps.config.ts'),
    );

    // 6: CPU / memory / disk from Container Insights, stable and canary Deployments side by side.
    const ciCluster = ref?.containerInsightsCluster ?? service.cluster.name;
    const pods = (metricName: string) =>
      [
        [service.deployment, 'stable'],
        [canaryName(service.deployment), 'canary'],
      ].map(
        ([podName, label]) =>
          new cw.Metric({
            namespace: 'ContainerInsights',
            metricName,
            dimensionsMap: { ClusterName: ciCluster, Namespace: service.namespace, PodName: podName! },
            statistic: cw.Stats.AVERAGE,
            period: PERIOD,
            label,
          }),
      );
    const limit =
      (service.validation.maxResourceUtilization ?? RUNBOOK.validation.maxResourceUtilization) * 100;
    const limitLine: cw.HorizontalAnnotation = { value: limit, label: `validation limit ${limit}%` };
    const percent: cw.YAxisProps = { min: 0, max: 100, label: '%', showUnits: false };
    this.dashboard.addWidgets(
      new cw.GraphWidget({
        title: 'CPU % of node (stable vs canary pods)',
        left: pods('pod_cpu_utilization'),
        leftAnnotations: [limitLine],
        leftYAxis: percent,
        width: THIRD,
        height: HEIGHT,
      }),
      new cw.GraphWidget({
        title: 'Memory % of node (stable vs canary pods)',
        left: pods('pod_memory_utilization'),
        leftAnnotations: [limitLine],
        leftYAxis: percent,
        width: THIRD,
        height: HEIGHT,
      }),
      new cw.GraphWidget({
        title: 'Node disk % (cluster)',
        left: [
          new cw.Metric({
            namespace: 'ContainerInsights',
            metricName: 'node_filesystem_utilization',
            dimensionsMap: { ClusterName: ciCluster },
            statistic: cw.Stats.MAXIMUM,
            period: PERIOD,
            label: 'max node filesystem %',
          }),
        ],
        leftAnnotations: [limitLine],
        leftYAxis: percent,
        width: THIRD,
        height: HEIGHT,
      }),
    );
    this.dashboard.addWidgets(
      alarmOr(
        'oomKills',
        'OOM-killed containers',
        'install Container Insights with enhanced observability',
        THIRD,
      ),
      new cw.LogQueryWidget({
        title: 'Recent deployments (execution events)',
        logGroupNames: [props.executionLogGroup.logGroupName],
        queryLines: [
          'fields @timestamp, type, execution_arn',
          'filter type in ["ExecutionStarted", "ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"]',
          'sort @timestamp desc',
          'limit 20',
        ],
        view: cw.LogQueryVisualizationType.TABLE,
        width: FULL - THIRD,
        height: HEIGHT,
      }),
    );
    this.addReleaseHealth(serviceName);
  }

  /**
   * The release-health view (DORA's four keys where a release pipeline can measure them): releases
   * started per day, the change failure rate as metric math (rolled back over ended; a release
   * marked FAILED never changed the cluster, so it is not a change that failed), time to restore
   * (rollback started to the recorded version serving), time to detect, and release duration by
   * outcome. Every metric by the `service` dimension, which the functions set to this service.
   */
  private addReleaseHealth(serviceName: string): void {
    const { names, dimensions, namespace } = RELEASE_METRICS;
    const metric = (
      name: ReleaseMetricName,
      statistic: string,
      label: string,
      extra: Readonly<Record<string, string>> = {},
    ) =>
      new cw.Metric({
        namespace,
        metricName: name,
        dimensionsMap: { [dimensions.service]: serviceName, ...extra },
        statistic,
        period: HEALTH_PERIOD,
        label,
      });
    const graph = (title: string, left: cw.IMetric[], width: number, yLabel?: string) =>
      new cw.GraphWidget({
        title,
        left,
        width,
        height: HEIGHT,
        start: HEALTH_RANGE,
        period: HEALTH_PERIOD,
        leftYAxis: { min: 0, ...(yLabel ? { label: yLabel, showUnits: false } : {}) },
      });
    this.dashboard.addWidgets(
      new cw.TextWidget({
        markdown: `## Release health (last 30 days, per day)\nFrom the release metrics in \`${namespace}\` (service \`${serviceName}\`). Rollbacks also by \`${dimensions.phase}\` and \`${dimensions.trigger}\` (alarm, state-machine, person, execution-stopped).`,
        width: FULL,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      graph(
        RELEASE_HEALTH_TITLES.frequency,
        [
          metric(names.started, cw.Stats.SUM, 'started'),
          metric(names.succeeded, cw.Stats.SUM, 'succeeded'),
          metric(names.rolledBack, cw.Stats.SUM, 'rolled back'),
          metric(names.failed, cw.Stats.SUM, 'failed before any change'),
        ],
        HALF,
        'releases',
      ),
      graph(
        RELEASE_HEALTH_TITLES.changeFailureRate,
        [
          new cw.MathExpression({
            expression: '100 * FILL(rolledBack, 0) / (FILL(succeeded, 0) + FILL(rolledBack, 0))',
            usingMetrics: {
              succeeded: metric(names.succeeded, cw.Stats.SUM, 'succeeded'),
              rolledBack: metric(names.rolledBack, cw.Stats.SUM, 'rolled back'),
            },
            period: HEALTH_PERIOD,
            label: 'change failure rate %',
          }),
        ],
        HALF,
        '%',
      ),
    );
    this.dashboard.addWidgets(
      graph(
        RELEASE_HEALTH_TITLES.timeToRestore,
        [
          metric(names.timeToRollBack, cw.Stats.AVERAGE, 'average'),
          metric(names.timeToRollBack, cw.Stats.MAXIMUM, 'maximum'),
        ],
        THIRD,
        's',
      ),
      graph(
        RELEASE_HEALTH_TITLES.timeToDetect,
        [
          metric(names.timeToDetect, cw.Stats.AVERAGE, 'average'),
          metric(names.timeToDetect, cw.Stats.MAXIMUM, 'maximum'),
        ],
        THIRD,
        's',
      ),
      graph(
        RELEASE_HEALTH_TITLES.duration,
        (['SUCCEEDED', 'ROLLED_BACK', 'FAILED'] as const).map((outcome) =>
          metric(names.duration, cw.Stats.AVERAGE, outcome.toLowerCase().replace('_', ' '), {
            [dimensions.outcome]: outcome,
          }),
        ),
        THIRD,
        's',
      ),
    );
  }
}

interface MetricRefLike {
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly stat: string;
}

/**
 * A CloudWatch SEARCH expression that returns one time series per value of the version dimension:
 * `SEARCH('{"ns",Dim,Version} MetricName="m" Dim="v"', 'Sum', 60)`.
 */
export function searchExpression(
  namespace: string,
  dimensions: Readonly<Record<string, string>>,
  versionDimension: string,
  metricName: string,
  stat: string,
  period: Duration,
): string {
  for (const s of [
    namespace,
    versionDimension,
    metricName,
    stat,
    ...Object.keys(dimensions),
    ...Object.values(dimensions),
  ]) {
    if (s.includes("'")) {
      throw new Error(
        `ServiceDashboard: metric names, namespaces and dimensions must not contain a single quote (got "${s}"); CloudWatch SEARCH strings are single-quoted. Rename it in tps.config.ts.`,
      );
    }
  }
  const q = (s: string) => JSON.stringify(s);
  const schema = [q(namespace), ...Object.keys(dimensions).map(q), q(versionDimension)].join(',');
  const filters = [
    `MetricName=${q(metricName)}`,
    ...Object.entries(dimensions).map(([k, v]) => `${q(k)}=${q(v)}`),
  ];
  return `SEARCH('{${schema}} ${filters.join(' ')}', '${stat}', ${period.toSeconds()})`;
}

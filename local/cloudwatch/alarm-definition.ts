/**
 * CloudWatch metric alarms as the local CloudWatch evaluates them, read from the synthesized
 * template's `AWS::CloudWatch::Alarm` resources or from a PutMetricAlarm request (the two share
 * their field names). Only the forms the stack synthesizes are accepted:
 *
 * - a single metric: `Namespace`, `MetricName`, `Dimensions`, `Period` and `Statistic` (Sum,
 *   Average, Minimum, Maximum, SampleCount) or `ExtendedStatistic` (a percentile `pNN`);
 * - metric math: `Metrics` with exactly one entry returning data, an `Expression` in the subset of
 *   ./metric-math.ts, over `MetricStat` entries that return no data.
 *
 * Periods are whole minutes (standard resolution). Anything else (anomaly detection bands,
 * `ThresholdMetricId`, Metrics Insights queries, high-resolution periods, unknown properties) is
 * refused with an {@link AlarmDefinitionError} naming every field that is not supported, so a new
 * alarm shape in the stack cannot be ignored locally without anyone noticing.
 */
import { PLACEHOLDER } from '../placeholder.js';
import { type Expr, metricIds, parseExpression } from './metric-math.js';

/** CloudWatch's comparison operators for static thresholds. */
export const COMPARISON_OPERATORS = [
  'GreaterThanThreshold',
  'GreaterThanOrEqualToThreshold',
  'LessThanThreshold',
  'LessThanOrEqualToThreshold',
] as const;
/** One of {@link COMPARISON_OPERATORS}. */
export type ComparisonOperator = (typeof COMPARISON_OPERATORS)[number];

/** CloudWatch's treatments of missing data; `missing` is the default. */
export const TREAT_MISSING_DATA = ['missing', 'notBreaching', 'breaching', 'ignore'] as const;
/** One of {@link TREAT_MISSING_DATA}. */
export type TreatMissingData = (typeof TREAT_MISSING_DATA)[number];

/** The statistics a metric's datapoint can be read as. */
export const STATISTICS = ['Sum', 'Average', 'Minimum', 'Maximum', 'SampleCount'] as const;

/** One metric and how its datapoints are aggregated: a CloudWatch MetricStat. */
export interface MetricStat {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
  /** Seconds; a multiple of 60. */
  readonly period: number;
  /** `Sum`, `Average`, `Minimum`, `Maximum`, `SampleCount` or a percentile such as `p99`. */
  readonly stat: string;
}

/** What an alarm watches: one metric, or a metric-math expression over several. */
export type AlarmMetric =
  | { readonly kind: 'metric'; readonly metric: MetricStat }
  | {
      readonly kind: 'math';
      readonly id: string;
      readonly expression: string;
      readonly parsed: Expr;
      readonly label: string | null;
      readonly metrics: readonly {
        readonly id: string;
        readonly label: string | null;
        readonly metric: MetricStat;
      }[];
    };

/** One metric alarm's configuration. */
export interface AlarmDefinition {
  readonly name: string;
  readonly arn: string;
  readonly description: string | null;
  readonly metric: AlarmMetric;
  /** Seconds per datapoint. */
  readonly period: number;
  /** N: the most recent datapoints judged. */
  readonly evaluationPeriods: number;
  /** M: breaching datapoints among the N that put the alarm in ALARM. */
  readonly datapointsToAlarm: number;
  readonly threshold: number;
  readonly comparisonOperator: ComparisonOperator;
  readonly treatMissingData: TreatMissingData;
  /** SNS topics and other actions on ALARM (kept, not performed locally). */
  readonly alarmActions: readonly string[];
  /** The `Tags` of the template (Key -> Value). */
  readonly tags: Readonly<Record<string, string>>;
}

/** An alarm the local CloudWatch cannot evaluate; `issues` names every bad field. */
export class AlarmDefinitionError extends Error {
  override readonly name = 'AlarmDefinitionError';
  constructor(
    readonly alarm: string,
    readonly issues: readonly string[],
  ) {
    super(`alarm ${alarm} cannot be evaluated locally: ${issues.join('; ')}`);
  }
}

/** The ARN CloudWatch gives alarm `name` in the placeholder account and region of local runs. */
export function alarmArn(name: string): string {
  return `arn:${PLACEHOLDER.partition}:cloudwatch:${PLACEHOLDER.region}:${PLACEHOLDER.account}:alarm:${name}`;
}

const KNOWN_PROPERTIES = new Set([
  'AlarmName',
  'AlarmDescription',
  'ActionsEnabled',
  'AlarmActions',
  'OKActions',
  'InsufficientDataActions',
  'ComparisonOperator',
  'DatapointsToAlarm',
  'EvaluationPeriods',
  'Threshold',
  'TreatMissingData',
  'Metrics',
  'MetricName',
  'Namespace',
  'Dimensions',
  'Period',
  'Statistic',
  'ExtendedStatistic',
  'Unit',
  'Tags',
]);

const PERCENTILE = /^p(\d{1,2}(\.\d{1,10})?|100)$/;

/**
 * Reads one alarm. `props` are the resource's Properties with intrinsic functions already
 * resolved (see {@link alarmsOfTemplate}); `fallbackName` names an alarm without `AlarmName`
 * (CloudFormation would generate one). Throws {@link AlarmDefinitionError} naming every problem.
 */
// biome-ignore lint/suspicious/noExplicitAny: CloudFormation properties are free-form JSON
export function parseAlarm(props: Record<string, any>, fallbackName: string): AlarmDefinition {
  const name = typeof props.AlarmName === 'string' ? props.AlarmName : fallbackName;
  const issues: string[] = [];
  for (const key of Object.keys(props)) {
    if (!KNOWN_PROPERTIES.has(key)) issues.push(`${key} is not supported locally`);
  }
  const int = (field: string, min: number): number => {
    const v = props[field];
    if (!Number.isInteger(v) || v < min) {
      issues.push(`${field} must be an integer >= ${min} (got ${JSON.stringify(v)})`);
      return min;
    }
    return v as number;
  };
  const evaluationPeriods = int('EvaluationPeriods', 1);
  const datapointsToAlarm =
    props.DatapointsToAlarm === undefined ? evaluationPeriods : int('DatapointsToAlarm', 1);
  if (datapointsToAlarm > evaluationPeriods) {
    issues.push(
      `DatapointsToAlarm (${datapointsToAlarm}) must be at most EvaluationPeriods (${evaluationPeriods})`,
    );
  }
  const threshold = Number(props.Threshold);
  if (props.Threshold === undefined || !Number.isFinite(threshold)) {
    issues.push(
      `Threshold must be a number (got ${JSON.stringify(props.Threshold)}); anomaly-detection bands are not supported locally`,
    );
  }
  const op = props.ComparisonOperator;
  if (!(COMPARISON_OPERATORS as readonly unknown[]).includes(op)) {
    issues.push(
      `ComparisonOperator ${JSON.stringify(op)} is not supported locally (supported: ${COMPARISON_OPERATORS.join(', ')})`,
    );
  }
  const treat = props.TreatMissingData ?? 'missing';
  if (!(TREAT_MISSING_DATA as readonly unknown[]).includes(treat)) {
    issues.push(`TreatMissingData ${JSON.stringify(treat)} is not one of ${TREAT_MISSING_DATA.join(', ')}`);
  }

  const periodOf = (value: unknown, field: string): number => {
    if (!Number.isInteger(value) || (value as number) < 60 || (value as number) % 60 !== 0) {
      issues.push(
        `${field} must be a whole number of minutes in seconds (got ${JSON.stringify(value)}); high-resolution periods are not supported locally`,
      );
      return 60;
    }
    return value as number;
  };
  const dimensionsOf = (value: unknown, field: string): Record<string, string> => {
    if (value === undefined) return {};
    const out: Record<string, string> = {};
    if (!Array.isArray(value)) {
      issues.push(`${field} must be a list of { Name, Value }`);
      return out;
    }
    value.forEach((d, i) => {
      if (typeof d?.Name !== 'string' || typeof d?.Value !== 'string') {
        issues.push(`${field}.${i} must be { Name, Value } strings (got ${JSON.stringify(d)})`);
      } else out[d.Name] = d.Value;
    });
    return out;
  };
  const statOf = (value: unknown, field: string): string => {
    if (
      typeof value === 'string' &&
      ((STATISTICS as readonly string[]).includes(value) || PERCENTILE.test(value))
    ) {
      return value;
    }
    issues.push(
      `${field} ${JSON.stringify(value)} is not supported locally (supported: ${STATISTICS.join(', ')}, pNN)`,
    );
    return 'Sum';
  };

  let metric: AlarmMetric;
  let period = 60;
  const single = ['MetricName', 'Namespace', 'Dimensions', 'Period', 'Statistic', 'ExtendedStatistic'].filter(
    (k) => props[k] !== undefined,
  );
  if (props.Metrics !== undefined) {
    if (single.length > 0) issues.push(`Metrics cannot be combined with ${single.join(', ')}`);
    const entries: unknown[] = Array.isArray(props.Metrics) ? props.Metrics : [];
    if (!Array.isArray(props.Metrics) || entries.length === 0)
      issues.push('Metrics must be a non-empty list');
    const returning = entries.filter((e) => (e as { ReturnData?: unknown })?.ReturnData !== false);
    const stats: { id: string; label: string | null; metric: MetricStat }[] = [];
    entries.forEach((raw, i) => {
      // biome-ignore lint/suspicious/noExplicitAny: one Metrics entry, free-form JSON
      const e = raw as Record<string, any>;
      const at = `Metrics.${i}`;
      for (const key of Object.keys(e ?? {})) {
        if (!['Id', 'Expression', 'MetricStat', 'Label', 'ReturnData', 'Period', 'AccountId'].includes(key)) {
          issues.push(`${at}.${key} is not supported locally`);
        }
      }
      if (typeof e?.Id !== 'string' || e.Id.length === 0) issues.push(`${at}.Id must be a string`);
      if (e?.AccountId !== undefined)
        issues.push(`${at}.AccountId (cross-account metrics) is not supported locally`);
      if (e?.MetricStat !== undefined) {
        if (e.ReturnData !== false) {
          issues.push(
            `${at}: a MetricStat that returns data is not a form the stack synthesizes (give the alarm's metric as an Expression over it, or as a single metric)`,
          );
        }
        const ms = e.MetricStat;
        const m = ms?.Metric;
        if (typeof m?.Namespace !== 'string' || typeof m?.MetricName !== 'string') {
          issues.push(`${at}.MetricStat.Metric needs Namespace and MetricName`);
        }
        if (ms?.Unit !== undefined) issues.push(`${at}.MetricStat.Unit is not supported locally`);
        stats.push({
          id: String(e.Id),
          label: typeof e.Label === 'string' ? e.Label : null,
          metric: {
            namespace: String(m?.Namespace),
            metricName: String(m?.MetricName),
            dimensions: dimensionsOf(m?.Dimensions, `${at}.MetricStat.Metric.Dimensions`),
            period: periodOf(ms?.Period, `${at}.MetricStat.Period`),
            stat: statOf(ms?.Stat, `${at}.MetricStat.Stat`),
          },
        });
      } else if (e?.Expression === undefined) {
        issues.push(`${at} needs an Expression or a MetricStat`);
      }
    });
    if (returning.length !== 1) {
      issues.push(`Metrics must have exactly one entry with ReturnData true (got ${returning.length})`);
    }
    // biome-ignore lint/suspicious/noExplicitAny: one Metrics entry, free-form JSON
    const top = returning[0] as Record<string, any> | undefined;
    const expression = typeof top?.Expression === 'string' ? top.Expression : '';
    if (top && typeof top.Expression !== 'string')
      issues.push('the entry of Metrics that returns data must be an Expression');
    if (top?.Period !== undefined) period = periodOf(top.Period, 'Metrics (expression).Period');
    else period = stats[0]?.metric.period ?? 60;
    for (const s of stats) {
      if (s.metric.period !== period) {
        issues.push(
          `Metrics: ${s.id} has a period of ${s.metric.period} s, the expression ${period} s; mixed periods are not supported locally`,
        );
      }
    }
    let parsed: Expr = { kind: 'number', value: 0 };
    try {
      parsed = parseExpression(
        expression,
        stats.map((s) => s.id),
      );
      for (const id of metricIds(parsed)) {
        if (!stats.some((s) => s.id === id))
          issues.push(`the expression reads ${id}, which is not a MetricStat`);
      }
    } catch (error) {
      issues.push(`Expression: ${(error as Error).message}`);
    }
    metric = {
      kind: 'math',
      id: String(top?.Id ?? 'expr'),
      expression,
      parsed,
      label: typeof top?.Label === 'string' ? top.Label : null,
      metrics: stats,
    };
  } else {
    if (typeof props.Namespace !== 'string' || typeof props.MetricName !== 'string') {
      issues.push('a single-metric alarm needs Namespace and MetricName (or give Metrics)');
    }
    if ((props.Statistic === undefined) === (props.ExtendedStatistic === undefined)) {
      issues.push('give exactly one of Statistic and ExtendedStatistic');
    }
    if (props.Unit !== undefined) issues.push('Unit is not supported locally');
    period = periodOf(props.Period, 'Period');
    let stat: string;
    if (props.ExtendedStatistic === undefined) stat = statOf(props.Statistic, 'Statistic');
    else if (PERCENTILE.test(String(props.ExtendedStatistic))) stat = String(props.ExtendedStatistic);
    else {
      issues.push(
        `ExtendedStatistic ${JSON.stringify(props.ExtendedStatistic)} is not supported locally (supported: pNN)`,
      );
      stat = 'p99';
    }
    metric = {
      kind: 'metric',
      metric: {
        namespace: String(props.Namespace),
        metricName: String(props.MetricName),
        dimensions: dimensionsOf(props.Dimensions, 'Dimensions'),
        period,
        stat,
      },
    };
  }
  const tags: Record<string, string> = {};
  for (const t of Array.isArray(props.Tags) ? props.Tags : []) {
    if (typeof t?.Key === 'string' && typeof t?.Value === 'string') tags[t.Key] = t.Value;
  }
  if (issues.length > 0) throw new AlarmDefinitionError(name, issues);
  return {
    name,
    arn: alarmArn(name),
    description: typeof props.AlarmDescription === 'string' ? props.AlarmDescription : null,
    metric,
    period,
    evaluationPeriods,
    datapointsToAlarm,
    threshold,
    comparisonOperator: op as ComparisonOperator,
    treatMissingData: treat as TreatMissingData,
    alarmActions: Array.isArray(props.AlarmActions) ? props.AlarmActions.map(String) : [],
    tags,
  };
}

/** A CloudFormation template, as far as the local CloudWatch and EventBridge read it. */
export interface TemplateResources {
  // biome-ignore lint/suspicious/noExplicitAny: CloudFormation properties are free-form JSON
  readonly Resources: Record<string, { readonly Type: string; readonly Properties?: Record<string, any> }>;
}

/**
 * The template's values with intrinsic functions resolved as local runs name things: a `Ref` is
 * the logical ID (or the placeholder pseudo parameter), `Fn::GetAtt [X, Arn]` is X's ARN (an
 * alarm's CloudWatch ARN by its name, anything else `local:<X>`), any other `Fn::GetAtt [X, attr]`
 * is X's logical ID (a queue's name, for example). Other intrinsics are refused.
 */
export function resolveIntrinsics(value: unknown, template: TemplateResources): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveIntrinsics(v, template));
  if (value === null || typeof value !== 'object') return value;
  const o = value as Record<string, unknown>;
  if (typeof o.Ref === 'string' && Object.keys(o).length === 1) {
    const pseudo: Record<string, string> = {
      'AWS::Partition': PLACEHOLDER.partition,
      'AWS::Region': PLACEHOLDER.region,
      'AWS::AccountId': PLACEHOLDER.account,
    };
    return pseudo[o.Ref] ?? o.Ref;
  }
  if (Array.isArray(o['Fn::GetAtt']) && Object.keys(o).length === 1) {
    const [id, attr] = o['Fn::GetAtt'] as [string, string];
    if (attr !== 'Arn') return id;
    const resource = template.Resources[id];
    if (resource?.Type === 'AWS::CloudWatch::Alarm') {
      const name = resource.Properties?.AlarmName;
      return alarmArn(typeof name === 'string' ? name : id);
    }
    return `local:${id}`;
  }
  const fn = Object.keys(o).find((k) => k.startsWith('Fn::'));
  if (fn) throw new Error(`resolveIntrinsics: ${fn} is not supported locally (${JSON.stringify(o)})`);
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, resolveIntrinsics(v, template)]));
}

/**
 * Every `AWS::CloudWatch::Alarm` of the template. Throws one {@link AlarmDefinitionError}-based
 * error naming every alarm that cannot be evaluated and why.
 */
export function alarmsOfTemplate(template: TemplateResources): AlarmDefinition[] {
  const out: AlarmDefinition[] = [];
  const problems: string[] = [];
  for (const [id, r] of Object.entries(template.Resources)) {
    if (r.Type !== 'AWS::CloudWatch::Alarm') continue;
    try {
      const props = resolveIntrinsics(r.Properties ?? {}, template) as Record<string, unknown>;
      out.push(parseAlarm(props, id));
    } catch (error) {
      problems.push(`${id}: ${(error as Error).message}`);
    }
  }
  if (problems.length > 0) {
    throw new AlarmDefinitionError(
      `(template: ${problems.length} alarm${problems.length === 1 ? '' : 's'})`,
      problems,
    );
  }
  return out;
}

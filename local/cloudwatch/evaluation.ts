/**
 * One evaluation of one metric alarm, as CloudWatch describes it (CloudWatch user guide, "Alarm
 * evaluation" and "Configuring how CloudWatch alarms treat missing data",
 * docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-evaluation.html and
 * .../alarms-and-missing-data.html). Pure: the datapoints come in, the state comes out.
 *
 * - Datapoints are one per `Period`, aligned to the period (a 60 s period starts on the minute);
 *   an evaluation at time T judges the periods that ended at or before T.
 * - Evaluation range: CloudWatch retrieves more datapoints than `EvaluationPeriods` (N); the guide's
 *   example alarm with N = 3 retrieves 5. Here the range is N + {@link EVALUATION_RANGE_EXTRA}.
 * - At least N real (non-missing) datapoints in the range: the newest N real ones are judged,
 *   missing ones skipped, and the missing-data treatment is not used. ALARM when at least
 *   `DatapointsToAlarm` (M) of them breach, otherwise OK (so ALARM -> OK needs N - M + 1
 *   datapoints that do not breach).
 * - No datapoint at all: `missing` -> INSUFFICIENT_DATA, `ignore` -> the state is kept,
 *   `breaching` -> ALARM, `notBreaching` -> OK.
 * - Fewer than N real datapoints: every real one is judged and the treatment fills the rest:
 *   `breaching` and `notBreaching` fill N - real datapoints of their kind; `missing` judges the real
 *   ones alone (ALARM when at least min(M, real) breach); `ignore` fills them on the side of the
 *   current state (breaching while in ALARM, not breaching otherwise), so the missing ones never
 *   move the alarm. This reproduces the guide's table for N = M = 3 (test/unit/cloudwatch-alarms).
 *
 * Reasons and reasonData follow the form CloudWatch writes into the state and the "CloudWatch
 * Alarm State Change" event ("Threshold Crossed: 2 out of the last 2 datapoints [...] were greater
 * than the threshold (0.01) (minimum 2 datapoints for OK -> ALARM transition).").
 */
import { cwTime } from '../alarm-event.js';
import type { AlarmDefinition, ComparisonOperator } from './alarm-definition.js';

/** The states of a metric alarm. */
export type AlarmStateValue = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

/** Extra datapoints beyond EvaluationPeriods in the evaluation range (the guide's example: 3 -> 5). */
export const EVALUATION_RANGE_EXTRA = 2;

/** One period's value of the alarm's metric; null when it has no datapoint. */
export interface Datapoint {
  /** Start of the period. */
  readonly start: Date;
  readonly value: number | null;
}

/** The outcome of one evaluation. */
export interface Evaluation {
  readonly state: AlarmStateValue;
  readonly reason: string;
  /** CloudWatch's reasonData (serialized into the event as a JSON string). */
  readonly reasonData: Record<string, unknown>;
  /** The real datapoints judged, newest first. */
  readonly judged: readonly Datapoint[];
}

/** The number of datapoints an evaluation retrieves. */
export function evaluationRange(def: Pick<AlarmDefinition, 'evaluationPeriods'>): number {
  return def.evaluationPeriods + EVALUATION_RANGE_EXTRA;
}

/** Start of each period in the evaluation range of an evaluation at `at`, newest first. */
export function periodsAt(def: Pick<AlarmDefinition, 'evaluationPeriods' | 'period'>, at: Date): Date[] {
  const ms = def.period * 1000;
  const end = Math.floor(at.getTime() / ms) * ms;
  return Array.from({ length: evaluationRange(def) }, (_, k) => new Date(end - (k + 1) * ms));
}

/** Whether `value` breaches `threshold` under `op`. */
export function breaches(op: ComparisonOperator, value: number, threshold: number): boolean {
  switch (op) {
    case 'GreaterThanThreshold':
      return value > threshold;
    case 'GreaterThanOrEqualToThreshold':
      return value >= threshold;
    case 'LessThanThreshold':
      return value < threshold;
    case 'LessThanOrEqualToThreshold':
      return value <= threshold;
  }
}

const WORDS: Record<ComparisonOperator, string> = {
  GreaterThanThreshold: 'greater than',
  GreaterThanOrEqualToThreshold: 'greater than or equal to',
  LessThanThreshold: 'less than',
  LessThanOrEqualToThreshold: 'less than or equal to',
};

const pad = (n: number) => String(n).padStart(2, '0');
/** CloudWatch's datapoint time in reasons: `02/11/26 10:01:00` (dd/MM/yy, UTC). */
function reasonTime(d: Date): string {
  return `${pad(d.getUTCDate())}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCFullYear() % 100)} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}
const plural = (n: number, one: string, many: string) => (n === 1 ? one : many);

/**
 * Judges `datapoints` (the evaluation range, newest first, as {@link periodsAt} lists it) for
 * `def` in state `current`, at `at`. The threshold and every other setting are `def`'s: an alarm
 * whose threshold was changed is judged on the new one from its next evaluation on.
 */
export function evaluate(
  def: AlarmDefinition,
  current: AlarmStateValue,
  datapoints: readonly Datapoint[],
  at: Date,
): Evaluation {
  const n = def.evaluationPeriods;
  const m = def.datapointsToAlarm;
  const real = datapoints.filter((d): d is Datapoint & { value: number } => d.value !== null);
  const isBreach = (d: { value: number }) => breaches(def.comparisonOperator, d.value, def.threshold);
  const statistic = def.metric.kind === 'metric' ? def.metric.metric.stat : undefined;
  const reasonData = (judged: readonly Datapoint[]) => ({
    version: '1.0',
    queryDate: cwTime(at),
    startDate: cwTime(judged.at(-1)?.start ?? datapoints.at(-1)?.start ?? at),
    ...(statistic && !statistic.startsWith('p') ? { statistic } : {}),
    ...(statistic?.startsWith('p') ? { extendedStatistic: statistic } : {}),
    period: def.period,
    recentDatapoints: [...judged].reverse().map((d) => d.value),
    threshold: def.threshold,
    evaluatedDatapoints: judged.map((d) => ({ timestamp: cwTime(d.start), value: d.value })),
  });

  if (real.length === 0) {
    const r = datapoints.length;
    const treated = (state: AlarmStateValue, as: string): Evaluation => ({
      state,
      reason: `Threshold Crossed: no datapoints were received for ${r} ${plural(r, 'period', 'periods')} and ${r} missing ${plural(r, 'datapoint was', 'datapoints were')} treated as [${as}].`,
      reasonData: reasonData([]),
      judged: [],
    });
    switch (def.treatMissingData) {
      case 'breaching':
        return treated('ALARM', 'Breaching');
      case 'notBreaching':
        return treated('OK', 'NonBreaching');
      case 'ignore':
        return {
          state: current,
          reason: `Ignored: ${r} missing ${plural(r, 'datapoint', 'datapoints')}; the state is kept.`,
          reasonData: reasonData([]),
          judged: [],
        };
      case 'missing':
        return {
          state: 'INSUFFICIENT_DATA',
          reason: `Insufficient Data: ${r} ${plural(r, 'datapoint was', 'datapoints were')} unknown.`,
          reasonData: reasonData([]),
          judged: [],
        };
    }
  }

  let judged: (Datapoint & { value: number })[];
  let filled = 0;
  let filledBreach = false;
  let needed = m;
  if (real.length >= n) {
    judged = real.slice(0, n);
  } else {
    judged = real;
    switch (def.treatMissingData) {
      case 'breaching':
        filled = n - real.length;
        filledBreach = true;
        break;
      case 'notBreaching':
        filled = n - real.length;
        break;
      case 'ignore':
        filled = n - real.length;
        filledBreach = current === 'ALARM';
        break;
      case 'missing':
        needed = Math.min(m, real.length);
        break;
    }
  }
  const breaching = judged.filter(isBreach);
  const count = breaching.length + (filledBreach ? filled : 0);
  const state: AlarmStateValue = count >= needed ? 'ALARM' : 'OK';
  const out = state === 'ALARM' ? breaching : judged.filter((d) => !isBreach(d));
  const shown = out.map((d) => `${d.value} (${reasonTime(d.start)})`).join(', ');
  const total = judged.length + filled;
  const k = state === 'ALARM' ? count : total - count;
  const minimum = state === 'ALARM' ? needed : total - needed + 1;
  const fill =
    filled > 0
      ? ` and ${filled} missing ${plural(filled, 'datapoint was', 'datapoints were')} treated as [${filledBreach ? 'Breaching' : 'NonBreaching'}]`
      : '';
  const reason = `Threshold Crossed: ${k} out of the last ${total} datapoints [${shown}] ${plural(out.length, 'was', 'were')} ${state === 'ALARM' ? '' : 'not '}${WORDS[def.comparisonOperator]} the threshold (${def.threshold})${fill} (minimum ${minimum} ${plural(minimum, 'datapoint', 'datapoints')} for ${current} -> ${state} transition).`;
  return { state, reason, reasonData: reasonData(judged), judged };
}

/**
 * The local CloudWatch: the stack's metric alarms, evaluated once a minute of virtual time against
 * the run's metrics (./metric-data.ts), each state change sent as the "CloudWatch Alarm State
 * Change" event to the local EventBridge (./event-bus.ts), as CloudWatch sends every state change
 * to EventBridge.
 *
 * Alarms are read from the synthesized template and can be created, updated and deleted while a
 * run goes on (PutMetricAlarm, DeleteAlarms): each evaluation uses the configuration current at
 * that moment, so a threshold a release step changes applies from the next evaluation on. A new
 * alarm starts in INSUFFICIENT_DATA; an update keeps the alarm's state (CloudWatch API reference,
 * PutMetricAlarm). Alarm actions (SNS) are kept but not performed.
 */
import { alarmStateChangeEvent } from '../alarm-event.js';
import type { ClockListener } from '../virtual-clock.js';
import { type AlarmDefinition, AlarmDefinitionError, type MetricStat } from './alarm-definition.js';
import { type AlarmStateValue, type Datapoint, type Evaluation, evaluate, periodsAt } from './evaluation.js';
import { evaluateExpression } from './metric-math.js';

/** CloudWatch evaluates metric alarms about once a minute. */
export const EVALUATION_INTERVAL_SECONDS = 60;

/** The run's metrics, one datapoint at a time (the local GetMetricData). */
export interface MetricData {
  /**
   * Why `metric` cannot be read at all (an unsupported statistic of a metric this source
   * publishes), or null. A metric the source does not publish is readable: it has no datapoints.
   */
  problem(metric: MetricStat): string | null;
  /** The value of `metric` over its period starting at `start`, or null when there is no datapoint. */
  datapoint(metric: MetricStat, start: Date): number | null;
}

/** A source of some metrics: {@link publishedBy} routes each metric to the one that publishes it. */
export interface MetricPublisher extends MetricData {
  publishes(metric: MetricStat): boolean;
}

/** Metric data from several publishers, plus the metrics nobody publishes (they have no datapoints). */
export function publishedBy(
  publishers: readonly MetricPublisher[],
): MetricData & { readonly unpublished: Set<string> } {
  const unpublished = new Set<string>();
  const of = (m: MetricStat) => publishers.find((p) => p.publishes(m));
  return {
    unpublished,
    problem: (m) => of(m)?.problem(m) ?? null,
    datapoint: (m, start) => {
      const p = of(m);
      if (!p) {
        unpublished.add(`${m.namespace}/${m.metricName} ${JSON.stringify(m.dimensions)}`);
        return null;
      }
      return p.datapoint(m, start);
    },
  };
}

/** An alarm and where it stands. */
export interface AlarmStatus {
  readonly definition: AlarmDefinition;
  readonly state: AlarmStateValue;
  readonly reason: string;
  readonly reasonData: Record<string, unknown> | null;
  /** When the state last changed (virtual time). */
  readonly since: Date;
  /** The datapoints of the last evaluation, newest first. */
  readonly lastDatapoints: readonly Datapoint[];
}

/** One state change, with the event that was sent for it. */
export interface AlarmStateChange {
  readonly alarm: string;
  readonly from: AlarmStateValue;
  readonly to: AlarmStateValue;
  readonly at: Date;
  readonly reason: string;
  readonly event: ReturnType<typeof alarmStateChangeEvent>;
}

/** Options of {@link LocalCloudWatch}. */
export interface LocalCloudWatchOptions {
  readonly data: MetricData;
  /** Where state-change events go (the local EventBridge's PutEvents). */
  readonly send: (event: ReturnType<typeof alarmStateChangeEvent>) => Promise<void>;
  /** The first evaluation is the first minute boundary after this. */
  readonly start: Date;
  /**
   * The state of the alarms given to the constructor, before their first evaluation: CloudWatch
   * puts a new alarm in INSUFFICIENT_DATA; a stack deployed before the run has alarms long
   * evaluated, which the environment starts as OK. Alarms put later always start in
   * INSUFFICIENT_DATA. @default 'INSUFFICIENT_DATA'
   */
  readonly initialState?: AlarmStateValue;
}

interface Alarm {
  definition: AlarmDefinition;
  /** Datapoints already read for this configuration, by period start (a period's value is final once it ended). */
  memo: Map<number, number | null>;
  state: AlarmStateValue;
  reason: string;
  reasonData: Record<string, unknown> | null;
  since: Date;
  lastDatapoints: readonly Datapoint[];
}

/** See the module comment. Implements {@link ClockListener}: the virtual clock steps it. */
export class LocalCloudWatch implements ClockListener {
  private readonly alarms = new Map<string, Alarm>();
  private readonly listeners: ((change: AlarmStateChange) => void)[] = [];
  private next: number;
  /** Every state change so far, oldest first. */
  readonly history: AlarmStateChange[] = [];

  constructor(
    alarms: readonly AlarmDefinition[],
    private readonly opts: LocalCloudWatchOptions,
  ) {
    const ms = EVALUATION_INTERVAL_SECONDS * 1000;
    this.next = (Math.floor(opts.start.getTime() / ms) + 1) * ms;
    const problems: string[] = [];
    for (const a of alarms) {
      try {
        this.putMetricAlarm(a, opts.start);
        const created = this.alarms.get(a.name);
        if (created && opts.initialState && opts.initialState !== 'INSUFFICIENT_DATA') {
          created.state = opts.initialState;
          created.reason = `local: ${opts.initialState} when the run started (the stack's alarms were evaluated before it)`;
        }
      } catch (error) {
        problems.push((error as Error).message);
      }
    }
    if (problems.length > 0) throw new AlarmDefinitionError('(local CloudWatch)', problems);
  }

  /**
   * PutMetricAlarm: creates the alarm in INSUFFICIENT_DATA, or replaces an existing alarm's
   * configuration and keeps its state. Throws when the metrics source cannot read its metrics.
   */
  putMetricAlarm(
    definition: AlarmDefinition,
    at: Date = new Date(this.next - EVALUATION_INTERVAL_SECONDS * 1000),
  ): void {
    const metrics =
      definition.metric.kind === 'metric'
        ? [definition.metric.metric]
        : definition.metric.metrics.map((m) => m.metric);
    const problems = metrics.map((m) => this.opts.data.problem(m)).filter((p): p is string => p !== null);
    if (problems.length > 0) throw new AlarmDefinitionError(definition.name, problems);
    const existing = this.alarms.get(definition.name);
    if (existing) {
      existing.definition = definition;
      existing.memo = new Map();
      return;
    }
    this.alarms.set(definition.name, {
      definition,
      memo: new Map(),
      state: 'INSUFFICIENT_DATA',
      reason: 'Unchecked: Initial alarm creation',
      reasonData: null,
      since: at,
      lastDatapoints: [],
    });
  }

  /** DeleteAlarms. Unknown names are ignored, as CloudWatch ignores them. */
  deleteAlarms(names: readonly string[]): void {
    for (const n of names) this.alarms.delete(n);
  }

  /** PutMetricAlarm with only the threshold changed; false when there is no such alarm. */
  setThreshold(name: string, threshold: number): boolean {
    const alarm = this.alarms.get(name);
    if (!alarm) return false;
    this.putMetricAlarm({ ...alarm.definition, threshold });
    return true;
  }

  /** DescribeAlarms for one name. */
  describe(name: string): AlarmStatus | undefined {
    const a = this.alarms.get(name);
    return a ? { ...a } : undefined;
  }

  /** The names of every alarm. */
  names(): string[] {
    return [...this.alarms.keys()];
  }

  /** Called with every state change, after its event was sent. */
  onStateChange(listener: (change: AlarmStateChange) => void): void {
    this.listeners.push(listener);
  }

  /** The next evaluation time (ClockListener). */
  nextInstant(): Date {
    return new Date(this.next);
  }

  /** Evaluates every alarm at the next evaluation time (ClockListener: the clock is there). */
  async at(instant: Date): Promise<void> {
    if (instant.getTime() !== this.next) return;
    this.next += EVALUATION_INTERVAL_SECONDS * 1000;
    await this.evaluateAt(instant);
  }

  /** Evaluates every evaluation time up to `until` that has not been evaluated yet. */
  async evaluateUntil(until: Date): Promise<void> {
    while (this.next <= until.getTime()) await this.at(new Date(this.next));
  }

  /** The datapoints of `definition` for an evaluation at `at`, newest first. */
  datapoints(definition: AlarmDefinition, at: Date, memo?: Map<number, number | null>): Datapoint[] {
    const { data } = this.opts;
    const starts = periodsAt(definition, at);
    const points = starts.map((start) => {
      const known = memo?.get(start.getTime());
      if (known !== undefined) return { start, value: known };
      const m = definition.metric;
      let value: number | null;
      if (m.kind === 'metric') value = data.datapoint(m.metric, start);
      else {
        const values = new Map(m.metrics.map((s) => [s.id, data.datapoint(s.metric, start)]));
        value = evaluateExpression(m.parsed, (id) => values.get(id) ?? null);
      }
      memo?.set(start.getTime(), value);
      return { start, value };
    });
    // Only the evaluation range is ever read again.
    const oldest = starts.at(-1)?.getTime() ?? 0;
    if (memo) for (const k of memo.keys()) if (k < oldest) memo.delete(k);
    return points;
  }

  /** One evaluation of every alarm at `at`; the state changes are sent in alarm order, each awaited. */
  private async evaluateAt(at: Date): Promise<void> {
    for (const alarm of [...this.alarms.values()]) {
      // Deleted by an earlier alarm's event handling: not evaluated any more.
      if (this.alarms.get(alarm.definition.name) !== alarm) continue;
      const points = this.datapoints(alarm.definition, at, alarm.memo);
      alarm.lastDatapoints = points;
      const result: Evaluation = evaluate(alarm.definition, alarm.state, points, at);
      if (result.state === alarm.state) continue;
      const previous = {
        value: alarm.state,
        reason: alarm.reason,
        reasonData: alarm.reasonData,
        timestamp: alarm.since,
      };
      alarm.state = result.state;
      alarm.reason = result.reason;
      alarm.reasonData = result.reasonData;
      alarm.since = at;
      const event = alarmStateChangeEvent(alarm.definition, previous, {
        value: result.state,
        reason: result.reason,
        reasonData: result.reasonData,
        timestamp: at,
      });
      const change: AlarmStateChange = {
        alarm: alarm.definition.name,
        from: previous.value,
        to: result.state,
        at,
        reason: result.reason,
        event,
      };
      this.history.push(change);
      await this.opts.send(event);
      for (const l of this.listeners) l(change);
    }
  }
}

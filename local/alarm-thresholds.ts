import { planRestore, planSet, type ThresholdMarks } from '../functions/adapters/aws/alarm-thresholds.js';
import { alarmName } from '../functions/domain/alarms.js';
import type { Catalog } from '../functions/domain/config.js';
import { RUNBOOK } from '../functions/domain/defaults.js';
import type { AlarmThresholds } from '../functions/ports/alarms.js';

/** One change of a local latency alarm's threshold, oldest first. */
export interface ThresholdChange {
  readonly service: string;
  readonly alarmName: string;
  readonly threshold: number;
}

/** The local CloudWatch's alarms, as far as the thresholds need them (local/cloudwatch/local-cloudwatch.ts). */
export interface ThresholdAlarms {
  describe(name: string): { readonly definition: { readonly threshold: number } } | undefined;
  setThreshold(name: string, threshold: number): boolean;
}

/**
 * The latency alarms of a local run: one per service of the catalog, configured as the CDK stack
 * configures it (RUNBOOK.rollbackTriggers.p99BaselineMultiplier x the service's p99 SLO; see
 * infra/constructs/service-alarms.ts), with the same set and restore rules as the CloudWatch
 * adapter (`planSet`, `planRestore`): the configured threshold is kept in marks on the alarm, so a
 * restore puts back exactly that value. With the local CloudWatch (`alarms`), a service's alarm
 * there starts from its synthesized threshold and gets every change, so its next evaluation
 * judges the new threshold.
 */
export class LocalAlarmThresholds implements AlarmThresholds {
  private readonly alarms = new Map<string, { threshold: number; marks: ThresholdMarks | null }>();
  private readonly log: ThresholdChange[] = [];

  constructor(
    private readonly catalog: Catalog,
    multiplier: number = RUNBOOK.rollbackTriggers.p99BaselineMultiplier,
    private readonly cloudwatch?: ThresholdAlarms,
  ) {
    for (const [service, svc] of Object.entries(catalog.services)) {
      const evaluated = cloudwatch?.describe(alarmName(catalog.appName, service, 'latency'));
      this.alarms.set(service, {
        threshold: evaluated?.definition.threshold ?? multiplier * svc.slo.p99Ms,
        marks: null,
      });
    }
  }

  /** The latency alarm's current threshold; null when the service has none. */
  threshold(service: string): number | null {
    return this.alarms.get(service)?.threshold ?? null;
  }

  /** Every threshold change so far, oldest first. */
  get changes(): readonly ThresholdChange[] {
    return this.log;
  }

  async setLatencyThreshold(service: string, thresholdMs: number): Promise<{ previous: number | null }> {
    const alarm = this.alarms.get(service);
    if (!alarm) return { previous: null };
    const plan = planSet(alarm.threshold, alarm.marks, thresholdMs);
    if (plan.marks) alarm.marks = plan.marks;
    if (plan.put !== null) this.change(service, alarm, plan.put);
    return { previous: plan.configured };
  }

  async restore(service: string): Promise<void> {
    const alarm = this.alarms.get(service);
    if (!alarm) return;
    const plan = planRestore(alarm.threshold, alarm.marks);
    if (plan.put !== null) this.change(service, alarm, plan.put);
    if (plan.unmark) alarm.marks = null;
  }

  private change(service: string, alarm: { threshold: number }, threshold: number): void {
    alarm.threshold = threshold;
    const name = alarmName(this.catalog.appName, service, 'latency');
    this.cloudwatch?.setThreshold(name, threshold);
    this.log.push({ service, alarmName: name, threshold });
  }
}

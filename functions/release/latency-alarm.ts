import { alarmName } from '../domain/alarms.js';
import { RUNBOOK } from '../domain/defaults.js';
import type { DeploymentRecord } from '../domain/record.js';
import type { ReleasePorts } from '../ports/release.js';

/**
 * The p99 rollback trigger during a release: "p99 > 3x baseline for 2 minutes". The latency
 * alarm is configured at the multiplier times the SLO (infra/constructs/service-alarms.ts); once
 * "Record Rollback Plan" has measured the stable version's p99, the alarm's threshold becomes the
 * multiplier times that baseline, and the release's end puts the configured threshold back.
 *
 * Neither step fails the release over the alarm: the cluster work matters more, and an alarm left
 * at its configured threshold still guards the service. What happened, or why nothing did, goes
 * into the record's events (the returned sentence).
 */

/** Sets the latency alarm to the multiplier x the baseline p99; the sentence for the record. */
export async function armLatencyAlarm(
  ports: Pick<ReleasePorts, 'catalog' | 'alarmThresholds'>,
  service: string,
  baseline: DeploymentRecord['baseline'],
): Promise<string | null> {
  const thresholds = ports.alarmThresholds;
  const name = alarmName(ports.catalog.appName, service, 'latency');
  const p99 = baseline?.p99Ms ?? null;
  if (p99 === null || !(p99 > 0)) {
    return `latency alarm ${name} left at its configured threshold: no baseline p99 was measured (no stable traffic before the release)`;
  }
  const multiplier = RUNBOOK.rollbackTriggers.p99BaselineMultiplier;
  const threshold = round(multiplier * p99);
  try {
    const { previous } = await thresholds.setLatencyThreshold(service, threshold);
    if (previous === null) return `latency alarm ${name} does not exist: no p99 alarm to arm`;
    return `latency alarm ${name}: threshold ${threshold} ms (${multiplier}x baseline p99 ${p99} ms) until the release ends; configured ${previous} ms`;
  } catch (e) {
    return `latency alarm ${name} left at its configured threshold: setting ${threshold} ms failed: ${errorText(e)}`;
  }
}

/**
 * Puts the latency alarm's configured threshold back at the end of a release. Left alone while
 * another deployment of the service holds the lock (a late rollback of an older release must not
 * disarm the running one).
 */
export async function restoreLatencyAlarm(
  ports: Pick<ReleasePorts, 'catalog' | 'alarmThresholds' | 'store'>,
  service: string,
  deploymentId: string,
): Promise<string | null> {
  const thresholds = ports.alarmThresholds;
  const name = alarmName(ports.catalog.appName, service, 'latency');
  try {
    const holder = await ports.store.active(service);
    if (holder && holder.deploymentId !== deploymentId) {
      return `latency alarm ${name} left as it is: ${holder.deploymentId} is being released`;
    }
    await thresholds.restore(service);
    return `latency alarm ${name} back at its configured threshold`;
  } catch (e) {
    return `latency alarm ${name} not restored to its configured threshold: ${errorText(e)}`;
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

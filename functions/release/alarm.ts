import { ALARM_SIGNALS, alarmEventSchema, parseAlarmName } from '../domain/alarms.js';
import { toFieldIssues } from '../domain/config.js';
import { InvalidInputError } from '../domain/errors.js';
import type { ReleasePorts } from './ports.js';
import { performRollback } from './steps.js';

export interface AlarmOutcome {
  readonly action: 'rolled-back' | 'already-rolled-back' | 'notified' | 'ignored';
  readonly service: string | null;
  readonly deploymentId: string | null;
  readonly detail: string;
}

/**
 * An alarm went to ALARM. Critical alarms roll back the active deployment (stopping its execution);
 * warnings, and any alarm while nothing is being deployed or watched, only notify. Duplicate and
 * late events change nothing twice: the rollback claim in the table admits one winner.
 */
export async function handleAlarm(ports: ReleasePorts, raw: unknown): Promise<AlarmOutcome> {
  const parsed = alarmEventSchema.safeParse(raw);
  if (!parsed.success) throw new InvalidInputError(toFieldIssues(parsed.error), 'alarm event');
  const ev = parsed.data;
  const { alarmName, state } = ev.detail;
  if (state.value !== 'ALARM') {
    return { action: 'ignored', service: null, deploymentId: null, detail: `${alarmName} is ${state.value}` };
  }
  const match = parseAlarmName(ports.catalog.appName, alarmName, Object.keys(ports.catalog.services));
  if (!match) {
    return {
      action: 'ignored',
      service: null,
      deploymentId: null,
      detail: `${alarmName} is not a tps-deploy alarm`,
    };
  }
  const severity = ALARM_SIGNALS[match.signal].severity;
  const active = await ports.store.active(match.service);
  const alarm = { name: alarmName, reason: state.reason, reasonData: state.reasonData ?? null };
  if (!active || severity !== 'critical') {
    const why = !active ? 'no deployment is active' : `severity ${severity}`;
    await ports.notifier.notify({
      kind: 'alarm',
      service: match.service,
      deploymentId: active?.deploymentId ?? null,
      subject: `${match.service}: ${alarmName} in ALARM (${severity}); not rolling back`,
      message: `${state.reason} (${why}: investigate).`,
    });
    return {
      action: 'notified',
      service: match.service,
      deploymentId: active?.deploymentId ?? null,
      detail: why,
    };
  }
  if (active.executionArn) {
    await ports.stopExecution(active.executionArn, `rolled back by alarm ${alarmName}`);
  }
  const result = await performRollback(ports, {
    service: match.service,
    deploymentId: active.deploymentId,
    trigger: `alarm:${alarmName}`,
    reason: `${ALARM_SIGNALS[match.signal].title}: ${state.reason}`,
    phase: active.stage === 'watching' ? 'watch' : null,
    alarm,
  });
  return {
    action: result.claimed ? 'rolled-back' : 'already-rolled-back',
    service: match.service,
    deploymentId: active.deploymentId,
    detail: result.reason,
  };
}

import { ALARM_SIGNALS, type AlarmEvent, alarmEventSchema, parseAlarmName } from '../domain/alarms.js';
import { toFieldIssues } from '../domain/config.js';
import { InvalidInputError } from '../domain/errors.js';
import type { RollbackInfo } from '../domain/record.js';
import type { ReleasePorts } from '../ports/release.js';
import { performRollback } from './steps.js';

/** What one alarm event did. */
export interface AlarmOutcome {
  /**
   * `rolled-back`: this call rolled the active deployment back. `already-rolled-back`: a duplicate
   * of an event that did (or is doing) it. `notified`: a person was told, nothing changed.
   * `ignored`: not an ALARM state, or not one of this app's alarms.
   */
  readonly action: 'rolled-back' | 'already-rolled-back' | 'notified' | 'ignored';
  readonly service: string | null;
  readonly deploymentId: string | null;
  readonly detail: string;
}

/**
 * The alarmRollback task: an EventBridge "CloudWatch Alarm State Change" event.
 *
 * - Not ALARM (OK, INSUFFICIENT_DATA), or not one of this app's alarms: ignored, nothing written.
 * - A critical alarm while a deployment holds the service: its execution is stopped (the ARN
 *   recorded in the lock) and the deployment rolled back ({@link performRollback}) with trigger
 *   `alarm:<name>` and the alarm's name, reason and reasonData in the record.
 * - A warning, or any alarm while nothing is being deployed: the team is notified, nothing changes.
 * - Duplicates (EventBridge delivers at least once, and retries): the rollback claim admits one
 *   winner while the rollback runs; afterwards the latest record, rolled back by this very state
 *   change, answers `already-rolled-back` without a second notification.
 *
 * A malformed event throws InvalidInputError naming every bad field, before anything is read or
 * written.
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
      detail: `${alarmName} is not a ${ports.catalog.appName} alarm`,
    };
  }
  const { severity, title } = ALARM_SIGNALS[match.signal];
  const active = await ports.store.active(match.service);
  const alarm = { name: alarmName, reason: state.reason, reasonData: state.reasonData ?? null };
  if (!active && severity === 'critical') {
    const duplicate = await rolledBackBy(ports, match.service, ev);
    if (duplicate) {
      return {
        action: 'already-rolled-back',
        service: match.service,
        deploymentId: duplicate,
        detail: `this state change of ${alarmName} (${state.timestamp}) already rolled back ${duplicate}`,
      };
    }
  }
  // A release still at its gates or waiting for approval has not changed the cluster: the alarm is
  // about the version already running, so there is nothing of this release to roll back.
  const untouched =
    active !== null && severity === 'critical'
      ? (await ports.store.getPlan(match.service, active.deploymentId)) === null
      : false;
  if (!active || severity !== 'critical' || untouched) {
    const why = !active
      ? 'no deployment is active'
      : untouched
        ? `release ${active.deploymentId} has not changed the cluster yet`
        : `severity ${severity}`;
    await ports.notifier.notify({
      kind: 'alarm',
      service: match.service,
      deploymentId: active?.deploymentId ?? null,
      subject: `${match.service}: ${alarmName} in ALARM (${severity}); not rolling back`,
      message: `${title}: ${state.reason} (${why}: investigate).`,
    });
    return {
      action: 'notified',
      service: match.service,
      deploymentId: active?.deploymentId ?? null,
      detail: why,
    };
  }
  if (active.executionArn) {
    // Stopped first, so the state machine does not shift traffic again under the rollback.
    await ports.stopExecution(active.executionArn, `rolled back by alarm ${alarmName}: ${state.reason}`);
  }
  const result = await performRollback(ports, {
    service: match.service,
    deploymentId: active.deploymentId,
    trigger: `alarm:${alarmName}`,
    reason: `${title}: ${state.reason}`,
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

/**
 * The deployment this very state change already rolled back, if it is the service's latest: same
 * alarm, same reason and reasonData (CloudWatch's reasonData carries the evaluation's queryDate,
 * so a later firing of the same alarm differs).
 */
async function rolledBackBy(ports: ReleasePorts, service: string, ev: AlarmEvent): Promise<string | null> {
  const [latest] = await ports.store.history(service, 1);
  const rb: RollbackInfo | null | undefined = latest?.rollback;
  const { alarmName, state } = ev.detail;
  const same =
    rb?.trigger === `alarm:${alarmName}` &&
    rb.alarm?.reason === state.reason &&
    rb.alarm.reasonData === (state.reasonData ?? null);
  return same && latest ? latest.deploymentId : null;
}

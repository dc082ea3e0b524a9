import { ALARM_SIGNALS, type AlarmEvent, alarmEventSchema, parseAlarmName } from '../domain/alarms.js';
import { toFieldIssues } from '../domain/config.js';
import { decideAlarm } from '../domain/decisions.js';
import { InvalidInputError } from '../domain/errors.js';
import type { RollbackInfo } from '../domain/record.js';
import { addEvent } from '../domain/record-transitions.js';
import type { ReleasePorts } from '../ports/release.js';
import { performRollback } from './rollback.js';

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
  const match =
    state.value === 'ALARM'
      ? parseAlarmName(ports.catalog.appName, alarmName, Object.keys(ports.catalog.services))
      : null;
  const signal = match ? ALARM_SIGNALS[match.signal] : null;
  const critical = signal?.severity === 'critical';
  // Read only what the decision can use: the lock, then either the duplicate check (nothing
  // active) or whether the active release has touched the cluster yet (a rollback plan exists).
  const active = match ? await ports.store.active(match.service) : null;
  const alreadyRolledBack =
    match && critical && !active ? await rolledBackBy(ports, match.service, ev) : null;
  const untouched =
    active && critical ? (await ports.store.getPlan(active.service, active.deploymentId)) === null : false;
  const decision = decideAlarm({
    alarmName,
    state: state.value,
    severity: signal?.severity ?? null,
    appName: ports.catalog.appName,
    active,
    alreadyRolledBack,
    untouched,
    alarmAt: state.timestamp,
  });
  switch (decision.action) {
    case 'ignore':
      return { action: 'ignored', service: null, deploymentId: null, detail: decision.detail };
    case 'already-rolled-back':
      return {
        action: 'already-rolled-back',
        service: match!.service,
        deploymentId: decision.deploymentId,
        detail: `this state change of ${alarmName} (${state.timestamp}) already rolled back ${decision.deploymentId}`,
      };
    case 'notify':
      if (decision.late)
        await noteLateAlarm(ports, match!.service, decision.late, `${alarmName} (${state.reason})`);
      await ports.notifier.notify({
        kind: 'alarm',
        service: match!.service,
        deploymentId: active?.deploymentId ?? null,
        subject: `${match!.service}: ${alarmName} in ALARM (${signal!.severity}); not rolling back`,
        message: `${signal!.title}: ${state.reason} (${decision.why}: investigate).`,
      });
      return {
        action: 'notified',
        service: match!.service,
        deploymentId: active?.deploymentId ?? null,
        detail: decision.why,
      };
    case 'roll-back': {
      const holder = active!;
      if (holder.executionArn) {
        // Stopped first, so the state machine does not shift traffic again under the rollback.
        await ports.executions.stop(
          holder.executionArn,
          `rolled back by alarm ${alarmName}: ${state.reason}`,
        );
      }
      const result = await performRollback(ports, {
        service: holder.service,
        deploymentId: holder.deploymentId,
        trigger: `alarm:${alarmName}`,
        reason: `${signal!.title}: ${state.reason}`,
        phase: decision.phase,
        alarm: { name: alarmName, reason: state.reason, reasonData: state.reasonData ?? null },
      });
      return {
        action: result.claimed ? 'rolled-back' : 'already-rolled-back',
        service: holder.service,
        deploymentId: holder.deploymentId,
        detail: result.reason,
      };
    }
  }
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

/**
 * An alarm about an earlier release, delivered while another holds the service (EventBridge and
 * Lambda redeliver for hours): the earlier release's record says it came and was not acted on.
 */
async function noteLateAlarm(
  ports: ReleasePorts,
  service: string,
  late: { readonly alarmAt: string; readonly current: string },
  what: string,
): Promise<void> {
  const recent = await ports.store.history(service, 10);
  const about = recent.find((r) => r.deploymentId !== late.current && r.startedAt <= late.alarmAt);
  if (!about) return;
  addEvent(
    about,
    ports.clock.now(),
    `alarm ${what} of ${late.alarmAt} delivered late, while ${late.current} holds the service: not acted on`,
  );
  await ports.store.put(about).catch(() => undefined);
}

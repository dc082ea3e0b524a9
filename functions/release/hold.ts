/**
 * Holds: a person asks to keep the release where it is (record field `hold`, written by
 * {@link requestHold} or the CLI's `hold`). It takes effect after the next validation that passes:
 * "Hold At <Phase>" is a `.waitForTaskToken` task that waits for promote (continue with the next
 * phase) or abort (roll back), at most the hold timeout (then it rolls back: "hold timed out").
 * With `holdOnInconclusive: true` a window that stays inconclusive holds for a person instead of
 * failing safe. The wait is `pendingApproval` (with the phase; the token in its own item), so the
 * answer endpoint's promote and abort answer a hold as approve and reject answer an approval.
 */

import type { HoldCause } from '../domain/decisions.js';
import { type PhaseName, RUNBOOK } from '../domain/defaults.js';
import { ERROR_NAMES, TpsError } from '../domain/errors.js';
import type { ReleasePlan } from '../domain/input.js';
import type { HoldState } from '../domain/record.js';
import { addEvent } from '../domain/record-transitions.js';
import type { ReleasePorts } from '../ports/release.js';
import { answerCommands, rejecterOf } from './approval.js';
import { loadRecord, serviceOf, updateRecord } from './support.js';

/** A hold was asked for a release that does not exist or has ended: nothing was written. */
export class HoldRefusedError extends TpsError {
  constructor(message: string) {
    super(ERROR_NAMES.holdRefused, message);
  }
}

/** Who holds a release that holds on its own (`holdOnInconclusive`). */
export const INCONCLUSIVE_HOLDER = 'tps-deploy (holdOnInconclusive)';

/** "Hold At <Phase>": stores the token, tells the team how to promote or abort. */
export async function holdRelease(
  ports: ReleasePorts,
  event: {
    plan: ReleasePlan;
    phase: PhaseName;
    taskToken: string;
    timeoutSeconds: number;
    cause?: HoldCause | null;
  },
): Promise<{ heldAt: string; expiresAt: string }> {
  const { plan, phase } = event;
  const now = ports.clock.now();
  const expiresAt = new Date(now.getTime() + event.timeoutSeconds * 1000).toISOString();
  const record = await loadRecord(ports, plan);
  const cause: HoldCause = event.cause === 'inconclusive' ? 'inconclusive' : 'requested';
  const hold: HoldState = record.hold ?? {
    requestedBy: INCONCLUSIVE_HOLDER,
    at: now.toISOString(),
    reason: `the ${phase} window stayed inconclusive`,
  };
  record.hold = {
    ...hold,
    pending: { phase, since: now.toISOString(), expiresAt, cause },
    decision: null,
  };
  // The token in its own item, never in the record (functions/adapters/aws/dynamodb-store/waits.ts).
  await ports.store.saveTaskToken(plan.service, plan.deploymentId, event.taskToken);
  record.pendingApproval = { requestedAt: now.toISOString(), expiresAt, phase };
  const why =
    cause === 'inconclusive'
      ? `the ${phase} window stayed inconclusive`
      : `hold requested by ${hold.requestedBy}`;
  addEvent(record, now, `held at ${phase} (${why}); promote or abort by ${expiresAt}, else it rolls back`);
  await ports.store.put(record);
  const verdict = record.phases.find((p) => p.name === phase)?.decisions.at(-1)?.summary ?? '';
  await ports.notifier.notify({
    kind: 'approval-needed',
    service: plan.service,
    deploymentId: plan.deploymentId,
    subject: `${plan.service} ${plan.version}: held at ${phase}; promote or abort`,
    message: [
      `The release of ${record.image} holds at ${phase} (${why}). Traffic stays where it is.`,
      ...(verdict ? [`Last window: ${verdict}`] : []),
      answerCommands(plan.service, plan.deploymentId, { yes: 'Promote', no: 'Abort (roll back)' }),
      `No answer by ${expiresAt} (${event.timeoutSeconds} s): it rolls back.`,
    ].join('\n\n'),
  });
  return { heldAt: now.toISOString(), expiresAt };
}

/** The result of "Record <Phase> Promotion" / "<Phase> Hold Timed Out" / "<Phase> Hold Aborted". */
export type HoldOutcome =
  | { readonly decision: 'promoted'; readonly by: string | null }
  | {
      readonly decision: 'timed-out' | 'aborted';
      readonly Error: string;
      readonly Cause: string;
      readonly phase: PhaseName;
    };

/**
 * Records how a hold ended and closes the request. Promoted: the release goes on. Timed out or
 * aborted: returns the failure the state machine rolls back with ("hold timed out ...").
 */
export async function recordHoldDecision(
  ports: ReleasePorts,
  event: {
    plan: ReleasePlan;
    phase: PhaseName;
    decision: 'promoted' | 'timed-out' | 'aborted';
    answer?: { by?: unknown; comment?: unknown } | null;
    error?: { Error?: string; Cause?: string } | null;
  },
): Promise<HoldOutcome> {
  const { plan, phase } = event;
  const svc = serviceOf(ports, plan);
  const timeout = svc.holdTimeoutSeconds ?? RUNBOOK.holdTimeoutSeconds;
  const now = ports.clock.now();
  const record = await loadRecord(ports, plan);
  const cause = typeof event.error?.Cause === 'string' ? event.error.Cause : '';
  // An abort is a SendTaskFailure; anything else that ended the wait counts as an abort too.
  const decision =
    event.decision === 'aborted' && event.error?.Error === ERROR_NAMES.statesTimeout
      ? 'timed-out'
      : event.decision;
  const by =
    decision === 'promoted'
      ? typeof event.answer?.by === 'string'
        ? event.answer.by
        : null
      : decision === 'aborted'
        ? rejecterOf(cause)
        : null;
  const base: HoldState = record.hold ?? { requestedBy: 'unknown', at: now.toISOString() };
  record.hold = { ...base, pending: null, decision: { decision, phase, by, at: now.toISOString() } };
  record.pendingApproval = null;
  await ports.store.dropTaskToken(plan.service, plan.deploymentId);
  let outcome: HoldOutcome;
  if (decision === 'promoted') {
    addEvent(record, now, `hold at ${phase} promoted by ${by ?? 'someone'}: the release goes on`);
    outcome = { decision, by };
  } else if (decision === 'timed-out') {
    const reason = `hold timed out at ${phase}: nobody promoted or aborted within ${timeout} s`;
    addEvent(record, now, reason);
    outcome = { decision, Error: ERROR_NAMES.holdTimedOut, Cause: reason, phase };
  } else {
    const reason = `hold at ${phase} aborted${by ? ` by ${by}` : ''}${cause && event.error?.Error === ERROR_NAMES.approvalRejected ? ` (${cause})` : cause ? `: ${event.error?.Error}: ${cause}` : ''}`;
    addEvent(record, now, reason);
    outcome = { decision, Error: ERROR_NAMES.holdAborted, Cause: reason, phase };
  }
  await ports.store.put(record);
  await ports.notifier.notify({
    kind: 'decision',
    service: plan.service,
    deploymentId: plan.deploymentId,
    subject: `${plan.service} ${plan.version}: hold at ${phase} ${decision}${decision === 'promoted' ? '' : ' -> roll back'}`,
    message: 'Cause' in outcome ? outcome.Cause : `Promoted by ${by ?? 'someone'}; the release goes on.`,
  });
  return outcome;
}

/**
 * A person asks to hold a running release (what the CLI's `hold` writes): it takes effect after
 * the next validation that passes. Retries on a conflicting write (the pipeline writes too).
 */
export async function requestHold(
  ports: Pick<ReleasePorts, 'store' | 'clock'>,
  request: { service: string; deploymentId: string; by: string; reason?: string },
): Promise<HoldState> {
  const held = await updateRecord(ports, request.service, request.deploymentId, (record) => {
    if (record.outcome !== 'RUNNING') {
      throw new HoldRefusedError(
        `${request.deploymentId} already ended (${record.outcome}); nothing to hold`,
      );
    }
    const now = ports.clock.now();
    const hold: HoldState = {
      requestedBy: request.by,
      at: now.toISOString(),
      reason: request.reason ?? null,
      pending: null,
      decision: null,
    };
    record.hold = hold;
    addEvent(record, now, `hold requested by ${request.by}${request.reason ? `: ${request.reason}` : ''}`);
    return hold;
  });
  if (!held) throw new HoldRefusedError(`no deployment ${request.service}/${request.deploymentId}`);
  return held;
}

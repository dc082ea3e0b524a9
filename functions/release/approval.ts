/**
 * The team lead's approval: "Request Approval" is a `.waitForTaskToken` task. Its step keeps the
 * task token in its own item of the table (never in the record: `pendingApproval` says only that
 * and until when the release waits) and tells the team how to answer; the answer endpoint
 * (functions/release/answer.ts) checks who answers and delivers it with SendTaskSuccess (approve)
 * or SendTaskFailure `ApprovalRejected` (reject) through {@link answerPending}. No answer within
 * the approval timeout is `States.Timeout`: rejected.
 * The answer is recorded by the state machine's next task, so the pipeline is the record's only
 * writer while it runs.
 */

import type { PersonAnswer } from '../contract/io.js';
import { RUNBOOK } from '../domain/defaults.js';
import { ERROR_NAMES, TpsError } from '../domain/errors.js';
import type { ReleasePlan } from '../domain/input.js';
import type { ApprovalDecision, DeploymentRecord } from '../domain/record.js';
import { addEvent } from '../domain/record-transitions.js';
import type { ReleasePorts } from '../ports/release.js';
import { loadRecord } from './support.js';

/** The output of an approving SendTaskSuccess (what the CLI sends). */
export interface ApprovalAnswer {
  readonly approved: true;
  readonly by: string;
  readonly at: string;
  readonly comment?: string;
}

/** How a person answers, for the notifications. */
export function answerCommands(
  service: string,
  deploymentId: string,
  verbs: { yes: string; no: string },
): string {
  return [
    `${verbs.yes}: tps-deploy approve ${deploymentId} --service ${service}`,
    `${verbs.no}: tps-deploy reject ${deploymentId} --service ${service} --reason "<why>"`,
  ].join('\n');
}

/** "Request Approval": stores the token, asks the team lead. Idempotent (a retry stores the same). */
export async function requestApproval(
  ports: ReleasePorts,
  event: { plan: ReleasePlan; taskToken: string; timeoutSeconds?: number },
): Promise<{ requestedAt: string; expiresAt: string }> {
  const { plan } = event;
  const timeout = event.timeoutSeconds ?? RUNBOOK.approvalTimeoutSeconds;
  const now = ports.clock.now();
  const expiresAt = new Date(now.getTime() + timeout * 1000).toISOString();
  const record = await loadRecord(ports, plan);
  // The token first: a record that says "waiting" always has a token to answer.
  await ports.store.saveTaskToken(plan.service, plan.deploymentId, event.taskToken);
  record.pendingApproval = { requestedAt: now.toISOString(), expiresAt };
  addEvent(record, now, `approval requested; unanswered by ${expiresAt} counts as rejected`);
  await ports.store.put(record);
  const gates = (record.gates ?? []).map((g) => `- ${g.name}: ${g.evidence}`).join('\n');
  const owed = (record.followUps ?? []).map((f) => `- ${f.item}: ${f.detail}`).join('\n');
  await ports.notifier.notify({
    kind: 'approval-needed',
    service: plan.service,
    deploymentId: plan.deploymentId,
    subject: `${plan.service}: approve release of ${plan.version}?`,
    message: [
      `${plan.requestedBy} asks to release ${record.image} (${plan.mode})${plan.changeRef ? `, change ${plan.changeRef}` : ''}.`,
      `Gates passed:\n${gates}`,
      ...(owed ? [`Owed afterwards:\n${owed}`] : []),
      answerCommands(plan.service, plan.deploymentId, { yes: 'Approve', no: 'Reject' }),
      `No answer by ${expiresAt} (${timeout} s) counts as rejected.`,
    ].join('\n\n'),
  });
  return { requestedAt: now.toISOString(), expiresAt };
}

/** "Record Approval": the approval into the record, the request closed, the team told. */
export async function recordApproval(
  ports: ReleasePorts,
  event: { plan: ReleasePlan; answer: PersonAnswer | null },
): Promise<ApprovalDecision> {
  const { plan } = event;
  const now = ports.clock.now();
  const record = await loadRecord(ports, plan);
  const decision: ApprovalDecision = {
    decision: 'approved',
    by: typeof event.answer?.by === 'string' ? event.answer.by : null,
    at: now.toISOString(),
    comment: typeof event.answer?.comment === 'string' ? event.answer.comment : null,
    verified: event.answer?.verified === true,
  };
  record.approval = decision;
  record.pendingApproval = null;
  await ports.store.dropTaskToken(plan.service, plan.deploymentId);
  addEvent(
    record,
    now,
    `approved by ${decision.by ?? 'someone'}${decision.comment ? `: ${decision.comment}` : ''}`,
  );
  await ports.store.put(record);
  await ports.notifier.notify({
    kind: 'decision',
    service: plan.service,
    deploymentId: plan.deploymentId,
    subject: `${plan.service}: release of ${plan.version} approved by ${decision.by ?? 'someone'}`,
    message: `Approved${decision.comment ? `: ${decision.comment}` : ''}. The release starts now.`,
  });
  return decision;
}

/** The outcome of an unanswered or refused approval, or of a failed request. */
export interface RejectionResult {
  readonly outcome: 'REJECTED' | 'FAILED';
  readonly reason: string;
}

/**
 * Who rejected, from the cause `rejected by <who>: <reason>`; null when not in that form. `<who>`
 * may be an ARN (colons, no spaces): it ends at the first ": " or at the end.
 */
export function rejecterOf(cause: string): string | null {
  const m = /^rejected by (.+?)(?:: |:$|$)/.exec(cause.trim());
  return m ? m[1]!.trim() : null;
}

/**
 * "Mark Release Rejected": a rejection or a timeout ends the release REJECTED before any cluster
 * change; any other failure of the approval task ends it FAILED. The lock is released.
 */
export async function rejectRelease(
  ports: ReleasePorts,
  event: { plan: ReleasePlan; error: { Error?: string; Cause?: string } | null; timeoutSeconds?: number },
): Promise<RejectionResult> {
  const { plan } = event;
  const now = ports.clock.now();
  const name = event.error?.Error ?? 'Error';
  const cause = causeOf(event.error?.Cause);
  const timeout = event.timeoutSeconds ?? RUNBOOK.approvalTimeoutSeconds;
  let outcome: RejectionResult['outcome'] = 'REJECTED';
  let reason: string;
  let decision: ApprovalDecision | null = null;
  const record = await ports.store.get(plan.service, plan.deploymentId);
  if (name === ERROR_NAMES.statesTimeout) {
    reason = `approval timed out: nobody approved within ${timeout} s`;
    decision = { decision: 'timed-out', by: null, at: now.toISOString(), comment: null };
  } else if (name === ERROR_NAMES.approvalRejected) {
    reason = cause || 'rejected';
    decision = {
      decision: 'rejected',
      by: rejecterOf(cause),
      at: now.toISOString(),
      comment: cause || null,
      verified: verifiedRejection(record?.answers, rejecterOf(cause)),
    };
  } else {
    outcome = 'FAILED';
    reason = `approval could not be requested: ${name}: ${cause}`;
  }
  if (record && record.outcome === 'RUNNING') {
    record.outcome = outcome;
    record.endedAt = now.toISOString();
    record.pendingApproval = null;
    if (decision) record.approval = decision;
    addEvent(
      record,
      now,
      `${outcome === 'REJECTED' ? 'rejected' : 'failed'} before any cluster change: ${reason}`,
    );
    await ports.store.put(record);
  }
  await ports.store.dropTaskToken(plan.service, plan.deploymentId);
  await ports.store.release(plan.service, plan.deploymentId);
  await ports.notifier.notify({
    kind: 'finished',
    service: plan.service,
    deploymentId: plan.deploymentId,
    subject: `${plan.service}: release of ${plan.version} ${outcome === 'REJECTED' ? 'rejected' : 'failed'}`,
    message: reason,
  });
  return { outcome, reason };
}

/** Whether the rejecter named in the cause answered through the verified endpoint (its ARN is in `answers`). */
function verifiedRejection(answers: DeploymentRecord['answers'], by: string | null): boolean {
  return by !== null && (answers ?? []).some((a) => a.action === 'reject' && a.principal === by);
}

function causeOf(cause: unknown): string {
  if (typeof cause !== 'string') return '';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // plain text
  }
  return cause;
}

/** A person's answer could not be delivered: nothing is waiting, or the wait is over. */
export class AnswerNotDeliveredError extends TpsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ERROR_NAMES.answerNotDelivered, message, options);
  }
}

/** Step Functions' answers to SendTaskSuccess/Failure for a wait that is over (or never was). */
const CLOSED_TOKEN_ERRORS: readonly string[] = [
  ERROR_NAMES.taskTimedOut,
  ERROR_NAMES.taskDoesNotExist,
  ERROR_NAMES.invalidToken,
];

/**
 * Delivers an answer to whatever the release waits for (the approval, or a hold at a phase): `yes`
 * approves / promotes (SendTaskSuccess), `no` rejects / aborts (SendTaskFailure ApprovalRejected),
 * with the token from its own item. Returns what was answered. It checks nobody's identity: the
 * answer endpoint's step (functions/release/answer.ts) decides who may answer and calls it with the
 * verified ARN (`verified: true`); in AWS only that function may call SendTaskSuccess/Failure.
 */
export async function answerPending(
  ports: Pick<ReleasePorts, 'store' | 'taskTokens' | 'clock'>,
  request: {
    service: string;
    deploymentId: string;
    yes: boolean;
    by: string;
    comment?: string;
    verified?: boolean;
  },
): Promise<{ answered: 'approval' | 'hold'; phase: string | null }> {
  const record = await ports.store.get(request.service, request.deploymentId);
  if (!record) throw new AnswerNotDeliveredError(`no deployment ${request.service}/${request.deploymentId}`);
  const pending = record.pendingApproval;
  if (record.outcome !== 'RUNNING' || !pending) {
    throw new AnswerNotDeliveredError(
      `${request.service}/${request.deploymentId} is not waiting for an answer (outcome ${record.outcome})`,
    );
  }
  const taskToken = await ports.store.taskToken(request.service, request.deploymentId);
  if (!taskToken) {
    throw new AnswerNotDeliveredError(
      `${request.service}/${request.deploymentId} has no open request to answer (answered already or timed out)`,
    );
  }
  const at = ports.clock.now().toISOString();
  try {
    if (request.yes) {
      await ports.taskTokens.succeed(taskToken, {
        approved: true,
        by: request.by,
        at,
        ...(request.comment ? { comment: request.comment } : {}),
        ...(request.verified ? { verified: true } : {}),
      });
    } else {
      await ports.taskTokens.fail(
        taskToken,
        ERROR_NAMES.approvalRejected,
        `rejected by ${request.by}${request.comment ? `: ${request.comment}` : ''}`,
      );
    }
  } catch (e) {
    const name = (e as { name?: string }).name ?? '';
    if (CLOSED_TOKEN_ERRORS.includes(name)) {
      throw new AnswerNotDeliveredError(
        `the request of ${request.deploymentId} is no longer open (${name}): answered already or timed out`,
        { cause: e },
      );
    }
    throw e;
  }
  return { answered: pending.phase ? 'hold' : 'approval', phase: pending.phase ?? null };
}

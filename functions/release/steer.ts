/**
 * A person steers a release through the answer endpoint, as the caller AWS verified: `hold` a
 * running release, `withdraw` a hold it has not reached, `stop` (abort) it, `rollback` the
 * service's latest release, `unlock` a lock an ended release left behind. The endpoint's role does
 * what people then need no right to do themselves: write the record and the lock, StopExecution,
 * and invoke the rollback function. Invariants:
 *
 * 1. Nothing is written and nothing is sent for a refused request: the decision
 *    (functions/domain/duties.ts `decideSteer`) comes before any write or call.
 * 2. Who acted is the verified ARN, in the record (`hold.requestedBy`, the events, the rollback's
 *    trigger `person:<ARN>` or its reason), never a name the caller typed.
 * 3. The endpoint never changes the cluster: an abort stops the execution (the execution-stopped
 *    function rolls it back, functions/release/stopped.ts); a rollback, or an abort of a release
 *    whose execution ended without rolling back (the dead-letter case), is handed to that same
 *    function as a person's rollback event ({@link rollBackForPerson}), which has the cluster
 *    access, Lambda's retries and the dead-letter queue.
 */
import { type Catalog, toFieldIssues } from '../domain/config.js';
import {
  decideSteer,
  type Requester,
  STEER_ACTIONS,
  type SteerAction,
  type VerifiedCaller,
} from '../domain/duties.js';
import { ERROR_NAMES, InvalidInputError } from '../domain/errors.js';
import { judgeHeldLock } from '../domain/lock.js';
import { isPersonRollbackEvent, personRollbackEventSchema } from '../domain/person-rollback.js';
import type { DeploymentRecord } from '../domain/record.js';
import { addEvent } from '../domain/record-transitions.js';
import type { RollbackRequests } from '../ports/executions.js';
import type { ReleasePorts } from '../ports/release.js';
import { AnswerRefusedError, obj, requestIssues } from './answer.js';
import { AnswerNotDeliveredError } from './approval.js';
import { requestHold } from './hold.js';
import { performRollback } from './rollback.js';
import { handleExecutionStopped, type StoppedOutcome } from './stopped.js';
import { updateRecord } from './support.js';

/** What a person asks the endpoint to do with a release or a service. */
export interface SteerRequest {
  readonly service: string;
  readonly action: SteerAction;
  /** Required for hold, withdraw and stop; rollback and unlock act on the service. */
  readonly deploymentId?: string;
  readonly reason?: string;
}

/** What was done. */
export interface SteerResult {
  readonly service: string;
  readonly deploymentId: string | null;
  readonly action: SteerAction;
  readonly principal: string;
  readonly at: string;
  readonly effect:
    | 'held'
    | 'already-held'
    | 'withdrawn'
    | 'stopped'
    | 'rollback-requested'
    | 'unlocked'
    | 'nothing-to-do';
  readonly detail: string;
}

/** The ports the steps need: the table, the executions, the rollback function. */
export type SteerPorts = Pick<ReleasePorts, 'catalog' | 'store' | 'clock' | 'executions'> & {
  readonly rollbackRequests: RollbackRequests;
};

const NEEDS_RELEASE: readonly SteerAction[] = ['hold', 'withdraw', 'stop'];

/** Whether a request body asks for a steer action (and not an answer or a start). */
export function isSteerBody(body: unknown): boolean {
  return (STEER_ACTIONS as readonly unknown[]).includes(obj(body).action);
}

/** Checks a request body; throws InvalidInputError naming every bad field. */
export function parseSteerRequest(body: unknown, catalog: Catalog): SteerRequest {
  const b = obj(body);
  const issues = requestIssues(b, catalog);
  const service = b.service;
  const action = b.action as SteerAction;
  if (!(STEER_ACTIONS as readonly unknown[]).includes(action)) {
    issues.push({ path: 'action', message: `one of ${STEER_ACTIONS.join(', ')}` });
  }
  const id = b.deploymentId;
  if (id !== undefined && (typeof id !== 'string' || !/^[A-Za-z0-9_-]{1,80}$/.test(id))) {
    issues.push({ path: 'deploymentId', message: 'an execution name (1-80 of A-Z a-z 0-9 - _)' });
  } else if (id === undefined && NEEDS_RELEASE.includes(action)) {
    issues.push({ path: 'deploymentId', message: `required for ${action}` });
  } else if (id !== undefined && (action === 'rollback' || action === 'unlock')) {
    // Not silently ignored: a caller naming one release must not see another one acted on.
    issues.push({
      path: 'deploymentId',
      message: `not taken by ${action}: it acts on the service's ${action === 'rollback' ? 'latest release' : 'lock'}; leave it out`,
    });
  }
  if (issues.length > 0) throw new InvalidInputError(issues);
  return {
    service: service as string,
    action,
    ...(typeof id === 'string' ? { deploymentId: id } : {}),
    ...(typeof b.reason === 'string' && b.reason ? { reason: b.reason } : {}),
  };
}

/** Throws AnswerRefusedError unless `caller` may take the action (invariant 1). */
function authorize(
  ports: Pick<SteerPorts, 'catalog'>,
  caller: VerifiedCaller,
  request: SteerRequest,
  requester: Requester | null,
  holder: string | null = null,
): void {
  const svc = ports.catalog.services[request.service];
  if (!svc) throw new AnswerRefusedError(`unknown service "${request.service}"`);
  const decision = decideSteer({
    service: request.service,
    duties: svc.duties,
    action: request.action,
    caller,
    requester,
    holder,
  });
  if (!decision.allowed) throw new AnswerRefusedError(decision.reason);
}

async function recordOf(ports: Pick<SteerPorts, 'store'>, service: string, id: string) {
  const record = await ports.store.get(service, id);
  if (!record) throw new AnswerNotDeliveredError(`no deployment ${service}/${id}`);
  return record;
}

/** Appends `message` to the record; reads again when the pipeline wrote meanwhile. */
async function note(
  ports: Pick<SteerPorts, 'store' | 'clock'>,
  service: string,
  id: string,
  message: string,
): Promise<void> {
  await updateRecord(ports, service, id, (record) => addEvent(record, ports.clock.now(), message));
}

const because = (reason: string | undefined) => (reason ? `: ${reason}` : '');

/**
 * Does what `caller` asks (invariants 1 to 3). Throws AnswerRefusedError when the caller may not,
 * AnswerNotDeliveredError when the release or service is not in a state the action applies to.
 */
export async function steerAsVerified(
  ports: SteerPorts,
  caller: VerifiedCaller,
  request: SteerRequest,
): Promise<SteerResult> {
  const { service, action } = request;
  const done = (deploymentId: string | null, effect: SteerResult['effect'], detail: string): SteerResult => ({
    service,
    deploymentId,
    action,
    principal: caller.arn,
    at: ports.clock.now().toISOString(),
    effect,
    detail,
  });
  if (action === 'rollback') return rollback(ports, caller, request, done);
  if (action === 'unlock') return unlock(ports, caller, request, done);

  const id = request.deploymentId!;
  const record = await recordOf(ports, service, id);
  authorize(ports, caller, request, record.requester ?? null, record.hold?.requestedBy ?? null);
  if (record.outcome !== 'RUNNING') {
    const what = action === 'stop' ? 'abort' : action;
    throw new AnswerNotDeliveredError(
      `${service} ${id} already ended (${record.outcome}); nothing to ${what}${action === 'stop' ? `. To take a finished release back: tps-deploy rollback --service ${service}` : ''}`,
    );
  }
  if (action === 'hold') {
    if (record.hold && !record.hold.decision) {
      return done(id, 'already-held', `already on hold (${record.hold.requestedBy}, ${record.hold.at})`);
    }
    try {
      await requestHold(ports, {
        service,
        deploymentId: id,
        by: caller.arn,
        ...(request.reason ? { reason: request.reason } : {}),
      });
    } catch (e) {
      if ((e as { name?: string }).name === ERROR_NAMES.holdRefused) {
        throw new AnswerNotDeliveredError((e as Error).message, { cause: e });
      }
      throw e;
    }
    return done(id, 'held', `hold requested by ${caller.arn}`);
  }
  if (action === 'withdraw') {
    await withdraw(ports, caller, record);
    return done(id, 'withdrawn', `hold withdrawn by ${caller.arn}`);
  }
  // stop
  const executionArn = record.executionArn;
  if (!executionArn) throw new AnswerNotDeliveredError(`${service} ${id} recorded no execution to stop`);
  const state = await ports.executions.status(executionArn);
  if (state === 'RUNNING' || state === 'PENDING_REDRIVE') {
    await ports.executions.stop(executionArn, `aborted by ${caller.arn}${because(request.reason)}`);
    await note(
      ports,
      service,
      id,
      `abort by ${caller.arn} (verified)${because(request.reason)}: execution stopped; the execution-stopped function rolls the release back`,
    );
    return done(id, 'stopped', `stopped ${executionArn}; the release rolls back`);
  }
  await ports.rollbackRequests.request({
    service,
    deploymentId: id,
    principal: caller.arn,
    reason: request.reason ?? null,
    kind: 'abort',
  });
  await note(
    ports,
    service,
    id,
    `abort by ${caller.arn} (verified)${because(request.reason)}: the execution ended ${state} without rolling back; rollback handed to the rollback function`,
  );
  return done(id, 'rollback-requested', `the execution ended ${state}; the rollback function rolls it back`);
}

/** Clears a hold request the release has not reached; reads again on a conflicting write. */
async function withdraw(
  ports: Pick<SteerPorts, 'store' | 'clock'>,
  caller: VerifiedCaller,
  first: DeploymentRecord,
): Promise<void> {
  const { service, deploymentId } = first;
  const withdrawn = await updateRecord(
    ports,
    service,
    deploymentId,
    (fresh) => {
      const hold = fresh.hold;
      if (fresh.outcome !== 'RUNNING' || !hold || hold.decision) {
        throw new AnswerNotDeliveredError(`${service} ${deploymentId} is not on hold; nothing to withdraw`);
      }
      if (hold.pending) {
        throw new AnswerNotDeliveredError(
          `${service} ${deploymentId} waits on its hold at ${hold.pending.phase}: promote or abort answers it`,
        );
      }
      fresh.hold = null;
      addEvent(
        fresh,
        ports.clock.now(),
        `hold withdrawn by ${caller.arn} (verified) before the release reached it`,
      );
      return true;
    },
    first,
  );
  if (withdrawn === null) throw new AnswerNotDeliveredError(`no deployment ${service}/${deploymentId}`);
}

type Done = (deploymentId: string | null, effect: SteerResult['effect'], detail: string) => SteerResult;

/** Takes the service's latest release back, through the rollback function. */
async function rollback(
  ports: SteerPorts,
  caller: VerifiedCaller,
  request: SteerRequest,
  done: Done,
): Promise<SteerResult> {
  const { service } = request;
  authorize(ports, caller, request, null);
  const [latest] = await ports.store.history(service, 1);
  if (!latest) throw new AnswerNotDeliveredError(`no deployments of ${service}: nothing to roll back to`);
  const id = latest.deploymentId;
  if (latest.outcome === 'ROLLED_BACK' || latest.outcome === 'FAILED' || latest.outcome === 'REJECTED') {
    return done(
      id,
      'nothing-to-do',
      `the latest deployment ${id} is ${latest.outcome}; ${latest.previousImage ?? 'the previous version'} is already serving. Nothing to do.`,
    );
  }
  let ended = '';
  if (latest.outcome === 'RUNNING') {
    // Running in the record: only a release whose execution ended without rolling back (the
    // dead-letter case) is finished here; a running one is aborted.
    const state = latest.executionArn ? await ports.executions.status(latest.executionArn) : 'UNKNOWN';
    if (state === 'RUNNING' || state === 'PENDING_REDRIVE' || !latest.executionArn) {
      throw new AnswerNotDeliveredError(
        `${service} ${id} is still running; stop it with: tps-deploy abort ${id}`,
      );
    }
    ended = ` (its execution ended ${state} without rolling back)`;
  }
  const active = await ports.store.active(service);
  if (active && active.deploymentId !== id) {
    throw new AnswerNotDeliveredError(
      `${service} is being deployed by ${active.deploymentId}; abort that one first`,
    );
  }
  if (!latest.previousImage) {
    throw new AnswerNotDeliveredError(`${id} recorded no previous version; roll back by hand`);
  }
  await ports.rollbackRequests.request({
    service,
    deploymentId: id,
    principal: caller.arn,
    reason: request.reason ?? null,
    kind: 'rollback',
  });
  await note(
    ports,
    service,
    id,
    `rollback requested by ${caller.arn} (verified)${because(request.reason)}${ended}: handed to the rollback function`,
  );
  return done(
    id,
    'rollback-requested',
    `rolling ${service} back from ${latest.finalImage ?? latest.image} to ${latest.previousImage}${ended}`,
  );
}

/** Frees a lock whose holder cannot act any more (functions/domain/lock.ts). */
async function unlock(
  ports: SteerPorts,
  caller: VerifiedCaller,
  request: SteerRequest,
  done: Done,
): Promise<SteerResult> {
  const { service } = request;
  authorize(ports, caller, request, null);
  const holder = await ports.store.active(service);
  if (!holder) return done(null, 'nothing-to-do', `${service}: not locked; nothing to do`);
  const [record, execution] = await Promise.all([
    ports.store.get(service, holder.deploymentId),
    holder.executionArn ? ports.executions.status(holder.executionArn) : Promise.resolve('UNKNOWN' as const),
  ]);
  const verdict = judgeHeldLock(holder, record?.outcome ?? null, execution);
  if (verdict.action === 'refuse') {
    throw new AnswerNotDeliveredError(
      `${service} is locked by ${holder.deploymentId} and was not unlocked: ${verdict.why}`,
    );
  }
  await ports.store.release(service, holder.deploymentId);
  if (record) {
    await note(
      ports,
      service,
      holder.deploymentId,
      `lock freed by ${caller.arn} (verified; tps-deploy unlock): ${verdict.why}${because(request.reason)}`,
    );
  }
  return done(holder.deploymentId, 'unlocked', verdict.why);
}

/**
 * A person's rollback, in the rollback function (the one the execution-status rule invokes): the
 * same `performRollback` as every other rollback, with trigger `person:<verified ARN>`.
 */
export async function rollBackForPerson(ports: ReleasePorts, raw: unknown): Promise<StoppedOutcome> {
  const parsed = personRollbackEventSchema.safeParse(raw);
  if (!parsed.success) throw new InvalidInputError(toFieldIssues(parsed.error), 'person rollback event');
  const { service, deploymentId, principal, reason, kind } = parsed.data.detail;
  if (!Object.hasOwn(ports.catalog.services, service)) {
    throw new InvalidInputError([{ path: 'detail.service', message: `unknown service "${service}"` }]);
  }
  const result = await performRollback(ports, {
    service,
    deploymentId,
    trigger: `person:${principal}`,
    reason: `${kind === 'abort' ? 'aborted' : 'rollback requested'} by ${principal} (verified)${because(reason ?? undefined)}`,
    phase: null,
  });
  return {
    action: result.claimed ? 'rolled-back' : 'nothing-to-do',
    service,
    deploymentId,
    detail: result.superseded ?? result.reason,
  };
}

/**
 * The rollback function's step: a person's rollback from the answer endpoint, else an execution
 * status event (functions/release/stopped.ts).
 */
export async function handleStoppedOrPersonRollback(
  ports: ReleasePorts,
  raw: unknown,
): Promise<StoppedOutcome> {
  return isPersonRollbackEvent(raw) ? rollBackForPerson(ports, raw) : handleExecutionStopped(ports, raw);
}

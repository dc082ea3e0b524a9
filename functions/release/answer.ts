/**
 * The verified answer: a person approves, rejects, promotes or aborts a waiting release through
 * the answer endpoint (functions/handlers/answer.ts, a function URL with AWS_IAM auth), which
 * hands this step the caller's ARN as AWS verified it. Invariants:
 *
 * 1. Nothing is sent and nothing is written for a refused answer: the decision
 *    (functions/domain/duties.ts `decideAnswer`) comes before the token is read.
 * 2. The token is read from its own item and sent by this function only; it is never returned,
 *    logged or written into the record.
 * 3. A delivered answer is in the record with the verified ARN and the time (`answers`), and the
 *    state machine's next task records the decision with `by` = that ARN, `verified: true`.
 * 4. A yes that still needs other people (the requester is not a verified person: domain/duties.ts
 *    rule 4) is in the record with `delivered: false` and sends nothing; the answers counted for a
 *    wait are those that name it (`wait`: its requestedAt). Such a yes is written only if the record
 *    did not change since it was decided, so two concurrent yes answers count each other.
 *
 * The verified start (`startVerified`) writes the caller's ARN and the input's digest before the
 * execution starts, so "Check Gates" records the requester as verified (`requesterOf`).
 */
import type { Catalog } from '../domain/config.js';
import {
  ANSWER_ACTIONS,
  type AnswerAction,
  decideAnswer,
  decideStart,
  type Requester,
  type VerifiedCaller,
} from '../domain/duties.js';
import { ERROR_NAMES, type FieldIssue, InvalidInputError, TpsError } from '../domain/errors.js';
import { parseExecutionInput, type ReleasePlan } from '../domain/input.js';
import type { DeploymentRecord, VerifiedAnswer } from '../domain/record.js';
import { addEvent } from '../domain/record-transitions.js';
import { digest } from '../domain/text.js';
import type { ReleaseStarter } from '../ports/executions.js';
import type { ReleasePorts } from '../ports/release.js';
import { AnswerNotDeliveredError, answerPending } from './approval.js';
import { updateRecord } from './support.js';

/** The endpoint refused the caller: nothing was sent, nothing written. */
export class AnswerRefusedError extends TpsError {
  constructor(message: string) {
    super(ERROR_NAMES.answerRefused, message);
  }
}

/** What a person asks the endpoint to do with a waiting release. */
export interface AnswerRequest {
  readonly service: string;
  readonly deploymentId: string;
  readonly action: AnswerAction;
  readonly reason?: string;
}

/** What was answered. */
export interface AnswerResult {
  readonly service: string;
  readonly deploymentId: string;
  readonly action: AnswerAction;
  readonly principal: string;
  readonly at: string;
  readonly phase: string | null;
  /** False when the yes was recorded but the release waits for other people (invariant 4). */
  readonly delivered: boolean;
  /** The different people who said yes to this wait, and how many it needs. */
  readonly approvals: { readonly given: number; readonly needed: number };
}

/** A request body as an object ({} for anything else). */
export const obj = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/**
 * The fields every person's request to the endpoint shares: `service` (of the catalog) and
 * `reason`; and any field outside `service`, `deploymentId`, `action`, `reason` is unknown.
 */
export function requestIssues(b: Record<string, unknown>, catalog: Catalog): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const service = b.service;
  if (typeof service !== 'string' || service === '') issues.push({ path: 'service', message: 'required' });
  else if (!Object.hasOwn(catalog.services, service)) {
    issues.push({ path: 'service', message: `unknown service "${service}"` });
  }
  if (b.reason !== undefined && (typeof b.reason !== 'string' || b.reason.length > 1000)) {
    issues.push({ path: 'reason', message: 'a string of at most 1000 characters' });
  }
  for (const k of Object.keys(b)) {
    if (!['service', 'deploymentId', 'action', 'reason'].includes(k))
      issues.push({ path: k, message: 'unknown field' });
  }
  return issues;
}

/** Checks a request body; throws InvalidInputError naming every bad field. */
export function parseAnswerRequest(body: unknown, catalog: Catalog): AnswerRequest {
  const b = obj(body);
  const issues = requestIssues(b, catalog);
  const service = b.service;
  if (typeof b.deploymentId !== 'string' || !/^[A-Za-z0-9_-]{1,80}$/.test(b.deploymentId)) {
    issues.push({ path: 'deploymentId', message: 'required: an execution name (1-80 of A-Z a-z 0-9 - _)' });
  }
  if (typeof b.action !== 'string' || !(ANSWER_ACTIONS as readonly string[]).includes(b.action)) {
    issues.push({ path: 'action', message: `one of ${ANSWER_ACTIONS.join(', ')}` });
  }
  if (issues.length > 0) throw new InvalidInputError(issues);
  return {
    service: service as string,
    deploymentId: b.deploymentId as string,
    action: b.action as AnswerAction,
    ...(typeof b.reason === 'string' && b.reason ? { reason: b.reason } : {}),
  };
}

/**
 * Answers a waiting release as `caller` (invariants 1 to 3). Throws AnswerRefusedError when the
 * caller may not, AnswerNotDeliveredError when nothing waits (or the wait is over).
 */
export async function answerAsVerified(
  ports: Pick<ReleasePorts, 'catalog' | 'store' | 'taskTokens' | 'clock'>,
  caller: VerifiedCaller,
  request: AnswerRequest,
): Promise<AnswerResult> {
  const { service, deploymentId, action } = request;
  const svc = ports.catalog.services[service];
  if (!svc) throw new AnswerRefusedError(`unknown service "${service}"`);
  // Decided on the record as read and, for a yes that does not end the wait, written only if the
  // record did not change meanwhile: two concurrent yes answers are counted on each other.
  for (let attempt = 0; ; attempt++) {
    const record = await ports.store.get(service, deploymentId);
    if (!record) throw new AnswerNotDeliveredError(`no deployment ${service}/${deploymentId}`);
    const pending = record.pendingApproval;
    if (record.outcome !== 'RUNNING' || !pending) {
      throw new AnswerNotDeliveredError(
        `${service}/${deploymentId} is not waiting for an answer (outcome ${record.outcome})`,
      );
    }
    const decision = decideAnswer({
      service,
      duties: svc.duties,
      action,
      caller,
      requester: requesterOfRecord(record),
      waiting: pending.phase ? { kind: 'hold', phase: pending.phase } : { kind: 'approval' },
      earlier: earlierYes(record, action),
    });
    if (!decision.allowed) throw new AnswerRefusedError(decision.reason);
    const at = ports.clock.now().toISOString();
    const { approvals } = decision;
    const wait = pending.requestedAt;
    if (decision.deliver) return deliver(ports, caller, request, { at, wait, yes: decision.yes, approvals });
    const answer: VerifiedAnswer = {
      action,
      principal: caller.arn,
      at,
      reason: request.reason ?? null,
      phase: pending.phase ?? null,
      wait,
      delivered: false,
      approvals,
    };
    record.answers = [...(record.answers ?? []), answer];
    addEvent(record, ports.clock.now(), answerEvent(answer));
    try {
      await ports.store.put(record);
    } catch (e) {
      // RecordConflictError is a StoreUnavailableError: someone wrote meanwhile; decide again.
      if ((e as { name?: string }).name !== ERROR_NAMES.storeUnavailable || attempt >= 4) throw e;
      continue;
    }
    return {
      service,
      deploymentId,
      action,
      principal: caller.arn,
      at,
      phase: answer.phase,
      delivered: false,
      approvals,
    };
  }
}

/** Sends the answer that ends the wait, then records it (invariants 2 and 3). */
async function deliver(
  ports: Pick<ReleasePorts, 'catalog' | 'store' | 'taskTokens' | 'clock'>,
  caller: VerifiedCaller,
  request: AnswerRequest,
  d: { at: string; wait: string; yes: boolean; approvals: { given: number; needed: number } },
): Promise<AnswerResult> {
  const { service, deploymentId, action } = request;
  const { at, approvals } = d;
  const { phase } = await answerPending(ports, {
    service,
    deploymentId,
    yes: d.yes,
    by: caller.arn,
    ...(request.reason ? { comment: request.reason } : {}),
    verified: true,
  });
  await recordAnswer(ports, service, deploymentId, {
    action,
    principal: caller.arn,
    at,
    reason: request.reason ?? null,
    phase,
    wait: d.wait,
    ...(d.yes ? { approvals } : {}),
  });
  return { service, deploymentId, action, principal: caller.arn, at, phase, delivered: true, approvals };
}

/** The people who already said `action` (a yes) to the current wait without ending it (invariant 4). */
function earlierYes(record: DeploymentRecord, action: AnswerAction): string[] {
  const pending = record.pendingApproval;
  if (!pending || (action !== 'approve' && action !== 'promote')) return [];
  const phase = pending.phase ?? null;
  // The wait is named by when it began (its requestedAt, copied into each answer), not by clocks.
  return (record.answers ?? [])
    .filter(
      (a) =>
        a.action === action && a.delivered === false && a.phase === phase && a.wait === pending.requestedAt,
    )
    .map((a) => a.principal);
}

function requesterOfRecord(record: DeploymentRecord): Requester | null {
  return record.requester ?? null;
}

/** The record's event for an answer. */
function answerEvent(answer: VerifiedAnswer): string {
  const counted =
    answer.delivered === false && answer.approvals
      ? `; ${answer.approvals.given} of ${answer.approvals.needed} different people (the requester is not a verified person), still waiting`
      : '';
  return `${answer.action}${answer.phase ? ` (hold at ${answer.phase})` : ''} by ${answer.principal} (verified)${answer.reason ? `: ${answer.reason}` : ''}${counted}`;
}

/** Appends the answer to the record; reads again when the pipeline wrote meanwhile. */
async function recordAnswer(
  ports: Pick<ReleasePorts, 'store' | 'clock'>,
  service: string,
  deploymentId: string,
  answer: VerifiedAnswer,
): Promise<void> {
  await updateRecord(ports, service, deploymentId, (record) => {
    record.answers = [...(record.answers ?? []), answer];
    addEvent(record, ports.clock.now(), answerEvent(answer));
  });
}

/** The digest a verified start keeps of the validated input, compared by "Check Gates". */
export function inputDigest(plan: Pick<ReleasePlan, 'input'>): string {
  return digest(JSON.stringify(plan.input), 64);
}

/**
 * Records that `caller` starts `plan` (before StartExecution). The execution name is the
 * deployment id; a name already started through the endpoint is refused by the store.
 */
export async function startVerified(
  ports: Pick<ReleasePorts, 'store' | 'clock'>,
  caller: VerifiedCaller,
  plan: ReleasePlan,
): Promise<void> {
  await ports.store.saveVerifiedStart(plan.service, plan.deploymentId, {
    principal: caller.arn,
    at: ports.clock.now().toISOString(),
    inputDigest: inputDigest(plan),
  });
}

/**
 * Who requested `plan`: the verified ARN when it was started through the endpoint with this very
 * input, else the name in the input, unverified.
 */
export async function requesterOf(ports: Pick<ReleasePorts, 'store'>, plan: ReleasePlan): Promise<Requester> {
  const start = await ports.store.verifiedStart(plan.service, plan.deploymentId);
  if (start && start.inputDigest === inputDigest(plan)) return { principal: start.principal, verified: true };
  return { principal: plan.requestedBy, verified: false };
}

/** A verified start: the input as for StartExecution, and an optional execution name. */
export interface StartRequest {
  readonly input: Record<string, unknown>;
  readonly name?: string;
}

/** What a verified start started. */
export interface StartResult {
  readonly service: string;
  readonly deploymentId: string;
  readonly executionArn: string;
  readonly principal: string;
}

/**
 * Starts a release as `caller`: the input is validated as "Validate Input" validates it, with
 * `requestedBy` set to the verified ARN (what the caller typed there is replaced); the verified
 * start is written before StartExecution, so "Check Gates" records the requester as verified.
 */
export async function startAsVerified(
  ports: Pick<ReleasePorts, 'catalog' | 'store' | 'clock'> & { readonly releases: ReleaseStarter },
  caller: VerifiedCaller,
  request: StartRequest,
): Promise<StartResult> {
  const input: Record<string, unknown> = { ...obj(request.input), requestedBy: caller.arn };
  const name =
    request.name ??
    `${String(input.service ?? 'release').slice(0, 40)}-${ports.clock.now().getTime()}-${Math.random().toString(16).slice(2, 10)}`;
  if (!/^[A-Za-z0-9_-]{1,80}$/.test(name)) {
    throw new InvalidInputError([{ path: 'name', message: 'an execution name: 1-80 of A-Z a-z 0-9 - _' }]);
  }
  const plan = parseExecutionInput(input, ports.catalog, name);
  const may = decideStart(plan.service, ports.catalog.services[plan.service]?.duties, caller);
  if (!may.allowed) throw new AnswerRefusedError(may.reason);
  await startVerified(ports, caller, plan);
  let executionArn: string;
  try {
    executionArn = await ports.releases.start(plan.service, name, input);
  } catch (e) {
    // Nothing of ours started: the verified start goes, so a retry under the same name is not
    // refused, and an execution of that name someone else started (ExecutionAlreadyExists: our
    // own earlier attempt would have been refused at the conditional write) or starts later is
    // never taken for this caller's.
    await ports.store.dropVerifiedStart(plan.service, name);
    throw e;
  }
  return { service: plan.service, deploymentId: name, executionArn, principal: caller.arn };
}

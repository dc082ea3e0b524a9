/**
 * `approve`, `reject`, `hold`, `promote`: a person steers a running release.
 *
 * The state machine waits for a person with a Step Functions task token (`.waitForTaskToken`),
 * which it keeps in its own item of the table, never in the record; the record's
 * `pendingApproval` says that it waits (with `phase` when it is a hold). Every command here goes
 * through the answer endpoint (cli/answer-client.ts: a SigV4-signed POST to the stack's function
 * URL), which verifies who you are, checks the service's `duties` in the catalog and acts itself:
 * approve and reject answer an approval request, or promote and abort a hold; `hold` has the
 * endpoint write the request into the record (functions/release/steer.ts), which takes effect
 * after the next validation that passes; `promote` answers a hold the release waits on, or has the
 * endpoint withdraw a request not yet reached. The CLI itself only reads the table.
 */
import type { SteerAction } from '../../functions/domain/duties.js';
import { answerUrl, type EndpointAnswer, postAnswer } from '../answer-client.js';
import type { CliContext } from '../context.js';
import { CliError, EXIT_CODES, type ExitCode, line } from '../io.js';

export interface SteerOptions {
  readonly service?: string;
  readonly requestedBy?: string;
  readonly reason?: string;
  /** The answer endpoint's URL. @default the `--stack`'s, else $TPS_ANSWER_URL */
  readonly answerUrl?: string;
  /** Print one JSON object instead of the sentence. */
  readonly json?: boolean;
}

/** What a steer command did, as `--json` prints it. */
export interface SteerJson {
  readonly service: string;
  readonly deploymentId: string;
  /** What the endpoint did: approve, reject, promote, abort (a hold), hold, withdraw. */
  readonly action: string;
  /** The ARN the endpoint verified. */
  readonly by: string;
  /** For a yes the release still waits on: the different people who said it and how many it needs. */
  readonly approvals: { readonly given: number; readonly needed: number } | null;
  /** The sentence the text output prints. */
  readonly message: string;
}

function say(ctx: CliContext, opts: SteerOptions, data: SteerJson): void {
  line(ctx.io.stdout, opts.json ? JSON.stringify(data) : data.message);
}

async function answer(ctx: CliContext, id: string, opts: SteerOptions, yes: boolean) {
  const record = await ctx.findRecord(id, opts.service);
  await ctx.requireSameAsStack(record.service);
  const phase = record.pendingApproval?.phase ?? null;
  const action = yes ? (phase ? 'promote' : 'approve') : phase ? 'abort' : 'reject';
  const url = await answerUrl(ctx, opts.answerUrl);
  const r = await postAnswer(ctx, url, {
    service: record.service,
    deploymentId: record.deploymentId,
    action,
    ...(opts.reason ? { reason: opts.reason } : {}),
  });
  if (r.status !== 200 && r.status !== 202) {
    const what = r.status === 403 ? 'refused' : 'not delivered';
    throw new CliError(
      `${action} ${record.deploymentId} ${what} (HTTP ${r.status}): ${String(r.body.error ?? r.body.Message ?? 'no reason given')}`,
      EXIT_CODES.failed,
    );
  }
  return {
    record,
    action,
    who: String(r.body.principal),
    answered: phase ? ('hold' as const) : ('approval' as const),
    phase,
    /** Set when the yes was recorded but the release waits for another person (HTTP 202). */
    more: r.status === 202 ? (r.body.approvals as { given: number; needed: number }) : null,
  };
}

export async function approveCommand(ctx: CliContext, id: string, opts: SteerOptions): Promise<ExitCode> {
  const r = await answer(ctx, id, opts, true);
  const what = r.answered === 'hold' ? `hold at ${r.phase} promoted` : 'approved';
  const message = r.more
    ? `${r.record.service} ${r.record.deploymentId}: ${what} by ${r.who}, ${r.more.given} of ${r.more.needed} different people (the requester is not verified); it waits for another`
    : r.answered === 'hold'
      ? `${r.record.service} ${r.record.deploymentId}: ${what} by ${r.who}; the release goes on`
      : `${r.record.service} ${r.record.deploymentId}: ${what} by ${r.who}`;
  say(ctx, opts, {
    service: r.record.service,
    deploymentId: r.record.deploymentId,
    action: r.action,
    by: r.who,
    approvals: r.more,
    message,
  });
  return EXIT_CODES.ok;
}

export async function rejectCommand(ctx: CliContext, id: string, opts: SteerOptions): Promise<ExitCode> {
  const r = await answer(ctx, id, opts, false);
  const why = `${r.who}${opts.reason ? `: ${opts.reason}` : ''}`;
  say(ctx, opts, {
    service: r.record.service,
    deploymentId: r.record.deploymentId,
    action: r.action,
    by: r.who,
    approvals: null,
    message:
      r.answered === 'hold'
        ? `${r.record.service} ${r.record.deploymentId}: hold at ${r.phase} aborted by ${why}; it rolls back`
        : `${r.record.service} ${r.record.deploymentId}: rejected by ${why}`,
  });
  return EXIT_CODES.ok;
}

/**
 * Asks the endpoint for a steer action (hold, withdraw, stop, rollback, unlock) as the caller's
 * verified identity; the endpoint's answer when it did it (HTTP 200), else a CliError with its reason.
 */
export async function postSteer(
  ctx: CliContext,
  explicitUrl: string | undefined,
  body: {
    readonly service: string;
    readonly action: SteerAction;
    readonly deploymentId?: string;
    readonly reason?: string;
  },
): Promise<EndpointAnswer> {
  const url = await answerUrl(ctx, explicitUrl);
  const r = await postAnswer(ctx, url, {
    service: body.service,
    action: body.action,
    ...(body.deploymentId ? { deploymentId: body.deploymentId } : {}),
    ...(body.reason ? { reason: body.reason } : {}),
  });
  if (r.status !== 200) {
    const what = r.status === 403 ? 'refused' : 'not done';
    throw new CliError(
      `${body.action} ${body.deploymentId ?? body.service} ${what} (HTTP ${r.status}): ${String(r.body.error ?? r.body.Message ?? 'no reason given')}`,
      EXIT_CODES.failed,
    );
  }
  return r;
}

export async function holdCommand(ctx: CliContext, id: string, opts: SteerOptions): Promise<ExitCode> {
  const record = await ctx.findRecord(id, opts.service);
  await ctx.requireSameAsStack(record.service);
  if (record.outcome !== 'RUNNING') {
    throw new CliError(
      `${record.service} ${record.deploymentId} already ended (${record.outcome}); nothing to hold`,
    );
  }
  const r = await postSteer(ctx, opts.answerUrl, {
    service: record.service,
    deploymentId: record.deploymentId,
    action: 'hold',
    ...(opts.reason ? { reason: opts.reason } : {}),
  });
  const base = {
    service: record.service,
    deploymentId: record.deploymentId,
    action: 'hold',
    by: String(r.body.principal),
    approvals: null,
  };
  if (r.body.effect === 'already-held') {
    say(ctx, opts, {
      ...base,
      message: `${record.service} ${record.deploymentId}: ${String(r.body.detail)}`,
    });
    return EXIT_CODES.ok;
  }
  say(ctx, opts, {
    ...base,
    message: `${record.service} ${record.deploymentId}: hold requested by ${String(r.body.principal)}; the release stops after its next passing window. Go on with: tps-deploy promote ${record.deploymentId}`,
  });
  return EXIT_CODES.ok;
}

export async function promoteCommand(ctx: CliContext, id: string, opts: SteerOptions): Promise<ExitCode> {
  const record = await ctx.findRecord(id, opts.service);
  await ctx.requireSameAsStack(record.service);
  if (record.outcome === 'RUNNING' && record.pendingApproval?.phase) return approveCommand(ctx, id, opts);
  const hold = record.hold;
  if (record.outcome !== 'RUNNING' || !hold || hold.decision || hold.pending) {
    throw new CliError(`${record.service} ${record.deploymentId} is not on hold; nothing to promote`);
  }
  // Requested but not yet reached: withdrawing the request is all there is to do.
  const r = await postSteer(ctx, opts.answerUrl, {
    service: record.service,
    deploymentId: record.deploymentId,
    action: 'withdraw',
  });
  say(ctx, opts, {
    service: record.service,
    deploymentId: record.deploymentId,
    action: 'withdraw',
    by: String(r.body.principal),
    approvals: null,
    message: `${record.service} ${record.deploymentId}: hold withdrawn by ${String(r.body.principal)}; the release goes on`,
  });
  return EXIT_CODES.ok;
}

/**
 * `approve`, `reject`, `hold`, `promote`: a person steers a running release.
 *
 * The state machine waits for a person with a Step Functions task token (`.waitForTaskToken`),
 * which it keeps in its own item of the table, never in the record; the record's
 * `pendingApproval` says that it waits (with `phase` when it is a hold). approve and reject go
 * through the answer endpoint (cli/answer-client.ts: a SigV4-signed POST to the stack's function
 * URL), which verifies who you are, checks the service's `duties` in the catalog and answers the
 * task itself: for an approval request they approve or reject the release, for a hold they
 * promote or abort it. `hold` writes the request into the record (`hold`,
 * functions/release/hold.ts `requestHold`); it takes effect after the next validation that passes.
 * `promote` answers a hold the release waits on, or withdraws a request not yet reached.
 */
import { RecordConflictError } from '../../functions/adapters/aws/dynamodb-store.js';
import type { DeploymentRecord } from '../../functions/domain/record.js';
import { requestHold } from '../../functions/release/hold.js';
import { answerUrl, postAnswer } from '../answer-client.js';
import type { CliContext } from '../context.js';
import { CliError, EXIT_CODES, type ExitCode, line } from '../io.js';

export interface SteerOptions {
  readonly service?: string;
  readonly requestedBy?: string;
  readonly reason?: string;
  /** The answer endpoint's URL. @default $TPS_ANSWER_URL */
  readonly answerUrl?: string;
}

async function answer(ctx: CliContext, id: string, opts: SteerOptions, yes: boolean) {
  const record = await ctx.findRecord(id, opts.service);
  const phase = record.pendingApproval?.phase ?? null;
  const action = yes ? (phase ? 'promote' : 'approve') : phase ? 'abort' : 'reject';
  const url = answerUrl(ctx, opts.answerUrl);
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
  line(
    ctx.io.stdout,
    r.more
      ? `${r.record.service} ${r.record.deploymentId}: ${what} by ${r.who}, ${r.more.given} of ${r.more.needed} different people (the requester is not verified); it waits for another`
      : r.answered === 'hold'
        ? `${r.record.service} ${r.record.deploymentId}: ${what} by ${r.who}; the release goes on`
        : `${r.record.service} ${r.record.deploymentId}: ${what} by ${r.who}`,
  );
  return EXIT_CODES.ok;
}

export async function rejectCommand(ctx: CliContext, id: string, opts: SteerOptions): Promise<ExitCode> {
  const r = await answer(ctx, id, opts, false);
  const why = `${r.who}${opts.reason ? `: ${opts.reason}` : ''}`;
  line(
    ctx.io.stdout,
    r.answered === 'hold'
      ? `${r.record.service} ${r.record.deploymentId}: hold at ${r.phase} aborted by ${why}; it rolls back`
      : `${r.record.service} ${r.record.deploymentId}: rejected by ${why}`,
  );
  return EXIT_CODES.ok;
}

export async function holdCommand(ctx: CliContext, id: string, opts: SteerOptions): Promise<ExitCode> {
  const record = await ctx.findRecord(id, opts.service);
  if (record.outcome !== 'RUNNING') {
    throw new CliError(
      `${record.service} ${record.deploymentId} already ended (${record.outcome}); nothing to hold`,
    );
  }
  if (record.hold && !record.hold.decision) {
    line(
      ctx.io.stdout,
      `${record.service} ${record.deploymentId}: already on hold (${record.hold.requestedBy}, ${record.hold.at})`,
    );
    return EXIT_CODES.ok;
  }
  const who = ctx.who(opts.requestedBy);
  try {
    await requestHold(
      { store: await ctx.store(), clock: { now: () => ctx.now() } },
      {
        service: record.service,
        deploymentId: record.deploymentId,
        by: who,
        ...(opts.reason ? { reason: opts.reason } : {}),
      },
    );
  } catch (error) {
    throw new CliError(
      `holding ${record.deploymentId} failed: ${(error as Error).message}`,
      EXIT_CODES.failed,
      {
        cause: error,
      },
    );
  }
  line(
    ctx.io.stdout,
    `${record.service} ${record.deploymentId}: hold requested by ${who}; the release stops after its next passing window. Go on with: tps-deploy promote ${record.deploymentId}`,
  );
  return EXIT_CODES.ok;
}

export async function promoteCommand(ctx: CliContext, id: string, opts: SteerOptions): Promise<ExitCode> {
  const record = await ctx.findRecord(id, opts.service);
  if (record.outcome === 'RUNNING' && record.pendingApproval?.phase) return approveCommand(ctx, id, opts);
  const hold = record.hold;
  if (record.outcome !== 'RUNNING' || !hold || hold.decision || hold.pending) {
    throw new CliError(`${record.service} ${record.deploymentId} is not on hold; nothing to promote`);
  }
  // Requested but not yet reached: withdrawing the request is all there is to do.
  const who = ctx.who(opts.requestedBy);
  await withdrawHold(ctx, record, who);
  line(
    ctx.io.stdout,
    `${record.service} ${record.deploymentId}: hold withdrawn by ${who}; the release goes on`,
  );
  return EXIT_CODES.ok;
}

/** Clears a hold request the release has not reached; reads again on a conflicting write. */
async function withdrawHold(ctx: CliContext, record: DeploymentRecord, who: string): Promise<void> {
  const store = await ctx.store();
  for (let attempt = 0; ; attempt++) {
    const fresh = await ctx.aws('reading the record', () => store.get(record.service, record.deploymentId));
    if (!fresh?.hold || fresh.hold.pending || fresh.hold.decision) {
      throw new CliError(
        `${record.deploymentId}: the hold changed meanwhile; look again with tps-deploy status`,
      );
    }
    const at = ctx.now().toISOString();
    fresh.hold = null;
    fresh.events.push({ at, message: `hold withdrawn by ${who} before the release reached it` });
    try {
      await store.put(fresh);
      return;
    } catch (error) {
      if (!(error instanceof RecordConflictError) || attempt >= 4) {
        throw new CliError(
          `writing ${record.deploymentId} failed: ${(error as Error).message}`,
          EXIT_CODES.failed,
          {
            cause: error,
          },
        );
      }
    }
  }
}

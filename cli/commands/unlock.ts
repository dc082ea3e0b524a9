/**
 * `unlock --service S`: frees a service's lock that a release left behind, for people. It frees
 * only a lock whose holder cannot act any more (functions/domain/lock.ts: its execution ended and
 * its release ended, or it never wrote a record), conditionally on that holder still holding it;
 * the holder's record says who freed it and why. A lock whose release is
 * still RUNNING in the record is refused: that release needs `abort` (which rolls it back and
 * frees the lock), not an unlock that would leave its canary behind. The answer endpoint does it
 * (functions/release/steer.ts) as the caller's verified identity, which must be among the service's
 * `duties.aborters`; the CLI writes nothing itself.
 */
import type { CliContext } from '../context.js';
import { EXIT_CODES, type ExitCode, line } from '../io.js';
import { postSteer } from './steer.js';

export interface UnlockOptions {
  readonly service?: string;
  readonly requestedBy?: string;
  readonly reason?: string;
  readonly json?: boolean;
  /** The answer endpoint's URL. @default the `--stack`'s, else $TPS_ANSWER_URL */
  readonly answerUrl?: string;
}

export async function unlockCommand(ctx: CliContext, opts: UnlockOptions): Promise<ExitCode> {
  const service = opts.service!;
  await ctx.requireService(service);
  await ctx.requireSameAsStack(service);
  const r = await postSteer(ctx, opts.answerUrl, {
    service,
    action: 'unlock',
    ...(opts.reason ? { reason: opts.reason } : {}),
  });
  const b = r.body;
  if (b.effect === 'nothing-to-do') {
    line(ctx.io.stdout, String(b.detail));
    return EXIT_CODES.ok;
  }
  if (opts.json) {
    line(
      ctx.io.stdout,
      JSON.stringify({ service, deploymentId: b.deploymentId, unlockedBy: b.principal, why: b.detail }),
    );
  } else
    line(ctx.io.stdout, `${service}: unlocked by ${String(b.principal)} (verified); ${String(b.detail)}`);
  return EXIT_CODES.ok;
}

/**
 * `unlock --service S`: frees a service's lock that a release left behind, for people. It frees
 * only a lock whose holder cannot act any more (functions/domain/lock.ts: its execution ended and
 * its release ended, or it never wrote a record), conditionally on that holder still holding it;
 * the holder's record says who freed it and why. A lock whose release is
 * still RUNNING in the record is refused: that release needs `abort` (which rolls it back and
 * frees the lock), not an unlock that would leave its canary behind.
 */
import { SfnExecutions } from '../../functions/adapters/aws/sfn-executions.js';
import type { ExecutionState } from '../../functions/domain/lock.js';
import { judgeHeldLock } from '../../functions/domain/lock.js';
import { addEvent } from '../../functions/domain/record-transitions.js';
import type { CliContext } from '../context.js';
import { CliError, EXIT_CODES, type ExitCode, line } from '../io.js';

export interface UnlockOptions {
  readonly service?: string;
  readonly requestedBy?: string;
  readonly reason?: string;
  readonly json?: boolean;
}

export async function unlockCommand(ctx: CliContext, opts: UnlockOptions): Promise<ExitCode> {
  const service = opts.service!;
  await ctx.requireService(service);
  const store = await ctx.store();
  const holder = await ctx.aws(`reading the lock of ${service}`, () => store.active(service));
  if (!holder) {
    line(ctx.io.stdout, `${service}: not locked; nothing to do`);
    return EXIT_CODES.ok;
  }
  const [record, execution] = await Promise.all([
    ctx.aws(`reading ${holder.deploymentId}`, () => store.get(service, holder.deploymentId)),
    holder.executionArn
      ? ctx.aws(`DescribeExecution ${holder.executionArn}`, () =>
          new SfnExecutions({ client: ctx.sfn }).status(holder.executionArn!),
        )
      : Promise.resolve<ExecutionState>('UNKNOWN'),
  ]);
  const verdict = judgeHeldLock(holder, record?.outcome ?? null, execution);
  if (verdict.action === 'refuse') {
    throw new CliError(`${service} is locked by ${holder.deploymentId} and was not unlocked: ${verdict.why}`);
  }
  const who = ctx.who(opts.requestedBy);
  await ctx.aws('freeing the lock', () => store.release(service, holder.deploymentId));
  if (record) {
    addEvent(
      record,
      ctx.now(),
      `lock freed by ${who} (tps-deploy unlock): ${verdict.why}${opts.reason ? `: ${opts.reason}` : ''}`,
    );
    await ctx.aws(`recording the unlock in ${holder.deploymentId}`, () => store.put(record));
  }
  const message = `${service}: unlocked by ${who}; ${verdict.why}`;
  if (opts.json) {
    line(
      ctx.io.stdout,
      JSON.stringify({
        service,
        deploymentId: holder.deploymentId,
        unlockedBy: who,
        why: verdict.why,
        execution,
      }),
    );
  } else line(ctx.io.stdout, message);
  return EXIT_CODES.ok;
}

/**
 * `abort` and `rollback`: a person stops a release, or takes the last one back.
 *
 * Against AWS both go through the answer endpoint as the caller's verified identity
 * (functions/release/steer.ts): `abort` has it stop the execution (the execution-stopped function
 * rolls back; an execution that already ended without rolling back is handed to that function
 * directly), `rollback` has it hand the rollback to that function. The CLI reads the table and
 * never writes it, stops nothing and never reaches the cluster itself.
 *
 * With `--kubeconfig` (a local cluster with a local table, or an operator's break-glass with
 * their own table and cluster access) the CLI runs `performRollback` itself, the code the state
 * machine's "Roll Back" and the alarm function run, recording the name given (unverified).
 */
import { performRollback } from '../../functions/release/rollback.js';
import { type CliPortsOptions, checkClusterAccess, cliPorts } from '../aws-ports.js';
import type { CliContext } from '../context.js';
import { CliError, EXIT_CODES, type ExitCode, line } from '../io.js';
import { postSteer } from './steer.js';

export interface PersonRollbackOptions extends CliPortsOptions {
  readonly service?: string;
  readonly reason?: string;
  readonly requestedBy?: string;
  readonly json?: boolean;
  /** The answer endpoint's URL. @default the `--stack`'s, else $TPS_ANSWER_URL */
  readonly answerUrl?: string;
}

/** Prints what the endpoint did. */
function reportEndpoint(ctx: CliContext, body: Record<string, unknown>, json: boolean | undefined): ExitCode {
  if (json) line(ctx.io.stdout, JSON.stringify(body, null, 2));
  else
    line(
      ctx.io.stdout,
      `${String(body.service)} ${String(body.deploymentId ?? '')}: ${String(body.detail)} (${String(body.action)} by ${String(body.principal)}, verified). Follow with: tps-deploy status ${String(body.deploymentId ?? '')} --service ${String(body.service)}`,
    );
  return EXIT_CODES.ok;
}

export async function abortCommand(
  ctx: CliContext,
  id: string,
  opts: PersonRollbackOptions,
): Promise<ExitCode> {
  const record = await ctx.findRecord(id, opts.service);
  await ctx.requireSameAsStack(record.service);
  if (record.outcome !== 'RUNNING') {
    throw new CliError(
      `${record.service} ${record.deploymentId} already ended (${record.outcome}); nothing to abort. To take a finished release back: tps-deploy rollback --service ${record.service}`,
    );
  }
  if (!opts.kubeconfig) {
    const r = await postSteer(ctx, opts.answerUrl, {
      service: record.service,
      deploymentId: record.deploymentId,
      action: 'stop',
      ...(opts.reason ? { reason: opts.reason } : {}),
    });
    return reportEndpoint(ctx, r.body, opts.json);
  }
  const who = ctx.who(opts.requestedBy);
  const reason = `aborted by ${who}${opts.reason ? `: ${opts.reason}` : ''}`;
  const catalog = await ctx.catalog();
  const svc = catalog.services[record.service];
  if (!svc) throw new CliError(`service ${record.service} of ${record.deploymentId} is not in the catalog`);
  const ports = await cliPorts(ctx, { ...opts, executionArn: record.executionArn });
  // Reach the cluster first: stopping the execution and then failing to roll back would leave the
  // release half-way with nothing driving it.
  await checkClusterAccess(ports, svc, opts);
  const arn = record.executionArn ?? (await ctx.parseId(id)).arn ?? null;
  if (arn) {
    await ports.executions.stop(arn, reason);
    line(ctx.io.stderr, `stopped ${arn}`);
  }
  const result = await ctx.aws('rolling back', () =>
    performRollback(ports, {
      service: record.service,
      deploymentId: record.deploymentId,
      trigger: `person:${who}`,
      reason,
      phase: null,
    }),
  );
  return report(ctx, record.service, record.deploymentId, result, opts.json);
}

export async function rollbackCommand(ctx: CliContext, opts: PersonRollbackOptions): Promise<ExitCode> {
  const service = opts.service!;
  await ctx.requireService(service);
  await ctx.requireSameAsStack(service);
  const store = await ctx.store();
  const [latest] = await ctx.aws(`reading the history of ${service}`, () => store.history(service, 1));
  if (!latest)
    throw new CliError(`no deployments of ${service} in ${await ctx.tableName()}: nothing to roll back to`);
  if (latest.outcome === 'RUNNING') {
    throw new CliError(
      `${service} ${latest.deploymentId} is still running; stop it with: tps-deploy abort ${latest.deploymentId}`,
    );
  }
  if (latest.outcome === 'ROLLED_BACK' || latest.outcome === 'FAILED' || latest.outcome === 'REJECTED') {
    line(
      ctx.io.stdout,
      `${service}: the latest deployment ${latest.deploymentId} is ${latest.outcome}; ${latest.previousImage ?? 'the previous version'} is already serving. Nothing to do.`,
    );
    return EXIT_CODES.ok;
  }
  const active = await ctx.aws('reading the lock', () => store.active(service));
  if (active && active.deploymentId !== latest.deploymentId) {
    throw new CliError(`${service} is being deployed by ${active.deploymentId}; abort that one first`);
  }
  if (!latest.previousImage) {
    throw new CliError(`${latest.deploymentId} recorded no previous version; roll back by hand`);
  }
  if (!opts.kubeconfig) {
    const r = await postSteer(ctx, opts.answerUrl, {
      service,
      action: 'rollback',
      ...(opts.reason ? { reason: opts.reason } : {}),
    });
    return reportEndpoint(ctx, r.body, opts.json);
  }
  const who = ctx.who(opts.requestedBy);
  const svc = (await ctx.catalog()).services[service]!;
  const ports = await cliPorts(ctx, { ...opts, executionArn: latest.executionArn });
  await checkClusterAccess(ports, svc, opts);
  line(
    ctx.io.stderr,
    `rolling ${service} back from ${latest.finalImage ?? latest.image} to ${latest.previousImage}`,
  );
  const result = await ctx.aws('rolling back', () =>
    performRollback(ports, {
      service,
      deploymentId: latest.deploymentId,
      trigger: `person:${who}`,
      reason: `rollback requested by ${who}${opts.reason ? `: ${opts.reason}` : ''}`,
      phase: null,
    }),
  );
  return report(ctx, service, latest.deploymentId, result, opts.json);
}

async function report(
  ctx: CliContext,
  service: string,
  deploymentId: string,
  result: Awaited<ReturnType<typeof performRollback>>,
  json: boolean | undefined,
): Promise<ExitCode> {
  const record = await (await ctx.store()).get(service, deploymentId);
  if (json) {
    line(
      ctx.io.stdout,
      JSON.stringify(
        {
          deploymentId,
          service,
          claimed: result.claimed,
          actions: result.actions,
          outcome: record?.outcome ?? null,
          finalImage: record?.finalImage ?? null,
        },
        null,
        2,
      ),
    );
  } else {
    line(
      ctx.io.stdout,
      `${service} ${deploymentId}: ${record?.outcome ?? 'unknown'}; serving ${record?.finalImage ?? record?.previousImage ?? '?'}`,
    );
    for (const a of result.actions) line(ctx.io.stdout, `  ${a}`);
    if (!result.claimed)
      line(
        ctx.io.stdout,
        '  (someone else had already claimed this rollback; it was run again, idempotently)',
      );
  }
  return EXIT_CODES.ok;
}

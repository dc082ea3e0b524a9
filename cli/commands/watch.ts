/**
 * `watch <id>`: attach to a release by its deployment id (the execution name) or execution ARN
 * and follow it as `start --follow` does ({@link followRelease}, the same implementation), exiting
 * with its outcome. A release that already ended prints its outcome and exits at once.
 */
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import type { DeploymentRecord } from '../../functions/domain/record.js';
import type { CliContext } from '../context.js';
import { CliError, EXIT_CODES, type ExitCode, line } from '../io.js';
import { linkLines } from '../links.js';
import { exitForOutcome, followRelease, outcomeLine, releaseJson } from './follow.js';

export interface WatchOptions {
  readonly service?: string;
  readonly pollInterval?: number;
  readonly json?: boolean;
}

/** A release found by id: its service, execution and record (null before the record is written). */
export interface LocatedRelease {
  readonly service: string;
  readonly deploymentId: string;
  readonly executionArn: string;
  readonly record: DeploymentRecord | null;
}

function isNotFound(error: unknown): boolean {
  return (error as { name?: string })?.name === 'ExecutionDoesNotExist';
}

/**
 * Finds a release: its record in the table (in `service`, the ARN's service, else every service
 * of the catalog); without one (the execution started but has not written it yet), the execution
 * of that name in each service's state machine. The error names the table, the services and the
 * state machines looked in.
 */
export async function locateRelease(ctx: CliContext, id: string, service?: string): Promise<LocatedRelease> {
  if (service) await ctx.requireService(service);
  const { deploymentId, service: fromArn, arn } = await ctx.parseId(id);
  const catalog = await ctx.catalog();
  const services = service ? [service] : fromArn ? [fromArn] : Object.keys(catalog.services);
  const store = await ctx.store();
  const table = await ctx.tableName();
  for (const s of services) {
    const record = await ctx.aws(`reading ${deploymentId} from ${table}`, () => store.get(s, deploymentId));
    if (record) {
      return {
        service: s,
        deploymentId,
        executionArn: record.executionArn ?? arn ?? '',
        record,
      };
    }
  }
  if (arn) {
    if (services.length !== 1) {
      throw new CliError(
        `${id}: its state machine is not <appName>-<service> of a catalog service; pass --service`,
        EXIT_CODES.usage,
      );
    }
    await ctx.aws('DescribeExecution', () =>
      ctx.sfn.send(new DescribeExecutionCommand({ executionArn: arn })),
    );
    return { service: services[0]!, deploymentId, executionArn: arn, record: null };
  }
  for (const s of services) {
    const machine = await ctx.stateMachineArn(s);
    const executionArn = `${machine.replace(':stateMachine:', ':execution:')}:${deploymentId}`;
    try {
      await ctx.sfn.send(new DescribeExecutionCommand({ executionArn }));
      return { service: s, deploymentId, executionArn, record: null };
    } catch (error) {
      if (isNotFound(error)) continue;
      throw new CliError(`DescribeExecution failed: ${(error as Error).message}`, EXIT_CODES.failed, {
        cause: error,
      });
    }
  }
  throw new CliError(
    `no deployment ${deploymentId}: not in table ${table} and no execution of that name (looked in ${services.join(', ')})`,
  );
}

export async function watchCommand(ctx: CliContext, id: string, opts: WatchOptions): Promise<ExitCode> {
  const found = await locateRelease(ctx, id, opts.service);
  const links = await ctx.links(found.executionArn, found.service);
  const { stdout, stderr } = ctx.io;
  const record = found.record;
  if (record && record.outcome !== 'RUNNING') {
    // Ended: its outcome at once, no replay of the history.
    const exitCode = exitForOutcome(record.outcome);
    if (opts.json) {
      line(
        stdout,
        JSON.stringify({
          service: found.service,
          deploymentId: found.deploymentId,
          executionArn: found.executionArn,
          status: null,
          error: null,
          cause: null,
          outcome: record.outcome,
          exitCode,
          links,
        }),
      );
    } else {
      line(stdout, `${found.service} ${found.deploymentId} already ended (${record.endedAt ?? '?'})`);
      line(stdout, outcomeLine(record));
      for (const l of linkLines(links)) line(stdout, l);
    }
    return exitCode;
  }
  line(
    stderr,
    `watching ${found.service} ${found.deploymentId}${record ? ` (${record.image}, started ${record.startedAt} by ${record.requestedBy})` : ''}`,
  );
  line(stderr, `  execution ${found.executionArn}`);
  for (const l of linkLines(links)) line(stderr, l);
  const result = await followRelease(ctx, {
    executionArn: found.executionArn,
    service: found.service,
    deploymentId: found.deploymentId,
    pollMs: (opts.pollInterval ?? 5) * 1000,
    out: opts.json ? stderr : stdout,
  });
  if (opts.json) {
    line(
      stdout,
      JSON.stringify(releaseJson(found.service, found.deploymentId, found.executionArn, result, links)),
    );
  }
  return result.exitCode;
}

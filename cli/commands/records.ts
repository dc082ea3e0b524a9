/** `status` (and `status --watch`), `history` and `report`: reading deployment records from the deployments table. */
import { readFileSync, writeFileSync } from 'node:fs';
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import type { DeploymentRecord } from '../../functions/domain/record.js';
import { renderRecordText, toRecordJson } from '../../functions/domain/record-json.js';
import { renderReportHtml } from '../../report/html.js';
import { renderReportMarkdown } from '../../report/markdown.js';
import type { CliContext } from '../context.js';
import { CliError, EXIT_CODES, type ExitCode, line } from '../io.js';
import { linkLines } from '../links.js';
import { exitForOutcome } from './follow.js';

/** The execution behind a record, as DescribeExecution reports it (null when it cannot be read). */
interface ExecutionInfo {
  readonly status: string;
  readonly startDate: string | null;
  readonly stopDate: string | null;
  readonly error: string | null;
  readonly cause: string | null;
}

async function describe(ctx: CliContext, executionArn: string | null): Promise<ExecutionInfo | null> {
  // A local ARN is described only by the local environment (--local); AWS knows nothing of it.
  if (!executionArn || (executionArn.includes(':local:') && !ctx.options.local)) return null;
  try {
    const d = await ctx.sfn.send(new DescribeExecutionCommand({ executionArn }));
    return {
      status: d.status ?? 'UNKNOWN',
      startDate: d.startDate?.toISOString() ?? null,
      stopDate: d.stopDate?.toISOString() ?? null,
      error: d.error ?? null,
      cause: d.cause ?? null,
    };
  } catch {
    return null;
  }
}

export interface StatusOptions {
  readonly service?: string;
  readonly json?: boolean;
  /** Re-print until the release ends. */
  readonly watch?: boolean;
  /** Seconds between prints with `watch`. @default 10 */
  readonly interval?: number;
}

/** One status print: its exit code, whether the release still runs, and where it was found. */
interface StatusShown {
  readonly code: ExitCode;
  readonly running: boolean;
  readonly service: string | undefined;
}

async function showStatus(ctx: CliContext, id: string, opts: StatusOptions): Promise<StatusShown> {
  const { arn, deploymentId, service: fromArn } = await ctx.parseId(id);
  // Compact JSON, one object per line, when re-printed (a stream of JSON documents).
  const json = (v: unknown) => JSON.stringify(v, null, opts.watch ? undefined : 2);
  let record: DeploymentRecord | null = null;
  try {
    record = await ctx.findRecord(id, opts.service);
  } catch (error) {
    // An execution that failed at "Validate Input" has no record: show the execution instead.
    if (!arn) throw error;
  }
  const execution = await describe(ctx, arn ?? record?.executionArn ?? null);
  if (!record) {
    if (!execution) throw new CliError(`no record and no execution for ${id}`);
    const service = opts.service ?? fromArn;
    const links = arn && service ? await ctx.links(arn, service) : null;
    if (opts.json) {
      line(ctx.io.stdout, json({ deploymentId, record: null, execution, links }));
    } else {
      line(
        ctx.io.stdout,
        `execution ${execution.status}${execution.error ? ` (${execution.error}: ${execution.cause ?? ''})` : ''}; no deployment record (the input was refused before anything was written)`,
      );
      for (const l of linkLines(links)) line(ctx.io.stdout, l);
    }
    const running = execution.status === 'RUNNING';
    return {
      code: execution.status === 'SUCCEEDED' || running ? EXIT_CODES.ok : EXIT_CODES.failed,
      running,
      service: service ?? undefined,
    };
  }
  const links = await ctx.links(record.executionArn, record.service);
  if (opts.json) {
    line(ctx.io.stdout, json({ ...toRecordJson(record), execution, links }));
  } else {
    line(ctx.io.stdout, renderRecordText(record));
    if (execution) {
      line(
        ctx.io.stdout,
        `  execution ${execution.status}${execution.error ? ` (${execution.error})` : ''}: ${record.executionArn}`,
      );
    }
    for (const l of linkLines(links)) line(ctx.io.stdout, l);
    const pending = (record as { pendingApproval?: { phase?: string } | null }).pendingApproval;
    if (pending)
      line(ctx.io.stdout, `  waiting for approval: tps-deploy approve|reject ${record.deploymentId}`);
    // A hold asks for a promote until it is decided (promoted, aborted, timed out) or the release ends.
    const hold = record.hold;
    if (hold && !hold.decision && record.outcome === 'RUNNING')
      line(
        ctx.io.stdout,
        `  on hold since ${hold.at} (${hold.requestedBy}): tps-deploy promote ${record.deploymentId}`,
      );
  }
  const running = record.outcome === 'RUNNING';
  // Watched to its end: exit with the outcome, as start --follow and watch do.
  return {
    code: opts.watch && !running ? exitForOutcome(record.outcome) : EXIT_CODES.ok,
    running,
    service: record.service,
  };
}

/**
 * `status <id>`: the record and its execution. With `watch`, re-prints every `interval` seconds
 * until the release ends (the record's outcome leaves RUNNING; without a record, the execution
 * leaves RUNNING), then exits with its outcome.
 */
export async function statusCommand(ctx: CliContext, id: string, opts: StatusOptions): Promise<ExitCode> {
  let shown = await showStatus(ctx, id, opts);
  if (!opts.watch) return shown.code;
  const intervalMs = (opts.interval ?? 10) * 1000;
  while (shown.running) {
    await ctx.sleep(intervalMs);
    if (!opts.json) line(ctx.io.stdout, `--- ${ctx.now().toISOString()}`);
    // Found once: the next prints read that service only.
    shown = await showStatus(ctx, id, { ...opts, service: opts.service ?? shown.service });
  }
  return shown.code;
}

const pad = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s.padEnd(n));

export async function historyCommand(
  ctx: CliContext,
  opts: { service: string; limit: number; json?: boolean },
): Promise<ExitCode> {
  await ctx.requireService(opts.service);
  const store = await ctx.store();
  const records = await ctx.aws(`reading the history of ${opts.service} from ${await ctx.tableName()}`, () =>
    store.history(opts.service, opts.limit),
  );
  if (opts.json) {
    line(ctx.io.stdout, JSON.stringify(records.map(toRecordJson), null, 2));
    return EXIT_CODES.ok;
  }
  if (records.length === 0) {
    line(ctx.io.stdout, `no deployments of ${opts.service} in ${await ctx.tableName()}`);
    return EXIT_CODES.ok;
  }
  line(
    ctx.io.stdout,
    `${pad('STARTED', 21)}${pad('DEPLOYMENT', 40)}${pad('OUTCOME', 13)}${pad('IMAGE', 44)}${pad('BY', 20)}ROLLBACK`,
  );
  for (const r of records) {
    line(
      ctx.io.stdout,
      `${pad(r.startedAt.slice(0, 19).replace('T', ' '), 21)}${pad(r.deploymentId, 40)}${pad(r.outcome, 13)}${pad(r.image, 44)}${pad(r.requestedBy, 20)}${r.rollback ? `${r.rollback.phase ?? '?'}: ${r.rollback.trigger}` : ''}`,
    );
  }
  return EXIT_CODES.ok;
}

/** Reads a full DeploymentRecord from a JSON file (as saved by `local --record-out`). */
export function readRecordFile(path: string): DeploymentRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new CliError(`--file: cannot read ${path}: ${(error as Error).message}`, EXIT_CODES.usage);
  }
  const r = parsed as Partial<DeploymentRecord>;
  if (!r || typeof r !== 'object' || typeof r.deploymentId !== 'string' || !Array.isArray(r.phases)) {
    throw new CliError(
      `--file: ${path} is not a deployment record (no deploymentId or phases); save one with tps-deploy local --record-out`,
      EXIT_CODES.usage,
    );
  }
  return r as DeploymentRecord;
}

export async function reportCommand(
  ctx: CliContext,
  id: string | undefined,
  opts: { service?: string; md?: boolean; html?: string; json?: boolean; file?: string },
): Promise<ExitCode> {
  const formats = [opts.md, opts.html !== undefined, opts.json].filter(Boolean).length;
  if (formats > 1) throw new CliError('report: give one of --md, --html FILE, --json', EXIT_CODES.usage);
  if (!id && !opts.file)
    throw new CliError('report: give a deployment id (or --file record.json)', EXIT_CODES.usage);
  const record = opts.file ? readRecordFile(opts.file) : await ctx.findRecord(id!, opts.service);
  if (opts.json) {
    line(ctx.io.stdout, JSON.stringify(toRecordJson(record), null, 2));
  } else if (opts.md) {
    ctx.io.stdout.write(renderReportMarkdown(record));
  } else if (opts.html !== undefined) {
    writeFileSync(opts.html, renderReportHtml(record));
    line(ctx.io.stderr, `wrote ${opts.html}`);
  } else {
    line(ctx.io.stdout, renderRecordText(record));
  }
  return EXIT_CODES.ok;
}

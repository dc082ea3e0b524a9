/**
 * `list`: the releases running across the catalog's services, from the table alone: each
 * service's lock (who holds it, since when, releasing or watching) and the holder's record (version,
 * phase and weight, requester, whether it waits for a person). A lock whose release has ended is
 * listed too, with what frees it.
 */
import { imageVersion } from '../../functions/domain/image.js';
import type { DeploymentRecord } from '../../functions/domain/record.js';
import type { CliContext } from '../context.js';
import { EXIT_CODES, type ExitCode, line } from '../io.js';

export interface ListOptions {
  readonly service?: string;
  readonly json?: boolean;
}

/** One running release, as `list --json` prints it. */
export interface RunningRelease {
  readonly service: string;
  readonly deploymentId: string;
  readonly executionArn: string | null;
  readonly image: string | null;
  readonly version: string | null;
  /** The current phase (`canary`, ...), `watch` during the post-deployment watch, null before the first. */
  readonly phase: string | null;
  /** Percent of traffic on the new version in that phase (100 during the watch). */
  readonly weight: number | null;
  /** The lock's stage. */
  readonly stage: 'releasing' | 'watching';
  readonly startedAt: string;
  readonly requestedBy: string | null;
  /** The record's outcome: RUNNING, or how a release that left its lock behind ended; null without a record. */
  readonly outcome: string | null;
  /** What it waits for, in words, with the command that answers it; null when it waits for nobody. */
  readonly waiting: string | null;
}

function waitingFor(record: DeploymentRecord | null, service: string, deploymentId: string): string | null {
  if (!record) return `no record yet: tps-deploy watch ${deploymentId} --service ${service}`;
  if (record.outcome !== 'RUNNING') {
    return `ended ${record.outcome}, lock left behind: tps-deploy unlock --service ${service}`;
  }
  const pending = record.pendingApproval;
  if (pending?.phase) return `hold at ${pending.phase}: tps-deploy promote ${record.deploymentId}`;
  if (pending) return `approval: tps-deploy approve|reject ${record.deploymentId}`;
  if (record.hold && !record.hold.decision) return `hold requested by ${record.hold.requestedBy}`;
  return null;
}

function toRow(
  lock: { deploymentId: string; executionArn: string | null; since: string; stage: 'releasing' | 'watching' },
  service: string,
  record: DeploymentRecord | null,
): RunningRelease {
  const last = record?.phases.at(-1) ?? null;
  const watching = lock.stage === 'watching';
  return {
    service,
    deploymentId: lock.deploymentId,
    executionArn: lock.executionArn ?? record?.executionArn ?? null,
    image: record?.image ?? null,
    version: record ? imageVersion(record.image) : null,
    phase: watching ? 'watch' : (last?.name ?? null),
    weight: watching ? 100 : (last?.weight ?? null),
    stage: lock.stage,
    startedAt: record?.startedAt ?? lock.since,
    requestedBy: record?.requestedBy ?? null,
    outcome: record?.outcome ?? null,
    waiting: waitingFor(record, service, lock.deploymentId),
  };
}

const pad = (s: string, n: number) => (s.length >= n ? `${s.slice(0, n - 2)}… ` : s.padEnd(n));

export async function listCommand(ctx: CliContext, opts: ListOptions): Promise<ExitCode> {
  if (opts.service) await ctx.requireService(opts.service);
  const services = opts.service ? [opts.service] : Object.keys((await ctx.catalog()).services);
  const store = await ctx.store();
  const table = await ctx.tableName();
  const rows: RunningRelease[] = [];
  for (const service of services) {
    const lock = await ctx.aws(`reading the lock of ${service} from ${table}`, () => store.active(service));
    if (!lock) continue;
    const record = await ctx.aws(`reading ${lock.deploymentId} from ${table}`, () =>
      store.get(service, lock.deploymentId),
    );
    rows.push(toRow(lock, service, record));
  }
  if (opts.json) {
    line(ctx.io.stdout, JSON.stringify(rows, null, 2));
    return EXIT_CODES.ok;
  }
  if (rows.length === 0) {
    line(ctx.io.stdout, `no release running (looked in ${services.join(', ')})`);
    return EXIT_CODES.ok;
  }
  line(
    ctx.io.stdout,
    `${pad('SERVICE', 14)}${pad('DEPLOYMENT', 40)}${pad('VERSION', 16)}${pad('PHASE', 14)}${pad('STARTED', 21)}${pad('BY', 22)}WAITING`,
  );
  for (const r of rows) {
    line(
      ctx.io.stdout,
      `${pad(r.service, 14)}${pad(r.deploymentId, 40)}${pad(r.version ?? '-', 16)}${pad(r.phase ? `${r.phase} ${r.weight ?? '?'}%` : 'starting', 14)}${pad(r.startedAt.slice(0, 19).replace('T', ' '), 21)}${pad(r.requestedBy ?? '-', 22)}${r.waiting ?? '-'}`,
    );
  }
  return EXIT_CODES.ok;
}

/**
 * What every step needs to find its footing: the service of the plan, the release on the
 * cluster, the record and the recorded rollback plan. A missing record or plan is a store problem
 * (StoreUnavailableError, retried), never a reason to go on blind.
 */
import type { ServiceConfig } from '../domain/config.js';
import {
  DeploymentIdInUseError,
  DeploymentInProgressError,
  ERROR_NAMES,
  StoreUnavailableError,
  TargetNotFoundError,
} from '../domain/errors.js';
import type { ReleasePlan } from '../domain/input.js';
import { judgeHeldLock } from '../domain/lock.js';
import { type DeploymentRecord, type ExecutionIdentity, isOwnRecord } from '../domain/record.js';
import { addEvent } from '../domain/record-transitions.js';
import { releaseEnded } from '../domain/release-metrics.js';
import type { ReleaseTarget, RollbackPlan } from '../ports/cluster.js';
import type { ReleasePorts } from '../ports/release.js';

/** The catalog entry of the plan's service. */
export function serviceOf(
  ports: Pick<ReleasePorts, 'catalog'>,
  plan: Pick<ReleasePlan, 'service'>,
): ServiceConfig {
  const svc = ports.catalog.services[plan.service];
  if (!svc) throw new TargetNotFoundError(`service ${plan.service} is not in the catalog`);
  return svc;
}

/** The release as the cluster adapters know it. */
export function targetOf(plan: ReleasePlan): ReleaseTarget {
  return {
    deploymentId: plan.deploymentId,
    service: plan.service,
    namespace: plan.namespace,
    deployment: plan.deployment,
    images: plan.images,
    version: plan.version,
  };
}

/** The deployment record. */
export async function loadRecord(
  ports: Pick<ReleasePorts, 'store'>,
  plan: Pick<ReleasePlan, 'service' | 'deploymentId'>,
): Promise<DeploymentRecord> {
  const record = await ports.store.get(plan.service, plan.deploymentId);
  if (!record) throw new StoreUnavailableError(`no record for ${plan.service}/${plan.deploymentId}`);
  return record;
}

/**
 * The record this execution wrote, or null before it wrote one. A record of the same id written
 * by another execution (a name reused after 90 days) is never taken for a retry: the release is
 * refused with {@link DeploymentIdInUseError} before anything changes.
 */
export async function ownRecord(
  ports: Pick<ReleasePorts, 'store'>,
  plan: Pick<ReleasePlan, 'service' | 'deploymentId'>,
  execution: ExecutionIdentity,
): Promise<DeploymentRecord | null> {
  const existing = await ports.store.get(plan.service, plan.deploymentId);
  if (existing && !isOwnRecord(existing, execution)) {
    throw new DeploymentIdInUseError(plan.service, plan.deploymentId, {
      executionArn: existing.executionArn,
      startedAt: existing.executionStartedAt ?? existing.startedAt,
      outcome: existing.outcome,
    });
  }
  return existing;
}

/** The rollback plan "Record Rollback Plan" wrote. */
export async function loadPlan(
  ports: Pick<ReleasePorts, 'store'>,
  plan: Pick<ReleasePlan, 'service' | 'deploymentId'>,
): Promise<RollbackPlan> {
  const rb = await ports.store.getPlan(plan.service, plan.deploymentId);
  if (!rb)
    throw new StoreUnavailableError(`no rollback plan recorded for ${plan.service}/${plan.deploymentId}`);
  return rb;
}

/** Cause text of a Step Functions error: Lambda errors arrive as JSON `{errorType, errorMessage}`. */
export function causeText(cause: unknown): string {
  if (typeof cause !== 'string') return String(cause ?? '');
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // not JSON: a plain message
  }
  return cause;
}

/** Seconds between two ISO times (or a time and now), one decimal. */
export function secondsBetween(from: string, to: string | Date): number {
  const end = typeof to === 'string' ? Date.parse(to) : to.getTime();
  return Math.round((end - Date.parse(from)) / 100) / 10;
}

/**
 * The release metrics of a release that just ended, once its outcome is written: a retry of the
 * step finds the outcome set and does not get here again, so each end is counted once.
 */
export async function recordEnd(
  ports: Pick<ReleasePorts, 'telemetry'>,
  record: DeploymentRecord,
): Promise<void> {
  const event = releaseEnded(record);
  if (event) await ports.telemetry.record(event);
}

/**
 * Takes the service's lock for `record` (functions/ports/store.ts `begin`). A lock held by a
 * release that has ended (functions/domain/lock.ts says when) is taken over, and both records say
 * so; one held by a release that may still act is refused with DeploymentInProgressError naming
 * it and why. Returns the sentence for the new record when it took a lock over.
 */
export async function takeServiceLock(
  ports: Pick<ReleasePorts, 'store' | 'executions' | 'clock'>,
  record: DeploymentRecord,
): Promise<string | null> {
  try {
    await ports.store.begin(record);
    return null;
  } catch (e) {
    if (!(e instanceof DeploymentInProgressError)) throw e;
    const holder = await ports.store.active(record.service);
    if (!holder || holder.deploymentId === record.deploymentId) throw e;
    const [held, execution] = await Promise.all([
      ports.store.get(record.service, holder.deploymentId),
      holder.executionArn
        ? ports.executions.status(holder.executionArn)
        : Promise.resolve('UNKNOWN' as const),
    ]);
    const verdict = judgeHeldLock(holder, held?.outcome ?? null, execution);
    if (verdict.action === 'refuse') {
      throw new DeploymentInProgressError(record.service, `${holder.deploymentId} (${verdict.why})`);
    }
    await ports.store.begin(record, holder.deploymentId);
    const note = `took over the lock of ${holder.deploymentId}: ${verdict.why}`;
    if (held) {
      addEvent(held, ports.clock.now(), `lock taken over by ${record.deploymentId}: ${verdict.why}`);
      await ports.store.put(held).catch(() => undefined);
    }
    return note;
  }
}

/**
 * Reads the record of a deployment, lets `edit` change it and writes it; the write fails when
 * someone wrote since the read (RecordConflictError, a StoreUnavailableError), and then the
 * record is read and edited again, up to 5 times. `edit` may throw to refuse (nothing written).
 * Null when there is no record (`edit` not called). `first` stands for the first read.
 */
export async function updateRecord<T>(
  ports: Pick<ReleasePorts, 'store'>,
  service: string,
  deploymentId: string,
  edit: (record: DeploymentRecord) => T,
  first?: DeploymentRecord,
): Promise<T | null> {
  for (let attempt = 0; ; attempt++) {
    const record = attempt === 0 && first ? first : await ports.store.get(service, deploymentId);
    if (!record) return null;
    const result = edit(record);
    try {
      await ports.store.put(record);
      return result;
    } catch (e) {
      if ((e as { name?: string }).name !== ERROR_NAMES.storeUnavailable || attempt >= 4) throw e;
    }
  }
}

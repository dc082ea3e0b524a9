/**
 * Write-ahead for cluster changes: the guarantee "no cluster change that is not recorded".
 *
 * Every step that changes the cluster (shift, the readiness step's completion of a shift, clean
 * up, test and migration Jobs) goes through {@link changeCluster}:
 *
 * 1. It reads the record and the rollback claim, and refuses ({@link ReleaseEndedError}, no
 *    change) when the release has ended or a rollback was claimed.
 * 2. It writes its intent into the record (one optimistic write). If the deployments table cannot
 *    be reached the step fails here with StoreUnavailableError, before the cluster is touched;
 *    the state machine retries it.
 * 3. It makes the change, then reads the rollback claim again. A rollback claimed in between (an
 *    alarm, a stopped execution) may have restored the cluster before this change landed, so the
 *    step runs its `undo` (the router's idempotent rollback to the recorded plan) and stops with
 *    {@link ReleaseEndedError}. A claim written after that read belongs to a rollback whose
 *    cluster work starts after this change, so it undoes the change itself.
 *
 * The table has no transactions here (dynalite, like the local runs), so the fence is the claim
 * read after the change rather than a condition on the intent write; the argument above needs
 * only strongly consistent reads.
 */
import { ReleaseEndedError } from '../domain/errors.js';
import type { ReleasePlan } from '../domain/input.js';
import type { DeploymentRecord } from '../domain/record.js';
import { addEvent } from '../domain/record-transitions.js';
import type { ReleasePorts } from '../ports/release.js';

/** What a step is about to do, and how to put it back if a rollback overtook it. */
export interface ClusterChange<T> {
  /** For the record: `Canary: shifting 10% of traffic to 1.4.2`. */
  readonly intent: string;
  readonly apply: () => Promise<T>;
  /** Restores the recorded plan; `null` when the change needs no undo (the rollback handles it). */
  readonly undo: (() => Promise<unknown>) | null;
  /** Refuse when a rollback is claimed. @default true (false for the migration's own rollback). */
  readonly fenced?: boolean;
}

/**
 * Runs `change` with its intent written ahead. Returns the change's result and the record as
 * written (the caller may add to it and `put` it again: the store tracks its revision).
 */
export async function changeCluster<T>(
  ports: Pick<ReleasePorts, 'store' | 'clock'>,
  plan: Pick<ReleasePlan, 'service' | 'deploymentId'>,
  change: ClusterChange<T>,
): Promise<{ result: T; record: DeploymentRecord }> {
  const fenced = change.fenced ?? true;
  const [record, claim] = await Promise.all([
    ports.store.get(plan.service, plan.deploymentId),
    fenced ? ports.store.rollbackClaim(plan.service, plan.deploymentId) : Promise.resolve(null),
  ]);
  if (!record) throw new ReleaseEndedError(`no record for ${plan.service}/${plan.deploymentId}`);
  if (fenced && (claim || record.outcome !== 'RUNNING')) {
    throw new ReleaseEndedError(
      `${plan.service}/${plan.deploymentId} ${claim ? `is being rolled back by ${claim.claimant}` : `ended ${record.outcome}`}; not changing the cluster (${change.intent})`,
    );
  }
  addEvent(record, ports.clock.now(), `intent: ${change.intent}`);
  await ports.store.put(record);
  const result = await change.apply();
  if (fenced) {
    const after = await ports.store.rollbackClaim(plan.service, plan.deploymentId);
    if (after) {
      if (change.undo) await change.undo();
      throw new ReleaseEndedError(
        `${plan.service}/${plan.deploymentId} was claimed for rollback by ${after.claimant} while "${change.intent}" ran; ${change.undo ? 'restored the recorded plan again' : 'left to the rollback'}`,
      );
    }
  }
  return { result, record };
}

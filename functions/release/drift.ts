/**
 * People are not fought: when someone changed the original Deployment since the plan was recorded,
 * the release stops ({@link DriftDetectedError}) and says what changed; the rollback that follows
 * keeps the person's change (RollbackRequest.keepLiveTemplate).
 */
import type { PhaseName } from '../domain/defaults.js';
import { DriftDetectedError } from '../domain/errors.js';
import type { ReleasePlan } from '../domain/input.js';
import { addEvent } from '../domain/record-transitions.js';
import type { ClusterClient, RollbackPlan } from '../ports/cluster.js';
import type { ReleasePorts } from '../ports/release.js';
import { loadRecord, targetOf } from './support.js';

/**
 * Records the drift and throws DriftDetectedError when the live Deployment is not as recorded
 * (for Clean Up: nor as Clean Up leaves it).
 */
export async function assertNoDrift(
  ports: ReleasePorts,
  cluster: ClusterClient,
  plan: ReleasePlan,
  rb: RollbackPlan,
  phase: PhaseName | 'clean up',
): Promise<void> {
  const changes = await cluster.drift(targetOf(plan), rb, 'recorded');
  if (changes.length === 0) return;
  // Clean Up run again after it finalized the Deployment: that is tps-deploy's own change.
  if (phase === 'clean up' && (await cluster.drift(targetOf(plan), rb, 'finalized')).length === 0) return;
  const record = await loadRecord(ports, plan);
  addEvent(
    record,
    ports.clock.now(),
    `${phase}: drift: someone changed deployment ${plan.namespace}/${plan.deployment} during the release: ${changes.join('; ')}; stopping without overwriting it`,
  );
  await ports.store.put(record);
  throw new DriftDetectedError(
    `deployment ${plan.namespace}/${plan.deployment} changed during the ${phase} phase: ${changes.join('; ')}`,
    changes,
  );
}

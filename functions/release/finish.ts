/**
 * The end of a release: "Clean Up" (the original Deployment runs the new version, the canary
 * objects are gone), "Complete Release" (SUCCEEDED, lock released) and "Mark Release Failed"
 * (an error before any cluster change).
 */
import { DriftDetectedError, ReleaseEndedError } from '../domain/errors.js';
import type { ReleasePlan } from '../domain/input.js';
import { addEvent, markFailed, markSucceeded } from '../domain/record-transitions.js';
import type { ReleasePorts } from '../ports/release.js';
import { assertNoDrift } from './drift.js';
import { restoreLatencyAlarm } from './latency-alarm.js';
import { CleanupIncompleteError, undoTo } from './rollback.js';
import { causeText, loadPlan, loadRecord, recordEnd, serviceOf, targetOf } from './support.js';
import { changeCluster } from './write-ahead.js';

/** "Clean Up": the original Deployment at the new version, nothing else left. */
export async function finalizeRelease(
  ports: ReleasePorts,
  event: { plan: ReleasePlan },
): Promise<{ actions: readonly string[]; leftovers: readonly string[] }> {
  const { plan } = event;
  const svc = serviceOf(ports, plan);
  const rb = await loadPlan(ports, plan);
  const { router, cluster } = await ports.workloads(svc);
  const target = targetOf(plan);
  // People are not fought here either: a change since Validate Production stops the release,
  // and one made between Clean Up's read and its write fails the write (a generation test).
  await assertNoDrift(ports, cluster, plan, rb, 'clean up');
  const { result: report, record } = await changeCluster(ports, plan, {
    intent: `clean up: deployment ${plan.namespace}/${plan.deployment} runs ${JSON.stringify(plan.images)} at ${rb.replicas} replicas; canary objects removed`,
    apply: () => router.finalize(target, rb),
    undo: () => undoTo(cluster, router, target, rb),
  }).catch(async (e: unknown) => {
    if (e instanceof DriftDetectedError) await assertNoDrift(ports, cluster, plan, rb, 'clean up');
    throw e;
  });
  const now = ports.clock.now();
  if (report.leftovers.length > 0) {
    addEvent(record, now, `cleanup left: ${report.leftovers.join(', ')}`);
    await ports.store.put(record);
    throw new CleanupIncompleteError(report.leftovers);
  }
  record.finalImage = Object.values(plan.images)[0] ?? null;
  addEvent(record, now, `cleanup: ${report.actions.join('; ')}; nothing left`);
  await ports.store.put(record);
  return { actions: report.actions, leftovers: report.leftovers };
}

/** "Complete Release": the record says SUCCEEDED, the lock is released, the team told. */
export async function completeRelease(
  ports: ReleasePorts,
  event: { plan: ReleasePlan },
): Promise<{ outcome: string }> {
  const { plan } = event;
  const now = ports.clock.now();
  const [record, claim] = await Promise.all([
    loadRecord(ports, plan),
    ports.store.rollbackClaim(plan.service, plan.deploymentId),
  ]);
  // A retry after a partial success (SUCCEEDED written, then the lock or the notification
  // failed): finish the rest. Anything else that ended the release (an alarm rollback during the
  // watch or clean up) must never be overwritten with SUCCEEDED.
  const retry = !claim && record.outcome === 'SUCCEEDED';
  if (!retry && (claim || record.outcome !== 'RUNNING')) {
    throw new ReleaseEndedError(
      `${plan.service}/${plan.deploymentId} ${claim ? `was rolled back by ${claim.claimant}` : `ended ${record.outcome}`}; not marking it released`,
    );
  }
  if (!retry) {
    markSucceeded(record, now);
    const restored = await restoreLatencyAlarm(ports, plan.service, plan.deploymentId);
    if (restored) addEvent(record, now, restored);
    await ports.store.put(record);
    await recordEnd(ports, record);
  }
  await endRelease(
    ports,
    plan,
    `${plan.service}: ${plan.version} released`,
    `${record.image} serves 100% of traffic; previous ${record.previousImage}.`,
  );
  return { outcome: record.outcome };
}

/** Marks a release that failed before any cluster change; releases the lock. */
export async function failRelease(
  ports: ReleasePorts,
  event: { plan: ReleasePlan; failure: { Error?: string; Cause?: string } | null },
): Promise<{ outcome: 'FAILED'; reason: string }> {
  const { plan } = event;
  const now = ports.clock.now();
  const reason = `${event.failure?.Error ?? 'Error'}: ${causeText(event.failure?.Cause)}`;
  const record = await ports.store.get(plan.service, plan.deploymentId);
  const restored = await restoreLatencyAlarm(ports, plan.service, plan.deploymentId);
  if (record && markFailed(record, now, reason)) {
    if (restored) addEvent(record, now, restored);
    await ports.store.put(record);
    await recordEnd(ports, record);
  }
  await endRelease(ports, plan, `${plan.service}: release of ${plan.version} failed`, reason);
  return { outcome: 'FAILED', reason };
}

/** Frees the service lock and tells the people who follow the service how the release ended. */
async function endRelease(
  ports: ReleasePorts,
  plan: ReleasePlan,
  subject: string,
  message: string,
): Promise<void> {
  await ports.store.release(plan.service, plan.deploymentId);
  await ports.notifier.notify({
    kind: 'finished',
    service: plan.service,
    deploymentId: plan.deploymentId,
    subject,
    message,
  });
}

/**
 * The post-deployment watch: after "Clean Up" the release is done on the cluster but not over.
 * The lock's stage becomes `watching` (a critical alarm now rolls back with phase `watch`, see
 * functions/release/alarm.ts), "Post-Deployment Watch" waits `plan.watchSeconds` (2 h for a
 * hotfix), and "Stand Down" records the end of the watch and tells the team.
 */
import type { ReleasePlan } from '../domain/input.js';
import { addEvent } from '../domain/record-transitions.js';
import type { ReleasePorts } from '../ports/release.js';
import { loadPlan, loadRecord, serviceOf, targetOf } from './support.js';

/** "Start Watch": stage `watching`, the watch in the record. */
export async function startWatch(
  ports: ReleasePorts,
  event: { plan: ReleasePlan },
): Promise<{ startedAt: string; until: string; seconds: number }> {
  const { plan } = event;
  await ports.store.setStage(plan.service, plan.deploymentId, 'watching');
  const now = ports.clock.now();
  const seconds = plan.watchSeconds;
  const until = new Date(now.getTime() + seconds * 1000).toISOString();
  const record = await loadRecord(ports, plan);
  record.watch = { startedAt: now.toISOString(), seconds, until, standDownAt: null };
  addEvent(
    record,
    now,
    `post-deployment watch: ${seconds / 60} min with the rollback alarms armed, until ${until}`,
  );
  await ports.store.put(record);
  await ports.notifier.notify({
    kind: 'decision',
    service: plan.service,
    deploymentId: plan.deploymentId,
    subject: `${plan.service}: ${plan.version} at 100%; watching for ${Math.round(seconds / 60)} min`,
    message: `${record.image} serves all traffic. A critical alarm until ${until} rolls back to ${record.previousImage}.`,
  });
  return { startedAt: now.toISOString(), until, seconds };
}

/** "Stand Down": the watch is over without an alarm. */
export async function standDown(
  ports: ReleasePorts,
  event: { plan: ReleasePlan },
): Promise<{ standDownAt: string }> {
  const { plan } = event;
  const now = ports.clock.now();
  const record = await loadRecord(ports, plan);
  const watch = record.watch ?? {
    startedAt: now.toISOString(),
    seconds: plan.watchSeconds,
    until: now.toISOString(),
    standDownAt: null,
  };
  record.watch = { ...watch, standDownAt: now.toISOString() };
  // A person's change during the watch (a hotfix, a scale) is theirs: said, never undone.
  const changes = await changedDuringWatch(ports, plan);
  if (changes.length > 0) {
    addEvent(
      record,
      now,
      `during the watch someone changed deployment ${plan.namespace}/${plan.deployment}: ${changes.join('; ')}; kept; tps-deploy changed nothing`,
    );
  }
  addEvent(record, now, `stand down: ${Math.round(watch.seconds / 60)} min watch ended without a rollback`);
  await ports.store.put(record);
  const owed = (record.followUps ?? []).map((f) => `- ${f.item}: ${f.detail}`).join('\n');
  await ports.notifier.notify({
    kind: 'stand-down',
    service: plan.service,
    deploymentId: plan.deploymentId,
    subject: `${plan.service}: stand down, ${plan.version} watched for ${Math.round(watch.seconds / 60)} min`,
    message: `The watch since ${watch.startedAt} ended ${changes.length > 0 ? `without a rollback; the Deployment was changed during the watch and left as it is: ${changes.join('; ')}` : 'quietly'}.${owed ? `\nStill owed:\n${owed}` : ''}`,
  });
  return { standDownAt: now.toISOString() };
}

/** How the live Deployment differs from what Clean Up left (its new template at the recorded count). */
async function changedDuringWatch(ports: ReleasePorts, plan: ReleasePlan): Promise<string[]> {
  const rb = await loadPlan(ports, plan);
  const { cluster } = await ports.workloads(serviceOf(ports, plan));
  return cluster.drift(targetOf(plan), rb, 'finalized');
}

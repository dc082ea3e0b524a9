/**
 * "Shift N% To <Phase>" and "Check <Phase> Pods Ready": traffic moves to the new version, and the
 * window does not start until the new pods are Ready. Both change the cluster only through the
 * write-ahead (functions/release/write-ahead.ts).
 */
import type { PhaseName } from '../domain/defaults.js';
import type { ReleasePlan } from '../domain/input.js';
import { judgeReadiness, type Readiness, type WorkloadHealth } from '../domain/pods.js';
import { addEvent, failPhase, openPhase, phaseOf, recordPods } from '../domain/record-transitions.js';
import type { ReleasePorts } from '../ports/release.js';
import type { TrafficStatus } from '../ports/router.js';
import { assertNoDrift } from './drift.js';
import { undoTo } from './rollback.js';
import { loadPlan, loadRecord, serviceOf, targetOf } from './support.js';
import { changeCluster } from './write-ahead.js';

export interface ShiftResult extends TrafficStatus {
  readonly shiftedAt: string;
}

/** "Shift N% To <Phase>": creates/updates the canary and moves traffic. Idempotent. */
export async function shiftTraffic(
  ports: ReleasePorts,
  event: { plan: ReleasePlan; phase: PhaseName; weight: number },
): Promise<ShiftResult> {
  const { plan, phase, weight } = event;
  const svc = serviceOf(ports, plan);
  const rb = await loadPlan(ports, plan);
  const { router, cluster } = await ports.workloads(svc);
  await assertNoDrift(ports, cluster, plan, rb, phase);
  const target = targetOf(plan);
  const { result: status, record } = await changeCluster(ports, plan, {
    intent: `${phase}: send ${weight}% of traffic to ${plan.version}`,
    apply: () => router.setWeight(target, rb, weight),
    undo: () => undoTo(cluster, router, target, rb),
  });
  const now = ports.clock.now();
  openPhase(record, phase, weight, now);
  addEvent(record, now, `${phase}: ${weight}% requested; ${status.detail}`);
  await ports.store.put(record);
  return { ...status, shiftedAt: now.toISOString() };
}

export interface ReadinessResult {
  readonly status: Readiness;
  readonly readyAt: string | null;
  readonly reason: string;
  readonly ready: number;
  readonly desired: number;
}

/**
 * "Check <Phase> Pods Ready": the new pods all Ready, or a crash, or the deadline passed. With an
 * in-task wait ({@link ReleasePorts.readinessWait}, in AWS) it keeps checking inside the task for
 * a while before answering "waiting", so slow pods cost few Wait/Check/Choice iterations.
 */
export async function checkReadiness(
  ports: ReleasePorts,
  event: { plan: ReleasePlan; phase: PhaseName; since: string },
): Promise<ReadinessResult> {
  const { plan, phase } = event;
  const svc = serviceOf(ports, plan);
  const { cluster, router } = await ports.workloads(svc);
  const target = targetOf(plan);
  const wait = ports.readinessWait;
  const waitStarted = Date.now();
  let h: WorkloadHealth;
  let now: Date;
  let judged: { status: Readiness; reason: string };
  for (;;) {
    h = await cluster.health(target, 'canary');
    now = ports.clock.now();
    const elapsed = (now.getTime() - Date.parse(event.since)) / 1000;
    judged = judgeReadiness(h, elapsed, plan.readinessTimeoutSeconds);
    if (judged.status !== 'waiting' || Date.now() - waitStarted + wait.checkMs >= wait.budgetMs) break;
    await wait.sleep(wait.checkMs);
  }
  const { status } = judged;
  let { reason } = judged;
  if (status === 'ready') {
    // The router may have held back part of the shift until the new pods were Ready (it never
    // gives up capacity for an unready canary): finish it now. Idempotent.
    const rb = await loadPlan(ports, plan);
    const weight = plan.phases[phase].weight;
    const { result: traffic } = await changeCluster(ports, plan, {
      intent: `${phase}: new pods ready; complete the shift to ${weight}%`,
      apply: () => router.setWeight(target, rb, weight),
      undo: () => undoTo(cluster, router, target, rb),
    });
    reason = `${reason}; ${traffic.detail}`;
  }
  if (status !== 'waiting') {
    const record = await loadRecord(ports, plan);
    const pr = phaseOf(record, phase);
    if (pr) {
      recordPods(pr, h);
      if (status === 'failed') failPhase(pr, now);
    }
    addEvent(record, now, `${phase}: pods ${status}: ${reason}`);
    await ports.store.put(record);
  }
  return {
    status,
    readyAt: status === 'ready' ? now.toISOString() : null,
    reason,
    ready: h.ready,
    desired: h.desired,
  };
}

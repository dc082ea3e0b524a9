/**
 * "Validate <Phase>": the window is judged (the new pods, the phase's test Job and the metrics of
 * canary against stable), the decision (functions/domain/decisions.ts) recorded with its numbers
 * and sent to the team, and the state machine told what follows.
 */
import { judgeWindow } from '../domain/analysis.js';
import { resolveValidation } from '../domain/config.js';
import { composeWindowDecision, type HoldCause, NEXT_ACTIONS } from '../domain/decisions.js';
import type { PhaseName } from '../domain/defaults.js';
import { imageVersion, type ReleasePlan } from '../domain/input.js';
import { podCheck } from '../domain/pods.js';
import type { Verdict, WindowDecision } from '../domain/record.js';
import { addEvent, phaseOf, recordDecision } from '../domain/record-transitions.js';
import type { ReleasePorts } from '../ports/release.js';
import { assertNoDrift } from './drift.js';
import { testsCheck } from './jobs.js';
import { loadPlan, loadRecord, serviceOf, targetOf } from './support.js';

export interface ValidateResult {
  readonly verdict: Verdict;
  readonly summary: string;
  readonly canExtend: boolean;
  readonly attempt: number;
  /** The release holds here for a person ("Hold At <Phase>"), see functions/release/hold.ts. */
  readonly hold: boolean;
  readonly holdCause: HoldCause | null;
}

/** "Validate <Phase>": judges the window (pods and metrics) and records the decision. */
export async function validateWindow(
  ports: ReleasePorts,
  event: { plan: ReleasePlan; phase: PhaseName; windowStart: string },
): Promise<ValidateResult> {
  const { plan, phase } = event;
  const svc = serviceOf(ports, plan);
  const record = await loadRecord(ports, plan);
  const pr = phaseOf(record, phase);
  const attempt = pr ? pr.decisions.length : 0;
  const phaseCfg = plan.phases[phase];
  const { cluster, router } = await ports.workloads(svc);
  const rb = await loadPlan(ports, plan);
  await assertNoDrift(ports, cluster, plan, rb, phase);
  const now = ports.clock.now();
  const start = new Date(event.windowStart);
  const [health, traffic] = await Promise.all([
    cluster.health(targetOf(plan), 'canary'),
    router.status(targetOf(plan), rb),
  ]);
  const metrics = await ports.metrics(svc, new Date(record.startedAt)).window({
    service: plan.service,
    start,
    end: now,
    canaryVersion: plan.version,
    stableVersion: imageVersion(record.previousImage ?? ''),
  });
  const judged = judgeWindow({
    phase,
    attempt,
    start: start.toISOString(),
    end: now.toISOString(),
    metrics,
    thresholds: resolveValidation(svc),
    baseline: record.baseline ?? null,
    traffic: { targetWeight: phaseCfg.weight, actualWeight: traffic.actualWeight },
    maxExtensions: phaseCfg.extensions,
  });
  const d = composeWindowDecision({
    metrics: judged,
    pods: podCheck(health),
    // The phase's test Job (if any) is part of the verdict: a failing Job fails the phase.
    tests: testsCheck(pr),
    attempt,
    maxExtensions: phaseCfg.extensions,
    hold: record.hold,
    holdOnInconclusive: svc.holdOnInconclusive === true,
  });
  const decision: WindowDecision = {
    phase: judged.phase,
    attempt: judged.attempt,
    start: judged.start,
    end: judged.end,
    verdict: d.verdict,
    summary: d.summary,
    checks: d.checks,
    canary: judged.canary,
    stable: judged.stable,
    measurementErrors: judged.measurementErrors,
    traffic: judged.traffic,
  };
  recordDecision(
    record,
    { decision, weight: phaseCfg.weight, windowStart: start, pods: health, closesPhase: d.closesPhase },
    now,
  );
  const next = NEXT_ACTIONS[d.action];
  addEvent(record, now, `${phase} window ${attempt}: ${d.verdict} -> ${next}: ${d.summary}`);
  await ports.store.put(record);
  await ports.notifier.notify({
    kind: 'decision',
    service: plan.service,
    deploymentId: plan.deploymentId,
    subject: `${plan.service} ${plan.version}: ${phase} ${d.verdict} -> ${next}`,
    message: d.summary,
  });
  return {
    verdict: d.verdict,
    summary: d.summary,
    canExtend: d.canExtend,
    attempt,
    hold: d.hold !== null,
    holdCause: d.hold,
  };
}

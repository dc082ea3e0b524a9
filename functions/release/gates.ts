/**
 * "Check Gates": the runbook's pre-deployment checklist, before any cluster change. Every gate is
 * evaluated (never first-fail), each result is recorded with its evidence, and a failing gate
 * ends the execution with every reason listed. The gates read only; the step takes the service's
 * lock and writes the record, so a second release of the same service is refused here.
 *
 * "Recheck Gates": an approval can wait an hour, so after it (and before the first shift) the
 * gates that can change meanwhile are judged again: the alarms (monitoring), the change freeze and
 * the on-call rota; a failing re-check rejects the release with its evidence.
 *
 * The judgments are pure (functions/domain/gates.ts); a port that fails makes its gate fail with
 * the reason (a gate that cannot be checked is not passed).
 */
import { unconfiguredReason } from '../adapters/unconfigured.js';
import type { RunbookSettings } from '../contract/io.js';
import { expectedReleaseSeconds } from '../domain/budget.js';
import type { ServiceConfig } from '../domain/config.js';
import { RUNBOOK } from '../domain/defaults.js';
import {
  fail,
  GATE_NAMES,
  type GateJudgment,
  judgeAttestations,
  judgeFreeze,
  judgeMetrics,
  judgeMigration,
  judgeMonitoring,
  judgeOnCall,
  judgeOnCallSpan,
  judgeRollbackPlan,
  judgeTestsProvenance,
  judgeTrafficShare,
  pass,
  releaseWeights,
  runbookSettings,
  serviceAlarmNames,
} from '../domain/gates.js';
import { imageVersion, type ReleasePlan } from '../domain/input.js';
import { type GateResult, newRecord } from '../domain/record.js';
import { addEvent } from '../domain/record-transitions.js';
import { onCallAt } from '../domain/schedule.js';
import type { RollbackPlan } from '../ports/cluster.js';
import type { ReleasePorts } from '../ports/release.js';
import { requesterOf } from './answer.js';
import { loadRecord, ownRecord, serviceOf, takeServiceLock } from './support.js';

// ---- the step -------------------------------------------------------------------------------------

/** What "Check Gates" returns (`$.gates`). */
export interface GatesOutcome {
  readonly passed: boolean;
  /** One sentence; on failure every failing gate with its reason (the execution's cause). */
  readonly summary: string;
  readonly gates: readonly GateResult[];
  readonly settings: RunbookSettings;
}

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** Runs a gate; a gate whose inputs cannot be read fails with the reason. */
async function guarded(name: string, fn: () => Promise<GateJudgment>): Promise<GateJudgment> {
  try {
    return await fn();
  } catch (e) {
    return fail(name, `could not be checked: ${errorText(e)}`);
  }
}

/** Every alarm of the service exists and none is in ALARM. */
function monitoringGate(ports: ReleasePorts, plan: ReleasePlan, svc: ServiceConfig): Promise<GateJudgment> {
  return guarded(GATE_NAMES.monitoring, async () =>
    judgeMonitoring(
      await ports.alarmStates.read(serviceAlarmNames(ports.catalog.appName, plan.service, svc)),
    ),
  );
}

/**
 * With `duties.requireTestsFrom`, CodePipeline confirms the tests attestation's action execution
 * (Validate Input already made sure the provenance names that action and a pipeline execution).
 * Without it there is no such gate.
 */
function testsProvenanceGate(
  ports: ReleasePorts,
  plan: ReleasePlan,
  svc: ServiceConfig,
): Promise<GateJudgment>[] {
  const required = svc.duties?.requireTestsFrom;
  if (!required) return [];
  return [
    guarded(GATE_NAMES.testsProvenance, async () => {
      const p = plan.input.attestations?.provenance?.testsPassed;
      if (p?.source !== 'codepipeline-action' || !p.pipelineExecutionId) {
        return fail(GATE_NAMES.testsProvenance, 'the tests attestation names no pipeline action execution');
      }
      const claimed = { pipelineExecutionId: p.pipelineExecutionId, actionExecutionId: p.actionExecutionId };
      const found = await ports.pipelines.actionExecution(
        required.pipeline,
        claimed.pipelineExecutionId,
        claimed.actionExecutionId,
      );
      return judgeTestsProvenance(required, claimed, found, plan.images);
    }),
  ];
}

/** No freeze covers now (for this mode). */
function freezeGate(plan: ReleasePlan, svc: ServiceConfig, now: Date): Promise<GateJudgment> {
  return guarded(GATE_NAMES.freeze, async () => judgeFreeze(svc.freezeWindows ?? [], plan.mode, now));
}

/**
 * Someone is on call now and, for a weekly schedule, still at the release's expected end (its
 * windows and the post-deployment watch, without extensions or holds). An on-call endpoint can
 * only say who is on call now; the evidence says so.
 */
function onCallGate(
  ports: ReleasePorts,
  plan: ReleasePlan,
  svc: ServiceConfig,
  now: Date,
): Promise<GateJudgment> {
  return guarded(GATE_NAMES.onCall, async () => {
    const oc = svc.onCall;
    if (!oc) return fail(GATE_NAMES.onCall, `no on-call source configured (services.${plan.service}.onCall)`);
    if ('schedule' in oc) {
      const end = new Date(now.getTime() + expectedReleaseSeconds(plan) * 1000);
      const atStart = onCallAt(oc.schedule, now);
      const atEnd = onCallAt(oc.schedule, end);
      return judgeOnCallSpan(
        atStart,
        atEnd,
        `weekly schedule at ${now.toISOString()} and at the expected end ${end.toISOString()}`,
      );
    }
    const answer = await ports.onCall.whoIsOnCall({
      url: oc.url,
      timeoutSeconds: oc.timeoutSeconds ?? RUNBOOK.gates.onCallTimeoutSeconds,
    });
    return judgeOnCall(answer.onCall, `${answer.source}; the endpoint answers for now only`);
  });
}

/**
 * The share of traffic each phase can really give the new version, from the replicas the
 * Deployment runs now (read for the rollback plan) and the phases' weights; the catalog's
 * `router.shareTolerance` and `router.acceptShareDeviation` say how far off is refused.
 */
function trafficShareGate(
  plan: ReleasePlan,
  svc: ServiceConfig,
  current: RollbackPlan | null,
): Promise<GateJudgment> {
  return guarded(GATE_NAMES.trafficShare, async () => {
    const router = svc.router;
    const ratio = router.type === 'replica-ratio' ? router : null;
    return judgeTrafficShare({
      service: plan.service,
      router: router.type,
      replicas: current?.replicas ?? null,
      phases: releaseWeights(plan),
      tolerance: ratio?.shareTolerance ?? RUNBOOK.gates.shareTolerance,
      accept: ratio?.acceptShareDeviation === true,
    });
  });
}

/**
 * "Check Gates": takes the lock and writes the record (a second release of the service fails here
 * with DeploymentInProgressError and changes nothing), evaluates every gate, records each with its
 * evidence. Failing gates end the release REJECTED (lock released, team told every reason);
 * passing gates return the settings the rest of the state machine branches on.
 */
export async function checkGates(
  ports: ReleasePorts,
  event: { plan: ReleasePlan; executionArn: string | null; executionStartTime?: string | null },
): Promise<GatesOutcome> {
  const { plan } = event;
  const svc = serviceOf(ports, plan);
  const now = ports.clock.now();
  const execution = {
    executionArn: event.executionArn,
    executionStartTime: event.executionStartTime ?? null,
  };
  const existing = await ownRecord(ports, plan, execution);
  const tookOver = await takeServiceLock(
    ports,
    existing ?? { ...newRecord(plan, execution, now), requester: await requesterOf(ports, plan) },
  );

  const input = plan.input;
  const lookback = svc.gates?.metricsLookbackSeconds ?? RUNBOOK.gates.metricsLookbackSeconds;
  let rb: RollbackPlan | null = null;
  const rollbackGate = await guarded(GATE_NAMES.rollbackPlan, async () => {
    const { cluster } = await ports.workloads(svc);
    try {
      rb = await cluster.recordPlan(plan.namespace, plan.deployment);
      return judgeRollbackPlan(rb, null);
    } catch (e) {
      return judgeRollbackPlan(null, errorText(e));
    }
  });
  const container = Object.keys(plan.images)[0]!;
  const current = rb as RollbackPlan | null;
  const stableVersion = current
    ? imageVersion(current.images[container] ?? Object.values(current.images)[0] ?? '')
    : '';

  const judgments = await Promise.all([
    guarded(GATE_NAMES.attestations, async () =>
      judgeAttestations(input, svc.gates?.minReviewers ?? RUNBOOK.gates.minReviewers),
    ),
    monitoringGate(ports, plan, svc),
    guarded(GATE_NAMES.metrics, async () => {
      if (!current)
        return fail(
          GATE_NAMES.metrics,
          'the current version is unknown (the rollback plan could not be read)',
        );
      const m = await ports.metrics(svc, now).window({
        service: plan.service,
        start: new Date(now.getTime() - lookback * 1000),
        end: now,
        canaryVersion: plan.version,
        stableVersion,
      });
      return judgeMetrics(m, lookback, stableVersion);
    }),
    onCallGate(ports, plan, svc, now),
    Promise.resolve(rollbackGate),
    trafficShareGate(plan, svc, current),
    freezeGate(plan, svc, now),
    guarded(GATE_NAMES.migration, async () => {
      const j = judgeMigration(input, svc);
      const noSnapshots = unconfiguredReason(ports.snapshots);
      if (j && input.migration?.database && noSnapshots) {
        return fail(GATE_NAMES.migration, `a snapshot is required but ${noSnapshots}`);
      }
      return j ?? pass(GATE_NAMES.migration, 'no migration');
    }),
    ...testsProvenanceGate(ports, plan, svc),
  ]);
  const gates = judgments.map((j) => j.gate);
  const failed = gates.filter((g) => !g.passed);
  const passed = failed.length === 0;
  const summary = passed
    ? `all ${gates.length} gates passed`
    : `${failed.length} of ${gates.length} gates failed: ${failed.map((g) => `${g.name}: ${g.evidence}`).join(' | ')}`;

  const record = await loadRecord(ports, plan);
  const at = ports.clock.now();
  record.gates = gates;
  const owed = passed ? judgments.flatMap((j) => j.followUps) : [];
  if (owed.length) {
    const known = new Set((record.followUps ?? []).map((f) => f.item));
    record.followUps = [
      ...(record.followUps ?? []),
      ...owed.filter((f) => !known.has(f.item)).map((f) => ({ ...f, createdAt: at.toISOString() })),
    ];
  }
  if (tookOver) addEvent(record, at, tookOver);
  for (const g of gates)
    addEvent(record, at, `gate ${g.name}: ${g.passed ? 'passed' : 'FAILED'}: ${g.evidence}`);
  if (!passed) {
    record.outcome = 'REJECTED';
    record.endedAt = at.toISOString();
    addEvent(record, at, `refused before any cluster change: ${summary}`);
  }
  await ports.store.put(record);
  if (!passed) await ports.store.release(plan.service, plan.deploymentId);
  await ports.notifier.notify({
    kind: passed ? 'decision' : 'finished',
    service: plan.service,
    deploymentId: plan.deploymentId,
    subject: passed
      ? `${plan.service}: gates passed for ${plan.version}`
      : `${plan.service}: release of ${plan.version} refused by ${failed.length} gate${failed.length === 1 ? '' : 's'}`,
    message: gates.map((g) => `${g.passed ? 'PASS' : 'FAIL'} ${g.name}: ${g.evidence}`).join('\n'),
  });
  return { passed, summary, gates, settings: runbookSettings(svc, input) };
}

/** What "Recheck Gates" returns (`$.recheck`). */
export interface RecheckOutcome {
  readonly passed: boolean;
  readonly summary: string;
  readonly gates: readonly GateResult[];
}

/**
 * "Recheck Gates", after the approval and before the first shift: monitoring, the change freeze
 * and the on-call rota again, since an approval can wait an hour. Failing: the release is
 * REJECTED with the new evidence (lock released, team told), nothing on the cluster changed.
 */
export async function recheckGates(
  ports: ReleasePorts,
  event: { plan: ReleasePlan },
): Promise<RecheckOutcome> {
  const { plan } = event;
  const svc = serviceOf(ports, plan);
  const now = ports.clock.now();
  const judgments = await Promise.all([
    monitoringGate(ports, plan, svc),
    freezeGate(plan, svc, now),
    onCallGate(ports, plan, svc, now),
  ]);
  const gates = judgments.map((j) => j.gate);
  const failed = gates.filter((g) => !g.passed);
  const passed = failed.length === 0;
  const summary = passed
    ? `after the approval, all ${gates.length} rechecked gates still pass`
    : `after the approval, ${failed.length} of ${gates.length} rechecked gates failed: ${failed.map((g) => `${g.name}: ${g.evidence}`).join(' | ')}`;
  const record = await loadRecord(ports, plan);
  record.gates = [...(record.gates ?? []), ...gates.map((g) => ({ ...g, name: `${g.name} (recheck)` }))];
  for (const g of gates)
    addEvent(record, now, `gate ${g.name} rechecked: ${g.passed ? 'passed' : 'FAILED'}: ${g.evidence}`);
  if (!passed && record.outcome === 'RUNNING') {
    record.outcome = 'REJECTED';
    record.endedAt = now.toISOString();
    addEvent(record, now, `refused before any cluster change: ${summary}`);
  }
  await ports.store.put(record);
  if (!passed) {
    await ports.store.release(plan.service, plan.deploymentId);
    await ports.notifier.notify({
      kind: 'finished',
      service: plan.service,
      deploymentId: plan.deploymentId,
      subject: `${plan.service}: release of ${plan.version} refused on recheck after approval`,
      message: gates.map((g) => `${g.passed ? 'PASS' : 'FAIL'} ${g.name}: ${g.evidence}`).join('\n'),
    });
  }
  return { passed, summary, gates };
}

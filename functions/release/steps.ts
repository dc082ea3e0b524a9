import { judgeWindow } from '../domain/analysis.js';
import type { ServiceConfig } from '../domain/config.js';
import { resolveValidation } from '../domain/config.js';
import type { PhaseName } from '../domain/defaults.js';
import {
  DriftDetectedError,
  ERROR_NAMES,
  ReleaseEndedError,
  StoreUnavailableError,
  TargetNotFoundError,
  TpsError,
} from '../domain/errors.js';
import { imageVersion, parseExecutionInput, type ReleasePlan } from '../domain/input.js';
import {
  type CheckResult,
  type DeploymentRecord,
  newRecord,
  type PhaseRecord,
  STATE_MACHINE_TRIGGER,
  type Verdict,
  type WindowDecision,
} from '../domain/record.js';
import type { ClusterClient, ReleaseTarget, RollbackPlan, WorkloadHealth } from '../ports/cluster.js';
import type { ReleasePorts } from '../ports/release.js';
import type { TrafficStatus } from '../ports/router.js';
import { type HoldCause, holdAfterValidation } from './hold.js';
import { testsCheck } from './jobs.js';
import { armLatencyAlarm, restoreLatencyAlarm } from './latency-alarm.js';
import { changeCluster } from './write-ahead.js';

// ---- helpers ---------------------------------------------------------------------------------

function serviceOf(ports: ReleasePorts, plan: ReleasePlan): ServiceConfig {
  const svc = ports.catalog.services[plan.service];
  if (!svc) throw new TargetNotFoundError(`service ${plan.service} is not in the catalog`);
  return svc;
}

function targetOf(plan: ReleasePlan): ReleaseTarget {
  return {
    deploymentId: plan.deploymentId,
    service: plan.service,
    namespace: plan.namespace,
    deployment: plan.deployment,
    images: plan.images,
  };
}

async function loadRecord(ports: ReleasePorts, plan: Pick<ReleasePlan, 'service' | 'deploymentId'>) {
  const record = await ports.store.get(plan.service, plan.deploymentId);
  if (!record) throw new StoreUnavailableError(`no record for ${plan.service}/${plan.deploymentId}`);
  return record;
}

async function loadPlan(ports: ReleasePorts, plan: Pick<ReleasePlan, 'service' | 'deploymentId'>) {
  const rb = await ports.store.getPlan(plan.service, plan.deploymentId);
  if (!rb)
    throw new StoreUnavailableError(`no rollback plan recorded for ${plan.service}/${plan.deploymentId}`);
  return rb;
}

function addEvent(record: DeploymentRecord, at: Date, message: string) {
  record.events.push({ at: at.toISOString(), message });
}

function phaseRecord(record: DeploymentRecord, phase: PhaseName): PhaseRecord | undefined {
  return record.phases.find((p) => p.name === phase);
}

function podSummary(h: WorkloadHealth): string {
  const parts = [`${h.ready}/${h.desired} ready`, `${h.restarts} restarts`];
  if (h.crashLooping.length) parts.push(`CrashLoopBackOff: ${h.crashLooping.join(', ')}`);
  if (h.oomKilled.length) parts.push(`OOMKilled: ${h.oomKilled.join(', ')}`);
  if (h.notReady.length) parts.push(`not ready: ${h.notReady.join(', ')}`);
  return parts.join('; ');
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

/**
 * Stops the release when someone changed the original Deployment since the plan was recorded:
 * records what changed and throws {@link DriftDetectedError}. The rollback that follows leaves the
 * person's change in place (see {@link RollbackRequest.keepLiveTemplate}).
 */
async function assertNoDrift(
  ports: ReleasePorts,
  cluster: ClusterClient,
  plan: ReleasePlan,
  rb: RollbackPlan,
  phase: PhaseName,
): Promise<void> {
  const changes = await cluster.drift(targetOf(plan), rb, 'recorded');
  if (changes.length === 0) return;
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

// ---- steps -----------------------------------------------------------------------------------

/** "Validate Input": the execution input checked against the catalog. No I/O, no writes. */
export function validateInput(
  ports: Pick<ReleasePorts, 'catalog'>,
  event: { input: unknown; executionName: string },
): ReleasePlan {
  return parseExecutionInput(event.input, ports.catalog, event.executionName);
}

export interface BeginResult {
  readonly previousImage: string;
  readonly replicas: number;
  readonly recordedAt: string;
}

/**
 * "Record Rollback Plan": takes the service's lock with the new record (a second deployment
 * fails here and changes nothing), then records the current template and replicas.
 */
export async function beginRelease(
  ports: ReleasePorts,
  event: { plan: ReleasePlan; executionArn: string | null },
): Promise<BeginResult> {
  const { plan } = event;
  const svc = serviceOf(ports, plan);
  const now = ports.clock.now();
  const firstImage = Object.values(plan.images)[0]!;
  const existing = await ports.store.get(plan.service, plan.deploymentId);
  const record: DeploymentRecord = existing ?? newRecord(plan, event.executionArn, now);
  await ports.store.begin(record);

  const { cluster } = await ports.workloads(svc);
  let rb = await ports.store.getPlan(plan.service, plan.deploymentId);
  if (!rb) {
    rb = await cluster.recordPlan(plan.namespace, plan.deployment);
    await ports.store.savePlan(plan.service, plan.deploymentId, rb);
  }
  const fresh = await loadRecord(ports, plan);
  const container = Object.keys(plan.images)[0]!;
  fresh.previousImages = { ...rb.images };
  fresh.previousImage = rb.images[container] ?? Object.values(rb.images)[0] ?? null;
  addEvent(fresh, now, `rollback plan recorded: ${rb.replicas} replicas of ${JSON.stringify(rb.images)}`);
  if (fresh.baseline === undefined) {
    fresh.baseline = await measureBaseline(ports, svc, plan, fresh);
    addEvent(
      fresh,
      now,
      `baseline: ${fresh.baseline.rps ?? 'no'} rps, p99 ${fresh.baseline.p99Ms ?? 'no data'} ms over the last ${BASELINE_SECONDS} s`,
    );
    const armed = await armLatencyAlarm(ports, plan.service, fresh.baseline);
    if (armed) addEvent(fresh, now, armed);
  }
  await ports.store.put(fresh);
  await ports.notifier.notify({
    kind: 'starting',
    service: plan.service,
    deploymentId: plan.deploymentId,
    subject: `${plan.service}: release of ${plan.version} starting`,
    message: `${plan.requestedBy} is releasing ${firstImage} (${plan.mode}); current ${fresh.previousImage}, ${rb.replicas} replicas.${plan.changeRef ? ` Change ${plan.changeRef}.` : ''}`,
  });
  return { previousImage: fresh.previousImage ?? '', replicas: rb.replicas, recordedAt: rb.recordedAt };
}

/** How far back the pre-deployment baseline looks. */
export const BASELINE_SECONDS = 900;

async function measureBaseline(
  ports: ReleasePorts,
  svc: ServiceConfig,
  plan: ReleasePlan,
  record: DeploymentRecord,
): Promise<{ rps: number | null; p99Ms: number | null; measuredAt: string }> {
  const end = ports.clock.now();
  const stable = imageVersion(record.previousImage ?? '');
  const m = await ports.metrics(svc, new Date(record.startedAt)).window({
    service: plan.service,
    start: new Date(end.getTime() - BASELINE_SECONDS * 1000),
    end,
    // The new version has no traffic yet: only the stable side answers, which is the baseline.
    canaryVersion: plan.version,
    stableVersion: stable,
  });
  return { rps: m.stable?.rps ?? null, p99Ms: m.stable?.p99Ms ?? null, measuredAt: end.toISOString() };
}

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
    undo: () => router.rollback(target, rb),
  });
  const now = ports.clock.now();
  if (!phaseRecord(record, phase)) {
    record.phases.push({
      name: phase,
      weight,
      startedAt: now.toISOString(),
      endedAt: null,
      verdict: null,
      decisions: [],
      pods: null,
    });
  }
  addEvent(record, now, `${phase}: ${weight}% requested; ${status.detail}`);
  await ports.store.put(record);
  return { ...status, shiftedAt: now.toISOString() };
}

export interface ReadinessResult {
  readonly status: 'ready' | 'waiting' | 'failed';
  readonly readyAt: string | null;
  readonly reason: string;
  readonly ready: number;
  readonly desired: number;
}

/**
 * "Check <Phase> Pods Ready": the new pods all Ready, or a crash, or the deadline passed. With
 * {@link ReleasePorts.readinessWait} (in AWS) it keeps checking inside the task for a while before
 * answering "waiting", so slow pods cost few Wait/Check/Choice iterations.
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
  let status: ReadinessResult['status'];
  let reason: string;
  for (;;) {
    h = await cluster.health(target, 'canary');
    now = ports.clock.now();
    const elapsed = (now.getTime() - Date.parse(event.since)) / 1000;
    status = 'waiting';
    reason = `${podSummary(h)} after ${Math.round(elapsed)} s`;
    if (h.crashLooping.length > 0 || h.oomKilled.length > 0) {
      status = 'failed';
      reason = `new pods failing: ${podSummary(h)}`;
    } else if (h.desired > 0 && h.ready >= h.desired && h.updated >= h.desired) {
      status = 'ready';
    } else if (elapsed > plan.readinessTimeoutSeconds) {
      status = 'failed';
      reason = `readiness deadline of ${plan.readinessTimeoutSeconds} s passed: ${podSummary(h)}`;
    }
    if (status !== 'waiting' || Date.now() - waitStarted + wait.checkMs >= wait.budgetMs) break;
    await wait.sleep(wait.checkMs);
  }
  if (status === 'ready') {
    // The router may have held back part of the shift until the new pods were Ready (it never
    // gives up capacity for an unready canary): finish it now. Idempotent.
    const rb = await loadPlan(ports, plan);
    const weight = plan.phases[phase].weight;
    const { result: traffic } = await changeCluster(ports, plan, {
      intent: `${phase}: new pods ready; complete the shift to ${weight}%`,
      apply: () => router.setWeight(target, rb, weight),
      undo: () => router.rollback(target, rb),
    });
    reason = `${reason}; ${traffic.detail}`;
  }
  if (status !== 'waiting') {
    const record = await loadRecord(ports, plan);
    const pr = phaseRecord(record, phase);
    if (pr) pr.pods = { ready: h.ready, desired: h.desired, status: podSummary(h) };
    if (pr && status === 'failed') {
      pr.verdict = 'fail';
      pr.endedAt = now.toISOString();
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

export interface ValidateResult {
  readonly verdict: Verdict;
  readonly summary: string;
  readonly canExtend: boolean;
  readonly attempt: number;
  /** The release holds here for a person ("Hold At <Phase>"), see functions/release/hold.ts. */
  readonly hold: boolean;
  readonly holdCause: HoldCause | null;
}

function podCheck(h: WorkloadHealth): CheckResult {
  const bad = h.crashLooping.length + h.oomKilled.length + h.notReady.length;
  const ok = bad === 0 && h.restarts === 0 && h.desired > 0 && h.ready >= h.desired;
  return {
    name: 'pods',
    verdict: ok ? 'pass' : 'fail',
    detail: podSummary(h),
    value: h.restarts,
    threshold: 0,
  };
}

/** "Validate <Phase>": judges the window (pods and metrics) and records the decision. */
export async function validateWindow(
  ports: ReleasePorts,
  event: { plan: ReleasePlan; phase: PhaseName; windowStart: string },
): Promise<ValidateResult> {
  const { plan, phase } = event;
  const svc = serviceOf(ports, plan);
  const record = await loadRecord(ports, plan);
  const pr = phaseRecord(record, phase);
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
  const stableImage = record.previousImage ?? '';
  const metrics = await ports.metrics(svc, new Date(record.startedAt)).window({
    service: plan.service,
    start,
    end: now,
    canaryVersion: plan.version,
    stableVersion: imageVersion(stableImage),
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
  const pods = podCheck(health);
  // The phase's test Job (if any) is part of the verdict: a failing Job fails the phase.
  const tests = testsCheck(pr);
  const verdict: Verdict = pods.verdict === 'fail' || tests?.verdict === 'fail' ? 'fail' : judged.verdict;
  const summary = [
    ...(pods.verdict === 'fail' ? [`new pods unhealthy (${pods.detail})`] : []),
    ...(tests?.verdict === 'fail' ? [tests.detail] : []),
    judged.summary,
  ].join('; ');
  const canExtend = verdict === 'inconclusive' && attempt < phaseCfg.extensions;
  const hold = holdAfterValidation(record, svc, verdict, canExtend);
  const decision: WindowDecision = {
    phase: judged.phase,
    attempt: judged.attempt,
    start: judged.start,
    end: judged.end,
    verdict,
    summary,
    checks: [pods, ...(tests ? [tests] : []), ...judged.checks],
    canary: judged.canary,
    stable: judged.stable,
    measurementErrors: judged.measurementErrors,
    traffic: judged.traffic,
  };
  const target = pr ?? {
    name: phase,
    weight: phaseCfg.weight,
    startedAt: start.toISOString(),
    endedAt: null,
    verdict: null,
    decisions: [],
    pods: null,
  };
  if (!pr) record.phases.push(target);
  target.decisions.push(decision);
  target.pods = { ready: health.ready, desired: health.desired, status: podSummary(health) };
  if (verdict !== 'inconclusive' || !canExtend) {
    target.verdict = verdict;
    target.endedAt = now.toISOString();
  }
  const decisionWord =
    hold !== null
      ? 'hold for a person'
      : verdict === 'pass'
        ? 'proceed'
        : verdict === 'fail'
          ? 'roll back'
          : canExtend
            ? 'extend the window'
            : 'fail safe: roll back';
  addEvent(record, now, `${phase} window ${attempt}: ${verdict} -> ${decisionWord}: ${summary}`);
  await ports.store.put(record);
  await ports.notifier.notify({
    kind: 'decision',
    service: plan.service,
    deploymentId: plan.deploymentId,
    subject: `${plan.service} ${plan.version}: ${phase} ${verdict} -> ${decisionWord}`,
    message: summary,
  });
  return { verdict, summary, canExtend, attempt, hold: hold !== null, holdCause: hold };
}

/** "Clean Up": the original Deployment at the new version, nothing else left. */
export async function finalizeRelease(
  ports: ReleasePorts,
  event: { plan: ReleasePlan },
): Promise<{ actions: readonly string[]; leftovers: readonly string[] }> {
  const { plan } = event;
  const svc = serviceOf(ports, plan);
  const rb = await loadPlan(ports, plan);
  const { router } = await ports.workloads(svc);
  const target = targetOf(plan);
  const { result: report, record } = await changeCluster(ports, plan, {
    intent: `clean up: deployment ${plan.namespace}/${plan.deployment} runs ${JSON.stringify(plan.images)} at ${rb.replicas} replicas; canary objects removed`,
    apply: () => router.finalize(target, rb),
    undo: () => router.rollback(target, rb),
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

/** Objects of the release survived cleanup (retried by the state machine, then rolled back). */
export class CleanupIncompleteError extends TpsError {
  constructor(readonly leftovers: readonly string[]) {
    super(ERROR_NAMES.kubernetesTransient, `cleanup incomplete, still present: ${leftovers.join(', ')}`);
  }
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
  // An alarm rollback during the watch or clean up ended the release: never write SUCCEEDED over it.
  if (claim || record.outcome !== 'RUNNING') {
    throw new ReleaseEndedError(
      `${plan.service}/${plan.deploymentId} ${claim ? `was rolled back by ${claim.claimant}` : `ended ${record.outcome}`}; not marking it released`,
    );
  }
  record.outcome = 'SUCCEEDED';
  record.endedAt = now.toISOString();
  addEvent(record, now, 'released: the new version serves 100% of traffic');
  const restored = await restoreLatencyAlarm(ports, plan.service, plan.deploymentId);
  if (restored) addEvent(record, now, restored);
  await ports.store.put(record);
  await ports.store.release(plan.service, plan.deploymentId);
  await ports.notifier.notify({
    kind: 'finished',
    service: plan.service,
    deploymentId: plan.deploymentId,
    subject: `${plan.service}: ${plan.version} released`,
    message: `${record.image} serves 100% of traffic; previous ${record.previousImage}.`,
  });
  return { outcome: record.outcome };
}

/** Marks a release that failed before any cluster change; releases the lock. */
export async function failRelease(
  ports: ReleasePorts,
  event: { plan: ReleasePlan; failure: { Error?: string; Cause?: string } | null },
): Promise<{ outcome: string; reason: string }> {
  const { plan } = event;
  const now = ports.clock.now();
  const reason = `${event.failure?.Error ?? 'Error'}: ${causeText(event.failure?.Cause)}`;
  const record = await ports.store.get(plan.service, plan.deploymentId);
  const restored = await restoreLatencyAlarm(ports, plan.service, plan.deploymentId);
  if (record && record.outcome === 'RUNNING') {
    record.outcome = 'FAILED';
    record.endedAt = now.toISOString();
    addEvent(record, now, `failed before any cluster change: ${reason}`);
    if (restored) addEvent(record, now, restored);
    await ports.store.put(record);
  }
  await ports.store.release(plan.service, plan.deploymentId);
  await ports.notifier.notify({
    kind: 'finished',
    service: plan.service,
    deploymentId: plan.deploymentId,
    subject: `${plan.service}: release of ${plan.version} failed`,
    message: reason,
  });
  return { outcome: 'FAILED', reason };
}

export interface RollbackRequest {
  readonly service: string;
  readonly deploymentId: string;
  /** `state-machine`, `alarm:<name>`, `person:<who>` */
  readonly trigger: string;
  readonly reason: string;
  readonly phase: PhaseName | 'record' | 'cleanup' | 'watch' | null;
  readonly alarm?: { readonly name: string; readonly reason: string; readonly reasonData: string | null };
  /**
   * A person changed the original Deployment during the release (DriftDetectedError): remove only
   * tps-deploy's own objects and give back traffic and replicas, but keep the live template the
   * person left instead of the recorded one. @default false
   */
  readonly keepLiveTemplate?: boolean;
  /**
   * A claimant known to be gone, whose claim this caller takes over: the execution's own "Roll
   * Back" ({@link STATE_MACHINE_TRIGGER}) once the execution has ended. Without it, a "Roll Back"
   * that claimed and then failed would leave nobody allowed to record the rollback.
   */
  readonly takeOverFrom?: string;
}

export interface RollbackResult {
  readonly trigger: string;
  readonly reason: string;
  readonly phase: string | null;
  /**
   * True for the one call that recorded the rollback; false when another caller had claimed it, or
   * a duplicate with the same trigger recorded it first (the cluster work still ran, idempotently).
   */
  readonly claimed: boolean;
  readonly actions: readonly string[];
}

/**
 * Restores the recorded plan. Shared by the state machine's "Roll Back", the alarm function and
 * the CLI. Safe to run twice at once: the router's rollback is idempotent and only the claimant
 * records the trigger and notifies.
 */
export async function performRollback(ports: ReleasePorts, req: RollbackRequest): Promise<RollbackResult> {
  const svc = ports.catalog.services[req.service];
  if (!svc) throw new TargetNotFoundError(`service ${req.service} is not in the catalog`);
  // Independent reads in parallel: the rollback's critical path is round trips (bench/results/rollback.json).
  const [claimed, record, rb] = await Promise.all([
    ports.store.claimRollback(req.service, req.deploymentId, req.trigger, req.takeOverFrom),
    ports.store.get(req.service, req.deploymentId),
    ports.store.getPlan(req.service, req.deploymentId) as Promise<RollbackPlan | null>,
  ]);
  const started = ports.clock.now();
  let actions: readonly string[] = [];
  let kept: RollbackPlan | null = null;
  if (rb && record) {
    const { router, cluster } = await ports.workloads(svc);
    if (req.keepLiveTemplate) kept = await cluster.recordPlan(rb.namespace, rb.deployment);
    const report = await router.rollback(
      {
        deploymentId: req.deploymentId,
        service: req.service,
        namespace: rb.namespace,
        deployment: rb.deployment,
        images: record.images,
      },
      kept ? { ...rb, template: kept.template, images: kept.images } : rb,
    );
    actions = report.actions;
    if (report.leftovers.length > 0) {
      throw new CleanupIncompleteError(report.leftovers);
    }
  }
  const restored = await restoreLatencyAlarm(ports, req.service, req.deploymentId);
  const now = ports.clock.now();
  // The claim is re-entrant for one claimant (a retried task keeps it), so duplicates of one alarm
  // event running at once all hold it. The record's optimistic write admits one of them: the
  // others re-read, find this trigger's rollback recorded, and neither write nor notify again.
  let recorded: DeploymentRecord | null = null;
  for (let attempt = 1; claimed && recorded === null; attempt++) {
    const fresh = await ports.store.get(req.service, req.deploymentId);
    // Recorded already (by a duplicate of this trigger, or by a claimant whose claim was taken
    // over while it was still finishing): one rollback, recorded and notified once.
    if (!fresh || fresh.outcome === 'ROLLED_BACK') break;
    const phase = req.phase ?? fresh.phases.at(-1)?.name ?? null;
    fresh.rollback = {
      trigger: req.trigger,
      reason: req.reason,
      phase,
      startedAt: started.toISOString(),
      completedAt: now.toISOString(),
      ...(req.alarm ? { alarm: req.alarm } : {}),
    };
    fresh.outcome = 'ROLLED_BACK';
    fresh.finalImage = kept
      ? (kept.images[Object.keys(fresh.images)[0] ?? ''] ?? Object.values(kept.images)[0] ?? null)
      : fresh.previousImage;
    fresh.endedAt = now.toISOString();
    const open = fresh.phases.at(-1);
    if (open && open.endedAt === null) {
      open.endedAt = now.toISOString();
      open.verdict = open.verdict ?? 'fail';
    }
    addEvent(fresh, now, `rolled back by ${req.trigger}: ${req.reason}`);
    if (fresh.migration?.status === 'applied') {
      addEvent(fresh, now, 'the database keeps the migrated schema: only the code was rolled back');
    }
    if (kept) {
      addEvent(
        fresh,
        now,
        `drift: deployment ${kept.namespace}/${kept.deployment} left as the person changed it (${JSON.stringify(kept.images)}); only tps-deploy's canary objects removed`,
      );
    }
    if (restored) addEvent(fresh, now, restored);
    try {
      await ports.store.put(fresh);
      recorded = fresh;
    } catch (e) {
      // A write in between (RecordConflictError is a StoreUnavailableError): read again.
      if (!(e instanceof StoreUnavailableError) || attempt >= 3) throw e;
    }
  }
  if (recorded) {
    await ports.notifier.notify({
      kind: 'rollback',
      service: req.service,
      deploymentId: req.deploymentId,
      subject: `${req.service}: release rolled back (${req.trigger})`,
      message: `${req.reason}. Restored ${recorded.previousImage} at ${rb?.replicas ?? '?'} replicas.`,
    });
  }
  await ports.store.release(req.service, req.deploymentId);
  return { trigger: req.trigger, reason: req.reason, phase: req.phase, claimed: recorded !== null, actions };
}

/** "Roll Back" from the state machine. */
export async function rollBackFromStateMachine(
  ports: ReleasePorts,
  event: {
    plan: ReleasePlan;
    failure: { Error?: string; Cause?: string; phase?: string } | null;
    trigger: string;
  },
): Promise<RollbackResult> {
  const f = event.failure ?? {};
  const reason = `${f.Error ?? 'Error'}: ${causeText(f.Cause)}`;
  return performRollback(ports, {
    service: event.plan.service,
    deploymentId: event.plan.deploymentId,
    trigger: event.trigger,
    reason,
    phase: (f.phase as RollbackRequest['phase']) ?? null,
    keepLiveTemplate: f.Error === ERROR_NAMES.drift,
  });
}

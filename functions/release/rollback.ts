/**
 * The rollback: one module that every caller imports to roll a release back (the state machine's
 * "Roll Back", the alarm function, the execution-status cleanup, the CLI's abort and rollback).
 *
 * Invariants:
 * 1. The claim is written before the cluster changes (the rollback's write-ahead): a step in
 *    flight sees it and undoes its own change (functions/release/write-ahead.ts).
 * 2. The cluster work is idempotent and may run in several callers at once; exactly one of them
 *    records the rollback and notifies (the claim, then the record's optimistic write).
 * 3. What is restored is the plan recorded before the release changed anything, or, when a
 *    person changed the Deployment during the release, their live template.
 * 4. A rollback of release R acts only while R is the service's current release (it holds the
 *    lock, or nobody does and R is the latest): a late one (a redelivered alarm or status event,
 *    a retried task) while R2 holds the service changes nothing of R2's and says so in R's record.
 * 5. Only the claimant frees the lock, so a duplicate never lets the next release start while
 *    the claimant's rollback is still restoring the cluster.
 */

import { rollbackScope } from '../domain/decisions.js';
import type { PhaseName } from '../domain/defaults.js';
import {
  ERROR_NAMES,
  KubernetesTransientError,
  StoreUnavailableError,
  TargetNotFoundError,
} from '../domain/errors.js';
import { imageVersion, type ReleasePlan } from '../domain/input.js';
import { type DeploymentRecord, STATE_MACHINE_TRIGGER } from '../domain/record.js';
import { addEvent, markRolledBack } from '../domain/record-transitions.js';
import type { ClusterClient, ReleaseTarget, RollbackPlan } from '../ports/cluster.js';
import type { ReleasePorts } from '../ports/release.js';
import type { TrafficRouter } from '../ports/router.js';
import { restoreLatencyAlarm } from './latency-alarm.js';
import { causeText, recordEnd } from './support.js';

/** Objects of the release survived cleanup or rollback (retried by the state machine, then rolled back). */
export class CleanupIncompleteError extends KubernetesTransientError {
  constructor(readonly leftovers: readonly string[]) {
    super(`cleanup incomplete, still present: ${leftovers.join(', ')}`);
  }
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
  /** Set when the rollback came late and changed nothing (invariant 4): why. */
  readonly superseded?: string;
}

/** A step's undo when a rollback overtook it: the same plan the rollback restores. */
export async function undoTo(
  cluster: ClusterClient,
  router: TrafficRouter,
  target: ReleaseTarget,
  rb: RollbackPlan,
): Promise<unknown> {
  return router.rollback(
    target,
    (await planToRestore(cluster, target, rb, { finalized: false, trigger: 'undo' })).plan,
  );
}

/**
 * The plan a rollback restores: the recorded one, except what a person changed, which is kept.
 * During the phases (and Clean Up) a template that is neither the recorded one nor the one Clean Up
 * writes is a person's, and so is a count that neither tps-deploy nor an autoscaler set (whatever
 * triggered the rollback); `keepLiveTemplate` (the release stopped on their drift) keeps the live
 * template in any case. After Clean Up (the watch) any change since is theirs. Every path that
 * restores the cluster uses it: the rollback, and a step that undoes its change because a
 * rollback overtook it (write-ahead.ts), so neither overwrites what the other kept.
 */
export async function planToRestore(
  cluster: ClusterClient,
  target: ReleaseTarget,
  rb: RollbackPlan,
  opts: { readonly finalized: boolean; readonly keepLiveTemplate?: boolean; readonly trigger: string },
): Promise<{ plan: RollbackPlan; kept: RollbackPlan | null; note: string | null }> {
  const where = `deployment ${rb.namespace}/${rb.deployment}`;
  if (opts.keepLiveTemplate || !opts.finalized) {
    const drift = await cluster.driftDetail(target, rb, 'recorded');
    if (!opts.keepLiveTemplate && !drift.templateByOthers && !drift.replicasByOthers) {
      return { plan: rb, kept: null, note: null };
    }
    const kept = await cluster.recordPlan(rb.namespace, rb.deployment);
    const replicas = drift.replicasByOthers ? kept.replicas : rb.replicas;
    return {
      plan: { ...rb, template: kept.template, images: kept.images, replicas },
      kept,
      note: opts.keepLiveTemplate
        ? null
        : `rollback by ${opts.trigger}: someone changed ${where} during the release: ${drift.changes.join('; ')}; their change is kept`,
    };
  }
  const changes = await cluster.drift(target, rb, 'finalized');
  if (changes.length === 0) return { plan: rb, kept: null, note: null };
  const kept = await cluster.recordPlan(rb.namespace, rb.deployment);
  return {
    plan: { ...rb, template: kept.template, images: kept.images, replicas: kept.replicas },
    kept,
    note: `rollback by ${opts.trigger}: someone changed ${where} after Clean Up: ${changes.join('; ')}; their change is kept`,
  };
}

/**
 * Restores the recorded plan. Shared by the state machine's "Roll Back", the alarm function and
 * the CLI. Safe to run twice at once: the router's rollback is idempotent and only the claimant
 * records the trigger and notifies.
 */
export async function performRollback(ports: ReleasePorts, req: RollbackRequest): Promise<RollbackResult> {
  const svc = ports.catalog.services[req.service];
  if (!svc) throw new TargetNotFoundError(`service ${req.service} is not in the catalog`);
  // Independent reads (and the claim) in parallel: the rollback's critical path is round trips
  // (bench/results/rollback.json). A claim taken by a late rollback is harmless: its release is
  // no longer the service's current one and never acts again.
  const [claimed, holder, latest, record, rb] = await Promise.all([
    ports.store.claimRollback(req.service, req.deploymentId, req.trigger, req.takeOverFrom),
    ports.store.active(req.service),
    ports.store.history(req.service, 1),
    ports.store.get(req.service, req.deploymentId),
    ports.store.getPlan(req.service, req.deploymentId) as Promise<RollbackPlan | null>,
  ]);
  const scope = rollbackScope(
    req.deploymentId,
    holder?.deploymentId ?? null,
    latest[0]?.deploymentId ?? null,
  );
  if (!scope.act) return lateRollback(ports, req, record, scope.why);
  const started = ports.clock.now();
  let actions: readonly string[] = [];
  let kept: RollbackPlan | null = null;
  let keptNote: string | null = null;
  if (rb && record) {
    const { router, cluster } = await ports.workloads(svc);
    const target = {
      deploymentId: req.deploymentId,
      service: req.service,
      namespace: rb.namespace,
      deployment: rb.deployment,
      images: record.images,
      // The plan's version: the tag of the first image (record.image), as targetOf has it.
      version: imageVersion(record.image),
    };
    const restore = await planToRestore(cluster, target, rb, {
      finalized: record.finalImage !== null,
      keepLiveTemplate: req.keepLiveTemplate === true,
      trigger: req.trigger,
    });
    kept = restore.kept;
    keptNote = restore.note;
    const report = await router.rollback(target, restore.plan);
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
    if (keptNote) addEvent(fresh, now, keptNote);
    markRolledBack(
      fresh,
      {
        trigger: req.trigger,
        reason: req.reason,
        phase: req.phase,
        startedAt: started,
        ...(req.alarm ? { alarm: req.alarm } : {}),
        keptImages: kept?.images ?? null,
        ...(kept ? { keptDeployment: `${kept.namespace}/${kept.deployment}` } : {}),
      },
      now,
    );
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
    // Only the one caller that recorded the rollback counts it.
    await recordEnd(ports, recorded);
    await ports.notifier.notify({
      kind: 'rollback',
      service: req.service,
      deploymentId: req.deploymentId,
      subject: `${req.service}: release rolled back (${req.trigger})`,
      message: `${req.reason}. Restored ${recorded.previousImage} at ${rb?.replicas ?? '?'} replicas.`,
    });
  }
  if (claimed) await ports.store.release(req.service, req.deploymentId);
  return { trigger: req.trigger, reason: req.reason, phase: req.phase, claimed: recorded !== null, actions };
}

/**
 * A rollback that came after its release stopped being the service's current one: nothing on
 * the cluster, the lock or the alarms changes; the release's own record says what arrived and why
 * it was left alone (best effort: the record may have moved on).
 */
async function lateRollback(
  ports: ReleasePorts,
  req: RollbackRequest,
  record: DeploymentRecord | null,
  why: string,
): Promise<RollbackResult> {
  const note = `late rollback by ${req.trigger} (${req.reason}) not done: ${why}; nothing changed`;
  if (record) {
    addEvent(record, ports.clock.now(), note);
    await ports.store.put(record).catch(() => undefined);
  }
  return {
    trigger: req.trigger,
    reason: req.reason,
    phase: req.phase,
    claimed: false,
    actions: [],
    superseded: note,
  };
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

/**
 * What both routers share: their waits, and clean up and roll back as one sequence. The
 * invariants, in order:
 *
 * - Clean up never sends traffic to a version that is not rolled out: the original Deployment
 *   runs the release's images, Ready, before traffic moves back to it; the canary goes last.
 * - Roll back gives the stable version back its full count, Ready, before the canary is removed,
 *   so capacity never drops. Behind one Service (replica-ratio) traffic moves back while the
 *   recorded template is written: the canary pods keep serving beside the stable ones. Where
 *   traffic is a switch between two Services (ALB), it moves only once the stable version is
 *   rolled out and Ready at that count and its Service has that many ready endpoints: an HPA may
 *   have shrunk the idle stable pods, or a cut Clean Up left them on the new version. A pin that
 *   kept canary pods out of the stable Service is undone only once those pods are gone.
 * - Neither leaves the service with fewer pods than it has now (functions/domain/autoscaling.ts,
 *   endReplicas): without an HPA the stable count is max(recorded, live); with one, tps-deploy
 *   writes a count only to keep the pods that serve now, and the HPA, which still targets the
 *   stable Deployment, decides from there.
 * - Every step writes only what differs, so either is safe to repeat after a partial attempt and
 *   when two run at once (a state machine rollback and an alarm rollback).
 *
 * A router supplies only what differs: how traffic moves back, a pin of the stable Service, the
 * objects it owns besides the canary Deployment, its own leftovers, and when roll back moves
 * traffic.
 */
import type { V1Deployment, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { autoscaledCanaryReplicas, endReplicas, type RouterKind } from '../../domain/autoscaling.js';
import { KubernetesTransientError } from '../../domain/errors.js';
import type { ReleaseTarget, RollbackPlan } from '../../ports/cluster.js';
import type { CleanupReport } from '../../ports/router.js';
import { autoscalerNote, boundsOf, describeAutoscaler, findAutoscaler } from './autoscaler.js';
import { deleteCanaryIfPresent, releaseLeftovers, targetWeightOf } from './canary.js';
import type { KubeClients } from './client.js';
import {
  readDeployment,
  readDeploymentOrNull,
  releaseTemplate,
  replicasOf,
  setDeploymentState,
  specReplicas,
  waitRolledOut,
} from './deployment.js';
import { checkPodRemoval } from './disruption-budgets.js';
import type { PlainObject } from './generic.js';
import { gitOpsLeftovers, holdGitOps, releaseGitOps, type StandOffObject } from './gitops.js';
import { canaryName } from './labels.js';
import { DEFAULT_ENDPOINTS_SETTLE_MS, DEFAULT_WAITS, type RouterOptions, type Waits } from './waits.js';

/** What a router step did, for the record; `null` (nothing to do) is left out. */
export class ActionLog {
  readonly actions: string[] = [];

  note(...done: (string | null)[]): void {
    for (const d of done) if (d) this.actions.push(d);
  }
}

/**
 * The base of both routers: `finalize` and `rollback` (of TrafficRouter) over the hooks a router
 * implements. `setWeight` and `status` are each router's own.
 */
export abstract class CanaryRouter {
  abstract readonly type: RouterKind;
  protected readonly waits: Waits;
  /** After a change, how long setWeight waits for the EndpointSlices to show it. */
  protected readonly settleMs: number;
  private readonly gitops: RouterOptions['gitops'];

  protected constructor(
    protected readonly clients: KubeClients,
    options: RouterOptions,
  ) {
    this.waits = { ...DEFAULT_WAITS, ...options.waits };
    this.settleMs = options.endpointsSettleMs ?? DEFAULT_ENDPOINTS_SETTLE_MS;
    this.gitops = options.gitops;
  }

  /** The objects a shift changes that a GitOps controller applies from Git. */
  protected abstract standOffObjects(target: ReleaseTarget): StandOffObject[];

  /** Before a shift's first write: tells the GitOps controller (if any) to stand off. */
  protected holdGitOps(target: ReleaseTarget): Promise<string | null> {
    return this.gitops === 'flux'
      ? holdGitOps(this.clients, target.namespace, target.service, this.standOffObjects(target))
      : Promise.resolve(null);
  }

  /**
   * The canary's size at `weight` while `hpa` scales the original: its share of the count the HPA
   * set now, never smaller than the canary already runs at the same weight (a retry or a second
   * call). Notes the HPA in `log`.
   */
  protected async autoscaledCanarySize(
    target: ReleaseTarget,
    original: V1Deployment,
    weight: number,
    hpa: V2HorizontalPodAutoscaler,
    log: ActionLog,
  ): Promise<number> {
    const live = specReplicas(original);
    const existing = await readDeploymentOrNull(
      this.clients,
      target.namespace,
      canaryName(target.deployment),
    );
    const sized = autoscaledCanaryReplicas(this.type, live, weight);
    log.note(autoscalerNote(hpa, target.deployment, live));
    return existing && targetWeightOf(existing) === weight ? Math.max(sized, specReplicas(existing)) : sized;
  }

  /** Sends all traffic to the stable version alone (a Service selector, an Ingress action). */
  protected abstract restoreTraffic(target: ReleaseTarget): Promise<string | null>;

  /**
   * Undoes a pin that keeps canary pods out of the stable Service. Clean up runs it before
   * traffic moves back; roll back only after the canary pods are gone, or the stable Service
   * would select them. By default there is none.
   */
  protected async unpinStable(_target: ReleaseTarget): Promise<string | null> {
    return null;
  }

  /**
   * Deletes the router's own objects besides the canary Deployment (in a rollback at the same
   * time as it). By default there are none.
   */
  protected async deleteOwnObjects(_target: ReleaseTarget): Promise<string | null> {
    return null;
  }

  /** What of the router's own changes is still there, after the release's leftovers. */
  protected abstract routerLeftovers(target: ReleaseTarget): Promise<string[]>;

  /**
   * When roll back moves traffic back. `with-deployment`: at once with the recorded Deployment
   * state (whose request leaves first), for a router whose stable Service keeps the canary pods
   * until they go. `when-stable-serves`: only once the stable version is rolled out and Ready at
   * its end count and {@link stableServes} says its Service has them, for a router that switches
   * traffic to a Service of its own (it would otherwise take the whole load on fewer pods, or on
   * none).
   */
  protected abstract readonly rollbackTraffic: 'with-deployment' | 'when-stable-serves';

  /**
   * Before roll back moves traffic to the stable Service (`when-stable-serves`): waits until it
   * has the rolled-out stable pods as ready endpoints (KubernetesTransientError on timeout, the
   * traffic staying where it is; a retry resumes). By default nothing to wait for.
   */
  protected async stableServes(_target: ReleaseTarget): Promise<string | null> {
    return null;
  }

  /**
   * After production: the original Deployment runs the recorded template with the new images and
   * the version ({@link releaseTemplate}) at the end count ({@link endCount}) and is rolled out (on timeout KubernetesTransientError, and a
   * second call resumes); then the stable Service is unpinned, traffic moves back to it alone, and
   * the router's objects and the canary Deployment are deleted.
   */
  async finalize(target: ReleaseTarget, plan: RollbackPlan): Promise<CleanupReport> {
    const { namespace, deployment } = target;
    const log = new ActionLog();
    const template = releaseTemplate(plan.template as PlainObject, target);
    const end = await this.endCount(target, plan);
    log.note(end.note);
    // Only over the recorded template: a person's edit since is theirs (DriftDetectedError).
    log.note(
      await setDeploymentState(this.clients, namespace, deployment, template, end.replicas, {
        replaces: [plan.template as PlainObject],
        recordedReplicas: plan.replicas,
      }),
    );
    log.note(`rolled out: ${await this.rolledOut(target, end.wait)}`);
    log.note(await this.unpinStable(target));
    log.note(await this.restoreTraffic(target));
    log.note(await this.deleteOwnObjects(target));
    log.note(await this.keepsBudgets(target, plan));
    log.note(await this.deleteCanary(target));
    log.note(await this.releaseGitOps(target));
    return this.cleanupReport(target, log);
  }

  /**
   * Restores the recorded plan: the recorded template at the end count ({@link endCount}; only
   * what differs), with traffic back to the stable version at once (`with-deployment`) or once
   * the stable version is rolled out, Ready at that count and served by its Service
   * (`when-stable-serves`; the canary keeps the traffic meanwhile); then the canary Deployment and
   * the router's objects together; then the stable Service's pin. Idempotent, safe when two run
   * at once and after a partial earlier attempt. The canary is removed only once stable is Ready:
   * a stable version that cannot become Ready keeps the canary, and with `when-stable-serves` the
   * traffic too (KubernetesTransientError; a retry resumes).
   */
  async rollback(target: ReleaseTarget, plan: RollbackPlan): Promise<CleanupReport> {
    const { namespace, deployment } = target;
    const log = new ActionLog();
    const end = await this.endCount(target, plan);
    log.note(end.note);
    const traffic = () => this.restoreTraffic(target);
    const recorded = () =>
      setDeploymentState(this.clients, namespace, deployment, plan.template as PlainObject, end.replicas);
    if (this.rollbackTraffic === 'with-deployment') {
      log.note(...(await Promise.all([recorded(), traffic()])));
      log.note(`stable ready: ${await this.rolledOut(target, end.wait)}`);
    } else {
      log.note(await recorded());
      log.note(`stable ready: ${await this.rolledOut(target, end.wait)}`);
      log.note(await this.stableServes(target));
      log.note(await traffic());
    }
    log.note(await this.keepsBudgets(target, plan));
    log.note(...(await Promise.all([this.deleteCanary(target), this.deleteOwnObjects(target)])));
    log.note(await this.unpinStable(target));
    log.note(await this.releaseGitOps(target));
    return this.cleanupReport(target, log);
  }

  /**
   * Last in Clean Up and Roll Back, once the objects are final: the GitOps controller goes on.
   * By the marker, whatever the catalog says now (gitops may have been removed mid-release).
   */
  private releaseGitOps(target: ReleaseTarget): Promise<string | null> {
    return releaseGitOps(this.clients, target.namespace, target.service, this.standOffObjects(target));
  }

  /**
   * The stable count when the release ends (finalize, rollback): a function of the live count,
   * read again in the write's own step, from the HPA on the Deployment (if any), the canary's live
   * count and the weight it was at. `wait`: the count the rollout is waited at (`spec` with an HPA,
   * which may change it while the rollout runs).
   */
  private async endCount(
    target: ReleaseTarget,
    plan: RollbackPlan,
  ): Promise<{ replicas: (live: number) => number; wait: number | 'spec'; note: string | null }> {
    const [hpa, canary] = await Promise.all([
      findAutoscaler(this.clients, target.namespace, target.deployment),
      readDeploymentOrNull(this.clients, target.namespace, canaryName(target.deployment)),
    ]);
    const at = (liveStable: number) =>
      endReplicas({
        recorded: plan.replicas,
        liveStable,
        liveCanary: replicasOf(canary),
        weight: targetWeightOf(canary),
        autoscaler: hpa ? boundsOf(hpa) : null,
      });
    return {
      replicas: (live) => at(live).replicas,
      wait: 'spec',
      note: hpa
        ? `${describeAutoscaler(hpa)} targets deployment ${target.deployment}: left as it is; the stable count is kept at the pods serving now (up to its max), never below recorded or live`
        : null,
    };
  }

  /**
   * Before the canary's pods go: the PodDisruptionBudgets over the service's pods
   * (disruption-budgets.ts) must keep enough healthy pods without them. A budget that objects
   * while the stable version still has fewer healthy pods than it ran before the release stops the
   * step (KubernetesTransientError: nothing is forced, a retry resumes once they are Ready). One
   * that asks for more than the service ran before the release cannot be met by any step; the
   * canary goes, back to that state, and the note says so.
   */
  private async keepsBudgets(target: ReleaseTarget, plan: RollbackPlan): Promise<string | null> {
    const canary = await readDeploymentOrNull(this.clients, target.namespace, canaryName(target.deployment));
    if (!canary) return null;
    const original = await readDeployment(this.clients, target.namespace, target.deployment);
    const removing = canary.status?.readyReplicas ?? 0;
    const checks = await checkPodRemoval(this.clients, original, removing, specReplicas(original));
    if (checks.length === 0) return null;
    const texts: string[] = [];
    for (const c of checks) {
      if (c.allowed) texts.push(c.text);
      else if (c.left >= plan.replicas)
        texts.push(
          `${c.text}: it asks for more than the ${plan.replicas} pods the service ran before the release; the canary goes, back to that state`,
        );
      else
        throw new KubernetesTransientError(
          `${c.text} if the canary's ${removing} Ready pods went now: canary kept until the stable version has its pods Ready (nothing forced)`,
        );
    }
    return `disruption budgets kept with the canary's ${removing} pods gone: ${texts.join('; ')}`;
  }

  private rolledOut(target: ReleaseTarget, wait: number | 'spec'): Promise<string> {
    return waitRolledOut(this.clients, target.namespace, target.deployment, wait, this.waits);
  }

  /** The canary Deployment, if tps-deploy created it (one of that name it did not is left alone). */
  private deleteCanary(target: ReleaseTarget): Promise<string | null> {
    return deleteCanaryIfPresent(this.clients, target, this.waits);
  }

  private async cleanupReport(target: ReleaseTarget, log: ActionLog): Promise<CleanupReport> {
    const leftovers = await releaseLeftovers(this.clients, target);
    leftovers.push(...(await this.routerLeftovers(target)));
    // By the marker, like releaseGitOps: an opt-out held for the service once the release ended.
    leftovers.push(
      ...(await gitOpsLeftovers(
        this.clients,
        target.namespace,
        target.service,
        this.standOffObjects(target),
      )),
    );
    return { actions: log.actions, leftovers };
  }
}

/**
 * The replica-ratio router: no traffic manager, only the Service. The canary Deployment's pods
 * carry the Service's selector labels, so the Service spreads connections over stable and canary
 * pods and the share is the ratio of ready endpoints (replicas.ts picks the counts). At 100 %
 * (blue-green) the Service selector gets the canary track label: the stable pods stay running
 * and warm at the recorded replicas but leave the Service's endpoints, so a rollback is a
 * selector change away.
 */
import type { V1Deployment, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { roundPercent, splitReplicas } from '../../domain/replicas.js';
import type { ReleaseTarget, RollbackPlan } from '../../ports/cluster.js';
import type { TrafficRouter, TrafficStatus } from '../../ports/router.js';
import { findAutoscaler } from './autoscaler.js';
import {
  buildCanaryDeployment,
  deleteCanaryIfPresent,
  ensureCanaryDeployment,
  targetWeightOf,
  waitCanaryReady,
} from './canary.js';
import { ActionLog, CanaryRouter } from './canary-router.js';
import type { KubeClients } from './client.js';
import {
  readDeployment,
  readDeploymentOrNull,
  replicasOf,
  scaleOriginal,
  specReplicas,
} from './deployment.js';
import { checkPodRemoval } from './disruption-budgets.js';
import { pollUntil } from './generic.js';
import type { StandOffObject } from './gitops.js';
import { CANARY_TRACK, canaryName, K8S_ANNOTATIONS, selectorString } from './labels.js';
import { podsOfDeployment } from './pods.js';
import {
  originalSelector,
  pinServiceSelector,
  readService,
  readServiceOrNull,
  readyEndpoints,
  restoreServiceSelector,
} from './traffic.js';
import type { RouterOptions } from './waits.js';

/** Router settings from the service config (`router: { type: 'replica-ratio', service }`). */
export interface ReplicaRatioConfig {
  /** The Service that fronts the Deployment. */
  readonly service: string;
}

/**
 * {@link TrafficRouter} that splits traffic by replica counts behind one Service. Clean up and
 * roll back are {@link CanaryRouter}'s: the Service selector is all this router changes, so
 * restoring it is the traffic move; there is no other pin and no object besides the canary
 * Deployment.
 */
export class ReplicaRatioRouter extends CanaryRouter implements TrafficRouter {
  readonly type = 'replica-ratio' as const;
  /**
   * Roll back writes the recorded Deployment state first, then (at once) the selector: the
   * Service keeps the canary pods beside the stable ones until the canary goes.
   */
  protected readonly rollbackTraffic = 'with-deployment';

  constructor(
    clients: KubeClients,
    private readonly config: ReplicaRatioConfig,
    options: RouterOptions = {},
  ) {
    super(clients, options);
  }

  /**
   * Creates or scales the canary Deployment and scales the original so the ready endpoints split
   * as close to `weight` as the replicas allow (see splitReplicas). The stable version is scaled
   * down only once the canary pods are Ready, so capacity never drops; if they are not Ready
   * within `waits.canaryReadyMs`, stable stays larger and the status says so (calling again
   * completes the shift). At 100 the Service selector switches to the canary pods only once all
   * of them are Ready.
   */
  async setWeight(target: ReleaseTarget, plan: RollbackPlan, weight: number): Promise<TrafficStatus> {
    const { namespace, deployment } = target;
    const original = await readDeployment(this.clients, namespace, deployment);
    const svc = await readService(this.clients, namespace, this.config.service);
    const selector = originalSelector(svc);
    const hpa = await findAutoscaler(this.clients, namespace, deployment);
    const held = weight === 0 ? null : await this.holdGitOps(target);
    if (hpa) return this.setAutoscaledWeight(target, plan, weight, original, selector, hpa, held);
    const split = splitReplicas(plan.replicas, weight);
    const log = new ActionLog();
    log.note(held);

    if (weight === 0) {
      log.note(await restoreServiceSelector(this.clients, namespace, this.config.service));
      log.note(await scaleOriginal(this.clients, namespace, deployment, plan.replicas));
      log.note(await deleteCanaryIfPresent(this.clients, target, this.waits));
      return this.report(target, weight, log.actions, null);
    }

    const desired = buildCanaryDeployment(target, plan, original, selector, split.canary, weight);
    log.note((await ensureCanaryDeployment(this.clients, desired, target.deploymentId)).action);
    // Growing the stable version never costs capacity: do it before waiting.
    if (split.stable > specReplicas(original)) {
      log.note(await scaleOriginal(this.clients, namespace, deployment, split.stable));
    }
    // Wait for the canary only when traffic must leave the stable pods (stable shrinks, or the
    // Service switches at 100%); otherwise the state machine's readiness loop does the waiting.
    const mustWait = weight >= 100 || split.stable < specReplicas(original);
    const ready = mustWait
      ? await waitCanaryReady(this.clients, namespace, canaryName(deployment), split.canary, this.waits)
      : { done: true, ready: split.canary };
    let pending: string | null = null;
    if (weight < 100) {
      log.note(await restoreServiceSelector(this.clients, namespace, this.config.service));
      // Keep capacity: the stable version shrinks only by as many pods as the canary has Ready.
      const wanted = ready.done ? split.stable : Math.max(split.stable, plan.replicas - ready.ready);
      const budget = await this.budgetFor(original, wanted, split.canary);
      const stable = budget.blocked ? Math.max(wanted, specReplicas(original)) : wanted;
      log.note(budget.note);
      log.note(await scaleOriginal(this.clients, namespace, deployment, stable));
      if (budget.blocked) {
        pending = `${budget.blocked}: stable kept at ${stable} instead of ${split.stable}, nothing forced; call again to finish`;
      } else if (!ready.done) {
        pending = `canary ${ready.ready}/${split.canary} Ready after ${this.waits.canaryReadyMs / 1000} s: stable kept at ${stable} instead of ${split.stable}; call again to finish`;
      }
    } else if (ready.done) {
      log.note(await scaleOriginal(this.clients, namespace, deployment, plan.replicas));
      log.note(await pinServiceSelector(this.clients, namespace, this.config.service, CANARY_TRACK));
    } else {
      log.note(await scaleOriginal(this.clients, namespace, deployment, plan.replicas));
      pending = `canary ${ready.ready}/${split.canary} Ready after ${this.waits.canaryReadyMs / 1000} s: Service not switched to the canary; call again to finish`;
    }
    const expected = pending === null ? split.share : null;
    return this.report(target, weight, log.actions, pending, expected);
  }

  /**
   * Whether scaling the stable version from its spec down to `stable` (with `canary` canary pods
   * expected) keeps every PodDisruptionBudget over its pods. `blocked` names the first that
   * objects; `note` lists what was checked.
   */
  private async budgetFor(
    original: V1Deployment,
    stable: number,
    canary: number,
  ): Promise<{ blocked: string | null; note: string | null }> {
    const removing = specReplicas(original) - stable;
    if (removing <= 0) return { blocked: null, note: null };
    const checks = await checkPodRemoval(this.clients, original, removing, stable + canary);
    if (checks.length === 0) return { blocked: null, note: null };
    const refused = checks.find((c) => !c.allowed);
    return {
      blocked: refused ? `${refused.text} if ${removing} stable pods went` : null,
      note: `disruption budgets with ${removing} stable pods gone: ${checks.map((c) => c.text).join('; ')}`,
    };
  }

  /**
   * {@link setWeight} when an HPA targets the original Deployment: the stable count is the HPA's
   * and is never written. The canary gets `live * w / (100 - w)` pods (the whole count closest to
   * the weight, at least 1), so the ready endpoints split at the weight around the live stable
   * count; a canary already at this weight is never made smaller. Behind one Service the load per
   * pod is even, so when the HPA adds stable pods the canary's pods get less each: the canary does
   * not saturate without an HPA of its own (autoscaler.ts says why it has none). At 100 the canary
   * runs the live count and the Service switches to it once all of its pods are Ready.
   */
  private async setAutoscaledWeight(
    target: ReleaseTarget,
    plan: RollbackPlan,
    weight: number,
    original: V1Deployment,
    selector: Readonly<Record<string, string>>,
    hpa: V2HorizontalPodAutoscaler,
    held: string | null,
  ): Promise<TrafficStatus> {
    const { namespace, deployment } = target;
    const log = new ActionLog();
    log.note(held);
    if (weight === 0) {
      log.note(await restoreServiceSelector(this.clients, namespace, this.config.service));
      log.note(await deleteCanaryIfPresent(this.clients, target, this.waits));
      return this.report(target, weight, log.actions, null);
    }
    const replicas = await this.autoscaledCanarySize(target, original, weight, hpa, log);
    const desired = buildCanaryDeployment(target, plan, original, selector, replicas, weight);
    log.note((await ensureCanaryDeployment(this.clients, desired, target.deploymentId)).action);
    let pending: string | null = null;
    if (weight < 100) {
      log.note(await restoreServiceSelector(this.clients, namespace, this.config.service));
    } else {
      const ready = await waitCanaryReady(
        this.clients,
        namespace,
        canaryName(deployment),
        replicas,
        this.waits,
      );
      if (ready.done) {
        log.note(await pinServiceSelector(this.clients, namespace, this.config.service, CANARY_TRACK));
      } else {
        pending = `canary ${ready.ready}/${replicas} Ready after ${this.waits.canaryReadyMs / 1000} s: Service not switched to the canary; call again to finish`;
      }
    }
    return this.report(target, weight, log.actions, pending, null);
  }

  /** Where traffic is now, from the EndpointSlices of the Service. Changes nothing. */
  async status(target: ReleaseTarget, _plan: RollbackPlan): Promise<TrafficStatus> {
    const canary = await readDeploymentOrNull(this.clients, target.namespace, canaryName(target.deployment));
    return this.measure(target, targetWeightOf(canary), []);
  }

  /**
   * Restores the Service selector (the traffic at any weight, and the switch at 100%); a missing
   * Service is reported, not thrown.
   */
  protected restoreTraffic(target: ReleaseTarget): Promise<string | null> {
    return restoreServiceSelector(this.clients, target.namespace, this.config.service);
  }

  /** The Service selector still changed (pinned to the canary track), if it is. */
  protected standOffObjects(target: ReleaseTarget): StandOffObject[] {
    return [
      { kind: 'Deployment', name: target.deployment },
      { kind: 'Service', name: this.config.service },
    ];
  }

  protected async routerLeftovers(target: ReleaseTarget): Promise<string[]> {
    const svc = await readServiceOrNull(this.clients, target.namespace, this.config.service);
    if (svc?.metadata?.annotations?.[K8S_ANNOTATIONS.originalSelector] === undefined) return [];
    return [`service/${this.config.service} selector still changed (${selectorString(svc.spec?.selector)})`];
  }

  /** Reports the status, first giving the EndpointSlice controller a moment to catch up. */
  private async report(
    target: ReleaseTarget,
    weight: number,
    actions: string[],
    pending: string | null,
    expectedShare: number | null = null,
  ): Promise<TrafficStatus> {
    const want = expectedShare ?? (weight === 0 ? 0 : null);
    const r = await pollUntil(want === null ? 0 : this.settleMs, this.waits.pollMs, async () => {
      const st = await this.measure(target, weight, actions, pending);
      return { done: want === null || st.actualWeight === want, value: st };
    });
    return r.value;
  }

  private async measure(
    target: ReleaseTarget,
    weight: number,
    actions: readonly string[],
    pending: string | null = null,
  ): Promise<TrafficStatus> {
    const { namespace, deployment } = target;
    const [original, canary, endpoints, svc] = await Promise.all([
      readDeployment(this.clients, namespace, deployment),
      readDeploymentOrNull(this.clients, namespace, canaryName(deployment)),
      readyEndpoints(this.clients, namespace, this.config.service),
      readService(this.clients, namespace, this.config.service),
    ]);
    const canaryPods = new Set(
      canary ? (await podsOfDeployment(this.clients, canary)).pods.map((p) => p.metadata?.name) : [],
    );
    const canaryReady = endpoints.filter((e) => e.pod !== null && canaryPods.has(e.pod)).length;
    const total = endpoints.length;
    const actual = total === 0 ? null : roundPercent((100 * canaryReady) / total);
    const pinned = svc.metadata?.annotations?.[K8S_ANNOTATIONS.originalSelector] !== undefined;
    const parts = [
      total === 0
        ? `service ${this.config.service} has no ready endpoints`
        : `${canaryReady} of ${total} ready endpoints are canary (${actual}%)`,
      `replicas canary ${replicasOf(canary)}, stable ${replicasOf(original)}`,
    ];
    if (pinned) parts.push(`stable pods out of the Service (selector ${selectorString(svc.spec?.selector)})`);
    if (pending) parts.push(pending);
    if (actions.length > 0) parts.push(`did: ${actions.join('; ')}`);
    return {
      targetWeight: weight,
      actualWeight: actual,
      canaryReplicas: replicasOf(canary),
      stableReplicas: replicasOf(original),
      detail: parts.join('; '),
    };
  }
}

/**
 * The replica-ratio router: no traffic manager, only the Service. The canary Deployment's pods
 * carry the Service's selector labels, so the Service spreads connections over stable and canary
 * pods and the share is the ratio of ready endpoints (replicas.ts picks the counts). At 100 %
 * (blue-green) the Service selector gets the canary track label: the stable pods stay running
 * and warm at the recorded replicas but leave the Service's endpoints, so a rollback is a
 * selector change away.
 */
import type { V1Deployment } from '@kubernetes/client-node';
import { roundPercent, splitReplicas } from '../../domain/replicas.js';
import type { ReleaseTarget, RollbackPlan } from '../../ports/cluster.js';
import type { CleanupReport, TrafficRouter, TrafficStatus } from '../../ports/router.js';
import type { KubeClients } from './client.js';
import { CANARY_TRACK, canaryName, K8S_ANNOTATIONS, selectorString } from './labels.js';
import {
  originalSelector,
  pinServiceSelector,
  readService,
  readServiceOrNull,
  readyEndpoints,
  restoreServiceSelector,
} from './traffic.js';
import {
  ActionLog,
  buildCanaryDeployment,
  DEFAULT_WAITS,
  deleteDeployment,
  ensureCanaryDeployment,
  type PlainObject,
  podsOfDeployment,
  pollUntil,
  promoteOriginal,
  type RouterOptions,
  readDeployment,
  readDeploymentOrNull,
  releaseLeftovers,
  scaleOriginal,
  setDeploymentState,
  specReplicas,
  targetWeightOf,
  type Waits,
  waitCanaryReady,
  waitStableReady,
} from './workload.js';

/** Router settings from the service config (`router: { type: 'replica-ratio', service }`). */
export interface ReplicaRatioConfig {
  /** The Service that fronts the Deployment. */
  readonly service: string;
}

/** {@link TrafficRouter} that splits traffic by replica counts behind one Service. */
export class ReplicaRatioRouter implements TrafficRouter {
  readonly type = 'replica-ratio' as const;
  private readonly waits: Waits;
  private readonly settleMs: number;

  constructor(
    private readonly clients: KubeClients,
    private readonly config: ReplicaRatioConfig,
    options: RouterOptions = {},
  ) {
    this.waits = { ...DEFAULT_WAITS, ...options.waits };
    this.settleMs = options.endpointsSettleMs ?? 8_000;
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
    const split = splitReplicas(plan.replicas, weight);
    const actions: string[] = [];
    const note = (a: string | null) => {
      if (a) actions.push(a);
    };

    if (weight === 0) {
      note(await restoreServiceSelector(this.clients, namespace, this.config.service));
      note(await scaleOriginal(this.clients, namespace, deployment, plan.replicas));
      const canary = await readDeploymentOrNull(this.clients, namespace, canaryName(deployment));
      if (canary)
        note((await deleteDeployment(this.clients, namespace, canaryName(deployment), this.waits)).action);
      return this.report(target, weight, actions, null);
    }

    const desired = buildCanaryDeployment(target, plan, original, selector, split.canary, weight);
    note((await ensureCanaryDeployment(this.clients, desired, target.deploymentId)).action);
    // Growing the stable version never costs capacity: do it before waiting.
    if (split.stable > specReplicas(original)) {
      note(await scaleOriginal(this.clients, namespace, deployment, split.stable));
    }
    // Wait for the canary only when traffic must leave the stable pods (stable shrinks, or the
    // Service switches at 100%); otherwise the state machine's readiness loop does the waiting.
    const mustWait = weight >= 100 || split.stable < specReplicas(original);
    const ready = mustWait
      ? await waitCanaryReady(this.clients, namespace, canaryName(deployment), split.canary, this.waits)
      : { done: true, ready: split.canary };
    let pending: string | null = null;
    if (weight < 100) {
      note(await restoreServiceSelector(this.clients, namespace, this.config.service));
      // Keep capacity: the stable version shrinks only by as many pods as the canary has Ready.
      const stable = ready.done ? split.stable : Math.max(split.stable, plan.replicas - ready.ready);
      note(await scaleOriginal(this.clients, namespace, deployment, stable));
      if (!ready.done) {
        pending = `canary ${ready.ready}/${split.canary} Ready after ${this.waits.canaryReadyMs / 1000} s: stable kept at ${stable} instead of ${split.stable}; call again to finish`;
      }
    } else if (ready.done) {
      note(await scaleOriginal(this.clients, namespace, deployment, plan.replicas));
      note(await pinServiceSelector(this.clients, namespace, this.config.service, CANARY_TRACK));
    } else {
      note(await scaleOriginal(this.clients, namespace, deployment, plan.replicas));
      pending = `canary ${ready.ready}/${split.canary} Ready after ${this.waits.canaryReadyMs / 1000} s: Service not switched to the canary; call again to finish`;
    }
    const expected = pending === null ? split.share : null;
    return this.report(target, weight, actions, pending, expected);
  }

  /** Where traffic is now, from the EndpointSlices of the Service. Changes nothing. */
  async status(target: ReleaseTarget, _plan: RollbackPlan): Promise<TrafficStatus> {
    const canary = await readDeploymentOrNull(this.clients, target.namespace, canaryName(target.deployment));
    return this.measure(target, targetWeightOf(canary), []);
  }

  /**
   * After production: the original Deployment runs the recorded template with the new images at
   * the recorded replicas (waits until rolled out and Ready; on timeout throws
   * KubernetesTransientError and a second call resumes), then the Service selector is restored
   * and the canary Deployment deleted.
   */
  async finalize(target: ReleaseTarget, plan: RollbackPlan): Promise<CleanupReport> {
    const { namespace, deployment } = target;
    const log = new ActionLog();
    await promoteOriginal(this.clients, target, plan, this.waits, log);
    log.note(await restoreServiceSelector(this.clients, namespace, this.config.service));
    log.note((await deleteDeployment(this.clients, namespace, canaryName(deployment), this.waits)).action);
    return { actions: log.actions, leftovers: await this.leftovers(target) };
  }

  /**
   * Restores the recorded template and replicas (only what differs), the Service selector, and
   * deletes the canary Deployment; then waits until the stable version is Ready. Idempotent, safe
   * when two run at once and after a partial earlier attempt.
   */
  async rollback(target: ReleaseTarget, plan: RollbackPlan): Promise<CleanupReport> {
    const { namespace, deployment } = target;
    const log = new ActionLog();
    // In parallel: the stable pods are warm, so restoring the selector sends traffic back to them
    // at once while the recorded template and replicas are written. The canary goes after both.
    log.note(
      ...(await Promise.all([
        setDeploymentState(this.clients, namespace, deployment, plan.template as PlainObject, plan.replicas),
        restoreServiceSelector(this.clients, namespace, this.config.service),
      ])),
    );
    log.note((await deleteDeployment(this.clients, namespace, canaryName(deployment), this.waits)).action);
    await waitStableReady(this.clients, target, plan, this.waits, log);
    return { actions: log.actions, leftovers: await this.leftovers(target) };
  }

  private async leftovers(target: ReleaseTarget): Promise<string[]> {
    const out = await releaseLeftovers(this.clients, target);
    const svc = await readServiceOrNull(this.clients, target.namespace, this.config.service);
    if (svc?.metadata?.annotations?.[K8S_ANNOTATIONS.originalSelector] !== undefined) {
      out.push(
        `service/${this.config.service} selector still changed (${selectorString(svc.spec?.selector)})`,
      );
    }
    return out;
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

function replicasOf(dep: V1Deployment | null): number {
  return dep ? specReplicas(dep) : 0;
}

/**
 * The ALB router: the AWS Load Balancer Controller splits traffic between two Services by
 * target-group weight, set in the Ingress annotation `alb.ingress.kubernetes.io/actions.<name>`
 * (advanced forward schema, kubernetes-sigs/aws-load-balancer-controller
 * docs/guide/ingress/annotation.md and pkg/ingress/config_types.go):
 *
 *   {"type":"forward","forwardConfig":{"targetGroups":[
 *     {"serviceName":"<stable>","servicePort":<port>,"weight":<100-w>},
 *     {"serviceName":"<canary>","servicePort":<port>,"weight":<w>}]}}
 *
 * The Ingress's rule for the action must point at service `<actionName>` with port name
 * `use-annotation`. The stable Service is pinned to the original ReplicaSet's pods
 * (`pod-template-hash`), so the canary pods, which share its labels, never receive stable traffic;
 * a canary Service selects the canary pods by the track label.
 *
 * A canary Deployment or canary Service of those names that tps-deploy did not create (no
 * managed-by label) is never patched or deleted: setWeight fails with UnmanagedObjectError before
 * its first write, and clean up and roll back leave such an object alone and say so.
 */
import type { V1Ingress, V1Service, V1ServicePort } from '@kubernetes/client-node';
import { KubernetesTransientError } from '../../domain/errors.js';
import { ALB_ACTIONS_PREFIX } from '../../domain/k8s-names.js';
import { albCanaryReplicas, roundPercent } from '../../domain/replicas.js';
import type { ReleaseTarget, RollbackPlan } from '../../ports/cluster.js';
import type { TrafficRouter, TrafficStatus } from '../../ports/router.js';
import { findAutoscaler } from './autoscaler.js';
import {
  buildCanaryDeployment,
  deleteCanaryIfPresent,
  ensureCanaryDeployment,
  targetWeightOf,
  unmanagedCanaryDeployment,
  waitCanaryReady,
} from './canary.js';
import { ActionLog, CanaryRouter } from './canary-router.js';
import { type KubeClients, MERGE_PATCH, nullIfNotFound } from './client.js';
import { readDeployment, readDeploymentOrNull, replicasOf, specReplicas } from './deployment.js';
import { deepEqual, pollUntil } from './generic.js';
import type { StandOffObject } from './gitops.js';
import {
  CANARY_TRACK,
  canaryName,
  K8S_ANNOTATIONS,
  K8S_LABELS,
  labelValue,
  managedByTpsDeploy,
  POD_TEMPLATE_HASH_LABEL,
  releaseLabels,
  unmanagedObjectError,
  unmanagedObjectLeft,
} from './labels.js';
import { currentPodTemplateHash } from './pods.js';
import {
  mapPatch,
  originalSelector,
  pinServiceSelector,
  readIngress,
  readService,
  readServiceOrNull,
  readyEndpoints,
  restoreServiceSelector,
} from './traffic.js';
import type { RouterOptions } from './waits.js';

/** Router settings from the service config (`router: { type: 'alb', ... }`). */
export interface AlbConfig {
  readonly ingress: string;
  readonly actionName: string;
  readonly stableService: string;
  /** @default `<stableService>-tps-canary` */
  readonly canaryService?: string;
  readonly servicePort: number | string;
}

import { canaryShareOfAction, forwardAction } from './alb-actions.js';

export { type AlbTargetGroup, canaryShareOfAction, forwardAction } from './alb-actions.js';
/** Annotation prefix of the AWS Load Balancer Controller's custom actions (the catalog checks the key fits). */
export { ALB_ACTIONS_PREFIX };

/**
 * {@link TrafficRouter} that splits traffic with ALB target-group weights. Clean up and roll back
 * are {@link CanaryRouter}'s: traffic is the Ingress action, the stable Service's
 * `pod-template-hash` selector is a pin that keeps canary pods out of it, and the canary Service
 * is this router's own object.
 */
export class AlbRouter extends CanaryRouter implements TrafficRouter {
  readonly type = 'alb' as const;
  /**
   * Roll back moves the Ingress action back only once the stable version is Ready at its end count
   * and its Service has those pods as endpoints: until then the canary keeps the traffic.
   */
  protected readonly rollbackTraffic = 'when-stable-serves';
  private readonly canaryService: string;
  private readonly actionKey: string;

  constructor(
    clients: KubeClients,
    private readonly config: AlbConfig,
    options: RouterOptions = {},
  ) {
    super(clients, options);
    this.canaryService = config.canaryService ?? canaryName(config.stableService);
    this.actionKey = `${ALB_ACTIONS_PREFIX}${config.actionName}`;
  }

  /**
   * Pins the stable Service to the original pods, creates or scales the canary Deployment
   * (`ceil(N * weight / 100)` pods, at least 1; stable stays at N) and the canary Service, and
   * once the canary pods are Ready (bounded by `waits.canaryReadyMs`) writes the exact weights
   * into the Ingress action. If they are not Ready in time the weights stay as they were and the
   * status says so; calling again completes the shift.
   */
  async setWeight(target: ReleaseTarget, plan: RollbackPlan, weight: number): Promise<TrafficStatus> {
    const { namespace, deployment } = target;
    const original = await readDeployment(this.clients, namespace, deployment);
    const stableSvc = await readService(this.clients, namespace, this.config.stableService);
    await readIngress(this.clients, namespace, this.config.ingress);
    const selector = originalSelector(stableSvc);
    const log = new ActionLog();

    if (weight === 0) {
      log.note(await this.restoreIngress(namespace));
      log.note(await deleteCanaryIfPresent(this.clients, target, this.waits));
      log.note(await this.deleteCanaryService(namespace));
      log.note(await restoreServiceSelector(this.clients, namespace, this.config.stableService));
      return (await this.measure(target, weight, log.actions, null)).status;
    }

    // Before the first write: a canary object of a person's stops the release with nothing changed.
    await this.refuseUnmanagedCanaryObjects(target);
    log.note(await this.holdGitOps(target));
    // Pin first, so no canary pod is ever an endpoint of the stable Service.
    const hash = await currentPodTemplateHash(this.clients, original);
    log.note(
      await pinServiceSelector(this.clients, namespace, this.config.stableService, {
        [POD_TEMPLATE_HASH_LABEL]: hash,
      }),
    );
    // With an HPA on the original, the canary is sized from the count the HPA set now (never made
    // smaller at the same weight); the stable Deployment is never scaled either way.
    const hpa = await findAutoscaler(this.clients, namespace, deployment);
    let replicas = albCanaryReplicas(plan.replicas, weight);
    if (hpa) replicas = await this.autoscaledCanarySize(target, original, weight, hpa, log);
    const desired = buildCanaryDeployment(target, plan, original, selector, replicas, weight);
    log.note((await ensureCanaryDeployment(this.clients, desired, target.deploymentId)).action);
    log.note(await this.ensureCanaryService(target, stableSvc, selector));
    const ready = await waitCanaryReady(
      this.clients,
      namespace,
      canaryName(deployment),
      replicas,
      this.waits,
    );
    let pending: string | null = null;
    if (ready.done) {
      log.note(await this.setIngressWeight(namespace, weight));
    } else {
      pending = `canary ${ready.ready}/${replicas} Ready after ${this.waits.canaryReadyMs / 1000} s: ingress weights not changed; call again to finish`;
    }
    // Give the EndpointSlice controller a moment, so the reported endpoint counts are current.
    const r = await pollUntil(pending ? 0 : this.settleMs, this.waits.pollMs, async () => {
      const st = await this.measure(target, weight, log.actions, pending);
      return { done: st.canaryEndpoints >= replicas, value: st };
    });
    return r.value.status;
  }

  /** Weights as the Ingress carries them, with ready endpoint counts of both Services. */
  async status(target: ReleaseTarget, _plan: RollbackPlan): Promise<TrafficStatus> {
    const canary = await readDeploymentOrNull(this.clients, target.namespace, canaryName(target.deployment));
    return (await this.measure(target, targetWeightOf(canary), [], null)).status;
  }

  /** Puts back the Ingress action saved by {@link setIngressWeight}: all traffic to stable. */
  protected restoreTraffic(target: ReleaseTarget): Promise<string | null> {
    return this.restoreIngress(target.namespace);
  }

  /**
   * Restores the stable Service's selector: in clean up before traffic returns (it selects the new
   * pods again), in roll back only once the canary pods are gone (or it would select them).
   */
  protected override unpinStable(target: ReleaseTarget): Promise<string | null> {
    return restoreServiceSelector(this.clients, target.namespace, this.config.stableService);
  }

  /**
   * Before roll back moves the Ingress action: the stable Service serves the rolled-out stable
   * pods. A pin to a ReplicaSet the Deployment no longer runs (its template changed since the pin:
   * a person's kept template, or a cut Clean Up) moves to the current one, still keeping canary
   * pods out; then waits (bounded by `waits.rolloutMs`) until the Service has as many ready
   * endpoints as the Deployment wants, or throws KubernetesTransientError, traffic unchanged.
   */
  protected override async stableServes(target: ReleaseTarget): Promise<string | null> {
    const { namespace, deployment } = target;
    const name = this.config.stableService;
    const original = await readDeployment(this.clients, namespace, deployment);
    const svc = await readService(this.clients, namespace, name);
    let repinned: string | null = null;
    if (svc.metadata?.annotations?.[K8S_ANNOTATIONS.originalSelector] !== undefined) {
      const hash = await currentPodTemplateHash(this.clients, original);
      if (svc.spec?.selector?.[POD_TEMPLATE_HASH_LABEL] !== hash) {
        repinned = await pinServiceSelector(this.clients, namespace, name, {
          [POD_TEMPLATE_HASH_LABEL]: hash,
        });
      }
    }
    const want = specReplicas(original);
    const r = await pollUntil(this.waits.rolloutMs, this.waits.pollMs, async () => {
      const n = (await readyEndpoints(this.clients, namespace, name)).length;
      return { done: n >= want, value: n };
    });
    if (!r.done) {
      throw new KubernetesTransientError(
        `service ${namespace}/${name} has ${r.value}/${want} ready endpoints after ${Math.round(this.waits.rolloutMs / 1000)} s: ingress ${this.config.ingress} left on the canary; calling again resumes`,
      );
    }
    const serves = `service ${name} has ${r.value} ready endpoints`;
    return repinned ? `${repinned}; ${serves}` : serves;
  }

  /** Deletes the canary Service (with the canary Deployment, in a rollback). */
  protected override deleteOwnObjects(target: ReleaseTarget): Promise<string | null> {
    return this.deleteCanaryService(target.namespace);
  }

  /**
   * Throws UnmanagedObjectError when the canary Deployment's or the canary Service's name is
   * taken by an object tps-deploy did not create. The writes check again (a person may create one
   * in between); this check lets the shift fail before its first write.
   */
  private async refuseUnmanagedCanaryObjects(target: ReleaseTarget): Promise<void> {
    const { namespace } = target;
    const deploymentName = canaryName(target.deployment);
    const [dep, svc] = await Promise.all([
      readDeploymentOrNull(this.clients, namespace, deploymentName),
      readServiceOrNull(this.clients, namespace, this.canaryService),
    ]);
    if (dep && !managedByTpsDeploy(dep.metadata)) throw unmanagedCanaryDeployment(namespace, deploymentName);
    if (svc && !managedByTpsDeploy(svc.metadata)) throw this.unmanagedCanaryService(namespace);
  }

  private unmanagedCanaryService(namespace: string) {
    return unmanagedObjectError(
      'service',
      namespace,
      this.canaryService,
      'Set router.canaryService in tps.config.ts to a name no Service has, or rename or remove this one.',
    );
  }

  private async ensureCanaryService(
    target: ReleaseTarget,
    stable: V1Service,
    selector: Record<string, string>,
  ): Promise<string | null> {
    const namespace = target.namespace;
    const name = this.canaryService;
    const wantSelector = {
      ...selector,
      ...CANARY_TRACK,
      [K8S_LABELS.deploymentId]: labelValue(target.deploymentId),
    };
    const ports: V1ServicePort[] = (stable.spec?.ports ?? []).map((p) => ({
      name: p.name,
      port: p.port,
      targetPort: p.targetPort,
      protocol: p.protocol,
      appProtocol: p.appProtocol,
    }));
    const type =
      stable.spec?.type === 'NodePort' || stable.spec?.type === 'LoadBalancer' ? 'NodePort' : 'ClusterIP';
    return this.clients.call.run(`ensure canary service ${namespace}/${name}`, async () => {
      let existing = await readServiceOrNull(this.clients, namespace, name);
      if (existing && !managedByTpsDeploy(existing.metadata)) throw this.unmanagedCanaryService(namespace);
      let prefix = '';
      if (
        existing &&
        existing.metadata?.annotations?.[K8S_ANNOTATIONS.deploymentId] !== target.deploymentId
      ) {
        await this.deleteService(namespace, name, existing.metadata?.uid);
        existing = null;
        prefix = `deleted stale canary service ${name} of an earlier release; `;
      }
      if (!existing) {
        await this.clients.core.createNamespacedService({
          namespace,
          body: {
            apiVersion: 'v1',
            kind: 'Service',
            metadata: {
              name,
              namespace,
              labels: releaseLabels(target.deploymentId, target.service),
              annotations: { [K8S_ANNOTATIONS.deploymentId]: target.deploymentId },
            },
            spec: { type, selector: wantSelector, ports },
          },
        });
        return `${prefix}created canary service ${name}`;
      }
      const live = existing.spec?.selector ?? {};
      if (deepEqual(live, wantSelector)) return prefix || null;
      await this.clients.core.patchNamespacedService(
        {
          name,
          namespace,
          body: {
            metadata: { resourceVersion: existing.metadata?.resourceVersion },
            spec: { selector: mapPatch(live, wantSelector) },
          },
        },
        MERGE_PATCH,
      );
      return `${prefix}set selector of canary service ${name}`;
    });
  }

  /**
   * One DELETE of the Service with this uid (a Service put in its place since it was read answers
   * 409, and the caller's step reads again); false when it was already gone.
   */
  private async deleteService(namespace: string, name: string, uid: string | undefined): Promise<boolean> {
    const deleted = await nullIfNotFound(async () => {
      await this.clients.core.deleteNamespacedService({
        name,
        namespace,
        ...(uid ? { body: { preconditions: { uid } } } : {}),
      });
      return true;
    });
    return deleted ?? false;
  }

  /** Deletes the canary Service if tps-deploy created it; one it did not is left alone, and said so. */
  private async deleteCanaryService(namespace: string): Promise<string | null> {
    const name = this.canaryService;
    return this.clients.call.run(`delete canary service ${namespace}/${name}`, async () => {
      const svc = await readServiceOrNull(this.clients, namespace, name);
      if (!svc) return null;
      if (!managedByTpsDeploy(svc.metadata)) return unmanagedObjectLeft('service', namespace, name);
      return (await this.deleteService(namespace, name, svc.metadata?.uid))
        ? `deleted canary service ${name}`
        : null;
    });
  }

  /** Writes the forward action with exact weights, saving the original value first. */
  private async setIngressWeight(namespace: string, weight: number): Promise<string | null> {
    const value = JSON.stringify(
      forwardAction(this.config.stableService, this.canaryService, this.config.servicePort, weight),
    );
    return this.clients.call.run(`set weights on ingress ${namespace}/${this.config.ingress}`, async () => {
      const ing = await readIngress(this.clients, namespace, this.config.ingress);
      const ann = ing.metadata?.annotations ?? {};
      const saved = ann[K8S_ANNOTATIONS.originalAction];
      if (saved !== undefined && ann[this.actionKey] === value) return null;
      const annotations: Record<string, string> = { [this.actionKey]: value };
      if (saved === undefined)
        annotations[K8S_ANNOTATIONS.originalAction] = JSON.stringify({ value: ann[this.actionKey] ?? null });
      await this.patchIngress(namespace, ing, annotations);
      return `set ingress ${this.config.ingress} action ${this.config.actionName}: ${this.config.stableService} ${100 - weight}, ${this.canaryService} ${weight}`;
    });
  }

  /** Puts back the action annotation saved by {@link setIngressWeight}; null if nothing is saved. */
  private async restoreIngress(namespace: string): Promise<string | null> {
    return this.clients.call.run(`restore ingress ${namespace}/${this.config.ingress}`, async () => {
      const ing = await readIngress(this.clients, namespace, this.config.ingress);
      const saved = ing.metadata?.annotations?.[K8S_ANNOTATIONS.originalAction];
      if (saved === undefined) return null;
      const original = (JSON.parse(saved) as { value: string | null }).value;
      await this.patchIngress(namespace, ing, {
        [this.actionKey]: original,
        [K8S_ANNOTATIONS.originalAction]: null,
      });
      return `restored ingress ${this.config.ingress} action ${this.config.actionName}`;
    });
  }

  private async patchIngress(namespace: string, ing: V1Ingress, annotations: Record<string, string | null>) {
    await this.clients.networking.patchNamespacedIngress(
      {
        name: this.config.ingress,
        namespace,
        body: { metadata: { resourceVersion: ing.metadata?.resourceVersion, annotations } },
      },
      MERGE_PATCH,
    );
  }

  /** The canary Service, the stable Service's pin and the Ingress weights, where still there. */
  protected standOffObjects(target: ReleaseTarget): StandOffObject[] {
    return [
      { kind: 'Deployment', name: target.deployment },
      { kind: 'Service', name: this.config.stableService },
      { kind: 'Ingress', name: this.config.ingress },
    ];
  }

  protected async routerLeftovers(target: ReleaseTarget): Promise<string[]> {
    const out: string[] = [];
    const canarySvc = await readServiceOrNull(this.clients, target.namespace, this.canaryService);
    // A Service of that name tps-deploy did not create is not a leftover: it was never ours.
    if (canarySvc && managedByTpsDeploy(canarySvc.metadata)) out.push(`service/${this.canaryService}`);
    const stable = await readServiceOrNull(this.clients, target.namespace, this.config.stableService);
    if (stable?.metadata?.annotations?.[K8S_ANNOTATIONS.originalSelector] !== undefined) {
      out.push(`service/${this.config.stableService} selector still pinned`);
    }
    const ing = await readIngress(this.clients, target.namespace, this.config.ingress);
    if (ing.metadata?.annotations?.[K8S_ANNOTATIONS.originalAction] !== undefined) {
      out.push(`ingress/${this.config.ingress} action still weighted`);
    }
    return out;
  }

  private async measure(
    target: ReleaseTarget,
    weight: number,
    actions: readonly string[],
    pending: string | null,
  ): Promise<{ status: TrafficStatus; canaryEndpoints: number }> {
    const { namespace, deployment } = target;
    const [original, canary, ing, stableEps, canaryEps] = await Promise.all([
      readDeployment(this.clients, namespace, deployment),
      readDeploymentOrNull(this.clients, namespace, canaryName(deployment)),
      readIngress(this.clients, namespace, this.config.ingress),
      readyEndpoints(this.clients, namespace, this.config.stableService),
      readyEndpoints(this.clients, namespace, this.canaryService),
    ]);
    const value = ing.metadata?.annotations?.[this.actionKey];
    const share = canaryShareOfAction(value, this.canaryService);
    const parts = [
      share === null
        ? `ingress ${this.config.ingress} has no forward action ${this.config.actionName}`
        : `ingress ${this.config.ingress} forwards ${share}% to ${this.canaryService}, ${roundPercent(100 - share)}% to ${this.config.stableService}`,
      `ready endpoints: stable ${stableEps.length}, canary ${canaryEps.length}`,
      `replicas canary ${replicasOf(canary)}, stable ${replicasOf(original)}`,
    ];
    if (share !== null && share > 0 && canaryEps.length === 0)
      parts.push('WARNING: canary service has no ready endpoints');
    if (pending) parts.push(pending);
    if (actions.length > 0) parts.push(`did: ${actions.join('; ')}`);
    return {
      status: {
        targetWeight: weight,
        actualWeight: share,
        canaryReplicas: replicasOf(canary),
        stableReplicas: replicasOf(original),
        detail: parts.join('; '),
      },
      canaryEndpoints: canaryEps.length,
    };
  }
}

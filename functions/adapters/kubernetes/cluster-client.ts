/**
 * The cluster port on the Kubernetes API: records the rollback plan, reports the health of each
 * version's pods and detects changes someone else made to the Deployment during a release.
 */
import { type Clock, systemClock } from '../../ports/clock.js';
import type {
  ClusterClient,
  Drift,
  ReleaseTarget,
  RollbackPlan,
  WorkloadHealth,
} from '../../ports/cluster.js';
import type { KubeClients } from './client.js';
import {
  imagesOf,
  readDeployment,
  readDeploymentOrNull,
  releaseTemplate,
  specReplicas,
} from './deployment.js';
import {
  describeWriter,
  FIELD_MANAGER,
  replicasDrift,
  replicasOwner,
  templateWritersSince,
} from './field-owners.js';
import { deepEqual, diffPaths, type PlainObject, toPlain } from './generic.js';
import { canaryName, MANAGED_REPLICAS_ANNOTATION } from './labels.js';
import { podsOfDeployment, workloadHealth } from './pods.js';

/** {@link ClusterClient} backed by @kubernetes/client-node. */
export class KubernetesClusterClient implements ClusterClient {
  constructor(
    private readonly clients: KubeClients,
    private readonly clock: Clock = systemClock,
  ) {}

  /**
   * The Deployment's pod template (every container, init containers, volumes, labels: the whole
   * `spec.template` as the API server returns it), replicas and generation.
   * Throws TargetNotFoundError if the Deployment does not exist.
   */
  async recordPlan(namespace: string, deployment: string): Promise<RollbackPlan> {
    const dep = await readDeployment(this.clients, namespace, deployment);
    const template = toPlain(dep.spec?.template);
    return {
      namespace,
      deployment,
      replicas: specReplicas(dep),
      template,
      images: imagesOf(template),
      generation: dep.metadata?.generation ?? 0,
      recordedAt: this.clock.now().toISOString(),
    };
  }

  /**
   * Health of the canary Deployment's pods (`<deployment>-tps-canary`; all zero while it does not
   * exist) or of the original Deployment's pods. Pods are found through ownership, so canary pods
   * that share the Service's labels are never counted as stable.
   */
  async health(target: ReleaseTarget, track: 'canary' | 'stable'): Promise<WorkloadHealth> {
    const dep =
      track === 'canary'
        ? await readDeploymentOrNull(this.clients, target.namespace, canaryName(target.deployment))
        : await readDeployment(this.clients, target.namespace, target.deployment);
    if (!dep) return workloadHealth(null, []);
    const { pods } = await podsOfDeployment(this.clients, dep);
    return workloadHealth(dep, pods);
  }

  /**
   * Differences between the live original Deployment and what the release expects. `recorded`
   * (during the phases): the recorded template, and the recorded replicas unless tps-deploy
   * scaled it (then the count it set, kept in an annotation). `finalized` (after cleanup): the
   * template Clean Up writes (the recorded one with the new images and the version,
   * {@link releaseTemplate}), at the recorded replicas.
   */
  async drift(
    target: ReleaseTarget,
    plan: RollbackPlan,
    expected: 'recorded' | 'finalized',
  ): Promise<string[]> {
    return [...(await this.driftDetail(target, plan, expected)).changes];
  }

  async driftDetail(
    target: ReleaseTarget,
    plan: RollbackPlan,
    expected: 'recorded' | 'finalized',
  ): Promise<Drift> {
    const dep = await readDeployment(this.clients, target.namespace, target.deployment);
    const want: PlainObject =
      expected === 'recorded'
        ? (plan.template as PlainObject)
        : releaseTemplate(plan.template as PlainObject, target);
    const live = toPlain(dep.spec?.template);
    const changes: string[] = [];
    const wantImages = imagesOf(want);
    const liveImages = imagesOf(live);
    for (const name of new Set([...Object.keys(wantImages), ...Object.keys(liveImages)])) {
      if (wantImages[name] !== liveImages[name]) {
        changes.push(
          `container ${name} image: expected ${wantImages[name] ?? '(none)'}, live ${liveImages[name] ?? '(none)'}`,
        );
      }
    }
    // Image changes are reported above by container name; every other difference by path.
    for (const path of diffPaths(want, live, 'spec.template')) {
      if (!/^spec\.template\.spec\.containers\[\d+\]\.image$/.test(path)) changes.push(`${path} changed`);
    }
    // Who wrote the template since the plan was recorded: the record says who changed it.
    // The template differs and is neither the recorded one nor the one Clean Up writes (the
    // recorded one with the release's images): someone else wrote it. Decided on content, not on
    // managedFields times (second granularity; a local run's clock is virtual).
    const templateByOthers =
      changes.length > 0 && !deepEqual(live, releaseTemplate(plan.template as PlainObject, target));
    if (changes.length > 0) {
      const writers = templateWritersSince(dep.metadata?.managedFields, plan.recordedAt);
      if (writers.length > 0) changes.push(`template written by ${writers.map(describeWriter).join(', ')}`);
    }
    const owner = replicasOwner(dep.metadata?.managedFields);
    const count = replicasDrift({
      expected,
      recorded: plan.replicas,
      marker: dep.metadata?.annotations?.[MANAGED_REPLICAS_ANNOTATION],
      live: specReplicas(dep),
      owner,
    });
    if (count.drift) {
      changes.push(
        `replicas: expected ${count.want}, live ${specReplicas(dep)}${owner && owner.manager !== FIELD_MANAGER ? ` (set by ${describeWriter(owner)})` : ''}`,
      );
    }
    if (dep.spec?.paused) changes.push('deployment is paused');
    return { changes, templateByOthers, replicasByOthers: count.byOthers };
  }
}

/**
 * The pods of a Deployment and their health: found through ownership (Deployment -> ReplicaSet ->
 * Pod), never by labels alone, because the canary pods carry the stable Service's labels and must
 * never be counted as stable (nor the stable pods as canary).
 */
import type { V1Deployment, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import { KubernetesTransientError } from '../../domain/errors.js';
import type { WorkloadHealth } from '../../ports/cluster.js';
import type { KubeClients } from './client.js';
import { replicasOf } from './deployment.js';
import { POD_TEMPLATE_HASH_LABEL, selectorString } from './labels.js';

/** Pods of a Deployment, found through ownership (Deployment -> ReplicaSet -> Pod). */
export async function podsOfDeployment(
  clients: KubeClients,
  dep: V1Deployment,
): Promise<{ pods: V1Pod[]; replicaSets: V1ReplicaSet[] }> {
  const namespace = dep.metadata?.namespace ?? '';
  const labelSelector = selectorString(dep.spec?.selector);
  const uid = dep.metadata?.uid;
  const [rsList, podList] = await Promise.all([
    clients.call.run(`list replicasets of ${namespace}/${dep.metadata?.name}`, () =>
      clients.apps.listNamespacedReplicaSet({ namespace, labelSelector }),
    ),
    clients.call.run(`list pods of ${namespace}/${dep.metadata?.name}`, () =>
      clients.core.listNamespacedPod({ namespace, labelSelector }),
    ),
  ]);
  const replicaSets = rsList.items.filter((rs) => rs.metadata?.ownerReferences?.some((o) => o.uid === uid));
  const rsUids = new Set(replicaSets.map((rs) => rs.metadata?.uid));
  const pods = podList.items.filter((p) => p.metadata?.ownerReferences?.some((o) => rsUids.has(o.uid)));
  pods.sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  return { pods, replicaSets };
}

/** Whether a pod's Ready condition is True. */
export function podReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** Health of one version from its Deployment and pods. */
export function workloadHealth(dep: V1Deployment | null, pods: readonly V1Pod[]): WorkloadHealth {
  let restarts = 0;
  const crashLooping: string[] = [];
  const oomKilled: string[] = [];
  const notReady: string[] = [];
  const lines: string[] = [];
  for (const pod of pods) {
    const name = pod.metadata?.name ?? '?';
    const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
    const podRestarts = statuses.reduce((n, cs) => n + (cs.restartCount ?? 0), 0);
    restarts += podRestarts;
    const crash = statuses.some((cs) => cs.state?.waiting?.reason === 'CrashLoopBackOff');
    const oom = statuses.some(
      (cs) =>
        cs.lastState?.terminated?.reason === 'OOMKilled' || cs.state?.terminated?.reason === 'OOMKilled',
    );
    if (crash) crashLooping.push(name);
    if (oom) oomKilled.push(name);
    const ready = podReady(pod);
    const terminating =
      pod.metadata?.deletionTimestamp !== undefined && pod.metadata?.deletionTimestamp !== null;
    if (!ready && !terminating && pod.status?.phase === 'Running') notReady.push(name);
    const reasons = new Set<string>();
    for (const cs of statuses) {
      const now = cs.state?.waiting?.reason ?? cs.state?.terminated?.reason;
      const last = cs.lastState?.terminated?.reason;
      if (now) reasons.add(`${cs.name}:${now}`);
      if (last) reasons.add(`${cs.name}:last=${last}`);
    }
    if (terminating) reasons.add('Terminating');
    const readyContainers = (pod.status?.containerStatuses ?? []).filter((cs) => cs.ready).length;
    const totalContainers = pod.spec?.containers?.length ?? 0;
    lines.push(
      `${name} ${pod.status?.phase ?? 'Unknown'} ${readyContainers}/${totalContainers} ${podRestarts} ${[...reasons].join(',') || '-'}`,
    );
  }
  return {
    desired: replicasOf(dep),
    ready: dep?.status?.readyReplicas ?? 0,
    updated: dep?.status?.updatedReplicas ?? 0,
    restarts,
    crashLooping,
    oomKilled,
    notReady,
    pods: lines,
  };
}

/** Annotation the Deployment controller puts on a Deployment and its ReplicaSets. */
const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';

/**
 * The `pod-template-hash` of the Deployment's current ReplicaSet (same revision annotation).
 * Throws {@link KubernetesTransientError} while the controller has not created it yet.
 */
export async function currentPodTemplateHash(clients: KubeClients, dep: V1Deployment): Promise<string> {
  const { replicaSets } = await podsOfDeployment(clients, dep);
  const revision = dep.metadata?.annotations?.[REVISION_ANNOTATION];
  const current = replicaSets.find(
    (rs) => revision !== undefined && rs.metadata?.annotations?.[REVISION_ANNOTATION] === revision,
  );
  const hash = current?.metadata?.labels?.[POD_TEMPLATE_HASH_LABEL];
  if (!hash) {
    throw new KubernetesTransientError(
      `deployment ${dep.metadata?.namespace}/${dep.metadata?.name} has no current ReplicaSet yet (revision ${revision ?? 'unknown'})`,
    );
  }
  return hash;
}

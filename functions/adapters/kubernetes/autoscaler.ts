/**
 * The HorizontalPodAutoscaler of the released Deployment (autoscaling/v2). tps-deploy never writes
 * it: it finds it (the one whose scaleTargetRef is the Deployment) and sizes the canary from the
 * live count it set (functions/domain/autoscaling.ts).
 *
 * The canary gets no HPA of its own. Its pods carry the original template's labels, which the
 * original Deployment's selector (the HPA's pod selector) matches, and the HPA controller refuses
 * to act for any HPA whose pods another HPA also selects: measured on the local cluster, a scaled
 * copy targeting the canary Deployment turned BOTH HPAs to `ScalingActive=False, reason
 * AmbiguousSelector` ("pods by selector app=... are controlled by multiple HPAs"), so the person's
 * HPA stopped scaling. The person's HPA alone averages over stable and canary pods instead.
 */
import type { V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import type { AutoscalerBounds } from '../../domain/autoscaling.js';
import type { KubeClients } from './client.js';
import { managedByTpsDeploy } from './labels.js';

/** The person's HPA that scales `deployment`, or null. Copies tps-deploy made are skipped. */
export async function findAutoscaler(
  clients: KubeClients,
  namespace: string,
  deployment: string,
): Promise<V2HorizontalPodAutoscaler | null> {
  const list = await clients.call.run(`list horizontalpodautoscalers in ${namespace}`, () =>
    clients.autoscaling.listNamespacedHorizontalPodAutoscaler({ namespace }),
  );
  return (
    list.items.find(
      (h) =>
        !managedByTpsDeploy(h.metadata) &&
        h.spec?.scaleTargetRef.kind === 'Deployment' &&
        (h.spec.scaleTargetRef.apiVersion ?? 'apps/v1').startsWith('apps/') &&
        h.spec.scaleTargetRef.name === deployment,
    ) ?? null
  );
}

/** min/max of an HPA (minReplicas defaults to 1). */
export function boundsOf(hpa: V2HorizontalPodAutoscaler): AutoscalerBounds {
  return { minReplicas: hpa.spec?.minReplicas ?? 1, maxReplicas: hpa.spec?.maxReplicas ?? 1 };
}

/** `hpa/<name> (min-max)`, for the record. */
export function describeAutoscaler(hpa: V2HorizontalPodAutoscaler): string {
  const b = boundsOf(hpa);
  return `hpa/${hpa.metadata?.name} (${b.minReplicas}-${b.maxReplicas})`;
}

/** What a shift says about the HPA, for the record. */
export function autoscalerNote(hpa: V2HorizontalPodAutoscaler, deployment: string, live: number): string {
  return `${describeAutoscaler(hpa)} scales deployment ${deployment} (live ${live}): stable not scaled, canary sized from the live count; no HPA for the canary (its pods are under ${hpa.metadata?.name}'s selector, and the HPA controller stops two HPAs over the same pods)`;
}

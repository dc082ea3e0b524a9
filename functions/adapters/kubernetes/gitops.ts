/**
 * Telling Flux to stand off the objects a release changes. Flux's kustomize-controller neither
 * applies changes from Git to, nor prunes, an object whose in-cluster annotation
 * `kustomize.toolkit.fluxcd.io/reconcile` is `disabled` (fluxcd/kustomize-controller#484). With
 * `gitops: 'flux'` in the service's catalog entry, the first shift sets it on the original
 * Deployment and on the Service and Ingress the router changes, with a marker saying tps-deploy set
 * it; Clean Up and Roll Back remove both, last, once the objects are in their final state. An
 * annotation that was there before (from Git, or a person) is left as it is, marker or not.
 */
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { KubeClients } from './client.js';
import { MERGE_PATCH, nullIfNotFound } from './client.js';

/** Flux's per-object opt-out of reconciliation. */
export const FLUX_RECONCILE_ANNOTATION = 'kustomize.toolkit.fluxcd.io/reconcile';
/** Marks an opt-out tps-deploy set (and so removes); one set by anyone else stays. */
export const STAND_OFF_MARKER = 'tps-deploy.io/gitops-stand-off';

/** An object a release changes. */
export interface StandOffObject {
  readonly kind: 'Deployment' | 'Service' | 'Ingress';
  readonly name: string;
}

function api(clients: KubeClients, namespace: string, obj: StandOffObject) {
  const patch = (body: object): Promise<unknown> => {
    const args = { name: obj.name, namespace, body };
    switch (obj.kind) {
      case 'Deployment':
        return clients.apps.patchNamespacedDeployment(args, MERGE_PATCH);
      case 'Service':
        return clients.core.patchNamespacedService(args, MERGE_PATCH);
      case 'Ingress':
        return clients.networking.patchNamespacedIngress(args, MERGE_PATCH);
    }
  };
  const read = (): Promise<{ metadata?: V1ObjectMeta }> => {
    const args = { name: obj.name, namespace };
    switch (obj.kind) {
      case 'Deployment':
        return clients.apps.readNamespacedDeployment(args);
      case 'Service':
        return clients.core.readNamespacedService(args);
      case 'Ingress':
        return clients.networking.readNamespacedIngress(args);
    }
  };
  return { patch, read };
}

const label = (obj: StandOffObject) => `${obj.kind.toLowerCase()} ${obj.name}`;

/** Sets the opt-out on each object that has none. Returns what it did, or null. */
export async function holdGitOps(
  clients: KubeClients,
  namespace: string,
  objects: readonly StandOffObject[],
): Promise<string | null> {
  const set: string[] = [];
  for (const obj of objects) {
    const { read, patch } = api(clients, namespace, obj);
    const live = await clients.call.run(`read ${namespace}/${label(obj)}`, () => nullIfNotFound(read));
    if (!live || live.metadata?.annotations?.[FLUX_RECONCILE_ANNOTATION] !== undefined) continue;
    await clients.call.run(`annotate ${namespace}/${label(obj)}`, () =>
      patch({
        metadata: { annotations: { [FLUX_RECONCILE_ANNOTATION]: 'disabled', [STAND_OFF_MARKER]: 'flux' } },
      }),
    );
    set.push(label(obj));
  }
  return set.length === 0
    ? null
    : `flux told to stand off (${FLUX_RECONCILE_ANNOTATION}: disabled) ${set.join(', ')}`;
}

/** Removes the opt-out from each object where tps-deploy set it. Returns what it did, or null. */
export async function releaseGitOps(
  clients: KubeClients,
  namespace: string,
  objects: readonly StandOffObject[],
): Promise<string | null> {
  const freed: string[] = [];
  for (const obj of objects) {
    const { read, patch } = api(clients, namespace, obj);
    const live = await clients.call.run(`read ${namespace}/${label(obj)}`, () => nullIfNotFound(read));
    if (live?.metadata?.annotations?.[STAND_OFF_MARKER] === undefined) continue;
    await clients.call.run(`unannotate ${namespace}/${label(obj)}`, () =>
      patch({ metadata: { annotations: { [FLUX_RECONCILE_ANNOTATION]: null, [STAND_OFF_MARKER]: null } } }),
    );
    freed.push(label(obj));
  }
  return freed.length === 0 ? null : `flux reconciles again ${freed.join(', ')}`;
}

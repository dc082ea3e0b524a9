/**
 * Telling Flux to stand off the objects a release changes. Flux's kustomize-controller neither
 * applies changes from Git to, nor prunes, an object whose in-cluster annotation
 * `kustomize.toolkit.fluxcd.io/reconcile` is `disabled` (fluxcd/kustomize-controller#484). With
 * `gitops: 'flux'` in the service's catalog entry, the first shift sets it on the original
 * Deployment and on the Service and Ingress the router changes, with a marker saying tps-deploy set
 * it; Clean Up and Roll Back remove both, last, once the objects are in their final state, and
 * report an opt-out still held for the service after that (a shift in flight set it again) as a
 * leftover of the release. An annotation that was there before (from Git, or a person) is left as
 * it is, marker or not, and is no leftover.
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

/** The services holding an opt-out tps-deploy set: the marker is `flux:<service>,<service>`. */
export function holdersOf(marker: string | undefined): string[] {
  if (marker === undefined) return [];
  const list = marker.startsWith('flux:') ? marker.slice('flux:'.length) : '';
  return list === '' ? [] : list.split(',');
}

const markerOf = (holders: readonly string[]) => `flux:${[...holders].sort().join(',')}`;

/**
 * Sets the opt-out on each object that has none, for `service`. An object another release of
 * tps-deploy holds (an Ingress two services share) gets `service` added to its holders; one whose
 * opt-out someone else set is left as it is (and said so when its value is not `disabled`).
 * Returns what it did, or null.
 */
export async function holdGitOps(
  clients: KubeClients,
  namespace: string,
  service: string,
  objects: readonly StandOffObject[],
): Promise<string | null> {
  const set: string[] = [];
  const notes: string[] = [];
  for (const obj of objects) {
    const { read, patch } = api(clients, namespace, obj);
    const live = await clients.call.run(`read ${namespace}/${label(obj)}`, () => nullIfNotFound(read));
    if (!live) continue;
    const annotations = live.metadata?.annotations ?? {};
    const value = annotations[FLUX_RECONCILE_ANNOTATION];
    const marker = annotations[STAND_OFF_MARKER];
    if (value === undefined) {
      await clients.call.run(`annotate ${namespace}/${label(obj)}`, () =>
        patch({
          metadata: {
            annotations: { [FLUX_RECONCILE_ANNOTATION]: 'disabled', [STAND_OFF_MARKER]: markerOf([service]) },
          },
        }),
      );
      set.push(label(obj));
    } else if (marker !== undefined) {
      const holders = holdersOf(marker);
      if (holders.includes(service)) continue;
      await clients.call.run(`annotate ${namespace}/${label(obj)}`, () =>
        patch({ metadata: { annotations: { [STAND_OFF_MARKER]: markerOf([...holders, service]) } } }),
      );
      set.push(`${label(obj)} (also held by ${holders.join(', ')})`);
    } else if (value !== 'disabled') {
      notes.push(
        `${label(obj)} has ${FLUX_RECONCILE_ANNOTATION}: ${value}, set by someone else: left as it is, so Flux may revert this release there`,
      );
    }
  }
  const parts = [
    ...(set.length > 0
      ? [`flux told to stand off (${FLUX_RECONCILE_ANNOTATION}: disabled) ${set.join(', ')}`]
      : []),
    ...notes,
  ];
  return parts.length === 0 ? null : parts.join('; ');
}

/**
 * Takes `service` off the holders of each object's opt-out; the last holder removes the opt-out.
 * Returns what it did, or null.
 */
export async function releaseGitOps(
  clients: KubeClients,
  namespace: string,
  service: string,
  objects: readonly StandOffObject[],
): Promise<string | null> {
  const freed: string[] = [];
  for (const obj of objects) {
    const { read, patch } = api(clients, namespace, obj);
    const live = await clients.call.run(`read ${namespace}/${label(obj)}`, () => nullIfNotFound(read));
    const holders = holdersOf(live?.metadata?.annotations?.[STAND_OFF_MARKER]);
    if (!holders.includes(service)) continue;
    const rest = holders.filter((h) => h !== service);
    await clients.call.run(`unannotate ${namespace}/${label(obj)}`, () =>
      patch({
        metadata: {
          annotations:
            rest.length === 0
              ? { [FLUX_RECONCILE_ANNOTATION]: null, [STAND_OFF_MARKER]: null }
              : { [STAND_OFF_MARKER]: markerOf(rest) },
        },
      }),
    );
    freed.push(rest.length === 0 ? label(obj) : `${label(obj)} (still held by ${rest.join(', ')})`);
  }
  return freed.length === 0 ? null : `flux reconciles again ${freed.join(', ')}`;
}

/**
 * The objects whose opt-out still names `service` among its holders, for the leftover report of
 * Clean Up and Roll Back (read after {@link releaseGitOps}): `<kind>/<name> ...`. An opt-out
 * someone else set (no marker, or other holders only) is not listed.
 */
export async function gitOpsLeftovers(
  clients: KubeClients,
  namespace: string,
  service: string,
  objects: readonly StandOffObject[],
): Promise<string[]> {
  const out: string[] = [];
  for (const obj of objects) {
    const { read } = api(clients, namespace, obj);
    const live = await clients.call.run(`read ${namespace}/${label(obj)}`, () => nullIfNotFound(read));
    const annotations = live?.metadata?.annotations ?? {};
    if (!holdersOf(annotations[STAND_OFF_MARKER]).includes(service)) continue;
    out.push(
      `${obj.kind.toLowerCase()}/${obj.name} still tells flux to stand off (${FLUX_RECONCILE_ANNOTATION}: ${annotations[FLUX_RECONCILE_ANNOTATION] ?? 'unset'}, ${STAND_OFF_MARKER}: ${annotations[STAND_OFF_MARKER]})`,
    );
  }
  return out;
}

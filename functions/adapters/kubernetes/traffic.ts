/**
 * Service selectors and EndpointSlices: how both routers steer and measure traffic inside the
 * cluster. A Service's original selector is saved in an annotation before the first change and
 * restored from it, so a restore works after any partial earlier attempt.
 */
import type { V1EndpointSlice, V1Ingress, V1Service } from '@kubernetes/client-node';
import { ConfigError, TargetNotFoundError } from '../../domain/errors.js';
import { isNotFound, type KubeClients, MERGE_PATCH, nullIfNotFound } from './client.js';
import { deepEqual } from './generic.js';
import { K8S_ANNOTATIONS, SERVICE_NAME_LABEL, selectorString } from './labels.js';

/** Reads a Service, or null if it does not exist. */
export async function readServiceOrNull(
  clients: KubeClients,
  namespace: string,
  name: string,
): Promise<V1Service | null> {
  return clients.call.run(`read service ${namespace}/${name}`, () =>
    nullIfNotFound(() => clients.core.readNamespacedService({ name, namespace })),
  );
}

/** Reads a Service named by the config; throws {@link TargetNotFoundError} if it is absent. */
export async function readService(clients: KubeClients, namespace: string, name: string): Promise<V1Service> {
  const svc = await readServiceOrNull(clients, namespace, name);
  if (!svc) throw new TargetNotFoundError(`service ${namespace}/${name} not found`);
  return svc;
}

/** Reads an Ingress named by the config; throws {@link TargetNotFoundError} if it is absent. */
export async function readIngress(clients: KubeClients, namespace: string, name: string): Promise<V1Ingress> {
  return clients.call.run(`read ingress ${namespace}/${name}`, async () => {
    try {
      return await clients.networking.readNamespacedIngress({ name, namespace });
    } catch (err) {
      if (isNotFound(err)) throw new TargetNotFoundError(`ingress ${namespace}/${name} not found`);
      throw err;
    }
  });
}

/**
 * The selector the Service had before tps-deploy changed it: the saved annotation if present,
 * else the live selector. Throws {@link ConfigError} for a Service without a selector (its
 * endpoints are not managed by Kubernetes, so no router can steer it).
 */
export function originalSelector(svc: V1Service): Record<string, string> {
  const saved = svc.metadata?.annotations?.[K8S_ANNOTATIONS.originalSelector];
  const sel =
    saved !== undefined ? (JSON.parse(saved) as Record<string, string>) : (svc.spec?.selector ?? {});
  if (Object.keys(sel).length === 0) {
    throw new ConfigError(
      `service ${svc.metadata?.namespace}/${svc.metadata?.name} has no selector; tps-deploy routes only Services that select pods by label`,
    );
  }
  return sel;
}

/** A JSON merge patch turning map `from` into map `to` (null deletes a key). */
export function mapPatch(
  from: Record<string, string>,
  to: Record<string, string>,
): Record<string, string | null> {
  const out: Record<string, string | null> = { ...to };
  for (const k of Object.keys(from)) if (!(k in to)) out[k] = null;
  return out;
}

/**
 * One merge patch of the Service `svc` read just before: its selector becomes `selector`, and the saved
 * original selector annotation becomes `saved` (null removes it). The resourceVersion it read
 * makes a concurrent change a 409, and the caller's step runs again from its read.
 */
async function patchSelector(
  clients: KubeClients,
  namespace: string,
  name: string,
  svc: V1Service,
  selector: Record<string, string>,
  saved: string | null,
): Promise<void> {
  await clients.core.patchNamespacedService(
    {
      name,
      namespace,
      body: {
        metadata: {
          resourceVersion: svc.metadata?.resourceVersion,
          annotations: { [K8S_ANNOTATIONS.originalSelector]: saved },
        },
        spec: { selector: mapPatch(svc.spec?.selector ?? {}, selector) },
      },
    },
    MERGE_PATCH,
  );
}

/**
 * Sets the Service selector to its original selector plus `extra`, saving the original first.
 * Optimistic: the patch carries the resourceVersion it read, so a concurrent change is a 409 and
 * the step runs again. Returns what it did, or null when the selector was already so.
 */
export async function pinServiceSelector(
  clients: KubeClients,
  namespace: string,
  name: string,
  extra: Readonly<Record<string, string>>,
): Promise<string | null> {
  return clients.call.run(`pin selector of service ${namespace}/${name}`, async () => {
    const svc = await readService(clients, namespace, name);
    const original = originalSelector(svc);
    const desired = { ...original, ...extra };
    const live = svc.spec?.selector ?? {};
    const saved = svc.metadata?.annotations?.[K8S_ANNOTATIONS.originalSelector] !== undefined;
    if (saved && deepEqual(live, desired)) return null;
    await patchSelector(clients, namespace, name, svc, desired, JSON.stringify(original));
    return `set selector of service ${name} to ${selectorString(desired)}`;
  });
}

/**
 * Restores the selector saved by {@link pinServiceSelector} and removes the annotation. A no-op
 * (null) when nothing is saved, e.g. when another rollback restored it first. A missing Service
 * is reported, not thrown: rollback must go on with the other steps.
 */
export async function restoreServiceSelector(
  clients: KubeClients,
  namespace: string,
  name: string,
): Promise<string | null> {
  return clients.call.run(`restore selector of service ${namespace}/${name}`, async () => {
    const svc = await readServiceOrNull(clients, namespace, name);
    if (!svc) return `service ${namespace}/${name} not found; selector not restored`;
    const saved = svc.metadata?.annotations?.[K8S_ANNOTATIONS.originalSelector];
    if (saved === undefined) return null;
    const original = JSON.parse(saved) as Record<string, string>;
    await patchSelector(clients, namespace, name, svc, original, null);
    return `restored selector of service ${name} to ${selectorString(original)}`;
  });
}

/** One ready endpoint of a Service: the pod behind it (if any) and its address. */
export interface ReadyEndpoint {
  readonly pod: string | null;
  readonly address: string;
}

/**
 * Ready endpoints of a Service from its EndpointSlices, deduplicated by pod (a pod can appear in
 * one slice per address family). `ready` unset counts as ready, as the EndpointSlice API says
 * consumers should treat an unknown state.
 */
export async function readyEndpoints(
  clients: KubeClients,
  namespace: string,
  service: string,
): Promise<ReadyEndpoint[]> {
  const list = await clients.call.run(`list endpointslices of service ${namespace}/${service}`, () =>
    clients.discovery.listNamespacedEndpointSlice({
      namespace,
      labelSelector: `${SERVICE_NAME_LABEL}=${service}`,
    }),
  );
  const seen = new Map<string, ReadyEndpoint>();
  for (const slice of list.items as V1EndpointSlice[]) {
    for (const ep of slice.endpoints ?? []) {
      if (ep.conditions?.ready === false) continue;
      const pod = ep.targetRef?.kind === 'Pod' ? (ep.targetRef.name ?? null) : null;
      const address = ep.addresses[0] ?? '';
      const key = pod ?? address;
      if (!seen.has(key)) seen.set(key, { pod, address });
    }
  }
  return [...seen.values()];
}

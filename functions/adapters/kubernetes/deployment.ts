/**
 * The release's target Deployment and its pod template: reading it, the images of a template,
 * setting or restoring its template and replicas, scaling it, waiting for its rollout, deleting a
 * Deployment. Every write goes through {@link KubeCall.run} as one read-modify-write step that
 * writes only what differs, so it is safe to repeat and when two callers run at once.
 */
import { ApiException, type V1Deployment } from '@kubernetes/client-node';
import {
  ConfigError,
  DriftDetectedError,
  KubernetesTransientError,
  TargetNotFoundError,
} from '../../domain/errors.js';
import { JSON_PATCH, type KubeClients, MERGE_PATCH, nullIfNotFound } from './client.js';
import { describeWriter, replicasDrift, replicasOwner } from './field-owners.js';
import { deepEqual, jsonPointerToken, type PlainObject, pollUntil, toPlain } from './generic.js';
import {
  K8S_ANNOTATIONS,
  K8S_LABELS,
  MANAGED_REPLICAS_ANNOTATION,
  RELEASE_VERSION_ENV,
  versionLabelValue,
} from './labels.js';
import type { Waits } from './waits.js';

/** Reads a Deployment, or null if it does not exist. */
export async function readDeploymentOrNull(
  clients: KubeClients,
  namespace: string,
  name: string,
): Promise<V1Deployment | null> {
  return clients.call.run(`read deployment ${namespace}/${name}`, () =>
    nullIfNotFound(() => clients.apps.readNamespacedDeployment({ name, namespace })),
  );
}

/** Reads the release's target Deployment; throws {@link TargetNotFoundError} if it is absent. */
export async function readDeployment(
  clients: KubeClients,
  namespace: string,
  name: string,
): Promise<V1Deployment> {
  const dep = await readDeploymentOrNull(clients, namespace, name);
  if (!dep) throw new TargetNotFoundError(`deployment ${namespace}/${name} not found`);
  return dep;
}

interface ContainerLike {
  name?: string;
  image?: string;
}

function containersOf(template: PlainObject): ContainerLike[] {
  const spec = (template.spec ?? {}) as { containers?: ContainerLike[] };
  return spec.containers ?? [];
}

/** Image per container of a pod template. */
export function imagesOf(template: PlainObject): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of containersOf(template)) if (c.name && c.image) out[c.name] = c.image;
  return out;
}

/**
 * A copy of `template` with the images of the named containers replaced; every other field is
 * kept. Throws {@link ConfigError} when a container does not exist in the template.
 */
export function templateWithImages(
  template: PlainObject,
  images: Readonly<Record<string, string>>,
): PlainObject {
  const copy = structuredClone(template);
  const containers = containersOf(copy);
  const missing = Object.keys(images).filter((name) => !containers.some((c) => c.name === name));
  if (missing.length > 0) {
    throw new ConfigError(
      `the Deployment's pod template has no container ${missing.join(', ')} (it has ${containers.map((c) => c.name).join(', ')}); fix "containers" in the service config`,
    );
  }
  for (const c of containers) {
    const image = c.name === undefined ? undefined : images[c.name];
    if (image !== undefined) c.image = image;
  }
  return copy;
}

/** The env var of a release container: the version annotation, through the downward API. */
const RELEASE_VERSION_ENV_VAR = {
  name: RELEASE_VERSION_ENV,
  // `apiVersion` as the API server defaults it, so the template read back compares equal.
  valueFrom: {
    fieldRef: { apiVersion: 'v1', fieldPath: `metadata.annotations['${K8S_ANNOTATIONS.version}']` },
  },
};

/**
 * The pod template a release runs, in the canary and (Clean Up) in the original Deployment: the
 * recorded `template` with the new images ({@link templateWithImages}), the version label
 * ({@link versionLabelValue}) and the exact version in an annotation, and in every release
 * container (those `images` names) {@link RELEASE_VERSION_ENV} read from that annotation: replaced
 * where it is (a template an earlier release wrote has it), else appended. Nothing else changes;
 * no selector is touched. The one function for what tps-deploy writes, so drift detection
 * compares with exactly that and never takes tps-deploy's own fields for a person's change.
 */
export function releaseTemplate(
  template: PlainObject,
  target: { readonly images: Readonly<Record<string, string>>; readonly version: string },
): PlainObject {
  const copy = templateWithImages(template, target.images);
  const meta = (copy.metadata ?? {}) as {
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  meta.labels = { ...meta.labels, [K8S_LABELS.version]: versionLabelValue(target.version) };
  meta.annotations = { ...meta.annotations, [K8S_ANNOTATIONS.version]: target.version };
  copy.metadata = meta;
  for (const c of containersOf(copy) as (ContainerLike & { env?: { name: string }[] })[]) {
    if (c.name === undefined || target.images[c.name] === undefined) continue;
    const env = c.env ?? [];
    const at = env.findIndex((e) => e.name === RELEASE_VERSION_ENV);
    const entry = structuredClone(RELEASE_VERSION_ENV_VAR);
    if (at >= 0) env[at] = entry;
    else env.push(entry);
    c.env = env;
  }
  return copy;
}

/** Replicas the Deployment asks for (`spec.replicas`, default 1). */
export function specReplicas(dep: V1Deployment): number {
  return dep.spec?.replicas ?? 1;
}

/** Replicas a Deployment asks for, 0 when it does not exist (for status reports). */
export function replicasOf(dep: V1Deployment | null): number {
  return dep ? specReplicas(dep) : 0;
}

export interface SetStateOptions {
  /**
   * The templates this write may replace (the recorded one, for Clean Up). A live template that
   * is neither one of them nor the target was written by someone else: DriftDetectedError,
   * nothing written. @default any
   */
  readonly replaces?: readonly PlainObject[];
  /**
   * The count recorded when the release began (Clean Up): a count set since by someone other
   * than tps-deploy or an autoscaler (a person's `kubectl scale`, also one made between this
   * step's read and its write, seen when the generation test sends it back to the read) is
   * theirs: DriftDetectedError, nothing written. @default not checked
   */
  readonly recordedReplicas?: number;
}

/**
 * Makes the Deployment run exactly `template` at `wanted` replicas (a count, or a function of the
 * live count read in the same step, so an autoscaler's latest count is what it is computed from)
 * and drops tps-deploy's replica marker. Writes only when something differs (so repeating it, or
 * two callers at once, changes nothing further); returns what it did, or null.
 */
export async function setDeploymentState(
  clients: KubeClients,
  namespace: string,
  name: string,
  template: PlainObject,
  wanted: number | ((liveReplicas: number) => number),
  opts: SetStateOptions = {},
): Promise<string | null> {
  return clients.call.run(`restore deployment ${namespace}/${name}`, async () => {
    const dep = await readDeployment(clients, namespace, name);
    const replicas = typeof wanted === 'function' ? wanted(specReplicas(dep)) : wanted;
    const liveTemplate = toPlain(dep.spec?.template);
    const templateSame = deepEqual(liveTemplate, template);
    if (!templateSame && opts.replaces && !opts.replaces.some((t) => deepEqual(liveTemplate, t))) {
      const why = `deployment ${namespace}/${name}: its template is not the one tps-deploy would replace (someone changed it); not overwriting it`;
      throw new DriftDetectedError(why, [why]);
    }
    if (opts.recordedReplicas !== undefined) {
      const owner = replicasOwner(dep.metadata?.managedFields);
      const count = replicasDrift({
        expected: 'recorded',
        recorded: opts.recordedReplicas,
        marker: dep.metadata?.annotations?.[MANAGED_REPLICAS_ANNOTATION],
        live: specReplicas(dep),
        owner,
      });
      if (count.byOthers && owner) {
        const why = `deployment ${namespace}/${name}: replicas: expected ${count.want}, live ${specReplicas(dep)} (set by ${describeWriter(owner)}); not overwriting them`;
        throw new DriftDetectedError(why, [why]);
      }
    }
    const replicasSame = specReplicas(dep) === replicas;
    const marked = dep.metadata?.annotations?.[MANAGED_REPLICAS_ANNOTATION] !== undefined;
    if (templateSame && replicasSame && !marked) return null;
    // One JSON patch: template, replicas and the removal of our replicas mark together, after a
    // `test` of the generation it read: a spec change by anyone since (a person's edit, an
    // autoscaler's scale) fails the patch, and the step runs again from the read, which sees it.
    // The generation, not the resourceVersion: the controller's status updates bump that all the
    // time, the generation only moves with the spec. The `remove` also fails when another caller
    // (a concurrent rollback) removed the mark first: a conflict too.
    const generation = dep.metadata?.generation;
    const ops: unknown[] =
      generation === undefined ? [] : [{ op: 'test', path: '/metadata/generation', value: generation }];
    if (!templateSame) ops.push({ op: 'replace', path: '/spec/template', value: template });
    if (!replicasSame) ops.push({ op: 'replace', path: '/spec/replicas', value: replicas });
    if (marked)
      ops.push({
        op: 'remove',
        path: `/metadata/annotations/${jsonPointerToken(MANAGED_REPLICAS_ANNOTATION)}`,
      });
    try {
      await clients.apps.patchNamespacedDeployment({ name, namespace, body: ops }, JSON_PATCH);
    } catch (err) {
      if (err instanceof ApiException && err.code === 422) {
        const now = await readDeployment(clients, namespace, name);
        if (now.metadata?.generation !== generation) {
          throw new ApiException(
            409,
            'deployment spec changed between read and patch',
            err.body,
            err.headers,
          );
        }
        if (marked && now.metadata?.annotations?.[MANAGED_REPLICAS_ANNOTATION] === undefined) {
          throw new ApiException(409, 'replicas mark removed between read and patch', err.body, err.headers);
        }
      }
      throw err;
    }
    const what = [
      templateSame ? null : `template (${Object.values(imagesOf(template)).join(', ')})`,
      replicasSame ? null : `replicas ${specReplicas(dep)} -> ${replicas}`,
    ].filter(Boolean);
    return what.length > 0 ? `set deployment ${namespace}/${name} ${what.join(', ')}` : null;
  });
}

/**
 * Scales the original Deployment and records the count in {@link MANAGED_REPLICAS_ANNOTATION},
 * so drift detection knows the change was ours. Returns what it did, or null.
 */
export async function scaleOriginal(
  clients: KubeClients,
  namespace: string,
  name: string,
  replicas: number,
): Promise<string | null> {
  return clients.call.run(`scale deployment ${namespace}/${name}`, async () => {
    const dep = await readDeployment(clients, namespace, name);
    const current = specReplicas(dep);
    const mark = dep.metadata?.annotations?.[MANAGED_REPLICAS_ANNOTATION];
    if (current === replicas && mark === String(replicas)) return null;
    await clients.apps.patchNamespacedDeployment(
      {
        name,
        namespace,
        body: {
          metadata: { annotations: { [MANAGED_REPLICAS_ANNOTATION]: String(replicas) } },
          spec: { replicas },
        },
      },
      MERGE_PATCH,
    );
    return current === replicas ? null : `scaled deployment ${namespace}/${name} ${current} -> ${replicas}`;
  });
}

/**
 * Whether a Deployment has finished rolling out at `replicas` with every pod Ready. `'spec'`: at
 * whatever `spec.replicas` says now (an autoscaler may change it while the rollout runs).
 */
export function rolloutProgress(
  dep: V1Deployment | null,
  wanted: number | 'spec',
): { done: boolean; summary: string } {
  if (!dep) return { done: false, summary: 'deployment not found' };
  const replicas = wanted === 'spec' ? specReplicas(dep) : wanted;
  const st = dep.status ?? {};
  const observed = (st.observedGeneration ?? 0) >= (dep.metadata?.generation ?? 0);
  const updated = st.updatedReplicas ?? 0;
  const ready = st.readyReplicas ?? 0;
  const available = st.availableReplicas ?? 0;
  const total = st.replicas ?? 0;
  const done =
    observed &&
    specReplicas(dep) === replicas &&
    updated === replicas &&
    ready === replicas &&
    available === replicas &&
    total === replicas;
  return {
    done,
    summary: `${dep.metadata?.name}: updated ${updated}/${replicas}, ready ${ready}/${replicas}, available ${available}/${replicas}, pods ${total}${observed ? '' : ', spec change not yet observed'}`,
  };
}

/**
 * Waits until the Deployment is rolled out at `replicas` and Ready. On timeout throws
 * {@link KubernetesTransientError}: the state machine retries the task, which resumes the wait.
 */
export async function waitRolledOut(
  clients: KubeClients,
  namespace: string,
  name: string,
  replicas: number | 'spec',
  waits: Waits,
): Promise<string> {
  const r = await pollUntil(waits.rolloutMs, waits.pollMs, async () => {
    const dep = await readDeploymentOrNull(clients, namespace, name);
    const p = rolloutProgress(dep, replicas);
    return { done: p.done, value: p.summary };
  });
  if (!r.done) {
    throw new KubernetesTransientError(
      `deployment ${namespace}/${name} not rolled out after ${Math.round(waits.rolloutMs / 1000)} s (${r.value}); calling again resumes`,
    );
  }
  return r.value;
}

/**
 * One DELETE of a Deployment, without retries of its own (callers run it inside a step); false
 * when it was already gone. With `uid`, only that object is deleted: one put in its place since it
 * was read answers 409, and the caller's step reads again.
 */
export async function deleteDeploymentRequest(
  clients: KubeClients,
  namespace: string,
  name: string,
  propagationPolicy: 'Foreground' | 'Background',
  uid?: string,
): Promise<boolean> {
  const deleted = await nullIfNotFound(async () => {
    await clients.apps.deleteNamespacedDeployment({
      name,
      namespace,
      propagationPolicy,
      // With a body the API server reads the options from it alone, so the policy goes in it too.
      ...(uid ? { body: { propagationPolicy, preconditions: { uid } } } : {}),
    });
    return true;
  });
  return deleted ?? false;
}

/** Waits (bounded by `waits.deleteMs`) until the Deployment is gone; whether it is. */
export async function waitDeploymentGone(
  clients: KubeClients,
  namespace: string,
  name: string,
  waits: Waits,
): Promise<boolean> {
  const r = await pollUntil(waits.deleteMs, waits.pollMs, async () => {
    const dep = await readDeploymentOrNull(clients, namespace, name);
    return { done: dep === null, value: dep };
  });
  return r.done;
}

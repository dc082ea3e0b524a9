/**
 * Deployment and pod operations shared by the cluster client and both routers: reading the
 * target, restoring a template, the canary Deployment, rollout waits and pod health. Every write
 * goes through {@link KubeCall.run} as one read-modify-write step, so it is safe to repeat.
 */
import {
  ApiException,
  PatchStrategy,
  setHeaderOptions,
  type V1Deployment,
  type V1Pod,
  type V1ReplicaSet,
} from '@kubernetes/client-node';
import { ConfigError, KubernetesTransientError, TargetNotFoundError } from '../../domain/errors.js';
import type { ReleaseTarget, RollbackPlan, WorkloadHealth } from '../../ports/cluster.js';
import { isNotFound, type KubeClients } from './client.js';
import {
  CANARY_TRACK,
  canaryName,
  K8S_ANNOTATIONS,
  K8S_LABELS,
  labelValue,
  MANAGED_REPLICAS_ANNOTATION,
  releaseLabels,
  selectorString,
  TARGET_WEIGHT_ANNOTATION,
} from './labels.js';

/** Plain JSON object (what a template looks like on the wire). */
export type PlainObject = Record<string, unknown>;

/** How long the adapters wait for the cluster, and how often they look. */
export interface Waits {
  /** setWeight: how long to wait for new canary pods before shifting traffic to them. @default 30000 */
  readonly canaryReadyMs: number;
  /** finalize/rollback: how long to wait for the original Deployment to be rolled out. @default 200000 */
  readonly rolloutMs: number;
  /** How long to wait for a deleted canary Deployment (and its pods) to disappear. @default 45000 */
  readonly deleteMs: number;
  /** Poll interval. @default 500 */
  readonly pollMs: number;
}

/**
 * Sized to the Lambda timeouts of statemachine/tasks.ts: shiftTraffic 60 s (canary wait 30 s +
 * endpoint settle 8 s + API calls), finalize and rollBack 300 s (rollout 200 s + delete 45 s). A
 * rollout wait that runs out throws KubernetesTransientError; the state machine retries the
 * task, which resumes where the last attempt stopped.
 */
export const DEFAULT_WAITS: Waits = {
  canaryReadyMs: 30_000,
  rolloutMs: 200_000,
  deleteMs: 45_000,
  pollMs: 500,
};

/** Options shared by both routers. */
export interface RouterOptions {
  /** Bounded waits; see {@link DEFAULT_WAITS}. */
  readonly waits?: Partial<Waits>;
  /**
   * After a change, how long setWeight waits for the EndpointSlices to show the new split before
   * it reports what they show. @default 8000
   */
  readonly endpointsSettleMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The wire form of a typed client object: dates as strings, no undefined fields. */
export function toPlain(value: unknown): PlainObject {
  return JSON.parse(JSON.stringify(value ?? {})) as PlainObject;
}

/** Structural equality of JSON values (key order ignored). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((v, i) => deepEqual(v, b[i]));
  }
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  const ka = Object.keys(a as object).filter((k) => (a as PlainObject)[k] !== undefined);
  const kb = Object.keys(b as object).filter((k) => (b as PlainObject)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as PlainObject)[k], (b as PlainObject)[k]));
}

/** Paths where two JSON values differ, e.g. `spec.containers[0].image`; at most `limit`. */
export function diffPaths(
  expected: unknown,
  actual: unknown,
  path = '',
  limit = 20,
  out: string[] = [],
): string[] {
  if (out.length >= limit || deepEqual(expected, actual)) return out;
  const bothObjects =
    expected !== null &&
    actual !== null &&
    typeof expected === 'object' &&
    typeof actual === 'object' &&
    Array.isArray(expected) === Array.isArray(actual);
  if (!bothObjects) {
    out.push(path || '(root)');
    return out;
  }
  if (Array.isArray(expected) && Array.isArray(actual)) {
    if (expected.length !== actual.length) {
      out.push(`${path} (length ${expected.length} -> ${actual.length})`);
      return out;
    }
    expected.forEach((v, i) => {
      diffPaths(v, actual[i], `${path}[${i}]`, limit, out);
    });
    return out;
  }
  const keys = new Set([...Object.keys(expected as object), ...Object.keys(actual as object)]);
  for (const k of [...keys].sort()) {
    diffPaths(
      (expected as PlainObject)[k],
      (actual as PlainObject)[k],
      path ? `${path}.${k}` : k,
      limit,
      out,
    );
  }
  return out;
}

/** Polls `probe` until it reports done or `timeoutMs` passes; returns the last value either way. */
export async function pollUntil<T>(
  timeoutMs: number,
  pollMs: number,
  probe: () => Promise<{ done: boolean; value: T }>,
): Promise<{ done: boolean; value: T }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await probe();
    if (r.done || Date.now() >= deadline) return r;
    await sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())));
  }
}

/** Reads a Deployment, or null if it does not exist. */
export async function readDeploymentOrNull(
  clients: KubeClients,
  namespace: string,
  name: string,
): Promise<V1Deployment | null> {
  return clients.call.run(`read deployment ${namespace}/${name}`, async () => {
    try {
      return await clients.apps.readNamespacedDeployment({ name, namespace });
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  });
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

/** Replicas the Deployment asks for (`spec.replicas`, default 1). */
export function specReplicas(dep: V1Deployment): number {
  return dep.spec?.replicas ?? 1;
}

const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/**
 * Makes the Deployment run exactly `template` at `replicas` and drops tps-deploy's replica
 * marker. Writes only when something differs (so repeating it, or two callers at once, changes
 * nothing further); returns what it did, or null.
 */
/** RFC 6901: `~` -> `~0`, `/` -> `~1`, for a map key in a JSON patch path. */
export function jsonPointerToken(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

export async function setDeploymentState(
  clients: KubeClients,
  namespace: string,
  name: string,
  template: PlainObject,
  replicas: number,
): Promise<string | null> {
  return clients.call.run(`restore deployment ${namespace}/${name}`, async () => {
    const dep = await readDeployment(clients, namespace, name);
    const templateSame = deepEqual(toPlain(dep.spec?.template), template);
    const replicasSame = specReplicas(dep) === replicas;
    const marked = dep.metadata?.annotations?.[MANAGED_REPLICAS_ANNOTATION] !== undefined;
    if (templateSame && replicasSame && !marked) return null;
    // One JSON patch: template, replicas and the removal of our replicas mark together. No
    // resourceVersion guard: the controller's status updates bump it all the time, and the
    // replace ops are idempotent. Only the `remove` can fail, when another caller (a concurrent
    // rollback) removed the mark first: that is a conflict, and the step runs again from the read.
    const ops: unknown[] = [];
    if (!templateSame) ops.push({ op: 'replace', path: '/spec/template', value: template });
    if (!replicasSame) ops.push({ op: 'replace', path: '/spec/replicas', value: replicas });
    if (marked)
      ops.push({
        op: 'remove',
        path: `/metadata/annotations/${jsonPointerToken(MANAGED_REPLICAS_ANNOTATION)}`,
      });
    try {
      await clients.apps.patchNamespacedDeployment({ name, namespace, body: ops }, jsonPatch);
    } catch (err) {
      if (err instanceof ApiException && err.code === 422 && marked) {
        const now = await readDeployment(clients, namespace, name);
        if (now.metadata?.annotations?.[MANAGED_REPLICAS_ANNOTATION] === undefined) {
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
      mergePatch,
    );
    return current === replicas ? null : `scaled deployment ${namespace}/${name} ${current} -> ${replicas}`;
  });
}

/** Whether a Deployment has finished rolling out at `replicas` with every pod Ready. */
export function rolloutProgress(
  dep: V1Deployment | null,
  replicas: number,
): { done: boolean; summary: string } {
  if (!dep) return { done: false, summary: 'deployment not found' };
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
  replicas: number,
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
    desired: dep ? specReplicas(dep) : 0,
    ready: dep?.status?.readyReplicas ?? 0,
    updated: dep?.status?.updatedReplicas ?? 0,
    restarts,
    crashLooping,
    oomKilled,
    notReady,
    pods: lines,
  };
}

/**
 * The canary Deployment: the recorded template with the new images, labels that keep the
 * Service's selector and add the canary track and release labels, owner-less (so deleting the
 * original never takes it along, and cleanup finds it by name and labels).
 */
export function buildCanaryDeployment(
  target: ReleaseTarget,
  plan: RollbackPlan,
  original: V1Deployment,
  serviceSelector: Readonly<Record<string, string>>,
  replicas: number,
  weight: number,
): PlainObject {
  const template = templateWithImages(plan.template as PlainObject, target.images);
  const meta = (template.metadata ?? {}) as { labels?: Record<string, string>; creationTimestamp?: unknown };
  delete meta.creationTimestamp;
  const release = releaseLabels(target.deploymentId, target.service);
  meta.labels = { ...(meta.labels ?? {}), ...serviceSelector, ...CANARY_TRACK, ...release };
  template.metadata = meta;
  const spec = original.spec;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: canaryName(target.deployment),
      namespace: target.namespace,
      labels: release,
      annotations: {
        [K8S_ANNOTATIONS.deploymentId]: target.deploymentId,
        [TARGET_WEIGHT_ANNOTATION]: String(weight),
      },
    },
    spec: {
      replicas,
      selector: {
        matchLabels: {
          ...serviceSelector,
          ...CANARY_TRACK,
          [K8S_LABELS.deploymentId]: labelValue(target.deploymentId),
        },
      },
      template,
      ...(spec?.strategy ? { strategy: toPlain(spec.strategy) } : {}),
      ...(spec?.minReadySeconds !== undefined ? { minReadySeconds: spec.minReadySeconds } : {}),
      ...(spec?.progressDeadlineSeconds !== undefined
        ? { progressDeadlineSeconds: spec.progressDeadlineSeconds }
        : {}),
      revisionHistoryLimit: 1,
    },
  };
}

/**
 * Creates the canary Deployment or brings it to `replicas` (and the desired template). A canary
 * left by an earlier release (another deployment id) is deleted first: the service lock
 * guarantees only one release runs, so it is stale. Returns the live object and what was done.
 */
export async function ensureCanaryDeployment(
  clients: KubeClients,
  desired: PlainObject,
  deploymentId: string,
): Promise<{ deployment: V1Deployment; action: string | null }> {
  const meta = desired.metadata as { name: string; namespace: string; annotations: Record<string, string> };
  const spec = desired.spec as { replicas: number; template: PlainObject };
  const weight = meta.annotations[TARGET_WEIGHT_ANNOTATION];
  return clients.call.run(`ensure canary deployment ${meta.namespace}/${meta.name}`, async () => {
    let existing = await readDeploymentOrNull(clients, meta.namespace, meta.name);
    let action: string | null = null;
    if (existing && existing.metadata?.annotations?.[K8S_ANNOTATIONS.deploymentId] !== deploymentId) {
      await deleteIgnoringMissing(clients, meta.namespace, meta.name, 'Background');
      existing = null;
      action = `deleted stale canary deployment ${meta.namespace}/${meta.name} of an earlier release; `;
    }
    if (!existing) {
      const created = await clients.apps.createNamespacedDeployment({
        namespace: meta.namespace,
        body: desired as V1Deployment,
      });
      return {
        deployment: created,
        action: `${action ?? ''}created canary deployment ${meta.name} (${spec.replicas} replicas)`,
      };
    }
    const ops: unknown[] = [];
    if (!deepEqual(toPlain(existing.spec?.template), spec.template)) {
      ops.push({ op: 'replace', path: '/spec/template', value: spec.template });
    }
    if (specReplicas(existing) !== spec.replicas)
      ops.push({ op: 'replace', path: '/spec/replicas', value: spec.replicas });
    if (existing.metadata?.annotations?.[TARGET_WEIGHT_ANNOTATION] !== weight) {
      ops.push({
        op: 'add',
        path: `/metadata/annotations/${TARGET_WEIGHT_ANNOTATION.replace('/', '~1')}`,
        value: weight,
      });
    }
    if (ops.length === 0) return { deployment: existing, action };
    const patched = await clients.apps.patchNamespacedDeployment(
      { name: meta.name, namespace: meta.namespace, body: ops },
      jsonPatch,
    );
    return {
      deployment: patched,
      action: `${action ?? ''}set canary deployment ${meta.name} to ${spec.replicas} replicas (was ${specReplicas(existing)})`,
    };
  });
}

async function deleteIgnoringMissing(
  clients: KubeClients,
  namespace: string,
  name: string,
  propagationPolicy: 'Foreground' | 'Background',
): Promise<boolean> {
  try {
    await clients.apps.deleteNamespacedDeployment({ name, namespace, propagationPolicy });
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/**
 * Deletes a Deployment with foreground propagation (its ReplicaSets and pods go first) and waits
 * until it is gone. Returns what it did (null if it was already absent) and whether it is gone.
 */
export async function deleteDeployment(
  clients: KubeClients,
  namespace: string,
  name: string,
  waits: Waits,
): Promise<{ action: string | null; gone: boolean }> {
  const deleted = await clients.call.run(`delete deployment ${namespace}/${name}`, () =>
    deleteIgnoringMissing(clients, namespace, name, 'Foreground'),
  );
  const r = await pollUntil(waits.deleteMs, waits.pollMs, async () => {
    const dep = await readDeploymentOrNull(clients, namespace, name);
    return { done: dep === null, value: dep };
  });
  return { action: deleted ? `deleted deployment ${namespace}/${name}` : null, gone: r.done };
}

/** Names of objects of this release that still exist (canary Deployment, its pods). */
export async function releaseLeftovers(clients: KubeClients, target: ReleaseTarget): Promise<string[]> {
  const namespace = target.namespace;
  const labelSelector = selectorString(releaseLabels(target.deploymentId, target.service));
  const [deps, pods] = await Promise.all([
    clients.call.run(`list release deployments in ${namespace}`, () =>
      clients.apps.listNamespacedDeployment({ namespace, labelSelector }),
    ),
    clients.call.run(`list release pods in ${namespace}`, () =>
      clients.core.listNamespacedPod({ namespace, labelSelector }),
    ),
  ]);
  const out = deps.items.map((d) => `deployment/${d.metadata?.name}`);
  for (const p of pods.items) out.push(`pod/${p.metadata?.name}`);
  const canary = await readDeploymentOrNull(clients, namespace, canaryName(target.deployment));
  if (canary && !out.includes(`deployment/${canary.metadata?.name}`))
    out.push(`deployment/${canary.metadata?.name}`);
  return out;
}

/**
 * Waits (bounded by `waits.canaryReadyMs`) until the canary Deployment has `replicas` Ready pods
 * of its current template. Never throws on timeout: the caller keeps traffic where it is.
 */
export async function waitCanaryReady(
  clients: KubeClients,
  namespace: string,
  name: string,
  replicas: number,
  waits: Waits,
): Promise<{ done: boolean; ready: number }> {
  let failing = false;
  const r = await pollUntil(waits.canaryReadyMs, waits.pollMs, async () => {
    const dep = await readDeploymentOrNull(clients, namespace, name);
    const st = dep?.status ?? {};
    const observed = (st.observedGeneration ?? 0) >= (dep?.metadata?.generation ?? 1);
    const ready = observed ? Math.min(st.readyReplicas ?? 0, st.updatedReplicas ?? 0) : 0;
    const done = dep !== null && observed && ready >= replicas;
    if (!done && dep?.spec?.selector?.matchLabels) {
      // A crashing canary will not become Ready: stop waiting, the readiness check reports it.
      const pods = await clients.call.run(`list pods of ${namespace}/${name}`, () =>
        clients.core.listNamespacedPod({ namespace, labelSelector: selectorString(dep.spec!.selector) }),
      );
      failing = pods.items.some((p) =>
        (p.status?.containerStatuses ?? []).some(
          (c) =>
            c.state?.waiting?.reason === 'CrashLoopBackOff' ||
            c.lastState?.terminated?.reason === 'OOMKilled' ||
            (c.restartCount ?? 0) > 0,
        ),
      );
    }
    return { done: done || failing, value: ready };
  });
  return { done: r.done && !failing, ready: r.value };
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
  const hash = current?.metadata?.labels?.['pod-template-hash'];
  if (!hash) {
    throw new KubernetesTransientError(
      `deployment ${dep.metadata?.namespace}/${dep.metadata?.name} has no current ReplicaSet yet (revision ${revision ?? 'unknown'})`,
    );
  }
  return hash;
}

/** The weight last asked for, from the canary Deployment's annotation (0 without a canary). */
export function targetWeightOf(canary: V1Deployment | null): number {
  const raw = canary?.metadata?.annotations?.[TARGET_WEIGHT_ANNOTATION];
  const n = raw === undefined ? Number.NaN : Number(raw);
  return Number.isFinite(n) ? n : 0;
}

/** What a clean up or rollback did, for the record; `null` (nothing to do) is left out. */
export class ActionLog {
  readonly actions: string[] = [];

  note(...done: (string | null)[]): void {
    for (const d of done) if (d) this.actions.push(d);
  }
}

/** The last step of every router's rollback: the recorded version all Ready again. */
export async function waitStableReady(
  clients: KubeClients,
  target: ReleaseTarget,
  plan: RollbackPlan,
  waits: Waits,
  log: ActionLog,
): Promise<void> {
  log.note(
    `stable ready: ${await waitRolledOut(clients, target.namespace, target.deployment, plan.replicas, waits)}`,
  );
}

/**
 * The first half of every router's clean up: the original Deployment runs the release's images at
 * the recorded replicas, and is rolled out, before traffic moves back to it.
 */
export async function promoteOriginal(
  clients: KubeClients,
  target: ReleaseTarget,
  plan: RollbackPlan,
  waits: Waits,
  log: ActionLog,
): Promise<void> {
  const { namespace, deployment } = target;
  const template = templateWithImages(plan.template as PlainObject, target.images);
  log.note(await setDeploymentState(clients, namespace, deployment, template, plan.replicas));
  log.note(`rolled out: ${await waitRolledOut(clients, namespace, deployment, plan.replicas, waits)}`);
}

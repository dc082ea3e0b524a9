/**
 * The canary Deployment both routers run the new version in: built from the recorded template
 * with the new images, created or brought to the wanted replicas, waited for, deleted, and the
 * objects of a release that are still there. It is named after the original
 * (`<deployment>-tps-canary`) and owner-less, so cleanup finds it by name and labels and deleting
 * the original never takes it along.
 *
 * A Deployment of that name without the managed-by label is not ours: it is never patched or
 * deleted. Creating the canary over it fails with UnmanagedObjectError (before any traffic moves);
 * clean up and roll back leave it alone and say so, and do not count it as a leftover.
 */
import type { V1Deployment } from '@kubernetes/client-node';
import type { ReleaseTarget, RollbackPlan } from '../../ports/cluster.js';
import { JSON_PATCH, type KubeClients } from './client.js';
import {
  deleteDeploymentRequest,
  readDeploymentOrNull,
  releaseTemplate,
  specReplicas,
  waitDeploymentGone,
} from './deployment.js';
import { deepEqual, jsonPointerToken, type PlainObject, pollUntil, toPlain } from './generic.js';
import {
  CANARY_SUFFIX,
  CANARY_TRACK,
  canaryName,
  K8S_ANNOTATIONS,
  K8S_LABELS,
  labelValue,
  managedByTpsDeploy,
  releaseLabels,
  selectorString,
  TARGET_WEIGHT_ANNOTATION,
  unmanagedObjectError,
  unmanagedObjectLeft,
} from './labels.js';
import type { Waits } from './waits.js';

/**
 * The canary Deployment: the recorded template with the new images and the version
 * ({@link releaseTemplate}), labels that keep the Service's selector and add the canary track and
 * release labels (the version label is in no selector), owner-less (so deleting the
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
  const template = releaseTemplate(plan.template as PlainObject, target);
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

/** The conflict of a Deployment of the canary's name that tps-deploy did not create. */
export function unmanagedCanaryDeployment(namespace: string, name: string) {
  return unmanagedObjectError(
    'deployment',
    namespace,
    name,
    `A release's canary Deployment is always named <deployment>${CANARY_SUFFIX}: rename or remove this one, then release again.`,
  );
}

/**
 * Creates the canary Deployment or brings it to `replicas` (and the desired template). A canary
 * left by an earlier release (another deployment id) is deleted first: the service lock
 * guarantees only one release runs, so it is stale. A Deployment of that name tps-deploy did not
 * create is a conflict ({@link unmanagedCanaryDeployment}), never overwritten. Returns the live
 * object and what was done.
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
    if (existing && !managedByTpsDeploy(existing.metadata)) {
      throw unmanagedCanaryDeployment(meta.namespace, meta.name);
    }
    let action: string | null = null;
    if (existing && existing.metadata?.annotations?.[K8S_ANNOTATIONS.deploymentId] !== deploymentId) {
      await deleteDeploymentRequest(clients, meta.namespace, meta.name, 'Background', existing.metadata?.uid);
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
        path: `/metadata/annotations/${jsonPointerToken(TARGET_WEIGHT_ANNOTATION)}`,
        value: weight,
      });
    }
    if (ops.length === 0) return { deployment: existing, action };
    const patched = await clients.apps.patchNamespacedDeployment(
      { name: meta.name, namespace: meta.namespace, body: ops },
      JSON_PATCH,
    );
    return {
      deployment: patched,
      action: `${action ?? ''}set canary deployment ${meta.name} to ${spec.replicas} replicas (was ${specReplicas(existing)})`,
    };
  });
}

/**
 * Deletes the canary Deployment (and waits until it is gone) unless there is none; what it did,
 * or null. It reads first, so a release at 0 % never sends a DELETE for nothing, and a Deployment
 * of that name tps-deploy did not create is left alone (and said so). The DELETE names the uid it
 * checked, so an object put in its place meanwhile is never deleted: the step reads again.
 */
export async function deleteCanaryIfPresent(
  clients: KubeClients,
  target: ReleaseTarget,
  waits: Waits,
): Promise<string | null> {
  const { namespace } = target;
  const name = canaryName(target.deployment);
  const step = await clients.call.run(`delete canary deployment ${namespace}/${name}`, async () => {
    const canary = await readDeploymentOrNull(clients, namespace, name);
    if (!canary) return { action: null, wait: false };
    if (!managedByTpsDeploy(canary.metadata)) {
      return { action: unmanagedObjectLeft('deployment', namespace, name), wait: false };
    }
    const deleted = await deleteDeploymentRequest(
      clients,
      namespace,
      name,
      'Foreground',
      canary.metadata?.uid,
    );
    return { action: deleted ? `deleted deployment ${namespace}/${name}` : null, wait: true };
  });
  if (step.wait) await waitDeploymentGone(clients, namespace, name, waits);
  return step.action;
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
  // By name too: a canary an earlier release left (another deployment-id label) is in the way;
  // one without the managed-by label is a person's, not a leftover.
  const canary = await readDeploymentOrNull(clients, namespace, canaryName(target.deployment));
  if (canary && managedByTpsDeploy(canary.metadata) && !out.includes(`deployment/${canary.metadata?.name}`))
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

/** The weight last asked for, from the canary Deployment's annotation (0 without a canary). */
export function targetWeightOf(canary: V1Deployment | null): number {
  const raw = canary?.metadata?.annotations?.[TARGET_WEIGHT_ANNOTATION];
  const n = raw === undefined ? Number.NaN : Number(raw);
  return Number.isFinite(n) ? n : 0;
}

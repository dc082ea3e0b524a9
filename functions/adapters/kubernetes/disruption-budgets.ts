/**
 * The PodDisruptionBudgets over a Deployment's pods (policy/v1), and whether a step that removes
 * pods keeps each of them. Scaling a Deployment down goes around the eviction API, so tps-deploy
 * checks the budgets itself (functions/domain/disruption.ts) before it takes pods away.
 */
import type { V1Deployment, V1LabelSelector, V1PodDisruptionBudget } from '@kubernetes/client-node';
import { type BudgetCheck, checkRemoval } from '../../domain/disruption.js';
import type { KubeClients } from './client.js';
import { selectorString } from './labels.js';
import { podReady } from './pods.js';

/** Whether `labels` satisfy a LabelSelector (matchLabels and matchExpressions; empty selects all). */
export function selectorMatches(sel: V1LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!sel) return false;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key];
    const values = e.values ?? [];
    const ok =
      e.operator === 'In'
        ? has && values.includes(value as string)
        : e.operator === 'NotIn'
          ? !has || !values.includes(value as string)
          : e.operator === 'Exists'
            ? has
            : e.operator === 'DoesNotExist'
              ? !has
              : false;
    if (!ok) return false;
  }
  return true;
}

/** The budgets in `namespace` whose selector selects pods labelled `podLabels`. */
export async function budgetsSelecting(
  clients: KubeClients,
  namespace: string,
  podLabels: Record<string, string>,
): Promise<V1PodDisruptionBudget[]> {
  const list = await clients.call.run(`list poddisruptionbudgets in ${namespace}`, () =>
    clients.policy.listNamespacedPodDisruptionBudget({ namespace }),
  );
  return list.items.filter((b) => selectorMatches(b.spec?.selector, podLabels));
}

/**
 * For each budget over the pods of `deployment`'s template: would removing `removing` healthy pods keep it,
 * with `expectedAfter` pods expected once the step is done? Healthy = Ready and not terminating,
 * counted now from the pods the budget selects (not from its status, which the disruption
 * controller updates later).
 */
export async function checkPodRemoval(
  clients: KubeClients,
  deployment: V1Deployment,
  removing: number,
  expectedAfter: number,
): Promise<BudgetCheck[]> {
  const namespace = deployment.metadata?.namespace ?? '';
  const podLabels = (deployment.spec?.template?.metadata?.labels ?? {}) as Record<string, string>;
  const budgets = await budgetsSelecting(clients, namespace, podLabels);
  return Promise.all(
    budgets.map(async (b) => {
      const pods = await clients.call.run(
        `list pods of poddisruptionbudget ${namespace}/${b.metadata?.name}`,
        () => clients.core.listNamespacedPod({ namespace, labelSelector: selectorString(b.spec?.selector) }),
      );
      const healthy = pods.items.filter((p) => podReady(p) && !p.metadata?.deletionTimestamp).length;
      return checkRemoval(
        {
          name: b.metadata?.name ?? '?',
          minAvailable: b.spec?.minAvailable,
          maxUnavailable: b.spec?.maxUnavailable,
        },
        healthy,
        removing,
        expectedAfter,
      );
    }),
  );
}

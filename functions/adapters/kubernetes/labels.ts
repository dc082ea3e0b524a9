/**
 * Names, labels and annotations of the objects tps-deploy creates or changes, and the selectors
 * built from them: facts of the Kubernetes adapter, so cleanup (and the tests) can find every
 * object a release made. The runbook's numbers live apart, in functions/domain/defaults.ts.
 */
import type { V1LabelSelector, V1ObjectMeta } from '@kubernetes/client-node';
import { InvalidInputError, UnmanagedObjectError } from '../../domain/errors.js';
import { labelValue } from '../../domain/k8s-names.js';

/**
 * The canary names (`<name>-tps-canary`) live with the Kubernetes name limits in the domain, where
 * the catalog checks that they fit (functions/domain/k8s-names.ts).
 */
export { CANARY_SUFFIX, canaryName, labelValue, versionLabelValue } from '../../domain/k8s-names.js';

/** Labels tps-deploy puts on the objects it creates, so cleanup can find all of them. */
export const K8S_LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  managedByValue: 'tps-deploy',
  track: 'tps-deploy.io/track',
  deploymentId: 'tps-deploy.io/deployment-id',
  service: 'tps-deploy.io/service',
  /** The kind of a release Job (`test-canary`, `migrate`, ...), on the Job and its pod. */
  jobKind: 'tps-deploy.io/job',
  /**
   * The release version (the image tag, {@link versionLabelValue}) on the pod template of the canary
   * and of the original Deployment once Clean Up wrote it; never in a selector.
   */
  version: 'tps-deploy.io/version',
} as const;

/** Annotations tps-deploy writes to remember what it changed, so a restore works after any partial attempt. */
export const K8S_ANNOTATIONS = {
  /** The raw deployment id of the release that created a canary object (its label value may be folded). */
  deploymentId: 'tps-deploy.io/deployment-id',
  /** The original Service selector, saved before tps-deploy changes it. */
  originalSelector: 'tps-deploy.io/original-selector',
  /** The original Ingress action annotation, saved before weights change. */
  originalAction: 'tps-deploy.io/original-action',
  /**
   * The release version exactly (any image tag, also one that is no label value), on the same pod
   * templates as the version label: {@link RELEASE_VERSION_ENV} is read from it.
   */
  version: 'tps-deploy.io/version',
} as const;

/**
 * The environment variable of every release container (those whose image the release sets) of the
 * canary and, after Clean Up, of the original Deployment: the version, read from the pod's
 * {@link K8S_ANNOTATIONS.version} annotation through the downward API.
 */
export const RELEASE_VERSION_ENV = 'TPS_RELEASE_VERSION';

/**
 * Annotation on the original Deployment holding the replica count tps-deploy last set on it
 * (the replica-ratio router scales the stable version down). Drift detection compares against it.
 */
export const MANAGED_REPLICAS_ANNOTATION = 'tps-deploy.io/managed-replicas';

/** Annotation on the canary Deployment holding the weight last asked for, so `status` can report it. */
export const TARGET_WEIGHT_ANNOTATION = 'tps-deploy.io/target-weight';

/** Label every pod of a ReplicaSet carries; the ALB router pins the stable Service with it. */
export const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';

/** Label the EndpointSlice controller puts on the slices of a Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/**
 * Whether tps-deploy created the object: it carries the managed-by label tps-deploy puts on
 * everything it creates. tps-deploy deletes or overwrites only such objects; one of its names
 * without the label belongs to a person or another tool.
 */
export function managedByTpsDeploy(meta: V1ObjectMeta | undefined): boolean {
  return meta?.labels?.[K8S_LABELS.managedBy] === K8S_LABELS.managedByValue;
}

/** `<kind> <namespace>/<name>`, as errors and notes name an object. */
function objectName(kind: string, namespace: string, name: string): string {
  return `${kind} ${namespace}/${name}`;
}

/**
 * The conflict of an object tps-deploy would create, of a name it uses, that it did not create.
 * `fix` says how to free the name.
 */
export function unmanagedObjectError(
  kind: string,
  namespace: string,
  name: string,
  fix: string,
): UnmanagedObjectError {
  const object = objectName(kind, namespace, name);
  return new UnmanagedObjectError(
    object,
    `${object} exists and tps-deploy did not create it (no label ${K8S_LABELS.managedBy}=${K8S_LABELS.managedByValue}); tps-deploy never deletes or overwrites it. ${fix}`,
  );
}

/** What clean up and roll back say when they leave such an object alone. */
export function unmanagedObjectLeft(kind: string, namespace: string, name: string): string {
  return `left ${objectName(kind, namespace, name)} alone: tps-deploy did not create it (no label ${K8S_LABELS.managedBy}=${K8S_LABELS.managedByValue})`;
}

/** Labels on everything tps-deploy creates for a release. */
export function releaseLabels(deploymentId: string, service: string): Record<string, string> {
  return {
    [K8S_LABELS.managedBy]: K8S_LABELS.managedByValue,
    [K8S_LABELS.deploymentId]: labelValue(deploymentId),
    [K8S_LABELS.service]: labelValue(service),
  };
}

/** The track label that marks canary pods. */
export const CANARY_TRACK: Readonly<Record<string, string>> = { [K8S_LABELS.track]: 'canary' };

/** A label selector as the `labelSelector` query parameter spells it. */
export function selectorString(sel: V1LabelSelector | Record<string, string> | undefined): string {
  if (!sel) return '';
  const isLabelSelector = 'matchLabels' in sel || 'matchExpressions' in sel;
  const matchLabels = (isLabelSelector ? (sel as V1LabelSelector).matchLabels : sel) as
    | Record<string, string>
    | undefined;
  const parts = Object.entries(matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  if (isLabelSelector) {
    for (const e of (sel as V1LabelSelector).matchExpressions ?? []) {
      const values = (e.values ?? []).join(',');
      switch (e.operator) {
        case 'In':
          parts.push(`${e.key} in (${values})`);
          break;
        case 'NotIn':
          parts.push(`${e.key} notin (${values})`);
          break;
        case 'Exists':
          parts.push(e.key);
          break;
        case 'DoesNotExist':
          parts.push(`!${e.key}`);
          break;
        default:
          throw new InvalidInputError(
            [{ path: 'matchExpressions', message: `unsupported operator ${e.operator}` }],
            'label selector',
          );
      }
    }
  }
  return parts.join(',');
}

/** Whether `labels` satisfy the map selector `selector` (every key equal). */
export function matchesLabels(
  selector: Record<string, string>,
  labels: Record<string, string> | undefined,
): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

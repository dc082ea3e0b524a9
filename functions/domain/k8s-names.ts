/**
 * The names tps-deploy derives from the catalog, and the Kubernetes limits they must fit. A
 * catalog whose names would derive an object Kubernetes refuses (or one whose controller then
 * cannot name its children) is refused at the catalog (functions/domain/config.ts), naming the
 * field, the value and the limit, instead of failing in the middle of a release. The Kubernetes
 * adapter re-exports the names (functions/adapters/kubernetes/labels.ts); they live here because
 * the catalog's check needs them and the domain imports no adapter.
 *
 * The limits (kubernetes.io "Object Names and IDs"): most names, Deployments and ReplicaSets among
 * them, are DNS-1123 subdomains of at most 253 characters; Service names are DNS-1035 labels of at
 * most 63 (lowercase letters, digits and '-', starting with a letter); the name part of an
 * annotation key is at most 63.
 */
import { digest } from './text.js';

/** Suffix of the canary Deployment and the default canary Service names (see {@link canaryName}). */
export const CANARY_SUFFIX = '-tps-canary';

/** Name of the canary Deployment of `deployment` (and the default canary Service of `service`). */
export function canaryName(name: string): string {
  return `${name}${CANARY_SUFFIX}`;
}

/** Annotation prefix of the AWS Load Balancer Controller's custom actions (`<prefix><actionName>`). */
export const ALB_ACTIONS_PREFIX = 'alb.ingress.kubernetes.io/actions.';

/** Kubernetes' length limits of the names above. */
export const K8S_NAME_LIMITS = {
  /** A DNS-1123 subdomain (Deployment, ReplicaSet, most object names). */
  subdomain: 253,
  /** A DNS-1035 label (Service names) and a DNS-1123 label (namespaces, containers). */
  label: 63,
  /** The name part of an annotation or label key (after the `prefix/`). */
  keyName: 63,
  /**
   * What the Deployment controller appends to a Deployment's name for its ReplicaSets:
   * `-<pod-template-hash>`, the hash a 32-bit number in decimal (at most 10 digits).
   */
  replicaSetSuffix: 11,
} as const;

/** The DNS-1035 label rule (Service names), without the length. */
export const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** The longest Deployment name whose canary Deployment's ReplicaSets are still legal names. */
export const MAX_DEPLOYMENT_NAME =
  K8S_NAME_LIMITS.subdomain - K8S_NAME_LIMITS.replicaSetSuffix - CANARY_SUFFIX.length;

/** The longest stable Service name whose default canary Service is still a legal name. */
export const MAX_STABLE_SERVICE_WITH_DEFAULT_CANARY = K8S_NAME_LIMITS.label - CANARY_SUFFIX.length;

/** The longest ALB action name whose annotation key is still legal. */
export const MAX_ALB_ACTION_NAME = K8S_NAME_LIMITS.keyName - ALB_ACTIONS_PREFIX.split('/')[1]!.length;

/**
 * Why the canary names of a Deployment would not fit, or null: the canary Deployment and its
 * ReplicaSets (`<canary>-<pod-template-hash>`) must be DNS-1123 subdomains of at most 253.
 */
export function deploymentNameProblem(deployment: string): string | null {
  if (deployment.length <= MAX_DEPLOYMENT_NAME) return null;
  return `"${deployment}" is ${deployment.length} characters: the canary Deployment "${canaryName(deployment)}" and its ReplicaSets ("<canary>-<pod-template-hash>", up to ${K8S_NAME_LIMITS.replicaSetSuffix} more) must be DNS-1123 subdomains of at most ${K8S_NAME_LIMITS.subdomain} characters, so at most ${MAX_DEPLOYMENT_NAME}`;
}

/** Why the default canary Service of `stableService` would not be a legal Service name, or null. */
export function defaultCanaryServiceProblem(stableService: string): string | null {
  if (stableService.length <= MAX_STABLE_SERVICE_WITH_DEFAULT_CANARY) return null;
  return `"${stableService}" is ${stableService.length} characters: the canary Service "${canaryName(stableService)}" must be a DNS-1035 label of at most ${K8S_NAME_LIMITS.label} characters, so at most ${MAX_STABLE_SERVICE_WITH_DEFAULT_CANARY} (or set router.canaryService)`;
}

/** Why the Ingress action annotation key of `actionName` would not be legal, or null. */
export function albActionNameProblem(actionName: string): string | null {
  if (actionName.length <= MAX_ALB_ACTION_NAME) return null;
  const key = `${ALB_ACTIONS_PREFIX}${actionName}`;
  const namePart = key.split('/')[1]!;
  return `"${actionName}" is ${actionName.length} characters: the annotation key ${key} has a name part of ${namePart.length} characters, at most ${K8S_NAME_LIMITS.keyName}, so at most ${MAX_ALB_ACTION_NAME}`;
}

/** A valid label value: at most 63 characters of `[A-Za-z0-9._-]`, alphanumeric at both ends. */
export const LABEL_VALUE = /^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$/;

/**
 * `raw` as a label value. A valid value is kept as it is; anything else is folded to the allowed
 * characters and length and gets a digest of `raw` appended, so two ids never share a label
 * value (`rel 1` and `rel-1` differ). The raw id is kept in an annotation too.
 */
export function labelValue(raw: string): string {
  if (raw.length > 0 && LABEL_VALUE.test(raw)) return raw;
  const suffix = `-${digest(raw)}`;
  const head = raw
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .slice(0, 63 - suffix.length)
    .replace(/^[^A-Za-z0-9]+/, '')
    .replace(/[^A-Za-z0-9]+$/, '');
  return head ? `${head}${suffix}` : suffix.slice(1);
}

/**
 * The value of the version label (`tps-deploy.io/version`) of a release's pods: the version (the
 * image tag, functions/domain/image.ts `imageVersion`) as it is when it is a label value, which
 * almost every tag is (a tag is `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`); a tag longer than 63
 * characters or ending in `.`, `-` or `_` (or beginning with `_`) is folded with a digest
 * ({@link labelValue}). The exact version is in the pods' annotation and environment variable.
 */
export function versionLabelValue(version: string): string {
  return labelValue(version);
}

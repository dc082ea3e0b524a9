/**
 * The AWS Load Balancer Controller's forward action, as the ALB router writes and reads it in the
 * Ingress annotation `alb.ingress.kubernetes.io/actions.<name>`.
 */
import { roundPercent } from '../../domain/replicas.js';

/** One weighted target group of a forward action. */
export interface AlbTargetGroup {
  readonly serviceName: string;
  readonly servicePort: number | string;
  readonly weight: number;
}

/** The forward action that sends `weight` percent to the canary Service. */
export function forwardAction(
  stable: string,
  canary: string,
  servicePort: number | string,
  weight: number,
): { type: 'forward'; forwardConfig: { targetGroups: AlbTargetGroup[] } } {
  return {
    type: 'forward',
    forwardConfig: {
      targetGroups: [
        { serviceName: stable, servicePort, weight: 100 - weight },
        { serviceName: canary, servicePort, weight },
      ],
    },
  };
}

/**
 * The share of an action annotation's traffic that goes to `canary`, in percent; 0 when the
 * action does not name it, null when the annotation is absent or not a forward action.
 */
export function canaryShareOfAction(value: string | undefined, canary: string): number | null {
  if (value === undefined) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return null;
  }
  const groups = (
    parsed as { forwardConfig?: { targetGroups?: { serviceName?: string; weight?: number }[] } }
  )?.forwardConfig?.targetGroups;
  if (!Array.isArray(groups) || groups.length === 0) return null;
  // The controller's default weight is 1 when omitted (ELBv2 WeightedTargetGroup).
  const total = groups.reduce((n, g) => n + (g.weight ?? 1), 0);
  const toCanary = groups.filter((g) => g.serviceName === canary).reduce((n, g) => n + (g.weight ?? 1), 0);
  return total === 0 ? null : roundPercent((100 * toCanary) / total);
}

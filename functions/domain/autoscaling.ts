/**
 * Replica arithmetic of a release whose stable Deployment is the target of a
 * HorizontalPodAutoscaler (issue #14). Pure; the Kubernetes routers apply it
 * (functions/adapters/kubernetes/autoscaler.ts). Unit tests: test/unit/autoscaling.test.ts.
 *
 * The rules (docs/deploying.md, "HorizontalPodAutoscalers"):
 * - tps-deploy never scales the stable Deployment while the HPA targets it: the HPA's count is
 *   the service's count, and the canary is sized from it, the LIVE count, not the recorded one;
 * - at the end (finalize, rollback) the stable Deployment keeps at least the pods that serve the
 *   service now, up to the HPA's maximum, and never fewer than recorded; then the HPA decides.
 */

/** Which router splits the traffic: it decides how pod counts translate into traffic shares. */
export type RouterKind = 'replica-ratio' | 'alb';

function check(live: number, weight: number): void {
  if (!Number.isInteger(live) || live < 0)
    throw new RangeError(`live replicas must be a count (got ${live})`);
  if (!Number.isFinite(weight) || weight < 0 || weight > 100)
    throw new RangeError(`weight must be 0..100 (got ${weight})`);
}

/**
 * Canary pods per stable pod at `weight`: the ALB splits traffic by target-group weight, so the
 * canary carries `weight`% of what the stable pods carried (`w / 100`); behind one Service the
 * share is the pod ratio, so `c / (c + S) = w / 100` gives `c / S = w / (100 - w)`. At 100 (blue
 * green) the canary takes all the traffic the stable pods had: 1.
 */
export function canaryScaleFactor(router: RouterKind, weight: number): number {
  check(0, weight);
  if (weight >= 100) return 1;
  return router === 'alb' ? weight / 100 : weight / (100 - weight);
}

/**
 * Canary replicas when the stable Deployment is autoscaled: the live stable count times
 * {@link canaryScaleFactor}, at least 1 above weight 0 (rounded up for the ALB, which must carry
 * its share; behind one Service, where the count is the share, the whole count whose share is
 * closest to the weight).
 */
export function autoscaledCanaryReplicas(router: RouterKind, liveStable: number, weight: number): number {
  check(liveStable, weight);
  if (weight === 0) return 0;
  const live = Math.max(1, liveStable);
  const exact = live * canaryScaleFactor(router, weight);
  if (router === 'alb' || weight >= 100) return Math.max(1, Math.ceil(exact - 1e-9));
  // Behind one Service the share is c / (c + live): of the two whole counts around the exact one,
  // the one whose share is closer to the weight (the fewer pods on a tie).
  const lo = Math.max(1, Math.floor(exact));
  const hi = Math.max(1, Math.ceil(exact));
  const dist = (c: number) => Math.abs((100 * c) / (c + live) - weight);
  return dist(hi) < dist(lo) - 1e-9 ? hi : lo;
}

/** An HPA's bounds. */
export interface AutoscalerBounds {
  readonly minReplicas: number;
  readonly maxReplicas: number;
}

/** What the stable Deployment must run when a release ends. */
export interface EndReplicas {
  /** The count to write. */
  readonly replicas: number;
  /** False when the live count already is it: nothing to write, the count stays whose it was. */
  readonly write: boolean;
  /** Why, in words for the record. */
  readonly reason: string;
}

/**
 * Replicas of the stable Deployment at the end of a release (finalize or rollback), so the
 * service never has fewer pods than now:
 * - without an autoscaler: `max(recorded, liveStable)` (the replica-ratio router shrank stable
 *   during the release; a person's scale is drift and stops the release before this);
 * - with one: the pods that serve the service now (canary alone at 100%, stable + canary below)
 *   up to the HPA's maxReplicas, and never below the recorded or the live stable count. The HPA
 *   takes it from there (down only after its scale-down stabilization window).
 */
export function endReplicas(s: {
  readonly recorded: number;
  readonly liveStable: number;
  readonly liveCanary: number;
  readonly weight: number;
  readonly autoscaler: AutoscalerBounds | null;
}): EndReplicas {
  const { recorded, liveStable, liveCanary, weight, autoscaler } = s;
  if (!autoscaler) {
    const replicas = Math.max(recorded, liveStable);
    return {
      replicas,
      write: replicas !== liveStable,
      reason: `max(recorded ${recorded}, live ${liveStable})`,
    };
  }
  const serving = weight >= 100 ? liveCanary : liveStable + liveCanary;
  const capped = Math.min(serving, autoscaler.maxReplicas);
  const replicas = Math.max(recorded, liveStable, capped);
  return {
    replicas,
    write: replicas !== liveStable,
    reason: `autoscaled: max(recorded ${recorded}, live stable ${liveStable}, serving now ${serving} up to the HPA's max ${autoscaler.maxReplicas}); the HPA decides from here`,
  };
}

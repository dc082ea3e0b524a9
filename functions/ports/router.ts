import type { ReleaseTarget, RollbackPlan } from './cluster.js';

/** Where traffic is, as the cluster reports it. */
export interface TrafficStatus {
  /** The weight asked for, in percent. */
  readonly targetWeight: number;
  /** The share of traffic the new version really gets, in percent (from EndpointSlices or the Ingress). */
  readonly actualWeight: number | null;
  readonly canaryReplicas: number;
  readonly stableReplicas: number;
  /** Words for the record, e.g. `1 of 5 ready endpoints are canary (20%)`. */
  readonly detail: string;
}

/** What cleanup or rollback did, and what (if anything) is left. */
export interface CleanupReport {
  readonly actions: readonly string[];
  /** Objects created by the release that still exist; empty when clean. */
  readonly leftovers: readonly string[];
}

/**
 * One interface, one module per router (Argo Rollouts' trafficrouting, Flagger's router.Interface).
 * Every method is idempotent and safe to call again after a partial earlier attempt.
 */
export interface TrafficRouter {
  readonly type: 'replica-ratio' | 'alb';
  /** Creates or updates the canary and sends `weight` percent of traffic to the new version. */
  setWeight(target: ReleaseTarget, plan: RollbackPlan, weight: number): Promise<TrafficStatus>;
  status(target: ReleaseTarget, plan: RollbackPlan): Promise<TrafficStatus>;
  /**
   * After production: the original Deployment runs the new template at the recorded replicas,
   * every intermediate object is removed and traffic goes to the original Service only.
   */
  finalize(target: ReleaseTarget, plan: RollbackPlan): Promise<CleanupReport>;
  /** Restores exactly the recorded plan and removes canary objects and weights. */
  rollback(target: ReleaseTarget, plan: RollbackPlan): Promise<CleanupReport>;
}

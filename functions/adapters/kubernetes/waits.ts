/**
 * How long the routers wait for the cluster. Every wait is bounded by a Lambda timeout: a wait
 * that runs out either reports where it stopped (the canary wait) or throws
 * KubernetesTransientError (rollout waits), and the state machine's retry resumes it.
 */

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

/** After a change, how long setWeight waits by default for the EndpointSlices to show it. */
export const DEFAULT_ENDPOINTS_SETTLE_MS = 8_000;

/** Options shared by both routers. */
export interface RouterOptions {
  /** Bounded waits; see {@link DEFAULT_WAITS}. */
  readonly waits?: Partial<Waits>;
  /**
   * After a change, how long setWeight waits for the EndpointSlices to show the new split before
   * it reports what they show. @default 8000
   */
  readonly endpointsSettleMs?: number;
  /**
   * The GitOps controller to tell to stand off the objects a release changes while it runs
   * (gitops.ts); none by default.
   */
  readonly gitops?: 'flux';
}

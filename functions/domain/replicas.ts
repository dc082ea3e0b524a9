/**
 * Replica arithmetic of a release, kept apart from I/O (as Argo Rollouts keeps
 * utils/replicaset/canary.go apart from its controllers). Pure functions; table-driven tests in
 * test/unit/replicas.test.ts.
 */
import { InvalidInputError } from './errors.js';

/** Pods of each version for one traffic weight. */
export interface ReplicaSplit {
  /** Pods of the new version (the canary Deployment). */
  readonly canary: number;
  /** Pods of the recorded version (the original Deployment). */
  readonly stable: number;
  /**
   * Percent of the pods that serve traffic which are canary pods. For the replica-ratio router
   * this is the traffic share the new version gets (kube-proxy spreads connections evenly over
   * ready endpoints). 100 in blue-green: the stable pods are running but out of traffic.
   */
  readonly share: number;
}

function checkArgs(recorded: number, weight: number): void {
  const issues = [];
  if (!Number.isInteger(recorded) || recorded < 1) {
    issues.push({
      path: 'replicas',
      message: `the Deployment must run at least 1 replica to be released by weight (recorded ${recorded}); scale it up first`,
    });
  }
  if (!Number.isFinite(weight) || weight < 0 || weight > 100) {
    issues.push({ path: 'weight', message: `must be a percentage from 0 to 100 (got ${weight})` });
  }
  if (issues.length > 0) throw new InvalidInputError(issues, 'replica split');
}

/** Rounds a percentage to two decimals, for records people read. */
export function roundPercent(value: number): number {
  return Math.round(value * 100) / 100;
}

/** `canary / (canary + stable)` in percent; 0 when there are no pods. */
export function podShare(canary: number, stable: number): number {
  const total = canary + stable;
  return total === 0 ? 0 : roundPercent((100 * canary) / total);
}

/**
 * Replica counts of the replica-ratio router for a target weight, given the replicas `N` recorded
 * before the release.
 *
 * - weight 0: the recorded state (no canary).
 * - weight 100 (blue-green): canary `N`, and the stable Deployment kept warm at `N`; the router
 *   takes the stable pods out of traffic with the Service selector, so the share is 100.
 * - otherwise: both versions serve (`1 <= canary <= N`, `1 <= stable <= N`), capacity is kept
 *   (`stable + canary >= N`), and the split minimises `|canary / (stable + canary) - weight|`;
 *   ties go to fewer pods, then to more stable pods. With few replicas the exact weight is often
 *   out of reach: `N = 4` at 10 % gives 1 canary + 4 stable = 20 %, the closest share that keeps
 *   capacity.
 *
 * Throws {@link InvalidInputError} if `N < 1` or the weight is outside 0..100.
 */
export function splitReplicas(recorded: number, weight: number): ReplicaSplit {
  checkArgs(recorded, weight);
  if (weight === 0) return { canary: 0, stable: recorded, share: 0 };
  if (weight === 100) return { canary: recorded, stable: recorded, share: 100 };
  let best: { canary: number; stable: number } | null = null;
  for (let stable = 1; stable <= recorded; stable++) {
    for (let canary = Math.max(1, recorded - stable); canary <= recorded; canary++) {
      if (best === null || better({ canary, stable }, best, weight)) best = { canary, stable };
    }
  }
  // recorded >= 1 guarantees at least one candidate (stable = canary = recorded).
  const chosen = best as { canary: number; stable: number };
  return { ...chosen, share: podShare(chosen.canary, chosen.stable) };
}

/**
 * Whether split `a` is strictly better than `b` for `weight`. Distances are compared by
 * cross-multiplication, so there is no floating-point tie noise:
 * |100c_a - w t_a| / t_a < |100c_b - w t_b| / t_b  <=>  |100c_a - w t_a| * t_b < |100c_b - w t_b| * t_a.
 */
function better(
  a: { canary: number; stable: number },
  b: { canary: number; stable: number },
  weight: number,
): boolean {
  const ta = a.canary + a.stable;
  const tb = b.canary + b.stable;
  const da = Math.abs(100 * a.canary - weight * ta) * tb;
  const db = Math.abs(100 * b.canary - weight * tb) * ta;
  if (da !== db) return da < db;
  if (ta !== tb) return ta < tb;
  return a.stable > b.stable;
}

/**
 * Distance in percentage points between a split's pod share and the weight; what
 * {@link splitReplicas} minimises.
 */
export function shareError(split: Pick<ReplicaSplit, 'canary' | 'stable'>, weight: number): number {
  const total = split.canary + split.stable;
  return total === 0 ? weight : Math.abs((100 * split.canary) / total - weight);
}

/**
 * Canary replicas of the ALB router: the load balancer splits traffic by target-group weight, so
 * the pod count only has to carry its share of the load: `ceil(N * weight / 100)`, at least 1
 * for any weight above 0, `N` at 100. The stable Deployment stays at `N` throughout.
 */
export function albCanaryReplicas(recorded: number, weight: number): number {
  checkArgs(recorded, weight);
  if (weight === 0) return 0;
  return Math.max(1, Math.ceil((recorded * weight) / 100));
}

/**
 * The most replicas {@link replicasForShares} looks at: with 100 pods every whole percentage is
 * an exact split (`w` canary + `100 - w` stable), so no search needs to go further.
 */
export const MAX_REPLICAS_FOR_SHARE = 100;

/**
 * The fewest replicas, from `from` up, whose replica-ratio split of every weight in `weights`
 * lands within `tolerance` percentage points of it ({@link splitReplicas}: the share the canary
 * really gets). `from` itself when it already does; null when no count up to
 * {@link MAX_REPLICAS_FOR_SHARE} does (a weight with a fraction and a tolerance below what 100 pods
 * can give). Counts above `from` are tried in order, so the answer is the smallest scale-up.
 */
export function replicasForShares(weights: readonly number[], tolerance: number, from = 1): number | null {
  for (let n = Math.max(1, Math.floor(from)); n <= MAX_REPLICAS_FOR_SHARE; n++) {
    if (weights.every((w) => Math.abs(splitReplicas(n, w).share - w) <= tolerance + 1e-9)) return n;
  }
  return null;
}

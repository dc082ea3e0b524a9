/**
 * PodDisruptionBudgets, as the disruption controller reads them (pkg/controller/disruption): how
 * many selected pods must stay healthy, and whether removing some of them keeps that many.
 * tps-deploy never evicts: it scales Deployments, which the eviction API does not see, so it checks
 * the budget itself before every step that removes pods while traffic is on them.
 */

/** An `IntOrString` of a PDB: a count, or a percentage such as "50%". */
export type IntOrPercent = number | string;

/** The part of a PodDisruptionBudget the check reads. */
export interface BudgetSpec {
  readonly name: string;
  readonly minAvailable?: IntOrPercent;
  readonly maxUnavailable?: IntOrPercent;
}

/** What a removal would leave, for one budget. */
export interface BudgetCheck {
  readonly name: string;
  /** Healthy selected pods the budget requires after the step. */
  readonly required: number;
  /** Healthy selected pods left after the step. */
  readonly left: number;
  readonly allowed: boolean;
  /** e.g. `poddisruptionbudget/shop (minAvailable 3): 3 healthy left, 3 required`. */
  readonly text: string;
}

/**
 * The count of `value` relative to `total`; percentages round up, as the disruption controller's
 * `GetScaledValueFromIntOrPercent(..., roundUp=true)` does for both fields.
 */
export function scaledValue(value: IntOrPercent, total: number): number {
  if (typeof value === 'number') return value;
  const m = /^(\d+)%$/.exec(value.trim());
  if (m) return Math.ceil((Number(m[1]) * total) / 100);
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  throw new Error(`not a count or percentage: "${value}"`);
}

/**
 * Healthy pods `spec` requires when `expected` pods are expected (the sum of the owning
 * controllers' replicas): minAvailable as given, or expected minus maxUnavailable. A budget with
 * neither field requires nothing (the API defaults maxUnavailable to none only with minAvailable).
 */
export function requiredHealthy(spec: BudgetSpec, expected: number): number {
  if (spec.minAvailable !== undefined) return scaledValue(spec.minAvailable, expected);
  if (spec.maxUnavailable !== undefined)
    return Math.max(0, expected - scaledValue(spec.maxUnavailable, expected));
  return 0;
}

/**
 * Whether removing `removing` healthy pods, out of `healthy` selected ones now, keeps the budget,
 * with `expectedAfter` pods expected once the step is done.
 */
export function checkRemoval(
  spec: BudgetSpec,
  healthy: number,
  removing: number,
  expectedAfter: number,
): BudgetCheck {
  const required = requiredHealthy(spec, expectedAfter);
  const left = healthy - removing;
  const field =
    spec.minAvailable !== undefined
      ? `minAvailable ${spec.minAvailable}`
      : spec.maxUnavailable !== undefined
        ? `maxUnavailable ${spec.maxUnavailable}`
        : 'no minimum';
  return {
    name: spec.name,
    required,
    left,
    allowed: left >= required,
    text: `poddisruptionbudget/${spec.name} (${field}): ${left} healthy left, ${required} required`,
  };
}

/**
 * A ratio against a reference measured at another time (a canary p99 against the pre-deployment
 * baseline p99), tested with the window's own period-to-period spread as the measure of drift.
 */
import { studentTSf } from './distributions.js';

/** Result of {@link ratioAboveTolerance}. */
export interface RatioTestResult {
  /** t statistic of log(ratio / tolerance); +Infinity when the spread is 0 and the ratio is above. */
  readonly t: number;
  /** Degrees of freedom: periods - 1. */
  readonly df: number;
  /** Standard deviation of the log per-period values (the period-to-period spread). */
  readonly spread: number;
  /** One-sided p-value for "the true ratio is above the tolerance". */
  readonly pValue: number;
}

/**
 * Is a window's value significantly more than `tolerance` times a reference measured in another
 * window of the same kind (e.g. a canary p99 against the pre-deployment baseline p99)? Without a
 * concurrent control, part of any difference is the service's own drift from period to period.
 * The per-period values of the window (`series`) measure that drift: with `s` the standard
 * deviation of their logarithms over k periods, each window's level is uncertain by about
 * `s / sqrt(k)`, the reference's as much again (taken as measured over as many periods, the
 * conservative choice when its length is unknown), so `t = ln(ratio / tolerance) / (s * sqrt(2 / k))`
 * with k - 1 degrees of freedom. Returns null with fewer than 2 usable (finite, positive) values or
 * a ratio or tolerance that is not positive and finite.
 */
export function ratioAboveTolerance(
  ratio: number,
  tolerance: number,
  series: readonly number[],
): RatioTestResult | null {
  const logs = series.filter((v) => Number.isFinite(v) && v > 0).map(Math.log);
  const k = logs.length;
  if (k < 2 || !(ratio > 0 && Number.isFinite(ratio)) || !(tolerance > 0 && Number.isFinite(tolerance)))
    return null;
  const mean = logs.reduce((s, v) => s + v, 0) / k;
  const spread = Math.sqrt(logs.reduce((s, v) => s + (v - mean) ** 2, 0) / (k - 1));
  const excess = Math.log(ratio / tolerance);
  const se = spread * Math.sqrt(2 / k);
  const df = k - 1;
  if (se === 0) {
    const t = excess > 0 ? Number.POSITIVE_INFINITY : excess < 0 ? Number.NEGATIVE_INFINITY : 0;
    return { t, df, spread, pValue: excess > 0 ? 0 : excess < 0 ? 1 : 0.5 };
  }
  const t = excess / se;
  return { t, df, spread, pValue: studentTSf(t, df) };
}

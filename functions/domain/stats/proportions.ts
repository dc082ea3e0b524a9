/**
 * Tests on counts (errors out of requests): the binomial tail against a fixed rate, and two
 * samples compared by a one-sided two-proportion z-test or Fisher's exact test. One-sided in the
 * direction that matters for a release: a small p-value is evidence the canary's rate is higher.
 */
import { normalSf } from './distributions.js';
import { logChoose } from './numerics.js';

/** ln P(X = k) for X ~ Binomial(n, p), 0 < p < 1. */
function logBinomialPmf(k: number, n: number, p: number): number {
  return logChoose(n, k) + k * Math.log(p) + (n - k) * Math.log1p(-p);
}

/**
 * Upper tail of the binomial distribution, `P(X >= k)` for X ~ Binomial(n, p): the p-value of
 * "the true rate is above p" after seeing k successes in n trials.
 */
export function binomialSf(k: number, n: number, p: number): number {
  if (!Number.isInteger(k) || !Number.isInteger(n) || n < 0 || !(p >= 0 && p <= 1)) return Number.NaN;
  if (k <= 0) return 1;
  if (k > n) return 0;
  if (p === 0) return 0;
  if (p === 1) return 1;
  const ratio = p / (1 - p);
  const mode = Math.floor((n + 1) * p);
  if (k > n * p) {
    // Sum the upper tail directly, from k upwards; terms shrink past the mode.
    let term = Math.exp(logBinomialPmf(k, n, p));
    let sum = term;
    for (let i = k; i < n; i++) {
      term *= ((n - i) / (i + 1)) * ratio;
      sum += term;
      if (i >= mode && term < sum * 1e-17) break;
    }
    return Math.min(1, sum);
  }
  // The tail holds most of the mass: 1 - P(X <= k - 1), summed from k - 1 downwards.
  let term = Math.exp(logBinomialPmf(k - 1, n, p));
  let sum = term;
  for (let i = k - 1; i > 0; i--) {
    term *= i / (n - i + 1) / ratio;
    sum += term;
    if (i <= mode && term < sum * 1e-17) break;
  }
  return Math.max(0, 1 - sum);
}

/** True when x of n is a count of a non-empty sample: integers, n > 0, 0 <= x <= n. */
function isCount(x: number, n: number): boolean {
  return Number.isInteger(x) && Number.isInteger(n) && n > 0 && x >= 0 && x <= n;
}

/** Result of {@link twoProportionZTest}. */
export interface TwoProportionResult {
  /** Observed proportions x1/n1 and x2/n2. */
  readonly p1: number;
  readonly p2: number;
  /** z statistic with the pooled standard error; 0 when both proportions are 0 (or both 1). */
  readonly z: number;
  /** One-sided p-value for "proportion 1 is greater than proportion 2". */
  readonly pValue: number;
}

/**
 * One-sided two-proportion z-test (pooled variance, no continuity correction): is the rate of
 * sample 1 (canary errors x1 out of n1 requests) greater than that of sample 2 (stable)?
 * Returns null when either sample is empty or the counts are not counts.
 * When both samples have identical degenerate rates (all 0 or all 1) there is no evidence of a
 * difference and the p-value is 1.
 */
export function twoProportionZTest(
  x1: number,
  n1: number,
  x2: number,
  n2: number,
): TwoProportionResult | null {
  if (!isCount(x1, n1) || !isCount(x2, n2)) return null;
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  const pooled = (x1 + x2) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  if (se === 0) return { p1, p2, z: 0, pValue: 1 };
  const z = (p1 - p2) / se;
  return { p1, p2, z, pValue: normalSf(z) };
}

/**
 * One-sided Fisher exact test: is the rate of sample 1 (x1 of n1) greater than that of sample 2
 * (x2 of n2)? The p-value is `P(X >= x1)` for X hypergeometric with the table's margins, the same
 * number as SciPy's `fisher_exact([[x1, n1 - x1], [x2, n2 - x2]], alternative='greater')`.
 * Used instead of the z-test when error counts are too small for the normal approximation.
 * Returns null when either sample is empty or the counts are not counts.
 */
export function fisherExactGreater(
  x1: number,
  n1: number,
  x2: number,
  n2: number,
): { pValue: number } | null {
  if (!isCount(x1, n1) || !isCount(x2, n2)) return null;
  const total = n1 + n2;
  const k = x1 + x2;
  const kMin = Math.max(0, k - n2);
  const kMax = Math.min(k, n1);
  if (x1 <= kMin) return { pValue: 1 };
  const logDenominator = logChoose(total, k);
  const pmf = (i: number) => Math.exp(logChoose(n1, i) + logChoose(n2, k - i) - logDenominator);
  // pmf(i + 1) / pmf(i)
  const step = (i: number) => ((n1 - i) * (k - i)) / ((i + 1) * (n2 - k + i + 1));
  const mode = Math.floor(((n1 + 1) * (k + 1)) / (total + 2));
  if (x1 > mode) {
    let term = pmf(x1);
    let sum = term;
    for (let i = x1; i < kMax; i++) {
      term *= step(i);
      sum += term;
      if (term < sum * 1e-17) break;
    }
    return { pValue: Math.min(1, sum) };
  }
  let term = pmf(x1 - 1);
  let sum = term;
  for (let i = x1 - 1; i > kMin; i--) {
    term /= step(i - 1);
    sum += term;
    if (i <= mode && term < sum * 1e-17) break;
  }
  return { pValue: Math.max(0, Math.min(1, 1 - sum)) };
}

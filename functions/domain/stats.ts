/**
 * Pure statistics for judging a validation window. Every test is one-sided in the direction that
 * matters for a release: "is the canary worse than stable?" A small p-value is evidence that it
 * is. No I/O, no randomness. This module only re-exports; the parts live in `stats/`:
 *
 * - `distributions.ts`: the standard normal and Student's t;
 * - `proportions.ts`: counts: the binomial tail, the two-proportion z-test, Fisher's exact test;
 * - `ranks.ts`: per-period values: the Mann-Whitney U test, approximate and exact;
 * - `ratio.ts`: a ratio against a reference from another time, with the drift as the noise;
 * - `numerics.ts`: what they share (Horner's rule, ln Γ, ln C(n, k), the incomplete beta).
 */
export { normalCdf, normalPdf, normalQuantile, normalSf, studentTSf } from './stats/distributions.js';
export { logGamma, regularizedIncompleteBeta } from './stats/numerics.js';
export {
  binomialSf,
  fisherExactGreater,
  type TwoProportionResult,
  twoProportionZTest,
} from './stats/proportions.js';
export {
  MANN_WHITNEY_EXACT_MAX_PAIRS,
  type MannWhitneyResult,
  mannWhitneyGreater,
  mannWhitneyGreaterExact,
} from './stats/ranks.js';
export { type RatioTestResult, ratioAboveTolerance } from './stats/ratio.js';

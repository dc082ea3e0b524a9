/**
 * The error-rate checks: the canary's rate against the absolute limit (`maxErrorRate`) and against
 * stable's rate (meaningfully and significantly higher). Both judge with the sample in mind: a
 * breach that a few requests could show by chance extends the window instead of failing it.
 */
import type { Verdict } from '../record.js';
import { binomialSf, fisherExactGreater } from '../stats.js';
import {
  CHECK_NAMES,
  type Context,
  countsOf,
  type Judged,
  judged,
  missingData,
  type Outcome,
  stableTakesNoTraffic,
  worstVerdict,
} from './check.js';
import { levelText, pct, points, pv, rateText, times } from './format.js';

/** An error rate judged against an absolute limit with the sample in mind. */
interface LimitJudgement {
  readonly verdict: Verdict;
  /** Binomial p-value of "the true rate is above the limit"; null when the rate is below it. */
  readonly pValue: number | null;
  /** The words for the detail, after the observed rate. */
  readonly words: string;
}

/**
 * An observed rate below the limit is within it. At or above the limit, the window fails only
 * when a one-sided binomial test shows the true rate is above the limit (p < the fail level);
 * otherwise the breach may be sampling noise (e.g. 13 errors in 11 000 requests from a true 0.03 %
 * with a noisy minute): inconclusive, so the window is extended and fails safe if it persists.
 * Zero errors are never above a limit.
 */
function againstLimit(errors: number, requests: number, limit: number, ctx: Context): LimitJudgement {
  const rate = errors / requests;
  if (errors === 0 || rate < limit) {
    return { verdict: 'pass', pValue: null, words: `is below the ${pct(limit)} limit` };
  }
  const p = binomialSf(errors, requests, limit);
  if (p < ctx.failLevel) {
    return {
      verdict: 'fail',
      pValue: p,
      words: `is above the ${pct(limit)} limit, and significantly so on ${requests} requests (binomial ${pv(p)} < ${levelText(ctx)})`,
    };
  }
  return {
    verdict: 'inconclusive',
    pValue: p,
    words: `is at or above the ${pct(limit)} limit, but ${requests} requests do not yet show the true rate is (binomial ${pv(p)} ≥ ${levelText(ctx)}); the window is extended and fails safe if it stays so`,
  };
}

/**
 * Canary error rate below `maxErrorRate`, judged with the sample in mind. No requests:
 * inconclusive. At or above the limit: fail only when a one-sided binomial test shows the true rate
 * is above it at the window's fail level, else inconclusive. Below the limit: pass with at least
 * `minRequestsPerVersion` requests, inconclusive with fewer; never a pass on too little traffic.
 */
export function checkErrorRate(ctx: Context): Judged {
  const name = CHECK_NAMES.errorRate;
  const { maxErrorRate: limit, minRequestsPerVersion: minRequests } = ctx.t;
  const c = countsOf(ctx.canary, 'canary');
  if (!c.ok) return missingData(name, c.problem, ctx, { value: null, threshold: limit });
  const rate = c.errors / c.requests;
  const observed = `canary error rate ${rateText(c.errors, c.requests)}`;
  const own = againstLimit(c.errors, c.requests, limit, ctx);
  const numbers = { value: rate, threshold: limit, pValue: own.pValue };
  if (own.verdict === 'fail') {
    return judged(
      name,
      'fail',
      `${observed} ${own.words}`,
      `canary error rate ${rateText(c.errors, c.requests)} is above the ${pct(limit)} limit`,
      numbers,
    );
  }
  if (own.verdict === 'inconclusive') {
    return judged(
      name,
      'inconclusive',
      `${observed} ${own.words}`,
      `canary error rate ${rateText(c.errors, c.requests)} is at the ${pct(limit)} limit but not significantly above it (${pv(own.pValue ?? 1)})`,
      numbers,
    );
  }
  if (c.requests < minRequests) {
    return judged(
      name,
      'inconclusive',
      `${observed} on only ${c.requests} requests, fewer than the ${minRequests} needed to judge against the ${pct(limit)} limit`,
      `only ${c.requests} canary requests (need ${minRequests})`,
      numbers,
    );
  }
  return judged(
    name,
    'pass',
    `${observed} ${own.words}`,
    `canary errors ${rateText(c.errors, c.requests)}`,
    numbers,
  );
}

/**
 * Canary error rate not meaningfully and significantly above stable's. A regression must be both
 * (Kayenta, Argo Rollouts): practically meaningful, i.e. the canary's rate exceeds stable's by at
 * least `minErrorRateIncrease` (absolute) and by the factor `minErrorRateRatio`; and statistically
 * significant in a one-sided Fisher exact test (exact at any count: the far tail where the decision
 * is made is where the z-test's normal approximation overstates the evidence tenfold and more).
 *
 * - Meaningful and p < the window's fail level (`failAlpha`, Bonferroni-split): fail.
 * - Meaningful and p < `alpha` only, while an extension is left: inconclusive. The evidence is
 *   suggestive, so the window is extended rather than passed; at the last look the fail level
 *   alone decides (a two-look sequential test: suggestive evidence buys more data, not a verdict).
 * - Otherwise: pass.
 *
 * A canary with errors against an error-free stable is not cleared by the comparison (Kayenta's
 * failure): it also gets the verdict of its own rate against `maxErrorRate`, and the worse of the
 * two stands. At 100 % (no stable traffic) the check does not apply.
 */
export function checkErrorRateVsStable(ctx: Context): Outcome {
  const name = CHECK_NAMES.errorRateVsStable;
  const {
    minRequestsPerVersion: minRequests,
    alpha,
    maxErrorRate,
    minErrorRateIncrease: minIncrease,
    minErrorRateRatio: minRatio,
  } = ctx.t;
  const c = countsOf(ctx.canary, 'canary');
  if (!c.ok) return missingData(name, c.problem, ctx, { threshold: ctx.failLevel });
  const s = countsOf(ctx.stable, 'stable');
  if (!s.ok) {
    if (stableTakesNoTraffic(ctx)) {
      return { name, reason: 'stable takes no traffic at 100%' };
    }
    return missingData(name, s.problem, ctx, { threshold: ctx.failLevel });
  }
  const both = `canary ${rateText(c.errors, c.requests)} vs stable ${rateText(s.errors, s.requests)}`;
  if (c.requests < minRequests || s.requests < minRequests) {
    return judged(
      name,
      'inconclusive',
      `${both}: fewer than ${minRequests} requests in a version, too few to compare`,
      `too few requests to compare with stable (need ${minRequests} per version)`,
      { threshold: ctx.failLevel },
    );
  }
  const stableRate = s.errors / s.requests;
  const value = c.errors / c.requests;
  const p = fisherExactGreater(c.errors, c.requests, s.errors, s.requests)?.pValue ?? 1;
  const test = `Fisher exact test ${pv(p)}`;
  const increase = value - stableRate;
  const factor = stableRate > 0 ? `${times(value / stableRate)} stable's` : 'stable had none';
  const effect = `higher by ${points(increase)} (${factor})`;
  const margin = `the practical margin (+${points(minIncrease)} and ${times(minRatio)})`;
  const meaningful = increase > 0 && increase >= minIncrease && value >= stableRate * minRatio;
  const numbers = { value, threshold: ctx.failLevel, pValue: p };

  let comparison: Judged;
  if (meaningful && p < ctx.failLevel) {
    comparison = judged(
      name,
      'fail',
      `${both}: canary is ${effect}, beyond ${margin}, and significantly so: ${test} < ${levelText(ctx)}`,
      `canary error rate ${pct(value)} is meaningfully and significantly above stable's ${pct(stableRate)} (${pv(p)})`,
      numbers,
    );
  } else if (meaningful && p < alpha && !ctx.lastLook) {
    comparison = judged(
      name,
      'inconclusive',
      `${both}: canary is ${effect}, beyond ${margin}, but the evidence is only suggestive: ${test} < ${alpha}, not < ${levelText(ctx)}; the window is extended, and the extended window is judged at ${levelText(ctx)} alone`,
      `canary error rate ${pct(value)} is above stable's ${pct(stableRate)} but not yet significantly (${pv(p)})`,
      numbers,
    );
  } else if (meaningful) {
    comparison = judged(
      name,
      'pass',
      `${both}: canary is ${effect}, but not significantly: ${test} ≥ ${p < alpha ? levelText(ctx) : alpha}${p < alpha ? ' at the last look' : ''}`,
      `vs stable ${pct(stableRate)} (${pv(p)})`,
      numbers,
    );
  } else {
    comparison = judged(
      name,
      'pass',
      `${both}: ${increase > 0 ? `canary is ${effect}, within ${margin}` : 'canary is not higher'}; ${test}`,
      `vs stable ${pct(stableRate)} (${pv(p)})`,
      numbers,
    );
  }
  if (s.errors > 0 || c.errors === 0) return comparison;
  // Stable had no errors: the comparison alone cannot clear a canary that has some.
  const own = againstLimit(c.errors, c.requests, maxErrorRate, ctx);
  const verdict = worstVerdict([comparison.check.verdict, own.verdict]);
  const ownText = `; stable had no errors, so the canary is also judged on its own rate, which ${own.words}: ${own.verdict}`;
  const phrase =
    verdict === comparison.check.verdict
      ? comparison.phrase
      : own.verdict === 'fail'
        ? `canary has errors (${pct(value)}) where stable had none, above the ${pct(maxErrorRate)} limit`
        : `canary has errors (${pct(value)}) where stable had none, at the ${pct(maxErrorRate)} limit`;
  return judged(name, verdict, `${comparison.check.detail}${ownText}`, phrase, numbers);
}

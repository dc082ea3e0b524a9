/**
 * The latency checks: the canary's p99 against the service's SLO, and against a reference
 * (stable's p99, or at 100 % the pre-deployment baseline's) within `p99RatioTolerance`. Over the
 * tolerance, the per-period p99s must confirm it before the window fails.
 */
import type { VersionSeries } from '../../ports/metrics.js';
import { mannWhitneyGreater, mannWhitneyGreaterExact, ratioAboveTolerance } from '../stats.js';
import {
  CHECK_NAMES,
  type CheckNumbers,
  type Context,
  countsOf,
  finite,
  type Judged,
  judged,
  missingData,
  type Outcome,
  stableTakesNoTraffic,
} from './check.js';
import { levelText, ms, pct, pv, times } from './format.js';

/** Fewest per-period p99 values per version for the Mann-Whitney comparison. */
export const MIN_PERIODS_FOR_DISTRIBUTION_TEST = 5;

type P99 =
  | { readonly ok: true; readonly p99: number; readonly requests: number }
  | { readonly ok: false; readonly problem: string };

/** The canary's (or stable's) window p99, usable only with enough requests behind it. */
function p99Of(v: VersionSeries | null, who: string, minRequests: number): P99 {
  const c = countsOf(v, who);
  if (!c.ok) return c;
  const p99 = finite(v?.p99Ms);
  if (p99 === null || p99 < 0) return { ok: false, problem: `${who} p99 not reported` };
  if (c.requests < minRequests) {
    return { ok: false, problem: `${who} p99 rests on only ${c.requests} requests (need ${minRequests})` };
  }
  return { ok: true, p99, requests: c.requests };
}

/** Canary p99 below the SLO. A p99 of fewer than `minRequestsPerVersion` requests is inconclusive. */
export function checkP99Slo(ctx: Context): Judged {
  const name = CHECK_NAMES.p99Slo;
  const slo = ctx.t.sloP99Ms;
  const c = p99Of(ctx.canary, 'canary', ctx.t.minRequestsPerVersion);
  if (!c.ok) return missingData(name, c.problem, ctx, { value: null, threshold: slo });
  if (c.p99 >= slo) {
    return judged(
      name,
      'fail',
      `canary p99 ${ms(c.p99)} is at or above the ${ms(slo)} SLO`,
      `canary p99 ${ms(c.p99)} is at or above the ${ms(slo)} SLO`,
      { value: c.p99, threshold: slo },
    );
  }
  return judged(
    name,
    'pass',
    `canary p99 ${ms(c.p99)} is below the ${ms(slo)} SLO`,
    `p99 ${ms(c.p99)} (SLO ${ms(slo)})`,
    {
      value: c.p99,
      threshold: slo,
    },
  );
}

/**
 * Canary p99 at most `p99RatioTolerance` times the reference: stable's, or at 100 % the
 * pre-deployment baseline's. Within the tolerance: pass. Over it:
 *
 * - Against stable, when both versions report at least {@link MIN_PERIODS_FOR_DISTRIBUTION_TEST}
 *   per-period p99s, a one-sided Mann-Whitney test (exact when there are no ties) must confirm the
 *   canary is slower at the window's fail level to fail; otherwise inconclusive, so the window is
 *   extended rather than failed on one noisy period, and fails safe if it stays so. (Ten periods
 *   per version can reach p = 5.4e-6; nine or fewer cannot reach a canary window's default fail
 *   level of 0.000017, so a short window over the tolerance is extended.)
 * - Against the baseline (measured at another time, so the comparison also carries the service's
 *   drift), when the canary reports at least that many per-period p99s: fail when the ratio is
 *   significantly above the tolerance at the fail level ({@link ratioAboveTolerance}, with the
 *   period-to-period spread of the canary's p99s as the noise); inconclusive when only at `alpha`
 *   and an extension is left (at the last look the fail level decides); pass when the excess is
 *   within that noise. Without this, a noisy service's healthy production window failed on drift
 *   alone (p99 1.2-1.25x a baseline measured 25 minutes earlier, 8 windows in 2000).
 * - With fewer periods the ratio alone decides: fail.
 *
 * Stable p99 missing below 100 %: inconclusive. At 100 % with no baseline p99: not judged (the SLO
 * check still is).
 */
export function checkP99VsStable(ctx: Context): Outcome {
  const name = CHECK_NAMES.p99VsStable;
  const { p99RatioTolerance: tolerance, minRequestsPerVersion: minRequests, alpha } = ctx.t;
  const c = p99Of(ctx.canary, 'canary', minRequests);
  if (!c.ok) return missingData(name, c.problem, ctx, { threshold: tolerance });
  const s = p99Of(ctx.stable, 'stable', minRequests);
  let reference: { p99: number; label: string; series: readonly number[] | null };
  if (s.ok && s.p99 > 0) {
    reference = { p99: s.p99, label: 'stable', series: ctx.stable?.p99Series ?? null };
  } else if (stableTakesNoTraffic(ctx)) {
    const base = finite(ctx.baseline?.p99Ms);
    if (base === null || base <= 0) return { name, reason: 'no stable traffic at 100% and no baseline p99' };
    reference = { p99: base, label: 'baseline', series: null };
  } else {
    const problem = s.ok ? 'stable p99 is 0 ms' : s.problem;
    return missingData(name, problem, ctx, { threshold: tolerance });
  }
  const ratio = c.p99 / reference.p99;
  const observed = `canary p99 ${ms(c.p99)} vs ${reference.label} ${ms(reference.p99)} = ${times(ratio)} (tolerance ${times(tolerance)})`;
  const canarySeries = (ctx.canary?.p99Series ?? []).filter(Number.isFinite);
  const enoughCanary = canarySeries.length >= MIN_PERIODS_FOR_DISTRIBUTION_TEST;
  const failPhrase = `canary p99 ${ms(c.p99)} is ${times(ratio)} ${reference.label}'s ${ms(reference.p99)} (tolerance ${times(tolerance)})`;
  // Within the tolerance the window passes, whatever the per-period p99s (`evidence`) say.
  const withinTolerance = (evidence: string, numbers: CheckNumbers) =>
    judged(name, 'pass', `${observed}; ${evidence}`, `vs ${reference.label} ${ms(reference.p99)}`, numbers);

  if (reference.series === null) {
    // Against the baseline: the only measure of noise is the canary's own period-to-period spread.
    const test = enoughCanary ? ratioAboveTolerance(ratio, tolerance, canarySeries) : null;
    const testText = test
      ? `ratio above the tolerance given the ${pct(Math.expm1(test.spread))} period-to-period spread of ${canarySeries.length} per-period p99s: t=${Number(test.t.toFixed(2))}, ${pv(test.pValue)}`
      : `per-period p99s not compared (fewer than ${MIN_PERIODS_FOR_DISTRIBUTION_TEST} periods)`;
    const numbers = { value: ratio, threshold: tolerance, pValue: test?.pValue ?? null };
    if (ratio <= tolerance) return withinTolerance(testText, numbers);
    if (test === null || test.pValue < ctx.failLevel) {
      const why = test ? `significantly: ${testText} < ${levelText(ctx)}` : testText;
      return judged(name, 'fail', `${observed} exceeds the tolerance, ${why}`, failPhrase, numbers);
    }
    if (test.pValue < alpha && !ctx.lastLook) {
      return judged(
        name,
        'inconclusive',
        `${observed} exceeds the tolerance, but only suggestively: ${testText} < ${alpha}, not < ${levelText(ctx)}`,
        `canary p99 is ${times(ratio)} the baseline's, not yet significantly beyond the tolerance (${pv(test.pValue)})`,
        numbers,
      );
    }
    return judged(
      name,
      'pass',
      `${observed}: over the tolerance, but within the service's drift since the baseline was measured: ${testText} ≥ ${test.pValue < alpha ? `${levelText(ctx)} at the last look` : alpha}`,
      `vs ${reference.label} ${ms(reference.p99)} (${times(ratio)}, within the drift)`,
      numbers,
    );
  }

  const referenceSeries = reference.series.filter(Number.isFinite);
  const comparable = enoughCanary && referenceSeries.length >= MIN_PERIODS_FOR_DISTRIBUTION_TEST;
  const exact = comparable ? mannWhitneyGreaterExact(canarySeries, referenceSeries) : null;
  const mw = exact ?? (comparable ? mannWhitneyGreater(canarySeries, referenceSeries) : null);
  const mwText = mw
    ? `${exact ? 'exact ' : ''}Mann-Whitney on ${canarySeries.length} vs ${referenceSeries.length} per-period p99s ${pv(mw.pValue)}`
    : `per-period p99s not compared (fewer than ${MIN_PERIODS_FOR_DISTRIBUTION_TEST} periods per version)`;
  const numbers = { value: ratio, threshold: tolerance, pValue: mw?.pValue ?? null };
  if (ratio <= tolerance) return withinTolerance(mwText, numbers);
  if (mw && mw.pValue >= ctx.failLevel) {
    const how =
      mw.pValue < alpha
        ? `only suggestively: ${mwText} < ${alpha}, not < ${levelText(ctx)}`
        : `the per-period p99s do not confirm it: ${mwText} ≥ ${alpha}`;
    return judged(
      name,
      'inconclusive',
      `${observed}, but ${how}`,
      `canary p99 is ${times(ratio)} ${reference.label}'s but the per-period p99s do not confirm it at ${levelText(ctx)} (${pv(mw.pValue)})`,
      numbers,
    );
  }
  return judged(
    name,
    'fail',
    `${observed} exceeds the tolerance; ${mw ? `confirmed: ${mwText} < ${levelText(ctx)}` : mwText}`,
    failPhrase,
    numbers,
  );
}

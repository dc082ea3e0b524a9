/**
 * The judgment of one validation window: pure, no I/O (Argo Rollouts' analysis.go, Kayenta's
 * judge). Every check returns pass, fail or inconclusive with the numbers behind it; missing data
 * is never a pass. The rules are listed in docs/traffic-profiles.md and on each check below.
 */
import type { VersionSeries, WindowMetrics } from '../ports/metrics.js';
import type { ResolvedValidation } from './config.js';
import type { PhaseName } from './defaults.js';
import type { CheckResult, Verdict, VersionMetrics, WindowDecision } from './record.js';
import {
  binomialSf,
  fisherExactGreater,
  mannWhitneyGreater,
  mannWhitneyGreaterExact,
  ratioAboveTolerance,
} from './stats.js';

/** Names of the checks, as they appear in `WindowDecision.checks[].name`. */
export const CHECK_NAMES = {
  /** Canary error rate below `maxErrorRate`. */
  errorRate: 'error-rate',
  /** Canary error rate not meaningfully and significantly above stable's. */
  errorRateVsStable: 'error-rate-vs-stable',
  /** Canary p99 below the service's SLO. */
  p99Slo: 'p99-slo',
  /** Canary p99 within `p99RatioTolerance` of stable's (or the baseline's at 100 %). */
  p99VsStable: 'p99-vs-stable',
  /** Total throughput within `throughputBand` of the pre-deployment baseline. */
  throughput: 'throughput',
  /** Canary CPU, memory and disk utilisation below `maxResourceUtilization`. */
  resources: 'resources',
} as const;

export type CheckName = (typeof CHECK_NAMES)[keyof typeof CHECK_NAMES];

/** Fewest per-period p99 values per version for the Mann-Whitney comparison. */
export const MIN_PERIODS_FOR_DISTRIBUTION_TEST = 5;

/** What the service did before the release, for the throughput and (at 100 %) latency checks. */
export interface Baseline {
  /** Requests per second before the deployment started; null when the query found none. */
  readonly rps: number | null;
  /** p99 latency (ms) before the deployment started; null when unknown. */
  readonly p99Ms: number | null;
}

/** Everything {@link judgeWindow} needs. */
export interface JudgeWindowArgs {
  readonly phase: PhaseName;
  /** 0 for the first window, 1.. for extensions. */
  readonly attempt: number;
  /** Window bounds (ISO 8601 strings or Dates; recorded as ISO strings). */
  readonly start: string | Date;
  readonly end: string | Date;
  readonly metrics: WindowMetrics;
  /** From `resolveValidation()`: the runbook's thresholds with the service's overrides. */
  readonly thresholds: ResolvedValidation;
  /**
   * The pre-deployment baseline, or null when none was captured. Without a usable baseline rps
   * the throughput check is not judged (named in the summary): there is nothing to compare with,
   * and extending the window cannot change that.
   */
  readonly baseline: Baseline | null;
  /** Percent of traffic asked for and (when the router can tell) really received by the canary. */
  readonly traffic: { readonly targetWeight: number; readonly actualWeight: number | null };
  /** How many extensions the phase allows. */
  readonly maxExtensions: number;
}

/** A window decision plus whether the state machine may extend the window. */
export type JudgedWindow = WindowDecision & {
  /** True when the verdict is inconclusive and `attempt < maxExtensions`. */
  readonly canExtend: boolean;
};

/** One check's result plus the short phrase the summary sentence uses. */
interface Judged {
  readonly check: CheckResult;
  readonly phrase: string;
}

/** A check left out of the verdict because it does not apply, with the reason. */
interface NotJudged {
  readonly name: CheckName;
  readonly reason: string;
}

type Outcome = Judged | NotJudged;

const VERDICT_RANK: Record<Verdict, number> = { pass: 0, inconclusive: 1, fail: 2 };

/** Orders verdicts: pass < inconclusive < fail. The overall verdict is the worst check's. */
export function worstVerdict(verdicts: readonly Verdict[]): Verdict {
  let worst: Verdict = 'pass';
  for (const v of verdicts) if (VERDICT_RANK[v] > VERDICT_RANK[worst]) worst = v;
  return worst;
}

// ---------------------------------------------------------------------------------------------
// Formatting: every number in a detail is written the same way.

function pct(rate: number): string {
  return `${rate === 0 ? 0 : Number((rate * 100).toPrecision(3))}%`;
}
function ms(value: number): string {
  return `${value >= 100 ? Math.round(value) : Number(value.toPrecision(3))} ms`;
}
function pv(p: number): string {
  if (p < 1e-300) return 'p<1e-300';
  return `p=${p < 1e-4 ? p.toExponential(1) : Number(p.toPrecision(2))}`;
}
function points(rate: number): string {
  return `${rate === 0 ? 0 : Number((rate * 100).toPrecision(3))} pp`;
}
function times(ratio: number): string {
  return `${Number(ratio.toFixed(2))}x`;
}
function rpsText(rps: number): string {
  return `${Number(rps.toPrecision(4))} rps`;
}

// ---------------------------------------------------------------------------------------------
// Reading the data defensively: a number that is not finite is missing data.

function finite(x: number | null | undefined): number | null {
  return typeof x === 'number' && Number.isFinite(x) ? x : null;
}

type Counts =
  | { readonly ok: true; readonly requests: number; readonly errors: number }
  | { readonly ok: false; readonly problem: string };

/** Request and error counts of a version, or why they cannot be used. */
function countsOf(v: VersionSeries | null, who: string): Counts {
  if (v === null) return { ok: false, problem: `no ${who} metrics` };
  const { requests, errors } = v;
  if (
    !Number.isInteger(requests) ||
    requests < 0 ||
    !Number.isInteger(errors) ||
    errors < 0 ||
    errors > requests
  ) {
    return {
      ok: false,
      problem: `${who} counts are inconsistent (${errors} errors of ${requests} requests)`,
    };
  }
  if (requests === 0) return { ok: false, problem: `${who} served no requests` };
  return { ok: true, requests, errors };
}

function rateText(errors: number, requests: number): string {
  return `${pct(errors / requests)} (${errors}/${requests})`;
}

/** Appended to an inconclusive detail so the reader knows whether queries failed. */
function errorsNote(measurementErrors: readonly string[]): string {
  return measurementErrors.length > 0
    ? `; ${measurementErrors.length} measurement error(s): ${measurementErrors.join(' | ')}`
    : '';
}

function judged(
  name: CheckName,
  verdict: Verdict,
  detail: string,
  phrase: string,
  numbers: { value?: number | null; threshold?: number | null; pValue?: number | null } = {},
): Judged {
  return { check: { name, verdict, detail, ...numbers }, phrase };
}

function isJudged(o: Outcome): o is Judged {
  return 'check' in o;
}

// ---------------------------------------------------------------------------------------------
// The checks.

interface Context {
  readonly canary: VersionSeries | null;
  readonly stable: VersionSeries | null;
  readonly t: ResolvedValidation;
  readonly baseline: Baseline | null;
  readonly targetWeight: number;
  readonly windowSeconds: number | null;
  readonly measurementErrors: readonly string[];
  /**
   * Significance level one test must reach to fail the window: `failAlpha` split evenly
   * (Bonferroni) across the {@link SIGNIFICANCE_CHECKS} judged in this window and the phase's
   * looks (its first window and each extension).
   */
  readonly failLevel: number;
  /** How many significance-tested checks share `failAlpha` in this window. */
  readonly tests: number;
  /** How many looks the phase may take: `maxExtensions + 1`. */
  readonly looks: number;
  /** True when no extension is left (`attempt >= maxExtensions`): this look decides. */
  readonly lastLook: boolean;
}

/** `level (failAlpha a / n tests / k looks)`, for details. */
function levelText(ctx: Context): string {
  const level = Number(ctx.failLevel.toPrecision(2));
  const parts = [
    `failAlpha ${ctx.t.failAlpha}`,
    ...(ctx.tests > 1 ? [`${ctx.tests} tests`] : []),
    ...(ctx.looks > 1 ? [`${ctx.looks} looks`] : []),
  ];
  return `${level} (${parts.join(' / ')})`;
}

/** At 100 % the stable version takes no traffic, so comparisons with it do not apply. */
function stableTakesNoTraffic(ctx: Context): boolean {
  return ctx.targetWeight >= 100;
}

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
function checkErrorRate(ctx: Context): Judged {
  const name = CHECK_NAMES.errorRate;
  const { maxErrorRate: limit, minRequestsPerVersion: minRequests } = ctx.t;
  const c = countsOf(ctx.canary, 'canary');
  if (!c.ok) {
    return judged(name, 'inconclusive', `${c.problem}${errorsNote(ctx.measurementErrors)}`, c.problem, {
      value: null,
      threshold: limit,
    });
  }
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
function checkErrorRateVsStable(ctx: Context): Outcome {
  const name = CHECK_NAMES.errorRateVsStable;
  const {
    minRequestsPerVersion: minRequests,
    alpha,
    maxErrorRate,
    minErrorRateIncrease: minIncrease,
    minErrorRateRatio: minRatio,
  } = ctx.t;
  const c = countsOf(ctx.canary, 'canary');
  if (!c.ok) {
    return judged(name, 'inconclusive', `${c.problem}${errorsNote(ctx.measurementErrors)}`, c.problem, {
      threshold: ctx.failLevel,
    });
  }
  const s = countsOf(ctx.stable, 'stable');
  if (!s.ok) {
    if (stableTakesNoTraffic(ctx)) {
      return { name, reason: 'stable takes no traffic at 100%' };
    }
    return judged(name, 'inconclusive', `${s.problem}${errorsNote(ctx.measurementErrors)}`, s.problem, {
      threshold: ctx.failLevel,
    });
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
function checkP99Slo(ctx: Context): Judged {
  const name = CHECK_NAMES.p99Slo;
  const slo = ctx.t.sloP99Ms;
  const c = p99Of(ctx.canary, 'canary', ctx.t.minRequestsPerVersion);
  if (!c.ok) {
    return judged(name, 'inconclusive', `${c.problem}${errorsNote(ctx.measurementErrors)}`, c.problem, {
      value: null,
      threshold: slo,
    });
  }
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
function checkP99VsStable(ctx: Context): Outcome {
  const name = CHECK_NAMES.p99VsStable;
  const { p99RatioTolerance: tolerance, minRequestsPerVersion: minRequests, alpha } = ctx.t;
  const c = p99Of(ctx.canary, 'canary', minRequests);
  if (!c.ok) {
    return judged(name, 'inconclusive', `${c.problem}${errorsNote(ctx.measurementErrors)}`, c.problem, {
      threshold: tolerance,
    });
  }
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
    return judged(name, 'inconclusive', `${problem}${errorsNote(ctx.measurementErrors)}`, problem, {
      threshold: tolerance,
    });
  }
  const ratio = c.p99 / reference.p99;
  const observed = `canary p99 ${ms(c.p99)} vs ${reference.label} ${ms(reference.p99)} = ${times(ratio)} (tolerance ${times(tolerance)})`;
  const canarySeries = (ctx.canary?.p99Series ?? []).filter(Number.isFinite);
  const enoughCanary = canarySeries.length >= MIN_PERIODS_FOR_DISTRIBUTION_TEST;
  const failPhrase = `canary p99 ${ms(c.p99)} is ${times(ratio)} ${reference.label}'s ${ms(reference.p99)} (tolerance ${times(tolerance)})`;

  if (reference.series === null) {
    // Against the baseline: the only measure of noise is the canary's own period-to-period spread.
    const test = enoughCanary ? ratioAboveTolerance(ratio, tolerance, canarySeries) : null;
    const testText = test
      ? `ratio above the tolerance given the ${pct(Math.expm1(test.spread))} period-to-period spread of ${canarySeries.length} per-period p99s: t=${Number(test.t.toFixed(2))}, ${pv(test.pValue)}`
      : `per-period p99s not compared (fewer than ${MIN_PERIODS_FOR_DISTRIBUTION_TEST} periods)`;
    const numbers = { value: ratio, threshold: tolerance, pValue: test?.pValue ?? null };
    if (ratio <= tolerance) {
      return judged(
        name,
        'pass',
        `${observed}; ${testText}`,
        `vs ${reference.label} ${ms(reference.p99)}`,
        numbers,
      );
    }
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
  const exact =
    enoughCanary && referenceSeries.length >= MIN_PERIODS_FOR_DISTRIBUTION_TEST
      ? mannWhitneyGreaterExact(canarySeries, referenceSeries)
      : null;
  const mw =
    exact ??
    (enoughCanary && referenceSeries.length >= MIN_PERIODS_FOR_DISTRIBUTION_TEST
      ? mannWhitneyGreater(canarySeries, referenceSeries)
      : null);
  const mwText = mw
    ? `${exact ? 'exact ' : ''}Mann-Whitney on ${canarySeries.length} vs ${referenceSeries.length} per-period p99s ${pv(mw.pValue)}`
    : `per-period p99s not compared (fewer than ${MIN_PERIODS_FOR_DISTRIBUTION_TEST} periods per version)`;
  const numbers = { value: ratio, threshold: tolerance, pValue: mw?.pValue ?? null };
  if (ratio <= tolerance) {
    return judged(
      name,
      'pass',
      `${observed}; ${mwText}`,
      `vs ${reference.label} ${ms(reference.p99)}`,
      numbers,
    );
  }
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

/** Requests per second of a version: as reported, else counted over the window. */
function rpsOf(v: VersionSeries | null, windowSeconds: number | null): number | null {
  if (v === null) return null;
  const reported = finite(v.rps);
  if (reported !== null && reported >= 0) return reported;
  const requests = finite(v.requests);
  if (requests === null || requests < 0 || windowSeconds === null || windowSeconds <= 0) return null;
  return requests / windowSeconds;
}

/**
 * Total throughput (canary + stable rps) within `throughputBand` of the baseline rps. Without a
 * usable baseline (none captured, its rps missing, or 0 rps so no ratio) the check is not judged
 * and the reason is named in the summary: the baseline is measured once before the release, so
 * extending the window can never supply it, and an inconclusive verdict would only turn a missing
 * pre-deployment number into a certain rollback. A version whose current rps is missing is
 * inconclusive (more data can fix that). At 100 % a stable version with no metrics counts as 0 rps.
 */
function checkThroughput(ctx: Context): Outcome {
  const name = CHECK_NAMES.throughput;
  const { min, max } = ctx.t.throughputBand;
  if (ctx.baseline === null) return { name, reason: 'no pre-deployment baseline' };
  const base = finite(ctx.baseline.rps);
  if (base === null) return { name, reason: 'the pre-deployment baseline has no rps' };
  if (base <= 0) return { name, reason: 'the pre-deployment baseline was 0 rps, no ratio' };
  const canaryRps = rpsOf(ctx.canary, ctx.windowSeconds);
  const stableRps = rpsOf(ctx.stable, ctx.windowSeconds) ?? (stableTakesNoTraffic(ctx) ? 0 : null);
  if (canaryRps === null || stableRps === null) {
    const problem = `${canaryRps === null ? 'canary' : 'stable'} throughput unknown`;
    return judged(name, 'inconclusive', `${problem}${errorsNote(ctx.measurementErrors)}`, problem, {
      value: null,
      threshold: null,
    });
  }
  const total = canaryRps + stableRps;
  const ratio = total / base;
  const share = total > 0 ? ` (canary share ${pct(canaryRps / total)}, target ${ctx.targetWeight}%)` : '';
  const observed = `total ${rpsText(total)} = canary ${rpsText(canaryRps)} + stable ${rpsText(stableRps)}${share} vs baseline ${rpsText(base)}: ${times(ratio)}, band ${times(min)}-${times(max)}`;
  if (ratio < min || ratio > max) {
    return judged(
      name,
      'fail',
      `${observed}, outside the band`,
      `throughput ${times(ratio)} baseline is outside ${times(min)}-${times(max)}`,
      { value: ratio, threshold: ratio < min ? min : max },
    );
  }
  return judged(name, 'pass', `${observed}, within the band`, `throughput ${times(ratio)} baseline`, {
    value: ratio,
    threshold: ratio < 1 ? min : max,
  });
}

const RESOURCES = ['cpu', 'memory', 'disk'] as const;

/**
 * Canary CPU, memory and disk utilisation below `maxResourceUtilization`. Rules: any reported
 * value at or above the limit fails; a resource that is not reported while a measurement error
 * was recorded is inconclusive (the error may be why); when no query failed, an unreported
 * resource is one the source does not measure (e.g. no Container Insights): it is named in the
 * detail, and if none is reported the check is not judged. It never passes on nothing.
 */
function checkResources(ctx: Context): Outcome {
  const name = CHECK_NAMES.resources;
  const limit = ctx.t.maxResourceUtilization;
  const c = ctx.canary;
  if (c === null) {
    const problem = 'no canary metrics';
    return judged(name, 'inconclusive', `${problem}${errorsNote(ctx.measurementErrors)}`, problem, {
      value: null,
      threshold: limit,
    });
  }
  const reported = RESOURCES.flatMap((r) => {
    const v = finite(c[r]);
    return v === null ? [] : [{ r, v }];
  });
  const missing = RESOURCES.filter((r) => finite(c[r]) === null);
  const values = reported.map(({ r, v }) => `${r} ${pct(v)}`).join(', ');
  const notMeasured = missing.length > 0 ? `; not measured: ${missing.join(', ')}` : '';
  const worst = reported.reduce<number | null>((m, { v }) => (m === null || v > m ? v : m), null);
  const over = reported.filter(({ v }) => v >= limit);
  if (over.length > 0) {
    return judged(
      name,
      'fail',
      `canary ${values} (limit ${pct(limit)}): ${over.map(({ r }) => r).join(', ')} at or above the limit${notMeasured}`,
      `canary ${over.map(({ r, v }) => `${r} ${pct(v)}`).join(', ')} at or above the ${pct(limit)} limit`,
      { value: worst, threshold: limit },
    );
  }
  if (missing.length > 0 && ctx.measurementErrors.length > 0) {
    const problem = `canary ${missing.join(', ')} missing while queries failed`;
    return judged(
      name,
      'inconclusive',
      `${problem}${values ? `; ${values}` : ''}${errorsNote(ctx.measurementErrors)}`,
      problem,
      {
        value: worst,
        threshold: limit,
      },
    );
  }
  if (reported.length === 0) return { name, reason: 'the source reports no cpu, memory or disk' };
  return judged(name, 'pass', `canary ${values}, below the ${pct(limit)} limit${notMeasured}`, values, {
    value: worst,
    threshold: limit,
  });
}

function toIso(x: string | Date): string {
  return typeof x === 'string' ? x : x.toISOString();
}

function versionMetrics(v: VersionSeries | null): VersionMetrics | null {
  if (v === null) return null;
  const { requests, errors, errorRate, p50Ms, p99Ms, rps, cpu, memory, disk } = v;
  return { requests, errors, errorRate, p50Ms, p99Ms, rps, cpu, memory, disk };
}

function capitalised(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * The checks whose fail rests on a significance test. They share `failAlpha` (Bonferroni) with
 * each other and across the phase's looks: each judged one must reach
 * `failAlpha / (n x (maxExtensions + 1))` to fail, so the chance that a healthy phase fails on any
 * of them, at any look, is at most `failAlpha` (for tests that are exact or conservative).
 */
export const SIGNIFICANCE_CHECKS: readonly CheckName[] = [
  CHECK_NAMES.errorRate,
  CHECK_NAMES.errorRateVsStable,
  CHECK_NAMES.p99VsStable,
];

function runChecks(ctx: Context): Outcome[] {
  return [
    checkErrorRate(ctx),
    checkErrorRateVsStable(ctx),
    checkP99Slo(ctx),
    checkP99VsStable(ctx),
    checkThroughput(ctx),
    checkResources(ctx),
  ];
}

/**
 * Judges one validation window. Checks: {@link CHECK_NAMES}. The verdict is the worst check's
 * (any fail -> fail; else any inconclusive -> inconclusive; else pass); checks that do not apply
 * (no stable traffic at 100 %, no usable baseline, resources the source does not measure) are
 * left out of it and named in the summary. Measurement errors are recorded and never turn into a
 * pass: a check whose data is missing is inconclusive. The significance-tested checks
 * ({@link SIGNIFICANCE_CHECKS}) that apply share `failAlpha` with each other and with the phase's
 * other looks (Bonferroni): each needs p < failAlpha / (tests x (maxExtensions + 1)) to fail.
 */
export function judgeWindow(args: JudgeWindowArgs): JudgedWindow {
  const start = toIso(args.start);
  const end = toIso(args.end);
  const seconds = (Date.parse(end) - Date.parse(start)) / 1000;
  const { canary, stable, measurementErrors } = args.metrics;
  const base = {
    canary,
    stable,
    t: args.thresholds,
    baseline: args.baseline,
    targetWeight: args.traffic.targetWeight,
    windowSeconds: Number.isFinite(seconds) && seconds > 0 ? seconds : null,
    measurementErrors,
    lastLook: args.attempt >= args.maxExtensions,
    looks:
      Number.isFinite(args.maxExtensions) && args.maxExtensions > 0 ? Math.floor(args.maxExtensions) + 1 : 1,
  };
  // Which significance-tested checks apply does not depend on the level, so one trial run
  // counts them; the checks are pure and cheap.
  const family = SIGNIFICANCE_CHECKS.length;
  const levelFor = (tests: number) => args.thresholds.failAlpha / (tests * base.looks);
  const trial = runChecks({ ...base, failLevel: levelFor(family), tests: family });
  const tests = Math.max(
    1,
    trial.filter((o) => isJudged(o) && SIGNIFICANCE_CHECKS.includes(o.check.name as CheckName)).length,
  );
  const outcomes = tests === family ? trial : runChecks({ ...base, failLevel: levelFor(tests), tests });
  const results = outcomes.filter(isJudged);
  const notJudged = outcomes.filter((o): o is NotJudged => !isJudged(o));
  const verdict = worstVerdict(results.map((r) => r.check.verdict));
  const deciding = verdict === 'pass' ? results : results.filter((r) => r.check.verdict === verdict);
  const lead = { pass: 'passed', fail: 'failed', inconclusive: 'inconclusive' }[verdict];
  const skipped =
    notJudged.length > 0 ? `; not judged: ${notJudged.map((n) => `${n.name} (${n.reason})`).join(', ')}` : '';
  const failedQueries =
    measurementErrors.length > 0 ? `; ${measurementErrors.length} measurement error(s)` : '';
  const summary = `${capitalised(args.phase)} window ${lead}: ${deciding.map((r) => r.phrase).join(verdict === 'pass' ? ', ' : '; ')}${skipped}${failedQueries}.`;
  return {
    phase: args.phase,
    attempt: args.attempt,
    start,
    end,
    verdict,
    summary,
    checks: results.map((r) => r.check),
    canary: versionMetrics(canary),
    stable: versionMetrics(stable),
    measurementErrors: [...measurementErrors],
    traffic: { targetWeight: args.traffic.targetWeight, actualWeight: args.traffic.actualWeight },
    canExtend: verdict === 'inconclusive' && args.attempt < args.maxExtensions,
  };
}

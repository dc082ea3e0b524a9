/**
 * The verdict of one window composed from its checks: which checks apply, how `failAlpha` is
 * split among the significance-tested ones and the phase's looks, the worst verdict, and the
 * summary sentence that names what decided it and what was not judged.
 */
import type { VersionSeries, WindowMetrics } from '../../ports/metrics.js';
import type { ResolvedValidation } from '../config.js';
import type { PhaseName } from '../defaults.js';
import type { VersionMetrics, WindowDecision } from '../record.js';
import { capitalise } from '../text.js';
import {
  type Baseline,
  CHECK_NAMES,
  type CheckName,
  type Context,
  isJudged,
  type NotJudged,
  type Outcome,
  worstVerdict,
} from './check.js';
import { checkErrorRate, checkErrorRateVsStable } from './error-rate.js';
import { checkP99Slo, checkP99VsStable } from './latency.js';
import { checkResources } from './resources.js';
import { checkCanaryTraffic, checkThroughputRecent } from './steps.js';
import { checkThroughput } from './throughput.js';

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

function toIso(x: string | Date): string {
  return typeof x === 'string' ? x : x.toISOString();
}

function versionMetrics(v: VersionSeries | null): VersionMetrics | null {
  if (v === null) return null;
  const { requests, errors, errorRate, p50Ms, p99Ms, rps, cpu, memory, disk } = v;
  return { requests, errors, errorRate, p50Ms, p99Ms, rps, cpu, memory, disk };
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
  CHECK_NAMES.canaryTraffic,
];

function runChecks(ctx: Context): Outcome[] {
  return [
    checkErrorRate(ctx),
    checkErrorRateVsStable(ctx),
    checkP99Slo(ctx),
    checkP99VsStable(ctx),
    checkThroughput(ctx),
    checkThroughputRecent(ctx),
    checkCanaryTraffic(ctx),
    checkResources(ctx),
  ];
}

/**
 * Judges one validation window. Checks: {@link CHECK_NAMES}. The verdict is the worst check's
 * (any fail -> fail; else any inconclusive -> inconclusive; else pass); checks that do not apply
 * (no stable traffic at 100 %, no usable baseline, resources or per-period counts the source
 * does not report) are left out of it and named in the summary. Measurement errors are recorded and never turn into a
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
    actualWeight: args.traffic.actualWeight,
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
  const summary = `${capitalise(args.phase)} window ${lead}: ${deciding.map((r) => r.phrase).join(verdict === 'pass' ? ', ' : '; ')}${skipped}${failedQueries}.`;
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

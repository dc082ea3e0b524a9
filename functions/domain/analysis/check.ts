/**
 * What every check of a window shares: the check names, the context a check reads, its outcome
 * (judged with its numbers, or not judged with the reason) and the defensive reading of the data
 * (a number that is not finite, or counts that do not add up, are missing data, never a pass).
 */
import type { VersionSeries } from '../../ports/metrics.js';
import type { ResolvedValidation } from '../config.js';
import type { CheckResult, Verdict } from '../record.js';
import { errorsNote } from './format.js';

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
  /** No sustained step of the total throughput out of `throughputBand` in the window's last periods. */
  throughputRecent: 'throughput-recent',
  /** No sustained drop of the canary's traffic against stable's in the same periods. */
  canaryTraffic: 'canary-traffic',
  /** Canary CPU, memory and disk utilisation below `maxResourceUtilization`. */
  resources: 'resources',
} as const;

/** One of {@link CHECK_NAMES}. */
export type CheckName = (typeof CHECK_NAMES)[keyof typeof CHECK_NAMES];

/** What the service did before the release, for the throughput and (at 100 %) latency checks. */
export interface Baseline {
  /** Requests per second before the deployment started; null when the query found none. */
  readonly rps: number | null;
  /** p99 latency (ms) before the deployment started; null when unknown. */
  readonly p99Ms: number | null;
}

/** What a check reads: the window's metrics, the thresholds and the significance it must reach. */
export interface Context {
  readonly canary: VersionSeries | null;
  readonly stable: VersionSeries | null;
  readonly t: ResolvedValidation;
  readonly baseline: Baseline | null;
  readonly targetWeight: number;
  /** Percent of traffic the router reports it sends the canary now; null when it cannot tell. */
  readonly actualWeight: number | null;
  readonly windowSeconds: number | null;
  readonly measurementErrors: readonly string[];
  /**
   * Significance level one test must reach to fail the window: `failAlpha` split evenly
   * (Bonferroni) across the `SIGNIFICANCE_CHECKS` judged in this window and the phase's looks
   * (its first window and each extension).
   */
  readonly failLevel: number;
  /** How many significance-tested checks share `failAlpha` in this window. */
  readonly tests: number;
  /** How many looks the phase may take: `maxExtensions + 1`. */
  readonly looks: number;
  /** True when no extension is left (`attempt >= maxExtensions`): this look decides. */
  readonly lastLook: boolean;
}

/** One check's result plus the short phrase the summary sentence uses. */
export interface Judged {
  readonly check: CheckResult;
  readonly phrase: string;
}

/** A check left out of the verdict because it does not apply, with the reason. */
export interface NotJudged {
  readonly name: CheckName;
  readonly reason: string;
}

/** What a check returns. */
export type Outcome = Judged | NotJudged;

/** The numbers a check records beside its detail. */
export type CheckNumbers = { value?: number | null; threshold?: number | null; pValue?: number | null };

const VERDICT_RANK: Record<Verdict, number> = { pass: 0, inconclusive: 1, fail: 2 };

/** Orders verdicts: pass < inconclusive < fail. The overall verdict is the worst check's. */
export function worstVerdict(verdicts: readonly Verdict[]): Verdict {
  let worst: Verdict = 'pass';
  for (const v of verdicts) if (VERDICT_RANK[v] > VERDICT_RANK[worst]) worst = v;
  return worst;
}

/** A judged check. */
export function judged(
  name: CheckName,
  verdict: Verdict,
  detail: string,
  phrase: string,
  numbers: CheckNumbers = {},
): Judged {
  return { check: { name, verdict, detail, ...numbers }, phrase };
}

/** Inconclusive for want of data: the problem, and the failed queries that may be why. */
export function missingData(name: CheckName, problem: string, ctx: Context, numbers: CheckNumbers): Judged {
  return judged(name, 'inconclusive', `${problem}${errorsNote(ctx.measurementErrors)}`, problem, numbers);
}

/** True when the check was judged, false when it did not apply. */
export function isJudged(o: Outcome): o is Judged {
  return 'check' in o;
}

/** At 100 % the stable version takes no traffic, so comparisons with it do not apply. */
export function stableTakesNoTraffic(ctx: Context): boolean {
  return ctx.targetWeight >= 100;
}

/** The number, or null when it is missing or not finite. */
export function finite(x: number | null | undefined): number | null {
  return typeof x === 'number' && Number.isFinite(x) ? x : null;
}

type Counts =
  | { readonly ok: true; readonly requests: number; readonly errors: number }
  | { readonly ok: false; readonly problem: string };

/** Request and error counts of a version, or why they cannot be used. */
export function countsOf(v: VersionSeries | null, who: string): Counts {
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

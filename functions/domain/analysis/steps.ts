/**
 * The checks of a window's last periods: a step the window's average hides. A drop that starts
 * part-way through a window moves the average only by its share of the window (a 40% drop in the
 * last third is 0.87x), so the window passed and the drop was caught a phase later. These checks
 * read the per-period request counts (`VersionSeries.requestSeries`) and judge the end of the
 * window on its own.
 *
 * The rule of "sustained": a run of whole metrics periods at the very end of the window, every
 * one of them beyond the threshold, is a step once it is `stepPeriods` (k, 3) long; a run of 2 to
 * k - 1 periods is a step that may be starting; a single period proves nothing (per-minute noise,
 * or a last minute still being ingested). Periods cut short by a window edge are left out.
 *
 * - `throughput-recent`: the total (canary + stable) rps of each period against the
 *   pre-deployment baseline, outside `throughputBand`. Both versions move together here, and a
 *   dip of the service's traffic looks the same as a drop the release caused, so only time tells
 *   them apart: the window is extended while an extension is left, and a step still there at the
 *   last look fails. A dip that is over by then passes.
 * - `canary-share`: the canary's share of each period's requests against its share earlier in
 *   the window, the two versions compared period by period. A dip of both versions leaves the
 *   share as it was; a drop of the canary alone (its pods failing requests before they are
 *   counted, its clients giving up) does not, and fails.
 */
import type { VersionSeries } from '../../ports/metrics.js';
import { fisherExactGreater } from '../stats.js';
import {
  CHECK_NAMES,
  type CheckName,
  type Context,
  finite,
  judged,
  missingData,
  type NotJudged,
  type Outcome,
  stableTakesNoTraffic,
} from './check.js';
import { levelText, pct, pv, times } from './format.js';

/** The shortest run of periods at a window's end that is a step that may be starting. */
export const STARTING_STEP_PERIODS = 2;

/** One whole metrics period of a window, the two versions aligned on its start. */
export interface PeriodRow {
  readonly start: string;
  readonly seconds: number;
  readonly canary: number;
  readonly stable: number;
}

/**
 * The window's whole periods, oldest first: the canary's and stable's requests joined on the
 * period's start (a period one version does not report served it nothing). A period is whole
 * when it is as long as the longest period of either series; those a window edge cut short are
 * left out, so every period judged holds the same length of time.
 */
export function wholePeriods(canary: VersionSeries | null, stable: VersionSeries | null): PeriodRow[] {
  const series = [canary?.requestSeries ?? [], stable?.requestSeries ?? []];
  const length = Math.max(0, ...series.flat().map((p) => (Number.isFinite(p.seconds) ? p.seconds : 0)));
  if (length <= 0) return [];
  const rows = new Map<string, { start: string; seconds: number; canary: number; stable: number }>();
  series.forEach((periods, i) => {
    for (const p of periods) {
      if (!(p.seconds >= length - 1e-9) || !Number.isFinite(p.requests) || p.requests < 0) continue;
      const row = rows.get(p.start) ?? { start: p.start, seconds: p.seconds, canary: 0, stable: 0 };
      if (i === 0) row.canary += p.requests;
      else row.stable += p.requests;
      rows.set(p.start, row);
    }
  });
  return [...rows.values()].sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
}

/** How many items at the end of `xs` satisfy `beyond`, counted back from the last. */
export function trailingRun<T>(xs: readonly T[], beyond: (x: T) => boolean): number {
  let n = 0;
  for (let i = xs.length - 1; i >= 0 && beyond(xs[i] as T); i--) n++;
  return n;
}

/** Requests of the two versions over some periods, pooled. */
export interface PairCounts {
  readonly canary: number;
  readonly stable: number;
}

/** A drop of the canary's traffic against stable's at the end of a window. */
export interface CanaryDrop {
  /** How many periods at the window's end are in the drop. */
  readonly run: number;
  /** The periods before the drop, pooled. */
  readonly earlier: PairCounts;
  /** The periods of the drop, pooled. */
  readonly recent: PairCounts;
}

/**
 * The longest run of periods at the end of the window in which the canary's requests, relative
 * to stable's in the same period, are in every period more than `maxDrop` below the pooled ratio
 * of all the periods before the run: `max(canary / stable of each period in the run) < (1 -
 * maxDrop) x canary / stable before it`. The ratio, unlike the canary's share of the total, falls
 * by the canary's own loss at any weight (a canary losing 40% at 50% is 0.6x the ratio but 0.75x
 * the share). Trying every split point finds a step wherever it starts (a fixed "earlier part"
 * would be diluted by a step that began inside it). Periods in which neither version served a
 * request are left out; one in which stable served none never counts as a drop; at least one
 * period must come before the run. Null when no run qualifies.
 */
export function canaryDrop(rows: readonly PeriodRow[], maxDrop: number): CanaryDrop | null {
  const served = rows.filter((r) => r.canary + r.stable > 0);
  const n = served.length;
  // Highest canary / stable ratio from period j to the end, for every j.
  const highestFrom: number[] = new Array(n + 1).fill(Number.NEGATIVE_INFINITY);
  for (let j = n - 1; j >= 0; j--) {
    const r = served[j] as PeriodRow;
    const ratio = r.stable > 0 ? r.canary / r.stable : Number.POSITIVE_INFINITY;
    highestFrom[j] = Math.max(highestFrom[j + 1] as number, ratio);
  }
  let canaryBefore = 0;
  let stableBefore = 0;
  for (let j = 1; j < n; j++) {
    const prev = served[j - 1] as PeriodRow;
    canaryBefore += prev.canary;
    stableBefore += prev.stable;
    if (stableBefore > 0 && (highestFrom[j] as number) < (1 - maxDrop) * (canaryBefore / stableBefore)) {
      const after = served.slice(j);
      return {
        run: n - j,
        earlier: { canary: canaryBefore, stable: stableBefore },
        recent: {
          canary: after.reduce((s, r) => s + r.canary, 0),
          stable: after.reduce((s, r) => s + r.stable, 0),
        },
      };
    }
  }
  return null;
}

/** The baseline rps to compare with, or why the comparison does not apply. */
function baselineRps(ctx: Context, name: CheckName): number | NotJudged {
  if (ctx.baseline === null) return { name, reason: 'no pre-deployment baseline' };
  const base = finite(ctx.baseline.rps);
  if (base === null) return { name, reason: 'the pre-deployment baseline has no rps' };
  if (base <= 0) return { name, reason: 'the pre-deployment baseline was 0 rps, no ratio' };
  return base;
}

function noPeriodCounts(ctx: Context): boolean {
  return (ctx.canary?.requestSeries ?? []).length === 0 && (ctx.stable?.requestSeries ?? []).length === 0;
}

function periodsWord(n: number): string {
  return `${n} period${n === 1 ? '' : 's'}`;
}

/**
 * Total throughput of the window's last whole periods within `throughputBand` of the baseline.
 * Per period: (canary + stable requests) / seconds / baseline rps. With r the run of periods at
 * the window's end all below the band (or all above it) and k = `stepPeriods`:
 *
 * - r >= k, a sustained step: inconclusive while an extension is left (a dip of the service's
 *   traffic and a drop the release caused look alike; the extended window tells them apart), fail
 *   at the last look.
 * - 2 <= r < k, a step that may be starting: inconclusive while an extension is left, so a drop
 *   that begins in a window's last minutes is judged in the same phase; pass at the last look.
 * - r <= 1: pass.
 *
 * Not judged: without a usable baseline (as `throughput`), when the source reports no per-period
 * counts, or with fewer than k whole periods. A version's metrics missing: inconclusive (at 100%
 * stable counts as 0).
 */
export function checkThroughputRecent(ctx: Context): Outcome {
  const name = CHECK_NAMES.throughputRecent;
  const { min, max } = ctx.t.throughputBand;
  const k = ctx.t.stepPeriods;
  const base = baselineRps(ctx, name);
  if (typeof base !== 'number') return base;
  if (ctx.canary === null || (ctx.stable === null && !stableTakesNoTraffic(ctx))) {
    const problem = `${ctx.canary === null ? 'canary' : 'stable'} throughput unknown`;
    return missingData(name, problem, ctx, { value: null, threshold: null });
  }
  if (noPeriodCounts(ctx)) return { name, reason: 'the source reports no per-period request counts' };
  const rows = wholePeriods(ctx.canary, ctx.stable);
  if (rows.length < k) {
    return { name, reason: `only ${periodsWord(rows.length)} whole, fewer than the ${k} a step needs` };
  }
  const ratios = rows.map((r) => (r.canary + r.stable) / r.seconds / base);
  const below = trailingRun(ratios, (x) => x < min);
  const above = trailingRun(ratios, (x) => x > max);
  const run = Math.max(below, above);
  const shown = ratios.slice(-Math.max(k, run));
  const list = `last ${periodsWord(shown.length)} ${shown.map(times).join(', ')} of baseline ${Number(base.toPrecision(4))} rps (band ${times(min)}-${times(max)})`;
  const runRows = rows.slice(rows.length - Math.max(1, run));
  const runRatio =
    runRows.reduce((s, r) => s + r.canary + r.stable, 0) / runRows.reduce((s, r) => s + r.seconds, 0) / base;
  const side = below > 0 ? 'below' : 'above';
  const threshold = below > 0 ? min : max;
  const numbers = { value: runRatio, threshold };
  if (run >= k) {
    const step = `total throughput ${side} the band for the last ${periodsWord(run)} (${times(runRatio)} baseline), a sustained step (${k} periods)`;
    if (ctx.lastLook) {
      return judged(
        name,
        'fail',
        `${list}: ${step}, still there at the last look`,
        `${step} the window's average hides`,
        numbers,
      );
    }
    return judged(
      name,
      'inconclusive',
      `${list}: ${step}; a dip of the service's traffic looks the same, so the window is extended and fails if the step is still there`,
      `${step}: extended to tell a step from a dip`,
      numbers,
    );
  }
  if (run >= STARTING_STEP_PERIODS) {
    const starting = `total throughput ${side} the band for the last ${periodsWord(run)} (${times(runRatio)} baseline), fewer than the ${k} of a sustained step`;
    if (!ctx.lastLook) {
      return judged(
        name,
        'inconclusive',
        `${list}: ${starting}; the window is extended to see whether it lasts`,
        `${starting}: extended to see whether it lasts`,
        numbers,
      );
    }
    return judged(
      name,
      'pass',
      `${list}: ${starting}, and no extension is left to see more`,
      `recent throughput ${times(runRatio)} baseline for ${periodsWord(run)}`,
      numbers,
    );
  }
  const last = shown.reduce((s, x) => s + x, 0) / shown.length;
  return judged(name, 'pass', `${list}: no sustained step`, `recent throughput ${times(last)} baseline`, {
    value: last,
    threshold: last < 1 ? min : max,
  });
}

/**
 * The canary's traffic against stable's, period by period, has not dropped by a step at the
 * window's end ({@link canaryDrop}, with `maxCanaryTrafficDrop`). Comparing the versions in the
 * same periods is what tells a canary-only drop from a dip of the service's traffic: a dip of both
 * versions leaves the ratio where it was. With r the length of the drop, k = `stepPeriods` and p
 * the one-sided Fisher exact test of "the canary's share of the requests was higher before the
 * drop than during it":
 *
 * - no drop, or r = 1: pass.
 * - the router reports it now sends the canary a share the drop does not fall short of
 *   (`actualWeight`, e.g. an autoscaler added stable pods behind the replica-ratio router's
 *   Service, so each canary pod gets less): pass, the drop follows the routing.
 * - r >= k and p < the fail level (a significance-tested check: it shares `failAlpha`): fail.
 * - r >= 2 and p < `alpha` with an extension left: inconclusive, the window is extended.
 * - otherwise pass: too short to be sustained at the last look, or within sampling noise.
 *
 * A rise of the canary's traffic is not judged: behind one Service, connections kept alive from
 * before the shift move to the canary pods only as they are renewed. Not judged at 100% (no
 * stable traffic), when the source reports no per-period counts, or with fewer than k + 1 whole
 * periods with requests. A version's metrics missing below 100%: inconclusive.
 */
export function checkCanaryTraffic(ctx: Context): Outcome {
  const name = CHECK_NAMES.canaryTraffic;
  const { maxCanaryTrafficDrop: maxDrop, stepPeriods: k, alpha } = ctx.t;
  if (stableTakesNoTraffic(ctx)) return { name, reason: 'stable takes no traffic at 100%' };
  if (ctx.canary === null || ctx.stable === null) {
    const problem = `no ${ctx.canary === null ? 'canary' : 'stable'} metrics`;
    return missingData(name, problem, ctx, { threshold: ctx.failLevel });
  }
  if (noPeriodCounts(ctx)) return { name, reason: 'the source reports no per-period request counts' };
  const rows = wholePeriods(ctx.canary, ctx.stable).filter((r) => r.canary + r.stable > 0);
  if (rows.length < k + 1) {
    return {
      name,
      reason: `only ${periodsWord(rows.length)} whole with requests, fewer than the ${k + 1} a drop needs (${k} in it, 1 before)`,
    };
  }
  const drop = canaryDrop(rows, maxDrop);
  const ratioOf = (c: PairCounts) => (c.stable > 0 ? c.canary / c.stable : Number.POSITIVE_INFINITY);
  const pool = (xs: readonly PeriodRow[]): PairCounts => ({
    canary: xs.reduce((s, r) => s + r.canary, 0),
    stable: xs.reduce((s, r) => s + r.stable, 0),
  });
  const shareText = (c: PairCounts) =>
    `${pct(c.canary / (c.canary + c.stable))} (${c.canary}/${c.canary + c.stable})`;
  if (drop === null || drop.run < STARTING_STEP_PERIODS) {
    const earlier = pool(rows.slice(0, -k));
    const recent = pool(rows.slice(-k));
    const relative = ratioOf(earlier) > 0 ? ratioOf(recent) / ratioOf(earlier) : null;
    const moved =
      relative !== null && Number.isFinite(relative) ? `, ${times(relative)} stable's ratio before` : '';
    return judged(
      name,
      'pass',
      `canary share ${shareText(recent)} in the last ${periodsWord(k)} against ${shareText(earlier)} before${moved}: no step down by ${pct(maxDrop)} or more against stable's traffic at the window's end`,
      `canary traffic ${pct(recent.canary / (recent.canary + recent.stable))} of requests, steady against stable's`,
      { value: relative !== null && Number.isFinite(relative) ? relative : null, threshold: 1 - maxDrop },
    );
  }
  const before = drop.earlier.canary / (drop.earlier.canary + drop.earlier.stable);
  const during = drop.recent.canary / (drop.recent.canary + drop.recent.stable);
  const relative = ratioOf(drop.recent) / ratioOf(drop.earlier);
  const p =
    fisherExactGreater(
      drop.earlier.canary,
      drop.earlier.canary + drop.earlier.stable,
      drop.recent.canary,
      drop.recent.canary + drop.recent.stable,
    )?.pValue ?? 1;
  const numbers = { value: relative, threshold: 1 - maxDrop, pValue: p };
  const observed = `canary share ${shareText(drop.recent)} in the last ${periodsWord(drop.run)} against ${shareText(drop.earlier)} before: its traffic is ${times(relative)} stable's ratio before, below ${times(1 - maxDrop)} in every one of those periods; Fisher exact test ${pv(p)}`;
  const routed = finite(ctx.actualWeight);
  if (
    routed !== null &&
    routed > 0 &&
    routed < 100 &&
    ratioOf(drop.recent) >= ((1 - maxDrop) * routed) / (100 - routed)
  ) {
    return judged(
      name,
      'pass',
      `${observed}; the router now sends the canary ${pct(routed / 100)}, so the drop follows the routing, not the canary`,
      `canary traffic ${pct(during)} of requests follows the router's ${pct(routed / 100)}`,
      numbers,
    );
  }
  const phrase = `the canary's traffic fell to ${times(relative)} stable's ratio (${pct(during)} of requests, ${pct(before)} before) for the last ${periodsWord(drop.run)}`;
  if (drop.run >= k && p < ctx.failLevel) {
    return judged(
      name,
      'fail',
      `${observed} < ${levelText(ctx)}: the canary alone lost traffic, a sustained step (${k} periods)`,
      `${phrase} while stable's did not (${pv(p)})`,
      numbers,
    );
  }
  if (p < alpha && !ctx.lastLook) {
    const why =
      drop.run >= k
        ? `only suggestively: ${pv(p)} < ${alpha}, not < ${levelText(ctx)}`
        : `for ${periodsWord(drop.run)}, fewer than the ${k} of a sustained step`;
    return judged(
      name,
      'inconclusive',
      `${observed}: the canary may be losing traffic, ${why}; the window is extended`,
      `${phrase}: extended to see whether it lasts`,
      numbers,
    );
  }
  const why =
    p >= alpha
      ? `within sampling noise (${pv(p)} ≥ ${alpha})`
      : `not a sustained step at the last look (${drop.run < k ? `${periodsWord(drop.run)} of ${k}` : `${pv(p)} ≥ ${levelText(ctx)}`})`;
  return judged(
    name,
    'pass',
    `${observed}: ${why}`,
    `canary traffic ${pct(during)} of requests, ${why}`,
    numbers,
  );
}

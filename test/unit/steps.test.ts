/**
 * The judgment of a window's last periods (functions/domain/analysis/steps.ts): the helpers, the
 * rules of `throughput-recent` and `canary-traffic` table by table, and their properties.
 */
import fc from 'fast-check';
import {
  canaryDrop,
  type PeriodRow,
  trailingRun,
  wholePeriods,
} from '../../functions/domain/analysis/steps.js';
import {
  CHECK_NAMES,
  type JudgedWindow,
  type JudgeWindowArgs,
  judgeWindow,
} from '../../functions/domain/analysis.js';
import type { ResolvedValidation } from '../../functions/domain/config.js';
import { RUNBOOK } from '../../functions/domain/defaults.js';
import type { Verdict } from '../../functions/domain/record.js';
import type { PeriodRequests, VersionSeries } from '../../functions/ports/metrics.js';

const THRESHOLDS: ResolvedValidation = { ...RUNBOOK.validation, sloP99Ms: 300 };
const START_MS = Date.parse('2026-11-02T10:00:00.000Z');
const minute = (i: number) => new Date(START_MS + i * 60_000).toISOString();

/** Per-period counts as a source reports them: whole minutes from START, `seconds` overriding some. */
function periods(counts: readonly number[], seconds: Record<number, number> = {}): PeriodRequests[] {
  return counts.map((requests, i) => ({ start: minute(i), seconds: seconds[i] ?? 60, requests }));
}

function row(i: number, canary: number, stable: number): PeriodRow {
  return { start: minute(i), seconds: 60, canary, stable };
}

/** A version whose totals are its periods' (the other checks pass on them). */
function version(counts: readonly number[], over: Partial<VersionSeries> = {}): VersionSeries {
  const requests = counts.reduce((s, x) => s + x, 0);
  return {
    requests,
    errors: 0,
    errorRate: 0,
    p50Ms: 60,
    p99Ms: 210,
    rps: requests / (counts.length * 60),
    cpu: 0.4,
    memory: 0.5,
    disk: 0.3,
    p99Series: [],
    errorRateSeries: [],
    requestSeries: periods(counts),
    ...over,
  };
}

/** A window of `n` minutes at 10%: canary 1200 and stable 10 800 requests a minute (200 rps), times the factors. */
function split(
  canaryFactors: readonly number[],
  stableFactors: readonly number[] = canaryFactors,
): { canary: VersionSeries; stable: VersionSeries } {
  return {
    canary: version(canaryFactors.map((f) => Math.round(1200 * f))),
    stable: version(stableFactors.map((f) => Math.round(10_800 * f))),
  };
}

/** Factors of a 10-minute window: 1 except the last `run` periods at `f`. */
function lastAt(run: number, f: number, n = 10): number[] {
  return Array.from({ length: n }, (_, i) => (i >= n - run ? f : 1));
}

interface Case {
  canary: VersionSeries | null;
  stable: VersionSeries | null;
  attempt?: number;
  maxExtensions?: number;
  targetWeight?: number;
  actualWeight?: number | null;
  baseline?: JudgeWindowArgs['baseline'];
  thresholds?: Partial<ResolvedValidation>;
}

function judge(c: Case): JudgedWindow {
  const n = Math.max(c.canary?.requestSeries.length ?? 0, c.stable?.requestSeries.length ?? 0, 1);
  return judgeWindow({
    phase: 'canary',
    attempt: c.attempt ?? 0,
    start: minute(0),
    end: minute(n),
    metrics: { canary: c.canary, stable: c.stable, measurementErrors: [] },
    thresholds: { ...THRESHOLDS, ...c.thresholds },
    baseline: c.baseline === undefined ? { rps: 200, p99Ms: 205 } : c.baseline,
    traffic: { targetWeight: c.targetWeight ?? 10, actualWeight: c.actualWeight ?? null },
    maxExtensions: c.maxExtensions ?? 1,
  });
}

function checkOf(w: JudgedWindow, name: string) {
  return w.checks.find((c) => c.name === name);
}

function verdictOf(w: JudgedWindow, name: string): Verdict | 'not judged' {
  return checkOf(w, name)?.verdict ?? 'not judged';
}

const FIRST = { attempt: 0, maxExtensions: 1 };
const LAST = { attempt: 1, maxExtensions: 1 };

describe('wholePeriods', () => {
  test('joins the versions on the period start and leaves out periods a window edge cut short', () => {
    const canary = version([5, 10, 10, 7], { requestSeries: periods([5, 10, 10, 7], { 0: 40, 3: 6 }) });
    const stable = version([50, 90, 100, 60], { requestSeries: periods([50, 90, 100, 60], { 0: 40, 3: 6 }) });
    expect(wholePeriods(canary, stable)).toEqual([row(1, 10, 90), row(2, 10, 100)]);
  });

  test('a period one version does not report served it nothing; rows come oldest first', () => {
    const canary = version([], { requestSeries: [...periods([0, 8, 9])].reverse().slice(0, 2) });
    const stable = version([40, 41, 42]);
    expect(wholePeriods(canary, stable)).toEqual([row(0, 0, 40), row(1, 8, 41), row(2, 9, 42)]);
  });

  test('at 100% (no stable series) the canary alone; no series at all: no rows', () => {
    expect(wholePeriods(version([3, 4]), null)).toEqual([row(0, 3, 0), row(1, 4, 0)]);
    expect(wholePeriods(null, null)).toEqual([]);
  });

  test('counts that are not counts are left out', () => {
    const canary = version([], { requestSeries: periods([1, Number.NaN, -3, 4]) });
    expect(wholePeriods(canary, null).map((r) => r.canary)).toEqual([1, 4]);
  });
});

describe('trailingRun', () => {
  test.each<[number[], number]>([
    [[], 0],
    [[1, 1, 1], 0],
    [[0, 0, 1], 0],
    [[1, 0], 1],
    [[1, 0, 0, 0], 3],
    [[0, 1, 0, 0], 2],
    [[0, 0, 0], 3],
  ])('%p: %p', (xs, n) => {
    expect(trailingRun(xs, (x) => x === 0)).toBe(n);
  });
});

describe('canaryDrop: the longest run at the end with every period below (1 - maxDrop) x the ratio before it', () => {
  // Canary/stable ratio 0.1 before; rows are [canary, stable].
  const rows = (pairs: [number, number][]) => pairs.map(([c, s], i) => row(i, c, s));
  test.each<[string, [number, number][], number | null]>([
    ['steady', Array(8).fill([100, 1000]), null],
    ['a drop in the last three', [...Array(5).fill([100, 1000]), [40, 1000], [40, 1000], [40, 1000]], 3],
    [
      'a dip of both versions keeps the ratio',
      [...Array(5).fill([100, 1000]), [50, 500], [30, 300], [10, 100]],
      null,
    ],
    [
      'found wherever it starts (a fixed earlier part would be diluted)',
      [
        [100, 1000],
        [100, 1000],
        [40, 1000],
        [40, 1000],
        [40, 1000],
        [40, 1000],
        [40, 1000],
        [40, 1000],
      ],
      6,
    ],
    ['30% below is not more than 30% below', [...Array(5).fill([100, 1000]), [70, 1000], [70, 1000]], null],
    ['31% below is', [...Array(5).fill([100, 1000]), [69, 1000], [69, 1000]], 2],
    [
      'a drop that recovered is not at the end',
      [...Array(4).fill([100, 1000]), [30, 1000], [30, 1000], [100, 1000]],
      null,
    ],
    [
      'an earlier dip does not hide a later step',
      [
        [100, 1000],
        [100, 1000],
        [20, 1000],
        [100, 1000],
        [100, 1000],
        [30, 1000],
        [30, 1000],
      ],
      2,
    ],
    ['a rise is not a drop', [...Array(5).fill([100, 1000]), [300, 1000], [300, 1000]], null],
    [
      'a period stable did not serve never counts as a drop',
      [...Array(5).fill([100, 1000]), [0, 0], [10, 0]],
      null,
    ],
    [
      'the first period cannot be the whole drop: one must come before it',
      [
        [10, 1000],
        [10, 1000],
      ],
      null,
    ],
  ])('%s', (_label, pairs, run) => {
    const drop = canaryDrop(rows(pairs), 0.3);
    expect(drop?.run ?? null).toBe(run);
  });

  test('pools the periods before and during the drop', () => {
    const drop = canaryDrop(
      rows([
        [100, 1000],
        [120, 1100],
        [30, 900],
        [20, 1000],
      ]),
      0.3,
    );
    expect(drop).toEqual({
      run: 2,
      earlier: { canary: 220, stable: 2100 },
      recent: { canary: 50, stable: 1900 },
    });
  });

  test('property: the run it finds qualifies, and no longer run does', () => {
    const pair = fc.tuple(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 3000 }));
    fc.assert(
      fc.property(
        fc.array(pair, { maxLength: 15 }),
        fc.double({ min: 0.05, max: 0.9, noNaN: true }),
        (pairs, d) => {
          const served = rows(pairs).filter((r) => r.canary + r.stable > 0);
          const qualifies = (j: number) => {
            const before = served.slice(0, j);
            const c = before.reduce((s, r) => s + r.canary, 0);
            const s = before.reduce((x, r) => x + r.stable, 0);
            return (
              j >= 1 &&
              s > 0 &&
              served.slice(j).every((r) => r.stable > 0 && r.canary / r.stable < (1 - d) * (c / s))
            );
          };
          const drop = canaryDrop(rows(pairs), d);
          const longest = served.findIndex((_, j) => j < served.length && qualifies(j));
          expect(drop?.run ?? null).toBe(longest === -1 ? null : served.length - longest);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('throughput-recent: the last whole periods against the band (0.7-1.5 of 200 rps), k = 3', () => {
  test.each<[string, number[], typeof FIRST, Verdict | 'not judged', RegExp]>([
    ['steady: pass', lastAt(0, 1), FIRST, 'pass', /last 3 periods 1x, 1x, 1x .*: no sustained step/],
    ['one period below proves nothing: pass', lastAt(1, 0.5), FIRST, 'pass', /no sustained step/],
    [
      'two periods below, an extension left: inconclusive (a step may be starting)',
      lastAt(2, 0.5),
      FIRST,
      'inconclusive',
      /below the band for the last 2 periods \(0\.5x baseline\), fewer than the 3 of a sustained step; the window is extended/,
    ],
    [
      'two periods below at the last look: pass',
      lastAt(2, 0.5),
      LAST,
      'pass',
      /fewer than the 3 of a sustained step, and no extension is left/,
    ],
    [
      'three periods below, an extension left: inconclusive (a dip looks the same)',
      lastAt(3, 0.5),
      FIRST,
      'inconclusive',
      /below the band for the last 3 periods \(0\.5x baseline\), a sustained step \(3 periods\); a dip of the service's traffic looks the same, so the window is extended/,
    ],
    [
      'three periods below at the last look: fail',
      lastAt(3, 0.5),
      LAST,
      'fail',
      /a sustained step \(3 periods\), still there at the last look/,
    ],
    [
      'the run is as long as it is: six periods',
      lastAt(6, 0.6),
      LAST,
      'fail',
      /for the last 6 periods \(0\.6x baseline\)/,
    ],
    ['just inside the band (0.71x) is no step', lastAt(5, 0.71), LAST, 'pass', /no sustained step/],
    ['just outside it (0.69x) is', lastAt(3, 0.69), LAST, 'fail', /0\.69x baseline/],
    [
      'a step up beyond 1.5x counts too',
      lastAt(3, 1.6),
      LAST,
      'fail',
      /above the band for the last 3 periods \(1\.6x baseline\)/,
    ],
    [
      'a dip in the middle that is over: pass',
      [1, 1, 0.3, 0.3, 0.3, 0.3, 1, 1, 1, 1],
      LAST,
      'pass',
      /no sustained step/,
    ],
    [
      'a run must stay on one side: below then above is one period above',
      [1, 1, 1, 1, 1, 1, 1, 0.5, 0.5, 1.6],
      LAST,
      'pass',
      /no sustained step/,
    ],
  ])('%s', (_label, factors, look, verdict, detail) => {
    const w = judge({ ...split(factors), ...look });
    expect(verdictOf(w, CHECK_NAMES.throughputRecent)).toBe(verdict);
    expect(checkOf(w, CHECK_NAMES.throughputRecent)!.detail).toMatch(detail);
  });

  test('the window average hides what the last periods show: 0.85x on average, 0.5x at the end', () => {
    const w = judge({ ...split(lastAt(3, 0.5)), ...LAST });
    expect(verdictOf(w, CHECK_NAMES.throughput)).toBe('pass');
    expect(checkOf(w, CHECK_NAMES.throughput)!.value).toBeCloseTo(0.85, 2);
    expect(w.verdict).toBe('fail');
    expect(w.summary).toMatch(
      /^Canary window failed: total throughput below the band for the last 3 periods \(0\.5x baseline\), a sustained step \(3 periods\) the window's average hides\.$/,
    );
  });

  test('a partial last period (a window edge) is left out, whatever it holds', () => {
    const canary = version([], {
      requestSeries: periods([...lastAt(0, 1, 10).map(() => 1200), 0], { 10: 6 }),
    });
    const stable = version([], {
      requestSeries: periods([...lastAt(0, 1, 10).map(() => 10_800), 0], { 10: 6 }),
    });
    const w = judge({ canary, stable, ...LAST });
    expect(verdictOf(w, CHECK_NAMES.throughputRecent)).toBe('pass');
  });

  test('stepPeriods sets the length of a sustained step', () => {
    const five = { stepPeriods: 5 };
    expect(
      verdictOf(judge({ ...split(lastAt(4, 0.5)), ...LAST, thresholds: five }), CHECK_NAMES.throughputRecent),
    ).toBe('pass');
    expect(
      verdictOf(judge({ ...split(lastAt(5, 0.5)), ...LAST, thresholds: five }), CHECK_NAMES.throughputRecent),
    ).toBe('fail');
    const one = { stepPeriods: 1 };
    expect(
      verdictOf(judge({ ...split(lastAt(1, 0.5)), ...LAST, thresholds: one }), CHECK_NAMES.throughputRecent),
    ).toBe('fail');
  });

  test('at 100% the canary alone is the total', () => {
    // 12 000 a minute is the baseline's 200 rps; the last three minutes half of it.
    const canary = version([...Array(7).fill(12_000), 6000, 6000, 6000]);
    const w = judge({ canary, stable: null, targetWeight: 100, ...LAST });
    expect(verdictOf(w, CHECK_NAMES.throughputRecent)).toBe('fail');
    expect(checkOf(w, CHECK_NAMES.throughputRecent)!.detail).toMatch(
      /below the band for the last 3 periods \(0\.5x baseline\)/,
    );
  });

  test.each<[string, Case, string]>([
    ['no baseline', { ...split(lastAt(3, 0.5)), baseline: null }, 'no pre-deployment baseline'],
    [
      'a baseline of 0 rps',
      { ...split(lastAt(3, 0.5)), baseline: { rps: 0, p99Ms: 200 } },
      'the pre-deployment baseline was 0 rps',
    ],
    [
      'no per-period counts',
      {
        canary: version([1200], { requestSeries: [] }),
        stable: version([10_800], { requestSeries: [] }),
      },
      'the source reports no per-period request counts',
    ],
    [
      'fewer whole periods than a step needs',
      split([0.5, 0.5]),
      'only 2 periods whole, fewer than the 3 a step needs',
    ],
  ])('not judged: %s', (_label, c, reason) => {
    const w = judge(c);
    expect(verdictOf(w, CHECK_NAMES.throughputRecent)).toBe('not judged');
    expect(w.summary).toContain(`throughput-recent (${reason}`);
  });

  test('stable metrics missing below 100%: inconclusive, never a pass', () => {
    const w = judge({ canary: split(lastAt(0, 1)).canary, stable: null });
    expect(verdictOf(w, CHECK_NAMES.throughputRecent)).toBe('inconclusive');
  });
});

describe('canary-traffic: the canary against stable, period by period (maxCanaryTrafficDrop 0.3), k = 3', () => {
  test.each<[string, number[], number[], Partial<Case>, Verdict | 'not judged', RegExp]>([
    ['steady: pass', lastAt(0, 1), lastAt(0, 1), FIRST, 'pass', /no step down by 30% or more/],
    [
      'a dip of both versions keeps the ratio: pass (throughput-recent extends instead)',
      lastAt(3, 0.5),
      lastAt(3, 0.5),
      FIRST,
      'pass',
      /no step down by 30% or more/,
    ],
    [
      'the canary alone loses 60% for three periods: fail',
      lastAt(3, 0.4),
      lastAt(0, 1),
      FIRST,
      'fail',
      /canary share 4\.26% \(1440\/33840\) in the last 3 periods against 10% \(8400\/84000\) before: its traffic is 0\.4x stable's ratio before, below 0\.7x in every one of those periods; Fisher exact test p=3\.0e-257 < 0\.000013 \(failAlpha 0\.0001 \/ 4 tests \/ 2 looks\): the canary alone lost traffic/,
    ],
    [
      'the canary alone loses 60% while stable dips 50%: still the canary alone',
      lastAt(3, 0.2),
      lastAt(3, 0.5),
      LAST,
      'fail',
      /its traffic is 0\.4x stable's ratio before/,
    ],
    [
      'two periods, an extension left: inconclusive',
      lastAt(2, 0.4),
      lastAt(0, 1),
      FIRST,
      'inconclusive',
      /for 2 periods, fewer than the 3 of a sustained step; the window is extended/,
    ],
    [
      'two periods at the last look: pass',
      lastAt(2, 0.4),
      lastAt(0, 1),
      LAST,
      'pass',
      /not a sustained step at the last look \(2 periods of 3\)/,
    ],
    [
      'a 25% loss is within maxCanaryTrafficDrop: pass',
      lastAt(4, 0.75),
      lastAt(0, 1),
      LAST,
      'pass',
      /no step down/,
    ],
    ['a rise is not judged a drop: pass', lastAt(4, 2), lastAt(0, 1), LAST, 'pass', /no step down/],
  ])('%s', (_label, canaryFactors, stableFactors, look, verdict, detail) => {
    const w = judge({ ...split(canaryFactors, stableFactors), ...look });
    expect(verdictOf(w, CHECK_NAMES.canaryTraffic)).toBe(verdict);
    expect(checkOf(w, CHECK_NAMES.canaryTraffic)!.detail).toMatch(detail);
  });

  test('a few requests a period cannot show a drop: within sampling noise', () => {
    // 3 canary requests a minute, then 1: the ratio fell 67%, but p=0.05 is not even suggestive.
    const canary = version([3, 3, 3, 3, 3, 3, 3, 1, 1, 1]);
    const stable = version(Array(10).fill(27));
    const first = judge({ canary, stable, ...FIRST });
    expect(verdictOf(first, CHECK_NAMES.canaryTraffic)).toBe('pass');
    expect(checkOf(first, CHECK_NAMES.canaryTraffic)!.detail).toMatch(
      /within sampling noise \(p=0\.0\d+ ≥ 0\.01\)/,
    );
  });

  test('suggestive evidence of a sustained drop extends the window; at the last look it passes', () => {
    // 4 canary requests a minute, then 1: p=0.0093, below alpha, far from the fail level.
    const canary = version([4, 4, 4, 4, 4, 4, 4, 1, 1, 1]);
    const stable = version(Array(10).fill(36));
    const first = checkOf(judge({ canary, stable, ...FIRST }), CHECK_NAMES.canaryTraffic)!;
    expect(first.pValue!).toBeLessThan(0.01);
    expect(first.pValue!).toBeGreaterThan(THRESHOLDS.failAlpha / 8);
    expect(first.verdict).toBe('inconclusive');
    expect(first.detail).toMatch(/only suggestively/);
    expect(checkOf(judge({ canary, stable, ...LAST }), CHECK_NAMES.canaryTraffic)!.verdict).toBe('pass');
  });

  test('a drop the router explains (it now sends the canary less) is not the canary', () => {
    // An autoscaler added stable pods: the router reports 5% for the canary now.
    const c = split(lastAt(3, 0.45), lastAt(0, 1));
    const routed = judge({ ...c, ...LAST, actualWeight: 5 });
    expect(verdictOf(routed, CHECK_NAMES.canaryTraffic)).toBe('pass');
    expect(checkOf(routed, CHECK_NAMES.canaryTraffic)!.detail).toMatch(
      /the router now sends the canary 5%, so the drop follows the routing/,
    );
    expect(verdictOf(judge({ ...c, ...LAST, actualWeight: 10 }), CHECK_NAMES.canaryTraffic)).toBe('fail');
  });

  test('it is one of the significance-tested checks: when judged, failAlpha is split four ways', () => {
    const w = judge({ ...split(lastAt(0, 1)), ...FIRST });
    expect(verdictOf(w, CHECK_NAMES.canaryTraffic)).toBe('pass');
    expect(checkOf(w, CHECK_NAMES.errorRateVsStable)!.threshold).toBeCloseTo(0.0001 / (4 * 2), 15);
  });

  test.each<[string, Case, string]>([
    [
      'at 100%',
      { canary: split(lastAt(3, 0.4)).canary, stable: null, targetWeight: 100 },
      'stable takes no traffic at 100%',
    ],
    [
      'no per-period counts',
      { canary: version([1200], { requestSeries: [] }), stable: version([10_800], { requestSeries: [] }) },
      'the source reports no per-period request counts',
    ],
    [
      'too few periods',
      split([1, 0.4, 0.4]),
      'only 3 periods whole with requests, fewer than the 4 a drop needs',
    ],
  ])('not judged: %s', (_label, c, reason) => {
    const w = judge(c);
    expect(verdictOf(w, CHECK_NAMES.canaryTraffic)).toBe('not judged');
    expect(w.summary).toContain(`canary-traffic (${reason}`);
  });

  test('stable metrics missing below 100%: inconclusive', () => {
    expect(
      verdictOf(judge({ canary: split(lastAt(0, 1)).canary, stable: null }), CHECK_NAMES.canaryTraffic),
    ).toBe('inconclusive');
  });
});

describe('properties of the step checks', () => {
  const factors = fc.array(fc.double({ min: 0, max: 2, noNaN: true }), { minLength: 4, maxLength: 20 });
  const look = fc.record({
    attempt: fc.integer({ min: 0, max: 2 }),
    maxExtensions: fc.integer({ min: 0, max: 2 }),
  });

  test('whatever the total does, a canary that keeps its ratio to stable in every period never fails canary-traffic', () => {
    fc.assert(
      fc.property(
        factors,
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 50 }),
        look,
        (fs, m, n, l) => {
          // Both versions scaled by the same integer counts: the ratio is m / n in every period.
          const base = fs.map((f) => Math.round(f * 100));
          const w = judge({
            canary: version(base.map((a) => a * m)),
            stable: version(base.map((a) => a * n)),
            ...l,
          });
          expect(['pass', 'not judged']).toContain(verdictOf(w, CHECK_NAMES.canaryTraffic));
        },
      ),
      { numRuns: 500 },
    );
  });

  test('throughput-recent fails only at the last look, on at least stepPeriods periods beyond the band', () => {
    fc.assert(
      fc.property(factors, look, fc.integer({ min: 1, max: 5 }), (fs, l, k) => {
        const w = judge({ ...split(fs), ...l, thresholds: { stepPeriods: k } });
        const c = checkOf(w, CHECK_NAMES.throughputRecent);
        if (c?.verdict !== 'fail') return;
        expect(l.attempt).toBeGreaterThanOrEqual(l.maxExtensions);
        const ratios = fs.map((f) => (Math.round(1200 * f) + Math.round(10_800 * f)) / 60 / 200);
        const last = ratios.slice(-k);
        const below = last.every((r) => r < 0.7);
        const above = last.every((r) => r > 1.5);
        expect(below || above).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  test('a canary-traffic fail always rests on a run of stepPeriods and p below the fail level', () => {
    fc.assert(
      fc.property(factors, factors, look, (cf, sf, l) => {
        const n = Math.min(cf.length, sf.length);
        const w = judge({ ...split(cf.slice(0, n), sf.slice(0, n)), ...l });
        const c = checkOf(w, CHECK_NAMES.canaryTraffic);
        if (c?.verdict !== 'fail') return;
        expect(c.pValue!).toBeLessThan(THRESHOLDS.failAlpha);
        expect(c.value!).toBeLessThan(1 - THRESHOLDS.maxCanaryTrafficDrop);
        expect(c.detail).toMatch(/in the last (\d+) periods/);
        expect(Number(/in the last (\d+) periods/.exec(c.detail)![1])).toBeGreaterThanOrEqual(
          THRESHOLDS.stepPeriods,
        );
      }),
      { numRuns: 1000 },
    );
  });
});

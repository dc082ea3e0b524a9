import fc from 'fast-check';
import {
  CHECK_NAMES,
  type JudgedWindow,
  type JudgeWindowArgs,
  judgeWindow,
  worstVerdict,
} from '../../functions/domain/analysis.js';
import type { ResolvedValidation } from '../../functions/domain/config.js';
import { RUNBOOK } from '../../functions/domain/defaults.js';
import type { Verdict } from '../../functions/domain/record.js';
import type { VersionSeries } from '../../functions/ports/metrics.js';

const THRESHOLDS: ResolvedValidation = { ...RUNBOOK.validation, sloP99Ms: 300 };
const START = '2026-11-02T10:00:00.000Z';
const END = '2026-11-02T10:10:00.000Z'; // 600 s

function version(over: Partial<VersionSeries> = {}): VersionSeries {
  return {
    requests: 12_000,
    errors: 2,
    errorRate: null,
    p50Ms: 60,
    p99Ms: 210,
    rps: 20,
    cpu: 0.4,
    memory: 0.5,
    disk: 0.3,
    p99Series: [205, 212, 208, 215, 209, 211, 207, 214, 206, 210],
    errorRateSeries: [],
    requestSeries: [],
    ...over,
  };
}

const HEALTHY_STABLE = version({
  requests: 108_000,
  errors: 20,
  p99Ms: 205,
  rps: 180,
  // Distinct values: the exact Mann-Whitney test applies only without ties.
  p99Series: [204.1, 207, 203, 206.2, 205, 208, 202, 206, 204, 205.3],
});

interface Overrides extends Partial<Omit<JudgeWindowArgs, 'metrics'>> {
  canary?: VersionSeries | null;
  stable?: VersionSeries | null;
  measurementErrors?: string[];
}

function judge(over: Overrides = {}): JudgedWindow {
  const { canary, stable, measurementErrors, ...rest } = over;
  return judgeWindow({
    phase: 'canary',
    attempt: 0,
    start: START,
    end: END,
    thresholds: THRESHOLDS,
    baseline: { rps: 200, p99Ms: 205 },
    traffic: { targetWeight: 10, actualWeight: 10 },
    maxExtensions: 1,
    metrics: {
      canary: canary === undefined ? version() : canary,
      stable: stable === undefined ? HEALTHY_STABLE : stable,
      measurementErrors: measurementErrors ?? [],
    },
    ...rest,
  });
}

function check(w: JudgedWindow, name: string) {
  return w.checks.find((c) => c.name === name);
}

function verdictOf(w: JudgedWindow, name: string): Verdict | 'not judged' {
  return check(w, name)?.verdict ?? 'not judged';
}

describe('judgeWindow: a healthy window', () => {
  const w = judge();

  test('passes every check', () => {
    expect(w.verdict).toBe('pass');
    expect(w.checks.map((c) => [c.name, c.verdict])).toEqual([
      [CHECK_NAMES.errorRate, 'pass'],
      [CHECK_NAMES.errorRateVsStable, 'pass'],
      [CHECK_NAMES.p99Slo, 'pass'],
      [CHECK_NAMES.p99VsStable, 'pass'],
      [CHECK_NAMES.throughput, 'pass'],
      [CHECK_NAMES.resources, 'pass'],
    ]);
    expect(w.canExtend).toBe(false);
  });

  test('the summary is one sentence with the deciding numbers', () => {
    expect(w.summary).toMatch(/^Canary window passed: /);
    expect(w.summary).toContain('canary errors 0.0167% (2/12000)');
    expect(w.summary).toContain('p99 210 ms (SLO 300 ms)');
    expect(w.summary).toContain('throughput 1x baseline');
    expect(w.summary.endsWith('.')).toBe(true);
    expect(w.summary.split('. ').length).toBe(1);
  });

  test('records the window, the traffic and per-version numbers without the series', () => {
    expect(w).toMatchObject({
      phase: 'canary',
      attempt: 0,
      start: START,
      end: END,
      traffic: { targetWeight: 10, actualWeight: 10 },
      measurementErrors: [],
    });
    expect(w.canary).toEqual({
      requests: 12_000,
      errors: 2,
      errorRate: null,
      p50Ms: 60,
      p99Ms: 210,
      rps: 20,
      cpu: 0.4,
      memory: 0.5,
      disk: 0.3,
    });
    expect(w.stable).not.toHaveProperty('p99Series');
  });

  test('Dates are recorded as ISO strings', () => {
    const d = judge({ start: new Date(START), end: new Date(END) });
    expect(d.start).toBe(START);
    expect(d.end).toBe(END);
  });
});

describe('error rate, absolute (limit 0.1%, at least 200 requests)', () => {
  test.each<[string, Partial<VersionSeries> | null, Verdict, RegExp]>([
    [
      'zero requests is inconclusive, never a pass',
      { requests: 0, errors: 0, rps: 0 },
      'inconclusive',
      /canary served no requests/,
    ],
    [
      '150 requests and no errors is too few to pass',
      { requests: 150, errors: 0 },
      'inconclusive',
      /only 150 requests, fewer than the 200/,
    ],
    [
      '150 requests and 1 error is not yet evidence',
      { requests: 150, errors: 1 },
      'inconclusive',
      /binomial p=0\.14/,
    ],
    [
      '150 requests and 30 errors fails even on a small sample',
      { requests: 150, errors: 30 },
      'fail',
      /20% \(30\/150\) is above the 0\.1% limit, and significantly so on 150 requests \(binomial p=2\.9e-59 < 0\.000017 \(failAlpha 0\.0001 \/ 3 tests \/ 2 looks\)\)/,
    ],
    [
      'zero errors on plenty of requests passes',
      { requests: 12_000, errors: 0 },
      'pass',
      /0% \(0\/12000\) is below the 0\.1% limit/,
    ],
    [
      'exactly at the limit is not yet evidence that the true rate is above it: inconclusive, extended',
      { requests: 12_000, errors: 12 },
      'inconclusive',
      /0\.1% \(12\/12000\) is at or above the 0\.1% limit, but 12000 requests do not yet show the true rate is \(binomial p=0\.54 ≥ 0\.000017/,
    ],
    [
      '0.117% on 11 065 requests (a noisy minute on a true 0.03%): inconclusive, not a rollback',
      { requests: 11_065, errors: 13 },
      'inconclusive',
      /binomial p=0\.32 ≥/,
    ],
    [
      'well above the limit on plenty of requests fails',
      { requests: 12_000, errors: 40 },
      'fail',
      /0\.333% \(40\/12000\) is above the 0\.1% limit, and significantly so on 12000 requests \(binomial p=1\.5e-10/,
    ],
    [
      'just under the limit passes',
      { requests: 12_000, errors: 11 },
      'pass',
      /0\.0917% \(11\/12000\) is below/,
    ],
    ['a 2% error spike fails', { requests: 12_000, errors: 245 }, 'fail', /2\.04% \(245\/12000\)/],
    [
      'more errors than requests is inconsistent data',
      { requests: 10, errors: 11 },
      'inconclusive',
      /inconsistent \(11 errors of 10 requests\)/,
    ],
    [
      'fractional counts are inconsistent data',
      { requests: 1000.5, errors: 1 },
      'inconclusive',
      /inconsistent/,
    ],
    ['no canary metrics at all', null, 'inconclusive', /no canary metrics/],
  ])('%s', (_label, canary, verdict, detail) => {
    const w = judge({ canary: canary === null ? null : version(canary) });
    const c = check(w, CHECK_NAMES.errorRate)!;
    expect(c.verdict).toBe(verdict);
    expect(c.detail).toMatch(detail);
    expect(c.threshold).toBe(0.001);
    if (verdict !== 'pass') expect(w.verdict).not.toBe('pass');
  });

  test('a failed canary query is recorded and makes every canary check inconclusive', () => {
    const w = judge({ canary: null, measurementErrors: ['canary requests: ThrottlingException'] });
    expect(w.verdict).toBe('inconclusive');
    expect(w.measurementErrors).toEqual(['canary requests: ThrottlingException']);
    expect(w.canary).toBeNull();
    for (const name of [
      CHECK_NAMES.errorRate,
      CHECK_NAMES.errorRateVsStable,
      CHECK_NAMES.p99Slo,
      CHECK_NAMES.p99VsStable,
    ]) {
      expect(check(w, name)?.verdict).toBe('inconclusive');
      expect(check(w, name)?.detail).toContain('ThrottlingException');
    }
    expect(verdictOf(w, CHECK_NAMES.resources)).toBe('inconclusive');
    expect(verdictOf(w, CHECK_NAMES.throughput)).toBe('inconclusive');
    expect(w.summary).toContain('1 measurement error(s)');
    expect(w.canExtend).toBe(true);
  });
});

describe('error rate, canary versus stable (meaningful AND significant)', () => {
  test.each<
    [
      string,
      Partial<VersionSeries>,
      Partial<VersionSeries> | null,
      Overrides,
      Verdict | 'not judged',
      RegExp | null,
    ]
  >([
    [
      "Kayenta's case: new errors against an error-free stable, beyond the margin, fail",
      { errors: 7 },
      { errors: 0 },
      {},
      'fail',
      /canary 0\.0583% \(7\/12000\) vs stable 0% \(0\/108000\): canary is higher by 0\.0583 pp \(stable had none\), beyond the practical margin \(\+0\.05 pp and 1\.5x\), and significantly so: Fisher exact test p=1\.0e-7 < 0\.000017 \(failAlpha 0\.0001 \/ 3 tests \/ 2 looks\)/,
    ],
    [
      'new errors against an error-free stable below the practical margin pass, however significant (p=1e-5)',
      { errors: 5 },
      { errors: 0 },
      {},
      'pass',
      /higher by 0\.0417 pp \(stable had none\), within the practical margin.*Fisher exact test p=1\.0e-5; stable had no errors, so the canary is also judged on its own rate, which is below the 0\.1% limit: pass/,
    ],
    [
      'one error against an error-free stable: judged on its own rate too (pass)',
      { errors: 1 },
      { errors: 0 },
      {},
      'pass',
      /Fisher exact test p=0\.1; stable had no errors, so the canary is also judged on its own rate, which is below the 0\.1% limit: pass/,
    ],
    [
      'against an error-free stable a canary at the limit is not cleared: its own rate makes it inconclusive',
      { requests: 600, errors: 1, rps: 1 },
      { requests: 5400, errors: 0 },
      {},
      'inconclusive',
      /stable had no errors.*is at or above the 0\.1% limit, but 600 requests do not yet show.*: inconclusive/,
    ],
    [
      'against an error-free stable a canary far above the limit fails even when the comparison cannot tell',
      { requests: 600, errors: 10, rps: 1 },
      { requests: 300, errors: 0 },
      {},
      'fail',
      /but not significantly: Fisher exact test p=0\.017 ≥ 0\.01; stable had no errors.*significantly so on 600 requests.*: fail/,
    ],
    [
      'meaningful and significant at the fail level: fail',
      { errors: 16 },
      {},
      {},
      'fail',
      /canary 0\.133% \(16\/12000\) vs stable 0\.0185% \(20\/108000\): canary is higher by 0\.115 pp \(7\.2x stable's\), beyond the practical margin \(\+0\.05 pp and 1\.5x\), and significantly so: Fisher exact test p=1\.0e-7 < 0\.000017/,
    ],
    [
      'meaningful but only suggestive (alpha > p >= fail level) with an extension left: inconclusive',
      { errors: 11 },
      {},
      {},
      'inconclusive',
      /higher by 0\.0731 pp \(4\.95x stable's\), beyond the practical margin .* but the evidence is only suggestive: Fisher exact test p=0\.00013 < 0\.01, not < 0\.000017 .*; the window is extended/,
    ],
    [
      'the same evidence at the last look: the fail level alone decides (pass)',
      { errors: 11 },
      {},
      { attempt: 1, maxExtensions: 1 },
      'pass',
      /but not significantly: Fisher exact test p=0\.00013 ≥ 0\.000017 .* at the last look/,
    ],
    [
      'significant at alpha but below the practical margin (+0.048 pp): pass',
      { errors: 8 },
      {},
      {},
      'pass',
      /higher by 0\.0481 pp \(3\.6x stable's\), within the practical margin \(\+0\.05 pp and 1\.5x\); Fisher exact test p=0\.0049/,
    ],
    [
      'canary lower than stable: pass',
      { errors: 2 },
      {},
      {},
      'pass',
      /canary is not higher; Fisher exact test p=0\.66/,
    ],
    [
      'high stable rate: +0.23 pp at 2.25x is meaningful and significant',
      { errors: 50 },
      { errors: 200 },
      { thresholds: { ...THRESHOLDS, maxErrorRate: 0.01 } },
      'fail',
      /Fisher exact test p=1\.6e-6 < 0\.000017/,
    ],
    [
      'high stable rate: +0.065 pp at 1.35x is within the margin (and not significant either)',
      { errors: 30 },
      { errors: 200 },
      { thresholds: { ...THRESHOLDS, maxErrorRate: 0.01 } },
      'pass',
      /higher by 0\.0648 pp \(1\.35x stable's\), within the practical margin \(\+0\.05 pp and 1\.5x\); Fisher exact test p=0\.08/,
    ],
    [
      'high stable rate: +0.1 pp is above the absolute margin but below the 1.5x factor: pass',
      { requests: 100_000, errors: 1200 },
      { requests: 100_000, errors: 1100 },
      { thresholds: { ...THRESHOLDS, maxErrorRate: 0.05 } },
      'pass',
      /higher by 0\.1 pp \(1\.09x stable's\), within the practical margin/,
    ],
    [
      'margins come from the thresholds (a service may tighten them)',
      { errors: 8 },
      {},
      { thresholds: { ...THRESHOLDS, minErrorRateIncrease: 0.0002, minErrorRateRatio: 2 } },
      'inconclusive',
      /beyond the practical margin \(\+0\.02 pp and 2x\), but the evidence is only suggestive/,
    ],
    [
      'a looser failAlpha fails on less evidence',
      { errors: 11 },
      {},
      { thresholds: { ...THRESHOLDS, failAlpha: 0.001 } },
      'fail',
      /p=0\.00013 < 0\.00017 \(failAlpha 0\.001 \/ 3 tests \/ 2 looks\)/,
    ],
    [
      'too few stable requests to compare',
      {},
      { requests: 150, errors: 0 },
      {},
      'inconclusive',
      /fewer than 200 requests in a version/,
    ],
    ['no stable metrics while stable should take 90%', {}, null, {}, 'inconclusive', /no stable metrics/],
    [
      'no stable traffic at 100%: not judged',
      { requests: 120_000, rps: 200 },
      { requests: 0, errors: 0, rps: 0, p99Ms: null },
      { traffic: { targetWeight: 100, actualWeight: 100 }, phase: 'production' },
      'not judged',
      null,
    ],
  ])('%s', (_label, canary, stable, over, verdict, detail) => {
    const w = judge({
      canary: version(canary),
      stable: stable === null ? null : version({ ...HEALTHY_STABLE, ...stable }),
      ...over,
    });
    expect(verdictOf(w, CHECK_NAMES.errorRateVsStable)).toBe(verdict);
    if (detail) expect(check(w, CHECK_NAMES.errorRateVsStable)!.detail).toMatch(detail);
    if (verdict === 'not judged')
      expect(w.summary).toContain('not judged: error-rate-vs-stable (stable takes no traffic at 100%)');
  });

  test('the check records the Fisher p-value and the fail level it had to reach', () => {
    const c = check(judge({ canary: version({ errors: 16 }) }), CHECK_NAMES.errorRateVsStable)!;
    expect(c.pValue).toBeCloseTo(1.0130161522356663e-7, 12); // SciPy fisher_exact, alternative='greater'
    expect(c.threshold).toBeCloseTo(0.0001 / (3 * 2), 15); // 3 tests, 2 looks (one extension)
    expect(c.value).toBeCloseTo(16 / 12_000, 15);
  });
});

describe('Bonferroni: the significance-tested checks of a window and the looks of a phase share failAlpha', () => {
  const atLimit = version({ requests: 60_000, errors: 60, rps: 200 }); // 0.1%: p=0.52 against the limit
  test.each<[string, Overrides, string, number]>([
    [
      'below 100% with one extension: 3 tests (error-rate, error-rate-vs-stable, p99-vs-stable) x 2 looks',
      { canary: version({ errors: 12 }) },
      '0.000017 (failAlpha 0.0001 / 3 tests / 2 looks)',
      0.0001 / 6,
    ],
    [
      'below 100% without extensions: 3 tests, 1 look',
      { canary: version({ errors: 12 }), maxExtensions: 0 },
      '0.000033 (failAlpha 0.0001 / 3 tests)',
      0.0001 / 3,
    ],
    [
      'at 100% with a baseline p99: error-rate and p99-vs-stable, 1 look',
      {
        phase: 'production',
        canary: atLimit,
        stable: null,
        traffic: { targetWeight: 100, actualWeight: 100 },
        maxExtensions: 0,
      },
      '0.00005 (failAlpha 0.0001 / 2 tests)',
      0.0001 / 2,
    ],
    [
      'at 100% without a baseline p99: error-rate alone',
      {
        phase: 'production',
        canary: atLimit,
        stable: null,
        baseline: { rps: 200, p99Ms: null },
        traffic: { targetWeight: 100, actualWeight: 100 },
        maxExtensions: 0,
      },
      '0.0001 (failAlpha 0.0001)',
      0.0001,
    ],
  ])('%s', (_label, over, text, level) => {
    const w = judge(over);
    const errorRate = check(w, CHECK_NAMES.errorRate)!;
    expect(errorRate.verdict).toBe('inconclusive');
    expect(errorRate.detail).toContain(`≥ ${text}`);
    const vsStable = check(w, CHECK_NAMES.errorRateVsStable);
    if (vsStable) expect(vsStable.threshold).toBeCloseTo(level, 15);
  });

  test('the same evidence that fails a window with one test and one look is inconclusive with more of either', () => {
    // 40 errors in 20 000 requests: binomial p = 5.3e-5 against the 0.1% limit (SciPy).
    const canary = version({ requests: 20_000, errors: 40, rps: 200 });
    const at100 = {
      phase: 'production' as const,
      canary,
      stable: null,
      traffic: { targetWeight: 100, actualWeight: 100 },
    };
    const alone = judge({ ...at100, baseline: { rps: 200, p99Ms: null }, maxExtensions: 0 });
    const twoTests = judge({ ...at100, maxExtensions: 0 });
    const twoLooks = judge({ ...at100, baseline: { rps: 200, p99Ms: null }, maxExtensions: 1 });
    expect(verdictOf(alone, CHECK_NAMES.errorRate)).toBe('fail');
    expect(verdictOf(twoTests, CHECK_NAMES.errorRate)).toBe('inconclusive');
    expect(verdictOf(twoLooks, CHECK_NAMES.errorRate)).toBe('inconclusive');
  });
});

describe('latency', () => {
  /** Ten distinct per-period p99s around `p99`, `spread` ms apart. */
  const slower = (p99: number, spread: number) =>
    Array.from({ length: 10 }, (_, i) => p99 + ((i % 5) - 2) * spread + (i >= 5 ? spread / 2 : 0));

  test.each<
    [
      string,
      Partial<VersionSeries>,
      Partial<VersionSeries> | null,
      Overrides,
      Verdict | 'not judged',
      Verdict | 'not judged',
      RegExp,
    ]
  >([
    [
      'p99 above the SLO fails',
      { p99Ms: 310, p99Series: slower(310, 3) },
      {},
      {},
      'fail',
      'fail',
      /canary p99 310 ms is at or above the 300 ms SLO/,
    ],
    [
      'p99 exactly at the SLO fails',
      { p99Ms: 300 },
      { p99Ms: 290 },
      {},
      'fail',
      'pass',
      /at or above the 300 ms SLO/,
    ],
    [
      'p99 not reported is inconclusive',
      { p99Ms: null },
      {},
      {},
      'inconclusive',
      'inconclusive',
      /canary p99 not reported/,
    ],
    [
      'p99 over too few requests is inconclusive',
      { requests: 100, errors: 0, p99Ms: 120 },
      {},
      {},
      'inconclusive',
      'inconclusive',
      /rests on only 100 requests/,
    ],
    [
      'ratio over tolerance, confirmed by the per-period p99s: fail',
      { p99Ms: 250, p99Series: slower(250, 3) },
      {},
      {},
      'pass',
      'fail',
      /250 ms vs stable 205 ms = 1\.22x \(tolerance 1\.2x\) exceeds the tolerance; confirmed: exact Mann-Whitney on 10 vs 10 per-period p99s p=5\.4e-6 < 0\.000017/,
    ],
    [
      'ratio over tolerance, not confirmed by the per-period p99s: inconclusive',
      { p99Ms: 250, p99Series: [150, 260, 180, 210, 170, 240, 200, 190, 230, 205] },
      {},
      {},
      'pass',
      'inconclusive',
      /the per-period p99s do not confirm it: Mann-Whitney on 10 vs 10 per-period p99s p=0\.\d+ ≥ 0\.01/,
    ],
    [
      'ratio over tolerance with fewer than 5 periods: the ratio alone fails it',
      { p99Ms: 250, p99Series: [249, 251, 250] },
      {},
      {},
      'pass',
      'fail',
      /per-period p99s not compared \(fewer than 5 periods per version\)/,
    ],
    [
      'consistently but tolerably slower: pass, the test alone does not fail it',
      { p99Ms: 230, p99Series: slower(230, 1) },
      {},
      {},
      'pass',
      'pass',
      /1\.12x \(tolerance 1\.2x\); exact Mann-Whitney on 10 vs 10 per-period p99s p=/,
    ],
    [
      'stable p99 missing at 10% is inconclusive',
      {},
      { p99Ms: null },
      {},
      'pass',
      'inconclusive',
      /stable p99 not reported/,
    ],
    [
      'at 100% the baseline p99 stands in for stable',
      { requests: 120_000, p99Ms: 260, rps: 200 },
      null,
      { traffic: { targetWeight: 100, actualWeight: 100 }, phase: 'production' },
      'pass',
      'fail',
      /canary p99 260 ms vs baseline 205 ms = 1\.27x/,
    ],
  ])('%s', (_label, canary, stable, over, slo, vsStable, detail) => {
    const w = judge({
      canary: version(canary),
      stable: stable === null ? null : version({ ...HEALTHY_STABLE, ...stable }),
      ...over,
    });
    expect(verdictOf(w, CHECK_NAMES.p99Slo)).toBe(slo);
    expect(verdictOf(w, CHECK_NAMES.p99VsStable)).toBe(vsStable);
    const details = w.checks.map((c) => c.detail).join('\n');
    expect(details).toMatch(detail);
  });

  test.each<[string, number[], number[], Overrides, Verdict, RegExp]>([
    [
      'over the tolerance and only suggestively slower (alpha > p >= fail level): inconclusive',
      [251, 262, 240, 255, 199.5, 249, 258, 245, 253, 207.5],
      HEALTHY_STABLE.p99Series as number[],
      {},
      'inconclusive',
      /only suggestively: exact Mann-Whitney on 10 vs 10 per-period p99s p=0\.00\d+ < 0\.01, not < 0\.000017/,
    ],
    [
      'tied per-period values fall back to the asymptotic test, which cannot confirm 10 vs 10 at the fail level',
      [250, 250, 251, 251, 252, 252, 253, 253, 254, 254],
      HEALTHY_STABLE.p99Series as number[],
      {},
      'inconclusive',
      /only suggestively: Mann-Whitney on 10 vs 10 per-period p99s p=8\.9e-5 < 0\.01, not < 0\.000017/,
    ],
    [
      'five periods per version cannot reach the fail level: inconclusive, so the window is extended',
      [251, 252, 253, 254, 255],
      [204.1, 207, 203, 206.2, 205],
      {},
      'inconclusive',
      /exact Mann-Whitney on 5 vs 5 per-period p99s p=0\.004/,
    ],
    [
      'at the last look an unconfirmed excess still fails safe (inconclusive, never a pass)',
      [251, 252, 253, 254, 255],
      [204.1, 207, 203, 206.2, 205],
      { attempt: 1 },
      'inconclusive',
      /do not confirm it at|only suggestively/,
    ],
  ])('%s', (_label, canarySeries, stableSeries, over, verdict, detail) => {
    const w = judge({
      canary: version({ p99Ms: 250, p99Series: canarySeries }),
      stable: version({ ...HEALTHY_STABLE, p99Series: stableSeries }),
      ...over,
    });
    expect(verdictOf(w, CHECK_NAMES.p99VsStable)).toBe(verdict);
    expect(check(w, CHECK_NAMES.p99VsStable)!.detail).toMatch(detail);
  });

  describe('at 100% against the pre-deployment baseline (another time: the drift counts as noise)', () => {
    const production = (p99Ms: number, p99Series: number[], over: Overrides = {}) =>
      judge({
        phase: 'production',
        canary: version({ requests: 60_000, errors: 10, rps: 200, p99Ms, p99Series }),
        stable: null,
        baseline: { rps: 200, p99Ms: 215 },
        traffic: { targetWeight: 100, actualWeight: 100 },
        maxExtensions: 0,
        ...over,
      });

    test.each<[string, number, number[], Overrides, Verdict, RegExp]>([
      [
        "a noisy service's healthy window, 1.23x the baseline: within the drift, pass",
        265,
        [229, 281, 236, 262, 219],
        {},
        'pass',
        /265 ms vs baseline 215 ms = 1\.23x \(tolerance 1\.2x\): over the tolerance, but within the service's drift since the baseline was measured: ratio above the tolerance given the \d+(\.\d+)?% period-to-period spread of 5 per-period p99s: t=0\.\d+, p=0\.\d+ ≥ 0\.01/,
      ],
      [
        'a quiet service 1.5x the baseline: significantly beyond the tolerance, fail',
        322,
        [320, 324, 319, 326, 321],
        {},
        'fail',
        /322 ms vs baseline 215 ms = 1\.5x \(tolerance 1\.2x\) exceeds the tolerance, significantly: ratio above the tolerance .* < 0\.00005 \(failAlpha 0\.0001 \/ 2 tests\)/,
      ],
      [
        'suggestive with an extension left: inconclusive',
        300,
        [285, 315, 295, 305, 300],
        { maxExtensions: 1 },
        'inconclusive',
        /exceeds the tolerance, but only suggestively: .* < 0\.01, not < 0\.000025 \(failAlpha 0\.0001 \/ 2 tests \/ 2 looks\)/,
      ],
      [
        'the same at the last look: the fail level decides (pass)',
        300,
        [285, 315, 295, 305, 300],
        {},
        'pass',
        /≥ 0\.00005 \(failAlpha 0\.0001 \/ 2 tests\) at the last look/,
      ],
      [
        'fewer than 5 per-period p99s: the ratio alone decides (fail)',
        265,
        [229, 281, 236],
        {},
        'fail',
        /exceeds the tolerance, per-period p99s not compared \(fewer than 5 periods\)/,
      ],
      [
        'within the tolerance: pass',
        240,
        [229, 251, 236, 242, 239],
        {},
        'pass',
        /1\.12x \(tolerance 1\.2x\); ratio above the tolerance given/,
      ],
    ])('%s', (_label, p99, series, over, verdict, detail) => {
      const w = production(p99, series, over);
      expect(verdictOf(w, CHECK_NAMES.p99VsStable)).toBe(verdict);
      expect(check(w, CHECK_NAMES.p99VsStable)!.detail).toMatch(detail);
    });
  });

  test('at 100% with no stable traffic and no baseline p99 the comparison is not judged; the SLO still is', () => {
    const w = judge({
      phase: 'production',
      canary: version({ requests: 120_000, rps: 200 }),
      stable: null,
      baseline: { rps: 200, p99Ms: null },
      traffic: { targetWeight: 100, actualWeight: 100 },
    });
    expect(verdictOf(w, CHECK_NAMES.p99VsStable)).toBe('not judged');
    expect(verdictOf(w, CHECK_NAMES.p99Slo)).toBe('pass');
    expect(w.verdict).toBe('pass');
    expect(w.summary).toContain('p99-vs-stable (no stable traffic at 100% and no baseline p99)');
  });

  test('the Mann-Whitney p-value and the ratio are in the check', () => {
    const c = check(
      judge({ canary: version({ p99Ms: 250, p99Series: slower(250, 3) }) }),
      CHECK_NAMES.p99VsStable,
    )!;
    expect(c.value).toBeCloseTo(250 / 205, 10);
    expect(c.threshold).toBe(1.2);
    expect(c.pValue).toBeLessThan(0.001);
  });
});

describe('throughput (band 0.7-1.5 of baseline)', () => {
  test.each<[string, Overrides, Verdict | 'not judged', RegExp | null]>([
    ['no baseline captured: not judged, and said so', { baseline: null }, 'not judged', null],
    [
      'baseline without rps (its query failed): not judged, since no extension can supply it',
      { baseline: { rps: null, p99Ms: 205 } },
      'not judged',
      /not judged: throughput \(the pre-deployment baseline has no rps\)/,
    ],
    [
      'baseline of 0 rps: not judged',
      { baseline: { rps: 0, p99Ms: 205 } },
      'not judged',
      /baseline was 0 rps, no ratio/,
    ],
    [
      'a 40% drop fails',
      { canary: version({ rps: 12 }), stable: version({ ...HEALTHY_STABLE, rps: 108 }) },
      'fail',
      /total 120 rps = canary 12 rps \+ stable 108 rps \(canary share 10%, target 10%\) vs baseline 200 rps: 0\.6x, band 0\.7x-1\.5x, outside the band/,
    ],
    [
      'exactly at the lower edge passes',
      { canary: version({ rps: 14 }), stable: version({ ...HEALTHY_STABLE, rps: 126 }) },
      'pass',
      /0\.7x/,
    ],
    [
      'a surge above the band fails',
      { canary: version({ rps: 32 }), stable: version({ ...HEALTHY_STABLE, rps: 288 }) },
      'fail',
      /1\.6x/,
    ],
    [
      'rps not reported is counted from requests over the window',
      { canary: version({ rps: null }), stable: version({ ...HEALTHY_STABLE, rps: null }) },
      'pass',
      /total 200 rps = canary 20 rps \+ stable 180 rps/,
    ],
    [
      'at 100% a stable version with no metrics counts as 0 rps',
      {
        canary: version({ requests: 120_000, rps: 200 }),
        stable: null,
        traffic: { targetWeight: 100, actualWeight: 100 },
      },
      'pass',
      /total 200 rps = canary 200 rps \+ stable 0 rps/,
    ],
    [
      'stable throughput unknown at 10%: inconclusive',
      { stable: null },
      'inconclusive',
      /stable throughput unknown/,
    ],
  ])('%s', (_label, over, verdict, detail) => {
    const w = judge(over);
    expect(verdictOf(w, CHECK_NAMES.throughput)).toBe(verdict);
    if (verdict === 'not judged') {
      expect(w.verdict).toBe('pass');
      expect(w.summary).toMatch(detail ?? /not judged: throughput \(no pre-deployment baseline\)/);
    } else if (detail) {
      expect(check(w, CHECK_NAMES.throughput)!.detail).toMatch(detail);
    }
  });
});

describe('resources (limit 80%)', () => {
  test.each<[string, Partial<VersionSeries>, string[], Verdict | 'not judged', RegExp | null]>([
    [
      'cpu over the limit fails',
      { cpu: 0.85 },
      [],
      'fail',
      /cpu 85%, memory 50%, disk 30% \(limit 80%\): cpu at or above the limit/,
    ],
    ['disk exactly at the limit fails', { disk: 0.8 }, [], 'fail', /disk at or above the limit/],
    [
      'a value over the limit fails even while another query failed',
      { memory: 0.95, cpu: null },
      ['cpu: timeout'],
      'fail',
      /memory at or above/,
    ],
    [
      'none reported and no query failed: not measured, not judged',
      { cpu: null, memory: null, disk: null },
      [],
      'not judged',
      null,
    ],
    [
      'none reported while a query failed: inconclusive',
      { cpu: null, memory: null, disk: null },
      ['cpu: AccessDenied'],
      'inconclusive',
      /canary cpu, memory, disk missing while queries failed; 1 measurement error\(s\): cpu: AccessDenied/,
    ],
    [
      'some reported, the rest not measured: judged on what is there',
      { memory: null, disk: null },
      [],
      'pass',
      /canary cpu 40%, below the 80% limit; not measured: memory, disk/,
    ],
    [
      'some reported, the rest missing while a query failed: inconclusive',
      { disk: null },
      ['disk: timeout'],
      'inconclusive',
      /canary disk missing while queries failed/,
    ],
    [
      'non-finite values count as not reported',
      { cpu: Number.NaN, memory: null, disk: null },
      [],
      'not judged',
      null,
    ],
  ])('%s', (_label, canary, measurementErrors, verdict, detail) => {
    const w = judge({ canary: version(canary), measurementErrors });
    expect(verdictOf(w, CHECK_NAMES.resources)).toBe(verdict);
    if (detail) expect(check(w, CHECK_NAMES.resources)!.detail).toMatch(detail);
    if (verdict === 'not judged') {
      expect(w.verdict).toBe('pass');
      expect(w.summary).toMatch(/not judged: .*resources \(the source reports no cpu, memory or disk\)/);
    }
  });
});

describe('overall verdict and extension', () => {
  test('any fail wins over inconclusive', () => {
    const w = judge({
      canary: version({ errors: 245, cpu: null, memory: null, disk: null }),
      measurementErrors: ['cpu: timeout'],
    });
    expect(verdictOf(w, CHECK_NAMES.resources)).toBe('inconclusive');
    expect(w.verdict).toBe('fail');
    expect(w.canExtend).toBe(false);
    expect(w.summary).toMatch(
      /^Canary window failed: canary error rate 2\.04% \(245\/12000\) is above the 0\.1% limit; /,
    );
    expect(w.summary).not.toContain('cpu');
  });

  test.each([
    [0, 1, true],
    [1, 1, false],
    [0, 0, false],
    [2, 1, false],
  ])('inconclusive at attempt %p of %p extensions: canExtend %p', (attempt, maxExtensions, expected) => {
    const w = judge({ canary: version({ requests: 150, errors: 0 }), attempt, maxExtensions });
    expect(w.verdict).toBe('inconclusive');
    expect(w.canExtend).toBe(expected);
    expect(w.summary).toMatch(/^Canary window inconclusive: only 150 canary requests \(need 200\)/);
  });

  test('the phase names the sentence', () => {
    expect(judge({ phase: 'staging', traffic: { targetWeight: 50, actualWeight: 50 } }).summary).toMatch(
      /^Staging window passed/,
    );
  });

  test('worstVerdict orders pass < inconclusive < fail', () => {
    expect(worstVerdict([])).toBe('pass');
    expect(worstVerdict(['pass', 'inconclusive'])).toBe('inconclusive');
    expect(worstVerdict(['inconclusive', 'fail', 'pass'])).toBe('fail');
  });
});

// ---------------------------------------------------------------------------------------------
// Properties over arbitrary windows.

const nullable = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null, freq: 5 });
const utilisation = nullable(fc.double({ min: 0, max: 1, noNaN: true }));
const latency = fc.double({ min: 1, max: 2000, noNaN: true });

const versionArb: fc.Arbitrary<VersionSeries> = fc
  .record({
    requests: fc.oneof(fc.integer({ min: 0, max: 400 }), fc.integer({ min: 0, max: 200_000 })),
    errorShare: fc.oneof(
      fc.constant(0),
      fc.double({ min: 0, max: 0.003, noNaN: true }),
      fc.double({ min: 0, max: 1, noNaN: true }),
    ),
    p99Ms: nullable(latency),
    rps: nullable(fc.double({ min: 0, max: 1000, noNaN: true })),
    cpu: utilisation,
    memory: utilisation,
    disk: utilisation,
    p99Series: fc.array(latency, { maxLength: 12 }),
    // Per-minute counts from the window's start; the first may be a partial period.
    perPeriod: fc.array(fc.integer({ min: 0, max: 20_000 }), { maxLength: 12 }),
    firstSeconds: fc.constantFrom(60, 20),
  })
  .map(({ requests, errorShare, perPeriod, firstSeconds, ...rest }) => ({
    requests,
    errors: Math.min(requests, Math.floor(requests * errorShare)),
    errorRate: null,
    p50Ms: null,
    errorRateSeries: [],
    requestSeries: perPeriod.map((n, i) => ({
      start: new Date(Date.parse(START) + i * 60_000).toISOString(),
      seconds: i === 0 ? firstSeconds : 60,
      requests: n,
    })),
    ...rest,
  }));

const argsArb: fc.Arbitrary<JudgeWindowArgs> = fc.record({
  phase: fc.constantFrom('canary', 'staging', 'production'),
  attempt: fc.integer({ min: 0, max: 2 }),
  start: fc.constant(START),
  end: fc.constant(END),
  thresholds: fc.constant(THRESHOLDS),
  baseline: nullable(
    fc.record({ rps: nullable(fc.double({ min: 0, max: 1000, noNaN: true })), p99Ms: nullable(latency) }),
  ),
  traffic: fc.record({
    targetWeight: fc.constantFrom(10, 50, 100),
    actualWeight: nullable(fc.integer({ min: 0, max: 100 })),
  }),
  maxExtensions: fc.integer({ min: 0, max: 2 }),
  metrics: fc.record({
    canary: nullable(versionArb),
    stable: nullable(versionArb),
    measurementErrors: fc.array(fc.constantFrom('cpu: timeout', 'requests: throttled'), { maxLength: 2 }),
  }),
});

const RANK: Record<Verdict, number> = { pass: 0, inconclusive: 1, fail: 2 };

describe('properties', () => {
  test('the verdict is the worst check, and only an inconclusive window with extensions left can extend', () => {
    fc.assert(
      fc.property(argsArb, (args) => {
        const w = judgeWindow(args);
        expect(w.verdict).toBe(worstVerdict(w.checks.map((c) => c.verdict)));
        expect(w.canExtend).toBe(w.verdict === 'inconclusive' && args.attempt < args.maxExtensions);
        expect(w.checks.some((c) => c.name === CHECK_NAMES.errorRate)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  test('missing, empty or too small canary data never passes', () => {
    const starve = fc.constantFrom<(v: VersionSeries | null) => VersionSeries | null>(
      () => null,
      (v) => (v ? { ...v, requests: 0, errors: 0 } : null),
      (v) =>
        v
          ? {
              ...v,
              requests: Math.min(v.requests, 199),
              errors: Math.min(v.errors, Math.min(v.requests, 199)),
            }
          : null,
      (v) => (v ? { ...v, p99Ms: null } : null),
      (v) => (v ? { ...v, requests: Number.NaN } : null),
    );
    fc.assert(
      fc.property(argsArb, starve, (args, f) => {
        const w = judgeWindow({ ...args, metrics: { ...args.metrics, canary: f(args.metrics.canary) } });
        expect(w.verdict).not.toBe('pass');
      }),
      { numRuns: 500 },
    );
  });

  test('missing stable data below 100% never passes', () => {
    fc.assert(
      fc.property(argsArb, fc.constantFrom(10, 50), (args, targetWeight) => {
        const w = judgeWindow({
          ...args,
          traffic: { ...args.traffic, targetWeight },
          metrics: { ...args.metrics, stable: null },
        });
        expect(w.verdict).not.toBe('pass');
      }),
      { numRuns: 300 },
    );
  });

  test('a pass always rests on at least minRequestsPerVersion canary requests and all-pass checks', () => {
    fc.assert(
      fc.property(argsArb, (args) => {
        const w = judgeWindow(args);
        fc.pre(w.verdict === 'pass');
        expect(w.canary?.requests ?? 0).toBeGreaterThanOrEqual(THRESHOLDS.minRequestsPerVersion);
        expect(w.checks.every((c) => c.verdict === 'pass')).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  test('raising canary errors never improves the verdict (a fail never turns into a pass)', () => {
    fc.assert(
      fc.property(argsArb, versionArb, fc.integer({ min: 1, max: 500 }), (args, canary, extra) => {
        const more = { ...canary, errors: Math.min(canary.requests, canary.errors + extra) };
        const before = judgeWindow({ ...args, metrics: { ...args.metrics, canary } });
        const after = judgeWindow({ ...args, metrics: { ...args.metrics, canary: more } });
        expect(RANK[after.verdict]).toBeGreaterThanOrEqual(RANK[before.verdict]);
        for (const c of before.checks) {
          const same = after.checks.find((a) => a.name === c.name)!;
          expect(RANK[same.verdict]).toBeGreaterThanOrEqual(RANK[c.verdict]);
        }
      }),
      { numRuns: 1000 },
    );
  });

  test('raising canary errors one at a time never improves the error checks (near the test boundaries)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 200, max: 60_000 }),
        fc.integer({ min: 200, max: 200_000 }),
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 0, max: 400 }),
        (n1, n2, x1, x2) => {
          const canary = (errors: number) => version({ requests: n1, errors: Math.min(n1, errors) });
          const stable = version({ ...HEALTHY_STABLE, requests: n2, errors: Math.min(n2, x2) });
          const t = { ...THRESHOLDS, maxErrorRate: 0.05 };
          const a = judge({ canary: canary(x1), stable, thresholds: t });
          const b = judge({ canary: canary(x1 + 1), stable, thresholds: t });
          const name = CHECK_NAMES.errorRateVsStable;
          expect(RANK[check(b, name)!.verdict]).toBeGreaterThanOrEqual(RANK[check(a, name)!.verdict]);
          expect(check(b, name)!.pValue!).toBeLessThanOrEqual(check(a, name)!.pValue! + 1e-12);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('properties of the meaningful-and-significant rules', () => {
  const enough = fc.record({
    n1: fc.integer({ min: 200, max: 200_000 }),
    n2: fc.integer({ min: 200, max: 500_000 }),
    x1: fc.integer({ min: 0, max: 2_000 }),
    x2: fc.integer({ min: 1, max: 4_000 }),
  });
  const pair = ({ n1, n2, x1, x2 }: { n1: number; n2: number; x1: number; x2: number }) => ({
    canary: version({ requests: n1, errors: Math.min(n1, x1) }),
    stable: version({ ...HEALTHY_STABLE, requests: n2, errors: Math.min(n2, x2) }),
  });
  const loose = { ...THRESHOLDS, maxErrorRate: 1 };

  test('a fail always rests on p < failAlpha / (tests x looks) AND an increase beyond both margins', () => {
    fc.assert(
      fc.property(enough, fc.constantFrom(0, 1), (counts, attempt) => {
        const w = judge({ ...pair(counts), attempt, thresholds: loose });
        const c = check(w, CHECK_NAMES.errorRateVsStable)!;
        fc.pre(c.verdict === 'fail');
        const { n1, n2 } = counts;
        const x1 = Math.min(n1, counts.x1);
        const x2 = Math.min(n2, counts.x2);
        expect(c.pValue!).toBeLessThan(THRESHOLDS.failAlpha / (3 * 2)); // 3 tests, 2 looks
        expect(x1 / n1 - x2 / n2).toBeGreaterThanOrEqual(THRESHOLDS.minErrorRateIncrease);
        expect(x1 / n1).toBeGreaterThanOrEqual((x2 / n2) * THRESHOLDS.minErrorRateRatio);
      }),
      { numRuns: 1000 },
    );
  });

  test('an increase within the practical margin never fails and never extends the window', () => {
    fc.assert(
      fc.property(enough, fc.double({ min: 0, max: 1, noNaN: true }), (counts, share) => {
        // Canary errors chosen so that its rate is at most stable's plus the absolute margin.
        const { n1, n2 } = counts;
        const x2 = Math.min(n2, counts.x2);
        const ceiling = Math.floor(n1 * (x2 / n2 + THRESHOLDS.minErrorRateIncrease) - 1e-9);
        const x1 = Math.max(0, Math.min(n1, Math.floor(ceiling * share)));
        fc.pre(x1 / n1 - x2 / n2 < THRESHOLDS.minErrorRateIncrease);
        const w = judge({ ...pair({ n1, n2, x1, x2 }), thresholds: loose });
        expect(verdictOf(w, CHECK_NAMES.errorRateVsStable)).toBe('pass');
      }),
      { numRuns: 1000 },
    );
  });

  test('the last look only resolves suggestive evidence: inconclusive becomes pass, nothing else changes', () => {
    fc.assert(
      fc.property(enough, (counts) => {
        const first = verdictOf(
          judge({ ...pair(counts), attempt: 0, thresholds: loose }),
          CHECK_NAMES.errorRateVsStable,
        );
        const last = verdictOf(
          judge({ ...pair(counts), attempt: 1, thresholds: loose }),
          CHECK_NAMES.errorRateVsStable,
        );
        expect(last).not.toBe('inconclusive');
        if (first !== 'inconclusive') expect(last).toBe(first);
        else expect(last).toBe('pass');
      }),
      { numRuns: 1000 },
    );
  });

  test('a stricter failAlpha never makes any check harsher, and a looser one never more lenient', () => {
    fc.assert(
      fc.property(
        argsArb,
        fc.double({ min: 1e-7, max: 0.05, noNaN: true }),
        fc.double({ min: 1e-7, max: 0.05, noNaN: true }),
        (args, a, b) => {
          const [strict, lax] = a < b ? [a, b] : [b, a];
          const s = judgeWindow({ ...args, thresholds: { ...args.thresholds, failAlpha: strict } });
          const l = judgeWindow({ ...args, thresholds: { ...args.thresholds, failAlpha: lax } });
          expect(RANK[l.verdict]).toBeGreaterThanOrEqual(RANK[s.verdict]);
          for (const c of s.checks) {
            const same = l.checks.find((x) => x.name === c.name)!;
            expect(RANK[same.verdict]).toBeGreaterThanOrEqual(RANK[c.verdict]);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  test('an error rate below the limit never fails error-rate; above it, it fails only on significance', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), fc.integer({ min: 0, max: 500 }), (n, x) => {
        const errors = Math.min(n, x);
        const c = check(judge({ canary: version({ requests: n, errors }) }), CHECK_NAMES.errorRate)!;
        if (errors / n < THRESHOLDS.maxErrorRate) expect(c.verdict).not.toBe('fail');
        if (c.verdict === 'fail') expect(c.pValue!).toBeLessThan(THRESHOLDS.failAlpha / (3 * 2)); // 3 tests, 2 looks
        if (c.verdict === 'pass') expect(n).toBeGreaterThanOrEqual(THRESHOLDS.minRequestsPerVersion);
      }),
      { numRuns: 1000 },
    );
  });

  test('a canary exactly like stable (same rate, any traffic) never fails any error check', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 200, max: 50_000 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 0, max: 10 }),
        (n1, k, perThousand) => {
          const x1 = Math.floor((n1 * perThousand) / 10_000);
          const w = judge({
            canary: version({ requests: n1, errors: x1 }),
            stable: version({ ...HEALTHY_STABLE, requests: n1 * k, errors: x1 * k }),
          });
          expect(verdictOf(w, CHECK_NAMES.errorRateVsStable)).not.toBe('fail');
          expect(verdictOf(w, CHECK_NAMES.errorRate)).not.toBe('fail');
        },
      ),
      { numRuns: 500 },
    );
  });
});

/**
 * Pure statistics for judging a validation window: the standard normal distribution, the
 * binomial tail, a one-sided two-proportion z-test and a one-sided Mann-Whitney U test.
 *
 * Every test here is one-sided in the direction that matters for a release: "is the canary worse
 * than stable?" A small p-value is evidence that it is. No I/O, no randomness.
 */

/** 1 / sqrt(2 * pi). */
const INV_SQRT_2PI = 0.3989422804014327;

/**
 * Lower tail of the standard normal, `P(Z <= -|x|)`, to about 1e-15 absolute and 1e-8 relative
 * in the far tail (Hart 1968, algorithm 5666, as given by G. West, "Better approximations to
 * cumulative normal functions", Wilmott 2005). Computed directly rather than as `1 - cdf` so tiny
 * tails keep their precision, which is ample for p-values.
 */
function lowerTail(absX: number): number {
  if (absX > 37) return 0;
  const e = Math.exp((-absX * absX) / 2);
  if (absX < 7.07106781186547) {
    let n = 3.52624965998911e-2 * absX + 0.700383064443688;
    n = n * absX + 6.37396220353165;
    n = n * absX + 33.912866078383;
    n = n * absX + 112.079291497871;
    n = n * absX + 221.213596169931;
    n = n * absX + 220.206867912376;
    let d = 8.83883476483184e-2 * absX + 1.75566716318264;
    d = d * absX + 16.064177579207;
    d = d * absX + 86.7807322029461;
    d = d * absX + 296.564248779674;
    d = d * absX + 637.333633378831;
    d = d * absX + 793.826512519948;
    d = d * absX + 440.413735824752;
    return (e * n) / d;
  }
  let b = absX + 0.65;
  b = absX + 4 / b;
  b = absX + 3 / b;
  b = absX + 2 / b;
  b = absX + 1 / b;
  return e / b / 2.506628274631;
}

/** Standard normal density. */
export function normalPdf(x: number): number {
  return INV_SQRT_2PI * Math.exp((-x * x) / 2);
}

/** Standard normal cumulative distribution `P(Z <= x)`. NaN in, NaN out. */
export function normalCdf(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  const tail = lowerTail(Math.abs(x));
  return x > 0 ? 1 - tail : tail;
}

/** Standard normal survival function `P(Z > x)`, precise in the far upper tail. */
export function normalSf(x: number): number {
  return normalCdf(-x);
}

/**
 * Inverse of {@link normalCdf}: the `p` quantile of the standard normal. Acklam's rational
 * approximation refined by one Halley step, accurate to about 1e-12 relative in (0, 1).
 * Returns -Infinity at 0, +Infinity at 1 and NaN outside [0, 1].
 */
export function normalQuantile(p: number): number {
  if (Number.isNaN(p) || p < 0 || p > 1) return Number.NaN;
  if (p === 0) return Number.NEGATIVE_INFINITY;
  if (p === 1) return Number.POSITIVE_INFINITY;
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const [a0, a1, a2, a3, a4, a5] = a as [number, number, number, number, number, number];
  const [b0, b1, b2, b3, b4] = b as [number, number, number, number, number];
  const [c0, c1, c2, c3, c4, c5] = c as [number, number, number, number, number, number];
  const [d0, d1, d2, d3] = d as [number, number, number, number];
  const pLow = 0.02425;
  let x: number;
  if (p < pLow) {
    const q = Math.sqrt(-2 * Math.log(p));
    x =
      (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) /
      ((((d0 * q + d1) * q + d2) * q + d3) * q + 1);
  } else if (p <= 1 - pLow) {
    const q = p - 0.5;
    const r = q * q;
    x =
      ((((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q) /
      (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1);
  } else {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    x =
      -(((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) /
      ((((d0 * q + d1) * q + d2) * q + d3) * q + 1);
  }
  // One Halley step against the precise CDF; work in the smaller tail to avoid cancellation.
  const e = p < 0.5 ? normalCdf(x) - p : 1 - p - normalSf(x);
  const u = e * Math.sqrt(2 * Math.PI) * Math.exp((x * x) / 2);
  return x - u / (1 + (x * u) / 2);
}

/** Lanczos approximation (g = 7, n = 9) of ln Γ(x) for x > 0, relative error about 1e-15. */
export function logGamma(x: number): number {
  const g = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let s = g[0] as number;
  for (let i = 1; i < 9; i++) s += (g[i] as number) / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(s);
}

/** ln P(X = k) for X ~ Binomial(n, p), 0 < p < 1. */
function logBinomialPmf(k: number, n: number, p: number): number {
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1) + k * Math.log(p) + (n - k) * Math.log1p(-p);
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
  const ok = (x: number, n: number) =>
    Number.isInteger(x) && Number.isInteger(n) && n > 0 && x >= 0 && x <= n;
  if (!ok(x1, n1) || !ok(x2, n2)) return null;
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  const pooled = (x1 + x2) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  if (se === 0) return { p1, p2, z: 0, pValue: 1 };
  const z = (p1 - p2) / se;
  return { p1, p2, z, pValue: normalSf(z) };
}

/** Result of {@link mannWhitneyGreater}. */
export interface MannWhitneyResult {
  /** U statistic of sample x (the number of pairs with x > y, ties counted half). */
  readonly u: number;
  /** z statistic after tie and continuity correction; 0 when every value is tied. */
  readonly z: number;
  /** One-sided p-value for "x tends to be greater than y". */
  readonly pValue: number;
}

/**
 * One-sided Mann-Whitney U test, "x is stochastically greater than y", by the normal
 * approximation with tie correction and continuity correction (the same numbers as SciPy's
 * `mannwhitneyu(x, y, alternative='greater', method='asymptotic')`). Close enough to the exact
 * test from five values per sample. Returns null when either sample is empty or holds a
 * non-finite value.
 */
export function mannWhitneyGreater(x: readonly number[], y: readonly number[]): MannWhitneyResult | null {
  const n1 = x.length;
  const n2 = y.length;
  if (n1 === 0 || n2 === 0) return null;
  if (![...x, ...y].every(Number.isFinite)) return null;
  const all = [...x.map((v) => ({ v, fromX: true })), ...y.map((v) => ({ v, fromX: false }))].sort(
    (a, b) => a.v - b.v,
  );
  const n = n1 + n2;
  let rankSumX = 0;
  let tieTerm = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && (all[j + 1] as { v: number }).v === (all[i] as { v: number }).v) j++;
    const t = j - i + 1;
    const midRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if ((all[k] as { fromX: boolean }).fromX) rankSumX += midRank;
    tieTerm += t * t * t - t;
    i = j + 1;
  }
  const u = rankSumX - (n1 * (n1 + 1)) / 2;
  const mean = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (!(variance > 0)) return { u, z: 0, pValue: 1 };
  const z = (u - mean - 0.5) / Math.sqrt(variance);
  return { u, z, pValue: normalSf(z) };
}

/** ln C(n, k). */
function logChoose(n: number, k: number): number {
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
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
  const ok = (x: number, n: number) =>
    Number.isInteger(x) && Number.isInteger(n) && n > 0 && x >= 0 && x <= n;
  if (!ok(x1, n1) || !ok(x2, n2)) return null;
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

/**
 * Regularized incomplete beta function `I_x(a, b)` for a, b > 0 and 0 <= x <= 1, by Lentz's
 * continued fraction (Numerical Recipes, 3rd ed., section 6.4), to about 1e-14 relative.
 * NaN for arguments outside the domain.
 */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (!(a > 0 && b > 0 && x >= 0 && x <= 1)) return Number.NaN;
  if (x === 0) return 0;
  if (x === 1) return 1;
  const logFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  // The continued fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry otherwise.
  if (x > (a + 1) / (a + b + 2)) return 1 - regularizedIncompleteBeta(1 - x, b, a);
  return (Math.exp(logFront) * betaContinuedFraction(x, a, b)) / a;
}

function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return h;
}

/**
 * Survival function of Student's t distribution with `df` degrees of freedom, `P(T > t)`: the
 * one-sided p-value of a t statistic. Same numbers as SciPy's `t.sf(t, df)` to about 1e-12
 * relative. NaN for df <= 0 or a NaN argument.
 */
export function studentTSf(t: number, df: number): number {
  if (Number.isNaN(t) || !(df > 0)) return Number.NaN;
  if (t === Number.POSITIVE_INFINITY) return 0;
  if (t === Number.NEGATIVE_INFINITY) return 1;
  // P(|T| > |t|) = I_x(df/2, 1/2) with x = df / (df + t^2). Where the continued fraction would
  // switch to the symmetric form (x near 1, t near 0), pass the complement 1 - x = t^2 / (df + t^2)
  // computed directly: 1 - x computed from a rounded x loses everything near t = 0.
  const a = df / 2;
  const x = df / (df + t * t);
  const tail =
    x > (a + 1) / (a + 2.5)
      ? 0.5 * (1 - regularizedIncompleteBeta((t * t) / (df + t * t), 0.5, a))
      : 0.5 * regularizedIncompleteBeta(x, a, 0.5);
  return t >= 0 ? tail : 1 - tail;
}

/** Result of {@link ratioAboveTolerance}. */
export interface RatioTestResult {
  /** t statistic of log(ratio / tolerance); +Infinity when the spread is 0 and the ratio is above. */
  readonly t: number;
  /** Degrees of freedom: periods - 1. */
  readonly df: number;
  /** Standard deviation of the log per-period values (the period-to-period spread). */
  readonly spread: number;
  /** One-sided p-value for "the true ratio is above the tolerance". */
  readonly pValue: number;
}

/**
 * Is a window's value significantly more than `tolerance` times a reference measured in another
 * window of the same kind (e.g. a canary p99 against the pre-deployment baseline p99)? Without a
 * concurrent control, part of any difference is the service's own drift from period to period.
 * The per-period values of the window (`series`) measure that drift: with `s` the standard
 * deviation of their logarithms over k periods, each window's level is uncertain by about
 * `s / sqrt(k)`, the reference's as much again (taken as measured over as many periods, the
 * conservative choice when its length is unknown), so `t = ln(ratio / tolerance) / (s * sqrt(2 / k))`
 * with k - 1 degrees of freedom. Returns null with fewer than 2 usable (finite, positive) values or
 * a ratio or tolerance that is not positive and finite.
 */
export function ratioAboveTolerance(
  ratio: number,
  tolerance: number,
  series: readonly number[],
): RatioTestResult | null {
  const logs = series.filter((v) => Number.isFinite(v) && v > 0).map(Math.log);
  const k = logs.length;
  if (k < 2 || !(ratio > 0 && Number.isFinite(ratio)) || !(tolerance > 0 && Number.isFinite(tolerance)))
    return null;
  const mean = logs.reduce((s, v) => s + v, 0) / k;
  const spread = Math.sqrt(logs.reduce((s, v) => s + (v - mean) ** 2, 0) / (k - 1));
  const excess = Math.log(ratio / tolerance);
  const se = spread * Math.sqrt(2 / k);
  const df = k - 1;
  if (se === 0) {
    const t = excess > 0 ? Number.POSITIVE_INFINITY : excess < 0 ? Number.NEGATIVE_INFINITY : 0;
    return { t, df, spread, pValue: excess > 0 ? 0 : excess < 0 ? 1 : 0.5 };
  }
  const t = excess / se;
  return { t, df, spread, pValue: studentTSf(t, df) };
}

/** Largest n1 * n2 for which {@link mannWhitneyGreaterExact} counts the exact distribution. */
export const MANN_WHITNEY_EXACT_MAX_PAIRS = 2500;

/**
 * One-sided Mann-Whitney U test, "x is stochastically greater than y", with the exact null
 * distribution of U (the same numbers as SciPy's `mannwhitneyu(x, y, alternative='greater',
 * method='exact')`). The normal approximation is far too cautious in the tail where a strict
 * level is decided: 10 values above 10 others is p = 1 / C(20, 10) = 5.4e-6 exactly, but about
 * 9e-5 by the approximation. Exact counting assumes no ties, so it returns null when the samples
 * share a value, when either is empty or holds a non-finite value, or when n1 * n2 exceeds
 * {@link MANN_WHITNEY_EXACT_MAX_PAIRS} (use {@link mannWhitneyGreater} then).
 */
export function mannWhitneyGreaterExact(
  x: readonly number[],
  y: readonly number[],
): { readonly u: number; readonly pValue: number } | null {
  const m = x.length;
  const n = y.length;
  if (m === 0 || n === 0 || m * n > MANN_WHITNEY_EXACT_MAX_PAIRS) return null;
  if (![...x, ...y].every(Number.isFinite)) return null;
  if (new Set([...x, ...y]).size !== m + n) return null;
  let u = 0;
  for (const a of x) for (const b of y) if (a > b) u++;
  // f[j][v]: arrangements of i values from x and j from y with U = v, built up over i by
  // f_i,j(v) = f_i-1,j(v - j) + f_i,j-1(v): the largest value is from x (beating all j) or from y.
  // Additions only, so the small tail counts keep their precision.
  let prev: Float64Array[] = Array.from({ length: n + 1 }, () => Float64Array.of(1));
  for (let i = 1; i <= m; i++) {
    const curr: Float64Array[] = [Float64Array.of(1)];
    for (let j = 1; j <= n; j++) {
      const f = new Float64Array(i * j + 1);
      const fromX = prev[j] as Float64Array;
      const fromY = curr[j - 1] as Float64Array;
      for (let v = 0; v < fromX.length; v++) f[v + j] = (f[v + j] as number) + (fromX[v] as number);
      for (let v = 0; v < fromY.length; v++) f[v] = (f[v] as number) + (fromY[v] as number);
      curr.push(f);
    }
    prev = curr;
  }
  const counts = prev[n] as Float64Array;
  let total = 0;
  let tail = 0;
  for (let v = 0; v < counts.length; v++) {
    total += counts[v] as number;
    if (v >= u) tail += counts[v] as number;
  }
  return { u, pValue: Math.min(1, tail / total) };
}

/**
 * The distributions the tests read their p-values from: the standard normal (density, CDF,
 * survival function, quantile) and Student's t (survival function). Tails are computed directly,
 * not as `1 - cdf`, so the tiny p-values where a strict level is decided keep their precision.
 */
import { polynomial, regularizedIncompleteBeta } from './numerics.js';

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
    const n = polynomial(
      [
        3.52624965998911e-2, 0.700383064443688, 6.37396220353165, 33.912866078383, 112.079291497871,
        221.213596169931, 220.206867912376,
      ],
      absX,
    );
    const d = polynomial(
      [
        8.83883476483184e-2, 1.75566716318264, 16.064177579207, 86.7807322029461, 296.564248779674,
        637.333633378831, 793.826512519948, 440.413735824752,
      ],
      absX,
    );
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

/** Acklam's coefficients: numerator and denominator of the central region, then of the tails. */
const ACKLAM = {
  a: [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ],
  // The denominators' constant term is 1.
  b: [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572, 1],
  c: [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ],
  d: [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416, 1],
} as const;

/**
 * Inverse of {@link normalCdf}: the `p` quantile of the standard normal. Acklam's rational
 * approximation refined by one Halley step, accurate to about 1e-12 relative in (0, 1).
 * Returns -Infinity at 0, +Infinity at 1 and NaN outside [0, 1].
 */
export function normalQuantile(p: number): number {
  if (Number.isNaN(p) || p < 0 || p > 1) return Number.NaN;
  if (p === 0) return Number.NEGATIVE_INFINITY;
  if (p === 1) return Number.POSITIVE_INFINITY;
  const { a, b, c, d } = ACKLAM;
  const pLow = 0.02425;
  let x: number;
  if (p < pLow) {
    const q = Math.sqrt(-2 * Math.log(p));
    x = polynomial(c, q) / polynomial(d, q);
  } else if (p <= 1 - pLow) {
    const q = p - 0.5;
    const r = q * q;
    x = (polynomial(a, r) * q) / polynomial(b, r);
  } else {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    x = -polynomial(c, q) / polynomial(d, q);
  }
  // One Halley step against the precise CDF; work in the smaller tail to avoid cancellation.
  const e = p < 0.5 ? normalCdf(x) - p : 1 - p - normalSf(x);
  const u = e * Math.sqrt(2 * Math.PI) * Math.exp((x * x) / 2);
  return x - u / (1 + (x * u) / 2);
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

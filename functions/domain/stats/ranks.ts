/**
 * Rank tests on per-period values (e.g. each minute's p99): the one-sided Mann-Whitney U test,
 * "x is stochastically greater than y", by the normal approximation and by exact counting.
 */
import { normalSf } from './distributions.js';

/** True when both samples hold values and every value is finite. */
function usable(x: readonly number[], y: readonly number[]): boolean {
  return x.length > 0 && y.length > 0 && [...x, ...y].every(Number.isFinite);
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
  if (!usable(x, y)) return null;
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
  if (m * n > MANN_WHITNEY_EXACT_MAX_PAIRS || !usable(x, y)) return null;
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

import fc from 'fast-check';
import {
  binomialSf,
  fisherExactGreater,
  logGamma,
  MANN_WHITNEY_EXACT_MAX_PAIRS,
  mannWhitneyGreater,
  mannWhitneyGreaterExact,
  normalCdf,
  normalQuantile,
  normalSf,
  ratioAboveTolerance,
  regularizedIncompleteBeta,
  studentTSf,
  twoProportionZTest,
} from '../../functions/domain/stats.js';

/** Relative closeness, with an absolute floor for values near zero. */
function expectClose(actual: number, expected: number, rel = 1e-9, abs = 1e-300): void {
  const tolerance = Math.max(abs, Math.abs(expected) * rel);
  if (!(Math.abs(actual - expected) <= tolerance)) {
    throw new Error(`expected ${actual} to be within ${tolerance} of ${expected}`);
  }
}

// Reference values from SciPy 1.17.1 (scipy.stats.norm / binom / mannwhitneyu), computed here.
describe('normal distribution', () => {
  test.each([
    [-8.5, 9.47953482220325e-18],
    [-5, 2.866515718791933e-7],
    [-2.326347874040841, 0.009999999999999992],
    [-1.96, 0.024997895148220435],
    [-1, 0.15865525393145707],
    [-0.5, 0.3085375387259869],
    [0, 0.5],
    [0.3, 0.6179114221889526],
    [1, 0.8413447460685429],
    [3, 0.9986501019683699],
  ])('cdf(%p) = %p', (x, expected) => {
    // About 1e-15 absolute; relative precision falls to about 1e-8 in the far tail.
    expectClose(normalCdf(x), expected, 1e-8);
  });

  test.each([
    [1.6448536269514722, 0.050000000000000044],
    [3, 0.0013498980316300933],
    [6, 9.865876450376946e-10],
    [9, 1.1285884059538324e-19],
    [-1, 0.8413447460685429],
  ])('sf(%p) = %p, precise in the upper tail', (x, expected) => {
    expectClose(normalSf(x), expected, 1e-8);
  });

  test('extreme arguments saturate and NaN propagates', () => {
    expect(normalCdf(-40)).toBe(0);
    expect(normalCdf(40)).toBe(1);
    expect(normalCdf(Number.NaN)).toBeNaN();
  });

  test.each([
    [1e-10, -6.361340902404056],
    [0.001, -3.090232306167813],
    [0.01, -2.3263478740408408],
    [0.02425, -1.972961051311885],
    [0.05, -1.6448536269514729],
    [0.3, -0.5244005127080409],
    [0.7, 0.5244005127080407],
    [0.975, 1.959963984540054],
    [0.99, 2.3263478740408408],
    [0.999, 3.090232306167813],
  ])('quantile(%p) = %p', (p, expected) => {
    expectClose(normalQuantile(p), expected, 1e-10);
  });

  test('quantile edge cases', () => {
    expect(normalQuantile(0.5)).toBeCloseTo(0, 15);
    expect(normalQuantile(0)).toBe(Number.NEGATIVE_INFINITY);
    expect(normalQuantile(1)).toBe(Number.POSITIVE_INFINITY);
    expect(normalQuantile(-0.1)).toBeNaN();
    expect(normalQuantile(1.1)).toBeNaN();
  });

  test('quantile inverts cdf (property)', () => {
    // Above 5 the CDF is within 3e-7 of 1, where doubles cannot tell neighbouring x apart.
    fc.assert(
      fc.property(fc.double({ min: -7, max: 5, noNaN: true }), (x) => {
        expectClose(normalQuantile(normalCdf(x)), x, 1e-8, 1e-9);
      }),
    );
  });

  test('cdf is monotone and cdf + sf = 1 (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -30, max: 30, noNaN: true }),
        fc.double({ min: 0, max: 5, noNaN: true }),
        (x, d) => {
          expect(normalCdf(x + d)).toBeGreaterThanOrEqual(normalCdf(x));
          expectClose(normalCdf(x) + normalSf(x), 1, 1e-14);
        },
      ),
    );
  });
});

describe('logGamma', () => {
  test.each([
    [1, 0],
    [2, 0],
    [0.5, Math.log(Math.sqrt(Math.PI))],
    [10, Math.log(362880)],
    [101, 363.73937555556347],
  ])('lnΓ(%p) = %p', (x, expected) => {
    expectClose(logGamma(x), expected, 1e-12, 1e-13);
  });
});

describe('binomialSf: P(X >= k)', () => {
  test.each([
    [1, 200, 0.001, 0.1813511705213643],
    [3, 150, 0.001, 0.000493930108698324],
    [5, 100, 0.01, 0.0034323215877545207],
    [10, 50, 0.05, 0.00015856329762383461],
    [2, 1000, 0.001, 0.26424108696981247],
    [1, 1, 0.5, 0.5],
    [30, 100, 0.2, 0.011248978720991648],
    [15, 100, 0.2, 0.9195562788619489],
    [0, 10, 0.1, 1],
    [11, 10, 0.1, 0],
    [1000, 100000, 0.01, 0.5042686879721106],
    [900, 100000, 0.01, 0.9994109510545188],
  ])('k=%p n=%p p=%p -> %p', (k, n, p, expected) => {
    expectClose(binomialSf(k, n, p), expected, 1e-9, 1e-15);
  });

  test('degenerate rates and bad arguments', () => {
    expect(binomialSf(1, 10, 0)).toBe(0);
    expect(binomialSf(10, 10, 1)).toBe(1);
    expect(binomialSf(1.5, 10, 0.1)).toBeNaN();
    expect(binomialSf(1, -1, 0.1)).toBeNaN();
    expect(binomialSf(1, 10, 1.2)).toBeNaN();
  });

  test('non-increasing in k (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 400 }),
        fc.double({ min: 0.0001, max: 0.9999, noNaN: true }),
        fc.nat(),
        (n, p, kSeed) => {
          const k = kSeed % (n + 1);
          expect(binomialSf(k + 1, n, p)).toBeLessThanOrEqual(binomialSf(k, n, p) + 1e-12);
        },
      ),
    );
  });
});

describe('twoProportionZTest (one-sided: sample 1 greater)', () => {
  test.each([
    // x1, n1, x2, n2, z, p
    [21, 5000, 5, 5000, 3.141945349566247, 0.0008391467923315706],
    [10, 1000, 10, 1000, 0, 0.5],
    [0, 1000, 5, 1000, -2.238868314198225, 0.9874177571498407],
    [3, 2000, 0, 18000, 5.196542177986352, 1.0151477620958082e-7],
    [100, 5000, 2, 45000, 29.668693970368594, 9.734178829791383e-194],
    [5, 200, 0, 1800, 6.716604942594675, 9.30036816504422e-12],
  ])('%p/%p vs %p/%p: z=%p p=%p', (x1, n1, x2, n2, z, p) => {
    const r = twoProportionZTest(x1, n1, x2, n2);
    expect(r).not.toBeNull();
    expectClose(r!.z, z, 1e-12, 1e-15);
    expectClose(r!.pValue, p, 1e-8);
    expect(r!.p1).toBe(x1 / n1);
    expect(r!.p2).toBe(x2 / n2);
  });

  test('no errors anywhere is no evidence: p = 1', () => {
    expect(twoProportionZTest(0, 5000, 0, 5000)).toEqual({ p1: 0, p2: 0, z: 0, pValue: 1 });
  });

  test.each([
    [0, 0, 1, 10],
    [1, 10, 0, 0],
    [11, 10, 1, 10],
    [-1, 10, 1, 10],
    [1.5, 10, 1, 10],
  ])('refuses counts that are not counts: %p/%p vs %p/%p', (x1, n1, x2, n2) => {
    expect(twoProportionZTest(x1, n1, x2, n2)).toBeNull();
  });
});

describe('mannWhitneyGreater (asymptotic, tie and continuity corrected)', () => {
  test.each([
    [[5, 6, 7, 8, 9], [1, 2, 3, 4, 5], 24.5, 0.007985348176890061],
    [[1, 2, 3, 4, 5], [5, 6, 7, 8, 9], 0.5, 0.995592070911049],
    [[10, 12, 11, 13, 15, 14], [10, 11, 9, 8, 12, 10], 31, 0.021539977096617965],
    [[3, 3, 3, 3, 3], [3, 3, 3, 3, 3], 12.5, 1],
    [[200, 210, 190, 205, 220, 215, 230], [100, 110, 105, 98, 120, 101, 99, 97], 56, 0.0007300309581211239],
    [[1.5, 2.5, 2.5, 3.5, 4], [1, 2.5, 2.5, 3, 1, 0.5], 23, 0.08002867311597239],
  ])('%p vs %p: U=%p p=%p', (x, y, u, p) => {
    const r = mannWhitneyGreater(x, y);
    expect(r).not.toBeNull();
    expect(r!.u).toBe(u);
    expectClose(r!.pValue, p, 1e-9);
  });

  test('empty or non-finite samples give no result', () => {
    expect(mannWhitneyGreater([], [1, 2])).toBeNull();
    expect(mannWhitneyGreater([1, 2], [])).toBeNull();
    expect(mannWhitneyGreater([1, Number.NaN], [1, 2])).toBeNull();
    expect(mannWhitneyGreater([1, Number.POSITIVE_INFINITY], [1, 2])).toBeNull();
  });

  test('U1 + U2 = n1 * n2 and shifting x up never raises p (property)', () => {
    const sample = fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 15 });
    fc.assert(
      fc.property(sample, sample, fc.integer({ min: 1, max: 10 }), (x, y, shift) => {
        const a = mannWhitneyGreater(x, y)!;
        const b = mannWhitneyGreater(y, x)!;
        expect(a.u + b.u).toBe(x.length * y.length);
        const shifted = mannWhitneyGreater(
          x.map((v) => v + shift),
          y,
        )!;
        expect(shifted.pValue).toBeLessThanOrEqual(a.pValue + 1e-12);
      }),
    );
  });
});

describe('fisherExactGreater (one-sided)', () => {
  test.each([
    [1, 6000, 0, 54000, 0.1],
    [5, 6000, 0, 54000, 9.985007124020781e-6],
    [1, 200, 0, 1800, 0.1],
    [3, 2000, 0, 18000, 0.0009986502925506313],
    [21, 5000, 5, 5000, 0.0012315779455300472],
    [0, 1000, 5, 1000, 1],
    [10, 1000, 10, 1000, 0.5885422383037667],
    [0, 100, 0, 100, 1],
    [4, 300, 2, 2700, 0.0012498162994926541],
    [60, 20000, 120, 180000, 1.4184732277062865e-17],
  ])('%p/%p vs %p/%p -> p=%p', (x1, n1, x2, n2, p) => {
    expectClose(fisherExactGreater(x1, n1, x2, n2)!.pValue, p, 1e-9, 1e-14);
  });

  test('refuses counts that are not counts', () => {
    expect(fisherExactGreater(1, 0, 0, 10)).toBeNull();
    expect(fisherExactGreater(5, 4, 0, 10)).toBeNull();
  });

  test('more canary errors never raise the p-value (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3000 }),
        fc.integer({ min: 1, max: 3000 }),
        fc.nat(),
        fc.nat(),
        (n1, n2, a, b) => {
          const x1 = a % n1;
          const x2 = b % (n2 + 1);
          expect(fisherExactGreater(x1 + 1, n1, x2, n2)!.pValue).toBeLessThanOrEqual(
            fisherExactGreater(x1, n1, x2, n2)!.pValue + 1e-12,
          );
        },
      ),
    );
  });
});

// Reference values from SciPy 1.17.1 (scipy.special.betainc, scipy.stats.t, mannwhitneyu
// method='exact'), computed here.
describe('regularizedIncompleteBeta', () => {
  test.each([
    [0.3, 2, 5, 0.5798250000000003],
    [0.9, 0.5, 10, 0.9999999999815198],
    [0.5, 0.5, 0.5, 0.5000000000000001],
    [0.01, 3, 40, 0.008583853799733485],
    [0.999, 20, 2, 0.9997926421261254],
  ])('I_%p(%p, %p) = %p', (x, a, b, expected) => {
    expectClose(regularizedIncompleteBeta(x, a, b), expected, 1e-12);
  });

  test('ends and bad arguments', () => {
    expect(regularizedIncompleteBeta(0, 2, 3)).toBe(0);
    expect(regularizedIncompleteBeta(1, 2, 3)).toBe(1);
    expect(regularizedIncompleteBeta(0.5, 0, 3)).toBeNaN();
    expect(regularizedIncompleteBeta(1.5, 2, 3)).toBeNaN();
  });

  test('I_x(a, b) = 1 - I_(1-x)(b, a) (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.001, max: 0.999, noNaN: true }),
        fc.double({ min: 0.1, max: 50, noNaN: true }),
        fc.double({ min: 0.1, max: 50, noNaN: true }),
        (x, a, b) => {
          expectClose(
            regularizedIncompleteBeta(x, a, b),
            1 - regularizedIncompleteBeta(1 - x, b, a),
            1e-9,
            1e-12,
          );
        },
      ),
    );
  });
});

describe("studentTSf: P(T > t), Student's t", () => {
  test.each([
    [2, 4, 0.05805826175840778],
    [3.747, 4, 0.009999543241940414],
    [1, 1, 0.25000000000000006],
    [2, 2, 0.09175170953613698],
    [-1.5, 3, 0.8847080673775886],
    [10, 4, 0.0002810018113579955],
    [40, 7, 7.951089992425182e-10],
    [0.3, 30, 0.3831230526421764],
    [5, 200, 6.250990638857704e-7],
    [0.001, 2.5, 0.49963819136039245],
    [0, 9, 0.5],
  ])('sf(%p, df %p) = %p', (t, df, expected) => {
    expectClose(studentTSf(t, df), expected, 1e-11);
  });

  test('closed forms for 1 and 2 degrees of freedom, and the normal limit (property)', () => {
    fc.assert(
      fc.property(fc.double({ min: -50, max: 50, noNaN: true }), (t) => {
        expectClose(studentTSf(t, 1), 0.5 - Math.atan(t) / Math.PI, 1e-10, 1e-15);
        expectClose(studentTSf(t, 2), 0.5 - t / (2 * Math.sqrt(t * t + 2)), 1e-10, 1e-15);
        expect(Math.abs(studentTSf(t, 1e7) - normalSf(t))).toBeLessThan(1e-6);
      }),
    );
  });

  test('infinities and bad arguments', () => {
    expect(studentTSf(Number.POSITIVE_INFINITY, 3)).toBe(0);
    expect(studentTSf(Number.NEGATIVE_INFINITY, 3)).toBe(1);
    expect(studentTSf(Number.NaN, 3)).toBeNaN();
    expect(studentTSf(1, 0)).toBeNaN();
  });
});

describe('ratioAboveTolerance: a ratio against a reference from another time', () => {
  test('t = ln(ratio / tolerance) / (s * sqrt(2 / k)) with k - 1 degrees of freedom (numbers from NumPy/SciPy)', () => {
    const r = ratioAboveTolerance(1.5, 1.2, [320, 324, 319, 326, 321])!;
    expect(r.df).toBe(4);
    expectClose(r.spread, 0.009039734102519882, 1e-9);
    expectClose(r.t, 39.03001235041083, 1e-9);
    expectClose(r.pValue, 1.2871473458364076e-6, 1e-8);
  });

  test('the same excess counts for less when the periods spread more', () => {
    const quiet = ratioAboveTolerance(1.3, 1.2, [300, 303, 298, 301, 299])!;
    const noisy = ratioAboveTolerance(1.3, 1.2, [250, 340, 280, 320, 300])!;
    expect(noisy.pValue).toBeGreaterThan(quiet.pValue);
    expect(noisy.pValue).toBeGreaterThan(0.01);
    expect(quiet.pValue).toBeLessThan(0.001);
  });

  test('no spread: above the tolerance is certain, below it impossible', () => {
    expect(ratioAboveTolerance(1.3, 1.2, [300, 300, 300])).toMatchObject({
      pValue: 0,
      t: Number.POSITIVE_INFINITY,
    });
    expect(ratioAboveTolerance(1.1, 1.2, [300, 300, 300])).toMatchObject({ pValue: 1 });
  });

  test('too few usable values or bad ratios give no result', () => {
    expect(ratioAboveTolerance(1.3, 1.2, [300])).toBeNull();
    expect(ratioAboveTolerance(1.3, 1.2, [300, Number.NaN, -1, 0])).toBeNull();
    expect(ratioAboveTolerance(Number.NaN, 1.2, [300, 310])).toBeNull();
    expect(ratioAboveTolerance(1.3, 0, [300, 310])).toBeNull();
  });

  test('a larger ratio never has a larger p-value (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 1, max: 5000, noNaN: true }), { minLength: 2, maxLength: 30 }),
        fc.double({ min: 0.1, max: 10, noNaN: true }),
        fc.double({ min: 0, max: 5, noNaN: true }),
        (series, ratio, more) => {
          const a = ratioAboveTolerance(ratio, 1.2, series)!;
          const b = ratioAboveTolerance(ratio + more, 1.2, series)!;
          expect(b.pValue).toBeLessThanOrEqual(a.pValue + 1e-12);
        },
      ),
    );
  });
});

describe('mannWhitneyGreaterExact (exact null distribution, no ties)', () => {
  test.each<[number[], number[], number, number]>([
    [[11, 12, 13, 14, 15, 16, 17, 18, 19, 20], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 100, 5.412544112234515e-6],
    [[1.5, 3, 5.5, 7, 9.2], [2, 4, 6, 8, 10, 11], 10, 0.8354978354978355],
    [[5, 6, 7], [1, 2, 3, 4], 12, 0.02857142857142857],
    [[1, 2, 3], [4, 5, 6, 7], 0, 1],
    [
      [251, 262, 240, 255, 199.5, 249, 258, 245, 253, 207.5],
      [204.1, 207, 203, 206.2, 205, 208, 202, 206, 204, 205.3],
      89,
      0.0010446210136612613,
    ],
  ])('%p vs %p: U = %p, p = %p', (x, y, u, p) => {
    const r = mannWhitneyGreaterExact(x, y)!;
    expect(r.u).toBe(u);
    expectClose(r.pValue, p, 1e-12);
  });

  test('far smaller than the normal approximation where a strict level is decided', () => {
    const x = [11, 12, 13, 14, 15, 16, 17, 18, 19, 20];
    const y = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(mannWhitneyGreater(x, y)!.pValue).toBeGreaterThan(5e-5);
    expect(mannWhitneyGreaterExact(x, y)!.pValue).toBeLessThan(1e-5);
  });

  test('ties, empty or non-finite samples and samples too large give no result', () => {
    expect(mannWhitneyGreaterExact([1, 2, 2], [3, 4])).toBeNull();
    expect(mannWhitneyGreaterExact([1, 2], [2, 4])).toBeNull();
    expect(mannWhitneyGreaterExact([], [1])).toBeNull();
    expect(mannWhitneyGreaterExact([1, Number.NaN], [3])).toBeNull();
    const big = Array.from({ length: 51 }, (_, i) => i);
    const other = Array.from({ length: 50 }, (_, i) => i + 0.5);
    expect(51 * 50).toBeGreaterThan(MANN_WHITNEY_EXACT_MAX_PAIRS);
    expect(mannWhitneyGreaterExact(big, other)).toBeNull();
  });

  test('agrees with the normal approximation on larger samples, and p(x > y) + p(y > x) >= 1 (property)', () => {
    const distinct = fc.uniqueArray(fc.integer({ min: 0, max: 10_000 }), { minLength: 16, maxLength: 40 });
    fc.assert(
      fc.property(distinct, fc.integer({ min: 4, max: 20 }), (values, split) => {
        const x = values.slice(0, Math.min(split, values.length - 4));
        const y = values.slice(x.length);
        const exact = mannWhitneyGreaterExact(x, y)!;
        const reverse = mannWhitneyGreaterExact(y, x)!;
        expect(exact.pValue + reverse.pValue).toBeGreaterThanOrEqual(1 - 1e-12);
        expect(Math.abs(exact.pValue - mannWhitneyGreater(x, y)!.pValue)).toBeLessThan(0.03);
      }),
      { numRuns: 200 },
    );
  });
});

import fc from 'fast-check';
import { InvalidInputError } from '../../functions/domain/errors.js';
import {
  albCanaryReplicas,
  MAX_REPLICAS_FOR_SHARE,
  podShare,
  replicasForShares,
  shareError,
  splitReplicas,
} from '../../functions/domain/replicas.js';

describe('splitReplicas (replica-ratio router)', () => {
  test.each([
    // N, weight, canary, stable, share
    [4, 10, 1, 4, 20], // the smallest canary is 1 of 5 pods: 20 % is as close to 10 % as capacity allows
    [4, 50, 2, 2, 50], // exact, with the fewest pods that keep capacity (2 + 2 >= 4)
    [4, 25, 1, 3, 25],
    [4, 75, 3, 1, 75],
    [4, 90, 4, 1, 80], // canary never exceeds N; stable never drops below 1 below 100 %
    [4, 100, 4, 4, 100], // blue-green: stable warm at N, out of traffic
    [4, 0, 0, 4, 0],
    [10, 10, 1, 9, 10],
    [10, 50, 5, 5, 50],
    [10, 33, 4, 8, 33.33], // 3/9 would be closer but drops capacity below 10; 4/12 is the closest that keeps it
    [1, 10, 1, 1, 50], // one pod: both versions must serve, so the best is half
    [1, 100, 1, 1, 100],
    [3, 50, 2, 2, 50], // 2+2 exact beats 1+2 (33 %) and 2+1 (67 %)
    [5, 20, 1, 4, 20],
    [20, 5, 1, 19, 5],
  ])('N=%i at %i%% -> %i canary + %i stable (%f%%)', (n, w, canary, stable, share) => {
    expect(splitReplicas(n, w)).toEqual({ canary, stable, share });
  });

  test('refuses a Deployment with 0 replicas and weights outside 0..100, naming the field', () => {
    expect(() => splitReplicas(0, 10)).toThrow(InvalidInputError);
    expect(() => splitReplicas(0, 10)).toThrow(/replicas: the Deployment must run at least 1 replica/);
    expect(() => splitReplicas(4, 101)).toThrow(/weight: must be a percentage/);
    expect(() => splitReplicas(4, -1)).toThrow(/weight/);
    expect(() => splitReplicas(2.5, 10)).toThrow(/replicas/);
  });

  const n = fc.integer({ min: 1, max: 30 });
  const w = fc.integer({ min: 1, max: 99 });

  test('keeps capacity, keeps both versions serving, and never exceeds N per version', () => {
    fc.assert(
      fc.property(n, w, (N, W) => {
        const s = splitReplicas(N, W);
        return s.canary >= 1 && s.stable >= 1 && s.stable <= N && s.canary <= N && s.canary + s.stable >= N;
      }),
    );
  });

  test('is optimal: no allowed split is closer to the weight, and none as close uses fewer pods', () => {
    fc.assert(
      fc.property(n, w, (N, W) => {
        const s = splitReplicas(N, W);
        const err = shareError(s, W);
        for (let stable = 1; stable <= N; stable++) {
          for (let canary = Math.max(1, N - stable); canary <= N; canary++) {
            const e = shareError({ canary, stable }, W);
            if (e < err - 1e-9) return false;
            if (Math.abs(e - err) <= 1e-9 && canary + stable < s.canary + s.stable) return false;
          }
        }
        return true;
      }),
    );
  });

  test('reports the pod share it produces', () => {
    fc.assert(
      fc.property(n, w, (N, W) => {
        const s = splitReplicas(N, W);
        return s.share === podShare(s.canary, s.stable);
      }),
    );
  });

  test('is exact whenever N * weight / 100 is a whole number of pods within capacity', () => {
    fc.assert(
      fc.property(n, w, (N, W) => {
        fc.pre(Number.isInteger((N * W) / 100));
        const s = splitReplicas(N, W);
        return shareError(s, W) < 1e-9;
      }),
    );
  });

  test('moves monotonically: a higher weight never gives the canary a smaller share', () => {
    fc.assert(
      fc.property(n, w, w, (N, a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        return splitReplicas(N, lo).share <= splitReplicas(N, hi).share + 1e-9;
      }),
    );
  });
});

describe('albCanaryReplicas (ALB router)', () => {
  test.each([
    [4, 10, 1],
    [4, 50, 2],
    [4, 51, 3],
    [4, 100, 4],
    [4, 0, 0],
    [10, 10, 1],
    [10, 11, 2],
    [3, 1, 1],
  ])('N=%i at %i%% -> %i canary pods', (n, w, canary) => {
    expect(albCanaryReplicas(n, w)).toBe(canary);
  });

  test('carries at least its share of the load and never more than N', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 100 }), (N, W) => {
        const c = albCanaryReplicas(N, W);
        return c >= 1 && c <= N && c * 100 >= N * W && (c - 1) * 100 < N * W;
      }),
    );
  });

  test('refuses 0 replicas', () => {
    expect(() => albCanaryReplicas(0, 10)).toThrow(InvalidInputError);
  });
});

describe('replicasForShares: the fewest replicas whose split of every weight is within the tolerance', () => {
  test.each<[number[], number, number, number | null]>([
    // weights, tolerance (points), from, answer
    [[10, 50, 100], 10, 1, 4], // 4: 20%, 50%, 100%
    [[10, 50, 100], 10, 4, 4], // already there
    [[10, 50, 100], 5, 1, 6], // 5 gives the canary 16.67%, 6.67 points off; 6 gives 14.29%
    [[10, 50, 100], 0, 1, 9], // 1 + 9 is 10% exactly
    [[10, 50, 100], 0, 10, 10],
    [[25, 100], 0, 1, 3], // 1 + 3
    [[33.5], 0, 1, null], // no whole split of at most 100 pods is 33.5%
  ])('%p within %p points from %p: %p', (weights, tolerance, from, answer) => {
    expect(replicasForShares(weights, tolerance, from)).toBe(answer);
  });

  test('every whole weight is exact with at most MAX_REPLICAS_FOR_SHARE replicas, and the answer is the first that fits', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 0, max: 20 }), (w, tol) => {
        const n = replicasForShares([w], tol);
        expect(n).not.toBeNull();
        expect(n!).toBeLessThanOrEqual(MAX_REPLICAS_FOR_SHARE);
        expect(Math.abs(splitReplicas(n!, w).share - w)).toBeLessThanOrEqual(tol + 1e-9);
        for (let k = 1; k < n!; k++)
          expect(Math.abs(splitReplicas(k, w).share - w)).toBeGreaterThan(tol + 1e-9);
      }),
      { numRuns: 300 },
    );
  });
});

import fc from 'fast-check';
import {
  autoscaledCanaryReplicas,
  canaryScaleFactor,
  endReplicas,
} from '../../functions/domain/autoscaling.js';

describe('canary sizing when an HPA scales the stable Deployment', () => {
  test.each([
    // router, live stable, weight, canary
    ['alb', 4, 10, 1],
    ['alb', 8, 50, 4],
    ['alb', 7, 50, 4],
    ['alb', 8, 100, 8],
    ['replica-ratio', 4, 10, 1], // 4 * 10/90 = 0.44: at least one pod
    ['replica-ratio', 9, 10, 1], // 1 of 10 endpoints: exactly 10%
    ['replica-ratio', 8, 50, 8], // half of the endpoints
    ['replica-ratio', 8, 100, 8], // blue-green: the canary takes the live count
    ['replica-ratio', 8, 0, 0],
    ['alb', 8, 0, 0],
  ] as const)('%s, live %i at %i%% -> %i canary pods', (router, live, weight, canary) => {
    expect(autoscaledCanaryReplicas(router, live, weight)).toBe(canary);
  });

  test('the canary pods of the replica-ratio router give the weight around the live count as closely as whole pods can', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 99 }), (live, weight) => {
        const c = autoscaledCanaryReplicas('replica-ratio', live, weight);
        const share = (100 * c) / (c + live);
        // One pod more or fewer never comes closer to the weight (except below the 1-pod floor).
        const worse = (n: number) =>
          Math.abs((100 * n) / (n + live) - weight) >= Math.abs(share - weight) - 1e-9;
        expect(worse(c + 1)).toBe(true);
        if (c > 1) expect(worse(c - 1)).toBe(true);
      }),
    );
  });

  test('scale factor: the ALB by weight, one Service by pod ratio, 1 at 100', () => {
    expect(canaryScaleFactor('alb', 10)).toBeCloseTo(0.1);
    expect(canaryScaleFactor('replica-ratio', 50)).toBe(1);
    expect(canaryScaleFactor('replica-ratio', 10)).toBeCloseTo(1 / 9);
    expect(canaryScaleFactor('alb', 100)).toBe(1);
    expect(() => canaryScaleFactor('alb', 101)).toThrow(RangeError);
  });
});

describe('endReplicas: finalize and rollback never leave fewer pods than now', () => {
  test('without an HPA: max(recorded, live stable)', () => {
    expect(
      endReplicas({ recorded: 4, liveStable: 2, liveCanary: 2, weight: 50, autoscaler: null }),
    ).toMatchObject({
      replicas: 4,
      write: true,
    });
    expect(
      endReplicas({ recorded: 4, liveStable: 4, liveCanary: 1, weight: 10, autoscaler: null }),
    ).toMatchObject({
      replicas: 4,
      write: false,
    });
  });

  test('with an HPA: the pods serving now up to its max, never below recorded or live', () => {
    const hpa = { minReplicas: 4, maxReplicas: 8 };
    // The HPA grew stable to 8 during the release: kept, nothing written.
    expect(
      endReplicas({ recorded: 4, liveStable: 8, liveCanary: 8, weight: 50, autoscaler: hpa }),
    ).toMatchObject({
      replicas: 8,
      write: false,
    });
    // Stable shrank while the canary carried traffic: the serving pods (3 + 3) come back on stable.
    expect(
      endReplicas({ recorded: 4, liveStable: 3, liveCanary: 3, weight: 50, autoscaler: hpa }),
    ).toMatchObject({
      replicas: 6,
      write: true,
    });
    // Blue-green: the canary alone serves; stable is warm.
    expect(
      endReplicas({ recorded: 4, liveStable: 4, liveCanary: 7, weight: 100, autoscaler: hpa }),
    ).toMatchObject({
      replicas: 7,
    });
  });

  test('property: never below the live stable count, never below recorded', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 0, max: 100 }),
        fc.option(fc.integer({ min: 1, max: 60 })),
        (recorded, liveStable, liveCanary, weight, max) => {
          const autoscaler = max === null ? null : { minReplicas: 1, maxReplicas: max };
          const r = endReplicas({ recorded, liveStable, liveCanary, weight, autoscaler });
          expect(r.replicas).toBeGreaterThanOrEqual(Math.max(recorded, liveStable));
          expect(r.write).toBe(r.replicas !== liveStable);
        },
      ),
    );
  });
});

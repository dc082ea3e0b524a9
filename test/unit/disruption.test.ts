/** PodDisruptionBudget arithmetic (functions/domain/disruption.ts), as the disruption controller counts. */
import { describe, expect, test } from '@jest/globals';
import { checkRemoval, requiredHealthy, scaledValue } from '../../functions/domain/disruption.js';

describe('scaledValue: counts as given, percentages rounded up', () => {
  test.each([
    [3, 10, 3],
    ['3', 10, 3],
    ['50%', 5, 3],
    ['100%', 4, 4],
    ['10%', 4, 1],
    ['0%', 4, 0],
  ] as const)('%s of %i -> %i', (value, total, want) => {
    expect(scaledValue(value, total)).toBe(want);
  });
  test('anything else is refused, naming it', () => {
    expect(() => scaledValue('half', 4)).toThrow('not a count or percentage: "half"');
  });
});

describe('requiredHealthy', () => {
  test.each([
    [{ name: 'a', minAvailable: 3 }, 4, 3],
    [{ name: 'a', minAvailable: '75%' }, 5, 4],
    [{ name: 'a', maxUnavailable: 1 }, 4, 3],
    [{ name: 'a', maxUnavailable: '25%' }, 5, 3],
    [{ name: 'a', maxUnavailable: 0 }, 4, 4],
    [{ name: 'a', maxUnavailable: 9 }, 4, 0],
    [{ name: 'a' }, 4, 0],
  ])('%o over %i expected pods requires %i healthy', (spec, expected, want) => {
    expect(requiredHealthy(spec, expected)).toBe(want);
  });
});

describe('checkRemoval', () => {
  test('removing down to exactly the minimum is allowed; one more is not', () => {
    const spec = { name: 'shop', minAvailable: 3 };
    expect(checkRemoval(spec, 5, 2, 4)).toEqual({
      name: 'shop',
      required: 3,
      left: 3,
      allowed: true,
      text: 'poddisruptionbudget/shop (minAvailable 3): 3 healthy left, 3 required',
    });
    expect(checkRemoval(spec, 5, 3, 4)).toMatchObject({ left: 2, allowed: false });
  });
  test('maxUnavailable is counted against the pods expected after the step', () => {
    const spec = { name: 'shop', maxUnavailable: 0 };
    // 4 stable + 1 canary Ready; stable goes to 3: 4 expected, 4 left.
    expect(checkRemoval(spec, 5, 1, 4)).toMatchObject({ required: 4, left: 4, allowed: true });
    expect(checkRemoval(spec, 4, 1, 4)).toMatchObject({ required: 4, left: 3, allowed: false });
    expect(checkRemoval(spec, 4, 1, 4).text).toBe(
      'poddisruptionbudget/shop (maxUnavailable 0): 3 healthy left, 4 required',
    );
  });
});

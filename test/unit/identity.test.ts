/**
 * Which execution a record belongs to, and names derived from ids that must never fold two
 * releases together (issue #13, section 1).
 */
import fc from 'fast-check';
import { labelValue } from '../../functions/adapters/kubernetes/labels.js';
import { type DeploymentRecord, isOwnRecord } from '../../functions/domain/record.js';

const ARN = 'arn:aws:states:us-east-1:123456789012:execution:app-api:rel-1';
const record = (executionArn: string | null, executionStartedAt: string | null | undefined) =>
  ({ executionArn, ...(executionStartedAt === undefined ? {} : { executionStartedAt }) }) as DeploymentRecord;

describe('isOwnRecord', () => {
  test.each([
    [
      'the same execution (a retried task)',
      record(ARN, '2026-09-01T10:00:00.000Z'),
      ARN,
      '2026-09-01T10:00:00.000Z',
      true,
    ],
    [
      'the name reused 90 days later',
      record(ARN, '2026-09-01T10:00:00.000Z'),
      ARN,
      '2026-12-04T10:00:00.000Z',
      false,
    ],
    [
      'another execution name',
      record(`${ARN}x`, '2026-09-01T10:00:00.000Z'),
      ARN,
      '2026-09-01T10:00:00.000Z',
      false,
    ],
    [
      'a record from before start times were kept',
      record(ARN, undefined),
      ARN,
      '2026-12-04T10:00:00.000Z',
      false,
    ],
    ['steps run outside an execution (no ARN, no start)', record(null, null), null, null, true],
  ] as const)('%s -> %s', (_name, r, arn, start, own) => {
    expect(isOwnRecord(r, { executionArn: arn, executionStartTime: start })).toBe(own);
  });
});

describe('labelValue', () => {
  const VALID = /^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)$/;
  test('keeps a valid id as it is', () => {
    for (const id of ['rel-1', 'Rel_1', 'local-1795853636377-1154b883', 'a'.repeat(63)])
      expect(labelValue(id)).toBe(id);
  });
  test('ids that fold to the same characters get different values', () => {
    const ids = [
      'rel 1',
      'rel-1',
      'rel/1',
      'rel:1',
      '-rel-1',
      `${'x'.repeat(70)}1`,
      `${'x'.repeat(70)}2`,
      'é',
    ];
    const values = ids.map(labelValue);
    for (const v of values) expect(v).toMatch(VALID);
    expect(new Set(values).size).toBe(ids.length);
  });
  test('is valid and injective on any string (generated)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 90 }), fc.string({ maxLength: 90 }), (a, b) => {
        expect(labelValue(a)).toMatch(VALID);
        if (a !== b) expect(labelValue(a)).not.toBe(labelValue(b));
      }),
      { numRuns: 2000 },
    );
  });
});

/** Attestations with provenance: recorded with the release; `duties.requireTestsFrom` enforced at Validate Input. */
import { describe, expect, test } from '@jest/globals';
import { parseCatalog } from '../../functions/domain/config.js';
import { InvalidInputError } from '../../functions/domain/errors.js';
import { parseExecutionInput } from '../../functions/domain/input.js';
import { newRecord } from '../../functions/domain/record.js';
import { CATALOG } from './cli-harness.js';

const catalog = parseCatalog({
  ...CATALOG,
  services: {
    ...CATALOG.services,
    api: {
      ...CATALOG.services.api!,
      duties: {
        approvers: ['arn:aws:iam::111122223333:role/TeamLead'],
        requireTestsFrom: 'IntegrationTests',
      },
    },
  },
});
const FROM_PIPELINE = {
  source: 'codepipeline-action',
  actionName: 'IntegrationTests',
  actionExecutionId: '0f8e2a1c-3b6d-4e5f-9a7b-1c2d3e4f5a6b',
} as const;
const input = (provenance: unknown, more: Record<string, unknown> = {}) => ({
  service: 'api',
  image: 'repo/api:v2.0.0',
  attestations: { testsPassed: true, reviewers: ['ann', 'bo'], provenance },
  ...more,
});

function issuesOf(raw: unknown): { path: string; message: string }[] {
  try {
    parseExecutionInput(raw, catalog, 'd-1');
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidInputError);
    return [...(e as InvalidInputError).issues];
  }
  return [];
}

describe('attestation provenance', () => {
  test('testsPassed from the named pipeline action passes, and the record keeps where each attestation came from', () => {
    const reviewers = {
      source: 'person',
      principal: 'arn:aws:sts::111122223333:assumed-role/Dev/ann',
    } as const;
    const plan = parseExecutionInput(input({ testsPassed: FROM_PIPELINE, reviewers }), catalog, 'd-1');
    const record = newRecord(plan, { executionArn: null, executionStartTime: null }, new Date(0));
    expect(record.attestationProvenance).toEqual({ testsPassed: FROM_PIPELINE, reviewers });
  });

  test.each([
    ['a person', { source: 'person', principal: 'dev@example.com' }, /not from a person; got a person/],
    ['another action', { ...FROM_PIPELINE, actionName: 'UnitTests' }, /got action "UnitTests"/],
    [
      'a CodeBuild report',
      { source: 'codebuild-report', reportArn: 'arn:aws:codebuild:us-east-1:111122223333:report/g:1' },
      /got a codebuild-report/,
    ],
    ['nothing', undefined, /got none given/],
  ])('testsPassed from %s is refused, naming the field', (_what, testsPassed, message) => {
    const issues = issuesOf(input(testsPassed === undefined ? undefined : { testsPassed }));
    expect(issues).toEqual([
      {
        path: 'attestations.provenance.testsPassed',
        message: expect.stringMatching(message),
      },
    ]);
  });

  test('named along with every other bad field', () => {
    const issues = issuesOf(input({ testsPassed: { source: 'person', principal: 'x' } }, { mode: 'yolo' }));
    expect(issues.map((i) => i.path).sort()).toEqual(['attestations.provenance.testsPassed', 'mode']);
  });

  test('a service without requireTestsFrom takes any provenance, or none', () => {
    expect(() =>
      parseExecutionInput(
        { ...input({ testsPassed: { source: 'person', principal: 'x' } }), service: 'web' },
        catalog,
        'd',
      ),
    ).not.toThrow();
    expect(() => parseExecutionInput({ ...input(undefined), service: 'web' }, catalog, 'd')).not.toThrow();
  });

  test('a malformed provenance is refused by its schema', () => {
    const issues = issuesOf({
      ...input({ testsPassed: { source: 'codebuild-report', reportArn: 'nope' } }),
      service: 'web',
    });
    expect(issues.map((i) => i.path)).toEqual(['attestations.provenance.testsPassed.reportArn']);
  });
});

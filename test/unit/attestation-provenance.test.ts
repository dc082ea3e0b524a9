/**
 * Attestations with provenance: recorded with the release; `duties.requireTestsFrom` enforced at
 * Validate Input (the form) and by the "tests provenance" gate (CodePipeline's record, through the
 * CodePipelineRecords adapter with aws-sdk-client-mock; ListActionExecutions' response shape from
 * the CodePipeline API reference).
 */
import { CodePipelineClient, ListActionExecutionsCommand } from '@aws-sdk/client-codepipeline';
import { beforeEach, describe, expect, test } from '@jest/globals';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { CodePipelineRecords } from '../../functions/adapters/aws/codepipeline-records.js';
import { TESTS_OUTPUT_VARIABLES } from '../../functions/domain/build-outputs.js';
import { parseCatalog } from '../../functions/domain/config.js';
import { InvalidInputError } from '../../functions/domain/errors.js';
import { judgeTestsProvenance } from '../../functions/domain/gates.js';
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
        personalSessionRoles: ['arn:aws:iam::111122223333:role/TeamLead'],
        requireTestsFrom: { pipeline: 'shop-api-release', action: 'IntegrationTests' },
      },
    },
  },
});
const FROM_PIPELINE = {
  source: 'codepipeline-action',
  actionName: 'IntegrationTests',
  actionExecutionId: '0f8e2a1c-3b6d-4e5f-9a7b-1c2d3e4f5a6b',
  pipelineExecutionId: '7a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d',
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

  test('the pipeline execution is required: the gate looks the action up in it', () => {
    const { pipelineExecutionId: _, ...without } = FROM_PIPELINE;
    expect(issuesOf(input({ testsPassed: without }))).toEqual([
      {
        path: 'attestations.provenance.testsPassed.pipelineExecutionId',
        message: expect.stringMatching(
          /required: the execution of pipeline "shop-api-release" that ran "IntegrationTests"/,
        ),
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

describe('the tests provenance gate: what CodePipeline recorded', () => {
  const required = { pipeline: 'shop-api-release', action: 'IntegrationTests' };
  const claimed = {
    pipelineExecutionId: FROM_PIPELINE.pipelineExecutionId,
    actionExecutionId: FROM_PIPELINE.actionExecutionId,
  };
  const IMAGE = `111122223333.dkr.ecr.us-east-1.amazonaws.com/shop/api:v2.0.0@sha256:${'ab12'.repeat(16)}`;
  const images = { api: IMAGE };
  const found = {
    pipelineName: 'shop-api-release',
    ...claimed,
    stageName: 'Test',
    actionName: 'IntegrationTests',
    status: 'Succeeded',
    lastUpdateTime: '2026-12-05T08:00:00.000Z',
    outputVariables: { TPS_TESTS_PASSED: 'true', TPS_IMAGE: IMAGE },
  };

  test('the variable names are the ones the example build exports', () => {
    expect(TESTS_OUTPUT_VARIABLES).toEqual({ testsPassed: 'TPS_TESTS_PASSED', image: 'TPS_IMAGE' });
  });

  test.each([
    [
      'the action succeeded in that execution, its tests passed, for this image',
      found,
      true,
      /CodePipeline recorded action execution .* \(Test\/IntegrationTests, Succeeded at 2026-12-05T08:00:00.000Z\): TPS_TESTS_PASSED=true, TPS_IMAGE=111122223333\.dkr/,
    ],
    [
      'no such action execution there',
      null,
      false,
      /has no action execution 0f8e2a1c-.* in pipeline shop-api-release execution 7a1b2c3d-.*did not happen there/,
    ],
    ['it failed', { ...found, status: 'Failed' }, false, /its status is Failed, not Succeeded/],
    ['it still runs', { ...found, status: 'InProgress' }, false, /its status is InProgress, not Succeeded/],
    [
      'another action (a unit-test action vouching as the integration tests)',
      { ...found, actionName: 'UnitTests' },
      false,
      /it is action "UnitTests", not "IntegrationTests"/,
    ],
    [
      'the action succeeded but its tests failed (the build writes the release either way)',
      { ...found, outputVariables: { ...found.outputVariables, TPS_TESTS_PASSED: 'false' } },
      false,
      /its output variable TPS_TESTS_PASSED is "false", not "true"/,
    ],
    [
      'the action tested another image (an old successful run reused)',
      {
        ...found,
        outputVariables: { ...found.outputVariables, TPS_IMAGE: IMAGE.replace('v2.0.0', 'v1.9.0') },
      },
      false,
      /its output variable TPS_IMAGE is "[^"]*:v1\.9\.0@sha256:[0-9a-f]{64}", not the released image "[^"]*:v2\.0\.0@sha256:/,
    ],
    [
      'the action exported nothing (a build without the exported variables)',
      { ...found, outputVariables: {} },
      false,
      /it has no output variable TPS_TESTS_PASSED; it has no output variable TPS_IMAGE/,
    ],
  ])('%s', (_what, record, passed, evidence) => {
    const j = judgeTestsProvenance(required, claimed, record, images);
    expect(j.gate).toEqual({ name: 'tests provenance', passed, evidence: expect.stringMatching(evidence) });
  });

  test('the same image string with another spelling (tag only, no digest) is not the tested image', () => {
    const j = judgeTestsProvenance(required, claimed, found, { api: IMAGE.split('@')[0]! });
    expect(j.gate.passed).toBe(false);
    expect(j.gate.evidence).toMatch(
      /TPS_IMAGE is "[^"]+@sha256:[0-9a-f]{64}", not the released image "[^"@]+:v2\.0\.0"/,
    );
  });

  test('a release of two containers with another image in the second is not what the build tested', () => {
    const other = `111122223333.dkr.ecr.us-east-1.amazonaws.com/shop/sidecar:v1@sha256:${'cd34'.repeat(16)}`;
    const j = judgeTestsProvenance(required, claimed, found, { api: IMAGE, sidecar: other });
    expect(j.gate.passed).toBe(false);
    expect(j.gate.evidence).toContain(`not the released image "${other}" (container sidecar)`);
  });
});

describe('CodePipelineRecords (ListActionExecutions)', () => {
  const cp = mockClient(CodePipelineClient);
  beforeEach(() => {
    cp.reset();
  });
  const records = () => new CodePipelineRecords({ client: new CodePipelineClient({ region: 'us-east-1' }) });

  test('finds the action execution across pages, filtered by the pipeline execution', async () => {
    // ListActionExecutions response: actionExecutionDetails[] with pipelineExecutionId,
    // actionExecutionId, stageName, actionName, status, lastUpdateTime and output
    // (ActionExecutionOutput: executionResult, outputVariables, a string-to-string map, absent when
    // the action exported none); nextToken when there is more.
    cp.on(ListActionExecutionsCommand, { nextToken: undefined })
      .resolves({
        actionExecutionDetails: [
          {
            pipelineExecutionId: 'pe-1',
            actionExecutionId: 'ae-build',
            stageName: 'Build',
            actionName: 'Build',
            status: 'Succeeded',
            lastUpdateTime: new Date('2026-12-05T07:50:00Z'),
          },
        ],
        nextToken: 'page-2',
      })
      .on(ListActionExecutionsCommand, { nextToken: 'page-2' })
      .resolves({
        actionExecutionDetails: [
          {
            pipelineExecutionId: 'pe-1',
            actionExecutionId: 'ae-tests',
            stageName: 'Test',
            actionName: 'IntegrationTests',
            status: 'Succeeded',
            lastUpdateTime: new Date('2026-12-05T08:00:00Z'),
            output: {
              executionResult: { externalExecutionId: 'shop-api-tests:1' },
              outputVariables: { TPS_TESTS_PASSED: 'true', TPS_IMAGE: 'repo/api:v2@sha256:00' },
            },
          },
        ],
      });
    expect(await records().actionExecution('shop-api-release', 'pe-1', 'ae-tests')).toEqual({
      pipelineName: 'shop-api-release',
      pipelineExecutionId: 'pe-1',
      actionExecutionId: 'ae-tests',
      stageName: 'Test',
      actionName: 'IntegrationTests',
      status: 'Succeeded',
      lastUpdateTime: '2026-12-05T08:00:00.000Z',
      outputVariables: { TPS_TESTS_PASSED: 'true', TPS_IMAGE: 'repo/api:v2@sha256:00' },
    });
    expect(await records().actionExecution('shop-api-release', 'pe-1', 'ae-build')).toMatchObject({
      actionName: 'Build',
      outputVariables: {},
    });
    expect(cp).toHaveReceivedCommandWith(ListActionExecutionsCommand, {
      pipelineName: 'shop-api-release',
      filter: { pipelineExecutionId: 'pe-1' },
    });
    expect(await records().actionExecution('shop-api-release', 'pe-1', 'ae-forged')).toBeNull();
  });

  test('a pipeline that cannot be read throws (the gate fails with the reason)', async () => {
    cp.on(ListActionExecutionsCommand).rejects(
      Object.assign(new Error('The pipeline was not found'), { name: 'PipelineNotFoundException' }),
    );
    await expect(records().actionExecution('nope', 'pe-1', 'ae')).rejects.toThrow(/pipeline was not found/);
  });
});

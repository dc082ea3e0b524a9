/**
 * The release pipeline's release.json writer (infra/examples/release-json.mjs), decoded from the
 * synthesized buildspec and run as CodeBuild runs it (test/helpers/release-build.ts): the
 * attestation is the test command's real exit code, the provenance is the build's own action
 * execution as CodePipeline reports it, and a build that cannot establish either writes nothing and
 * fails, naming every problem. The release it writes through the synthesized state machine:
 * test/integration/codepipeline-release.test.ts.
 */
import { describe, expect, test } from '@jest/globals';
import { parseCatalog } from '../../functions/domain/config.js';
import { judgeAttestations, judgeTestsProvenance } from '../../functions/domain/gates.js';
import { parseExecutionInput } from '../../functions/domain/input.js';
import sample from '../../tps.config.js';
import {
  pipelineRun,
  pipelineStateDuringBuild,
  recordedActionExecution,
  runReleaseWriter,
  synthesizeReleaseBuild,
} from '../helpers/release-build.js';

const build = synthesizeReleaseBuild(parseCatalog(sample).appName);
const IMAGE =
  '123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/api:a3f9c2e1b7d0@sha256:9b2f6c1d8e7a4f3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b';

/** The sample catalog with `duties.requireTestsFrom` naming the example's pipeline and build action. */
const catalog = parseCatalog({
  ...sample,
  services: {
    ...sample.services,
    api: {
      ...sample.services.api!,
      duties: {
        ...sample.services.api!.duties!,
        requireTestsFrom: { pipeline: build.pipelineName, action: build.buildActionName },
      },
    },
  },
});

describe('release-json.mjs in the synthesized build', () => {
  test('passing tests: release.json is an input Validate Input accepts, testsPassed true, the provenance this build', () => {
    const run = pipelineRun();
    const w = runReleaseWriter({ build, run, testCommand: 'exit 0', image: IMAGE, reviewers: 'alice, bob' });
    expect(w.status).toBe(0);
    expect(w.awsCalls).toEqual([
      `codepipeline get-pipeline-state --name ${build.pipelineName} --output json`,
    ]);
    expect(w.release).toEqual({
      service: 'api',
      image: IMAGE,
      changeRef: run.commit,
      requestedBy: 'codepipeline',
      attestations: {
        testsPassed: true,
        reviewers: ['alice', 'bob'],
        provenance: {
          testsPassed: {
            source: 'codepipeline-action',
            actionName: build.buildActionName,
            actionExecutionId: run.actionExecutionId,
            pipelineExecutionId: run.pipelineExecutionId,
          },
        },
        evidence: {
          testCommand: expect.stringContaining('exit 0'),
          testExit: '0',
          pipeline: build.pipelineName,
          pipelineExecutionId: run.pipelineExecutionId,
          build: `arn:aws:codebuild:us-east-1:123456789012:build/${run.buildId}`,
        },
      },
    });
    const plan = parseExecutionInput(w.release, catalog, 'from-codepipeline');
    expect(plan.images).toEqual({ api: IMAGE });
    expect(plan.version).toBe('a3f9c2e1b7d0');
    expect(judgeAttestations(plan.input, 2).gate.passed).toBe(true);
    // CodeBuild exports the verdict and the image; the tests provenance gate passes on them.
    expect(w.exported).toEqual({ TPS_TESTS_PASSED: 'true', TPS_IMAGE: IMAGE });
    const provenance = judgeTestsProvenance(
      { pipeline: build.pipelineName, action: build.buildActionName },
      { pipelineExecutionId: run.pipelineExecutionId, actionExecutionId: run.actionExecutionId },
      recordedActionExecution(build, run, w),
      plan.images,
    );
    expect(provenance.gate.passed).toBe(true);
  });

  test('failing tests: release.json says testsPassed false with the exit code, the build still succeeds, and the attestations gate refuses it', () => {
    const run = pipelineRun();
    const w = runReleaseWriter({
      build,
      run,
      testCommand: 'echo "1 failing" >&2; exit 3',
      image: IMAGE,
      reviewers: 'alice,bob',
    });
    expect(w.status).toBe(0);
    expect(w.stderr).toContain('1 failing');
    const release = w.release as { attestations: { testsPassed: boolean; evidence: { testExit: string } } };
    expect(release.attestations.testsPassed).toBe(false);
    expect(release.attestations.evidence.testExit).toBe('3');
    const plan = parseExecutionInput(w.release, catalog, 'from-codepipeline');
    const j = judgeAttestations(plan.input, 2);
    expect(j.gate.passed).toBe(false);
    expect(j.gate.evidence).toMatch(/^tests did not pass \(attestations\.testsPassed is false\)/);
    // The build exported the verdict: release.json edited to say true still fails the provenance gate.
    expect(w.exported).toEqual({ TPS_TESTS_PASSED: 'false', TPS_IMAGE: IMAGE });
    const forged = { ...release, attestations: { ...release.attestations, testsPassed: true } };
    const forgedPlan = parseExecutionInput(forged, catalog, 'forged');
    expect(judgeAttestations(forgedPlan.input, 2).gate.passed).toBe(true);
    const provenance = judgeTestsProvenance(
      { pipeline: build.pipelineName, action: build.buildActionName },
      { pipelineExecutionId: run.pipelineExecutionId, actionExecutionId: run.actionExecutionId },
      recordedActionExecution(build, run, w),
      forgedPlan.images,
    );
    expect(provenance.gate).toMatchObject({ passed: false });
    expect(provenance.gate.evidence).toMatch(
      /Succeeded.*: its output variable TPS_TESTS_PASSED is "false", not "true"$/,
    );
  });

  test.each([
    ['without a digest', IMAGE.split('@')[0]!],
    ['with an empty digest (docker inspect found none)', `${IMAGE.split('@')[0]!}@`],
    ['with a short digest', `${IMAGE.split('@')[0]!}@sha256:9b2f6c1d`],
  ])('an image %s is refused: nothing is written, the tests do not run', (_what, image) => {
    const w = runReleaseWriter({ build, run: pipelineRun(), testCommand: 'true', image });
    expect(w.status).toBe(1);
    expect(w.stderr).toContain(
      `TPS_IMAGE is "${image}": it must end in @sha256:<64 hex digits>, the digest of the pushed image`,
    );
    expect(w.release).toBeNull();
    expect(w.testsRan).toBe(false);
    expect(w.exported).toEqual({});
  });

  test('a test command killed by a signal did not pass', () => {
    const w = runReleaseWriter({ build, run: pipelineRun(), testCommand: 'kill -TERM $$', image: IMAGE });
    expect(w.status).toBe(0);
    const release = w.release as { attestations: { testsPassed: boolean; evidence: { testExit: string } } };
    expect(release.attestations.testsPassed).toBe(false);
    expect(release.attestations.evidence.testExit).toBe('SIGTERM');
  });

  test('a run a push started names no reviewers ("-"); the attestations gate then wants them', () => {
    const w = runReleaseWriter({ build, run: pipelineRun(), testCommand: 'true', image: IMAGE });
    expect((w.release as { attestations: { reviewers: string[] } }).attestations.reviewers).toEqual([]);
    const plan = parseExecutionInput(w.release, catalog, 'from-codepipeline');
    expect(judgeAttestations(plan.input, 2).gate.evidence).toContain('0 distinct reviewers of 2 required');
  });

  test('outside a CodePipeline build, and without its variables, nothing is written, the tests do not run, and every problem is named', () => {
    const w = runReleaseWriter({
      build,
      run: pipelineRun(),
      testCommand: 'true',
      image: IMAGE,
      env: {
        TPS_IMAGE: undefined,
        TPS_PIPELINE_EXECUTION_ID: '',
        CODEBUILD_BUILD_ID: undefined,
        CODEBUILD_INITIATOR: 'jane',
      },
    });
    expect(w.status).toBe(1);
    expect(w.release).toBeNull();
    expect(w.testsRan).toBe(false);
    expect(w.awsCalls).toEqual([]);
    for (const problem of [
      'TPS_IMAGE is not set',
      'TPS_PIPELINE_EXECUTION_ID is not set',
      'CODEBUILD_BUILD_ID is not set',
      'CODEBUILD_INITIATOR is "jane": this build was not started by CodePipeline',
    ]) {
      expect(w.stderr).toContain(problem);
    }
  });

  test.each([
    [
      'the build stage runs another pipeline execution',
      (s: ReturnType<typeof pipelineStateDuringBuild>) => {
        (s.stageStates as { latestExecution?: { pipelineExecutionId: string } }[])[1]!
          .latestExecution!.pipelineExecutionId = 'another-execution';
      },
      /is in pipeline execution another-execution, not this build's /,
    ],
    [
      'the action runs another build',
      (s: ReturnType<typeof pipelineStateDuringBuild>) => {
        (s.stageStates as { actionStates: { latestExecution?: { externalExecutionId: string } }[] }[])[1]!
          .actionStates[0]!.latestExecution!.externalExecutionId = 'shop-api-build:other';
      },
      /runs build shop-api-build:other, not this build /,
    ],
    [
      'the action is not in progress',
      (s: ReturnType<typeof pipelineStateDuringBuild>) => {
        (s.stageStates as { actionStates: { latestExecution?: { status: string } }[] }[])[1]!.actionStates[0]!
          .latestExecution!.status = 'Failed';
      },
      /is Failed, not InProgress/,
    ],
    [
      'the pipeline has no such action',
      (s: ReturnType<typeof pipelineStateDuringBuild>) => {
        (s.stageStates as { actionStates: { actionName: string }[] }[])[1]!.actionStates[0]!.actionName =
          'Other';
      },
      /has no execution of an action named "BuildAndTest" \(TPS_TESTS_ACTION\)/,
    ],
  ])('CodePipeline disagrees (%s): nothing is written and the tests do not run', (_what, edit, message) => {
    const run = pipelineRun();
    const state = pipelineStateDuringBuild(build, run);
    edit(state);
    const w = runReleaseWriter({ build, run, testCommand: 'true', image: IMAGE, state });
    expect(w.status).toBe(1);
    expect(w.stderr).toMatch(message);
    expect(w.release).toBeNull();
    expect(w.testsRan).toBe(false);
  });

  test('GetPipelineState refused (no permission): nothing is written, the reason is shown', () => {
    const w = runReleaseWriter({
      build,
      run: pipelineRun(),
      testCommand: 'true',
      image: IMAGE,
      awsFails: 254,
    });
    expect(w.status).toBe(1);
    expect(w.stderr).toContain('AccessDeniedException');
    expect(w.stderr).toContain(`aws codepipeline get-pipeline-state --name ${build.pipelineName} failed`);
    expect(w.release).toBeNull();
  });
});

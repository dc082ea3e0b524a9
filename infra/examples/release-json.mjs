#!/usr/bin/env node
/**
 * Writes release.json, the tps-deploy execution input, inside the CodeBuild action of the release
 * pipeline (infra/examples/release-pipeline.ts embeds this file in the buildspec byte for byte).
 *
 * Invariant: `attestations.testsPassed` is true only when the test command exited 0 in this very
 * build, and the provenance names this build's own action execution as CodePipeline reports it.
 * When either cannot be established the script writes nothing and exits 1, naming every problem,
 * so the build fails instead of vouching for tests nobody saw.
 *
 * Tests that fail are not an error here: release.json is written with `testsPassed: false` and the
 * script exits 0, so the release reaches tps-deploy, whose "attestations" gate refuses it before
 * any cluster change and records why (the pipeline then fails at the Release stage).
 *
 * The verdict, `true` or `false`, also goes to the file named by the second argument; the buildspec
 * exports it as the action's output variable TPS_TESTS_PASSED, next to TPS_IMAGE. CodePipeline
 * records both with the action execution, out of reach of whoever starts the release: the "tests
 * provenance" gate reads them there, so a release.json edited to say `testsPassed: true`, or an
 * action execution that tested another image, does not pass.
 *
 * Reads (all required unless marked):
 *   TPS_SERVICE                the catalog's service name
 *   TPS_IMAGE                  the pushed image, `<repository>:<tag>@sha256:<64 hex digits>`; an image
 *                              without that digest (docker inspect found none) is refused
 *   TPS_CHANGE_REF             the commit the image was built from
 *   TPS_TEST_COMMAND           the tests, run with `sh -c`; their exit code is the attestation
 *   TPS_TESTS_ACTION           this CodeBuild action's name in the pipeline (duties.requireTestsFrom.action)
 *   TPS_PIPELINE_EXECUTION_ID  `#{codepipeline.PipelineExecutionId}`
 *   TPS_REVIEWERS              optional: comma-separated reviewers of the change ("-" or empty: none)
 *   CODEBUILD_INITIATOR        set by CodeBuild: `codepipeline/<pipeline name>`
 *   CODEBUILD_BUILD_ID         set by CodeBuild: must be the action execution's external id
 *   CODEBUILD_BUILD_ARN        optional, set by CodeBuild: kept as evidence
 * Calls `aws codepipeline get-pipeline-state` (the build role needs codepipeline:GetPipelineState
 * on the pipeline): the only place a running action learns its own action execution id.
 *
 * Usage: node release-json.mjs <output file> <verdict file>
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

const out = process.argv[2];
const verdictFile = process.argv[3];
const env = process.env;
const problems = [];
const need = (name) => {
  const v = env[name]?.trim();
  if (!v) problems.push(`${name} is not set`);
  return v ?? '';
};

if (!out || !verdictFile) problems.push('usage: node release-json.mjs <output file> <verdict file>');
const service = need('TPS_SERVICE');
const image = need('TPS_IMAGE');
if (image && !/@sha256:[0-9a-f]{64}$/.test(image)) {
  problems.push(
    `TPS_IMAGE is "${image}": it must end in @sha256:<64 hex digits>, the digest of the pushed image`,
  );
}
const changeRef = need('TPS_CHANGE_REF');
const testCommand = need('TPS_TEST_COMMAND');
const actionName = need('TPS_TESTS_ACTION');
const pipelineExecutionId = need('TPS_PIPELINE_EXECUTION_ID');
const buildId = need('CODEBUILD_BUILD_ID');
const initiator = need('CODEBUILD_INITIATOR');
const pipeline = initiator.startsWith('codepipeline/') ? initiator.slice('codepipeline/'.length) : '';
if (initiator && !pipeline) {
  problems.push(`CODEBUILD_INITIATOR is "${initiator}": this build was not started by CodePipeline`);
}
fail();

const actionExecutionId = ownActionExecution();
fail();

// The tests, with their output in the build log; their exit code is the attestation.
console.log(`release-json: running the tests: ${testCommand}`);
const run = spawnSync('sh', ['-c', testCommand], { stdio: 'inherit' });
const exit = run.error ? `could not start: ${run.error.message}` : (run.signal ?? String(run.status));
const testsPassed = run.status === 0;

const reviewers = (env.TPS_REVIEWERS ?? '')
  .split(',')
  .map((r) => r.trim())
  .filter((r) => r && r !== '-');
const evidence = { testCommand, testExit: exit, pipeline, pipelineExecutionId };
if (env.CODEBUILD_BUILD_ARN) evidence.build = env.CODEBUILD_BUILD_ARN;
const release = {
  service,
  image,
  changeRef,
  requestedBy: 'codepipeline',
  attestations: {
    testsPassed,
    reviewers,
    provenance: {
      testsPassed: { source: 'codepipeline-action', actionName, actionExecutionId, pipelineExecutionId },
    },
    evidence,
  },
};
writeFileSync(out, `${JSON.stringify(release, null, 2)}\n`);
writeFileSync(verdictFile, String(testsPassed));
console.log(
  `release-json: wrote ${out}: ${service} ${image}, tests ${testsPassed ? 'passed' : `FAILED (exit ${exit})`}`,
);

/**
 * This build's action execution id, from CodePipeline's state of the pipeline: the stage holding
 * the action must be in this pipeline execution, the action in progress and run by this build.
 */
function ownActionExecution() {
  let state;
  try {
    const text = execFileSync(
      'aws',
      ['codepipeline', 'get-pipeline-state', '--name', pipeline, '--output', 'json'],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    state = JSON.parse(text);
  } catch (e) {
    problems.push(`aws codepipeline get-pipeline-state --name ${pipeline} failed: ${e.message}`);
    return '';
  }
  const stage = (state.stageStates ?? []).find((s) =>
    (s.actionStates ?? []).some((a) => a.actionName === actionName),
  );
  const action = stage?.actionStates.find((a) => a.actionName === actionName);
  const latest = action?.latestExecution;
  if (!stage || !latest) {
    problems.push(
      `pipeline ${pipeline} has no execution of an action named "${actionName}" (TPS_TESTS_ACTION)`,
    );
    return '';
  }
  const where = `action "${actionName}" of stage "${stage.stageName}"`;
  const stageExecution = stage.latestExecution?.pipelineExecutionId;
  if (stageExecution !== pipelineExecutionId) {
    problems.push(
      `${where} is in pipeline execution ${stageExecution}, not this build's ${pipelineExecutionId}`,
    );
  }
  if (latest.status !== 'InProgress') problems.push(`${where} is ${latest.status}, not InProgress`);
  if (latest.externalExecutionId && latest.externalExecutionId !== buildId) {
    problems.push(`${where} runs build ${latest.externalExecutionId}, not this build ${buildId}`);
  }
  if (!latest.actionExecutionId) problems.push(`${where} has no actionExecutionId`);
  return latest.actionExecutionId ?? '';
}

function fail() {
  if (problems.length === 0) return;
  console.error(`release-json: release.json not written:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  process.exit(1);
}

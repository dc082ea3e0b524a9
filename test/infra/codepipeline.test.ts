/**
 * The release pipeline example (infra/examples/codepipeline-release.ts), synthesized with the
 * cdk-nag AWS Solutions checks on, against the sample service's state machine as a team's app
 * finds it (by its name): source → build, push and test → (optional approval) → the Step
 * Functions invoke action whose input is the build's release.json.
 */

import { describe, expect, test } from '@jest/globals';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as actions from 'aws-cdk-lib/aws-codepipeline-actions';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { parseCatalog } from '../../functions/domain/config.js';
import {
  CodePipelineRelease,
  type CodePipelineReleaseProps,
  RELEASE_FILE,
  RELEASE_JSON_WRITER,
  releaseFileInput,
  VERDICT_FILE,
} from '../../infra/examples/codepipeline-release.js';
import { stateMachineName } from '../../infra/names.js';
import sampleCatalog from '../../tps.config.js';

const env = { account: '123456789012', region: 'us-east-1' };

interface PipelineStage {
  Name: string;
  Actions: {
    Name: string;
    ActionTypeId: { Category: string; Provider: string };
    Configuration: Record<string, unknown>;
    InputArtifacts?: { Name: string }[];
    OutputArtifacts?: { Name: string }[];
  }[];
}

const RUNBOOK = stateMachineName(parseCatalog(sampleCatalog).appName, 'api');

/** The example in its own stack and app, with cdk-nag's AWS Solutions checks. */
function synth(extra: Partial<CodePipelineReleaseProps> = {}) {
  const app = new App();
  const stack = new Stack(app, 'Pipeline', { env });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const example = new CodePipelineRelease(stack, 'ApiRelease', {
    service: 'api',
    stateMachine: sfn.StateMachine.fromStateMachineName(stack, 'Runbook', RUNBOOK),
    pipelineName: 'shop-api-release',
    source: {
      connectionArn: 'arn:aws:codestar-connections:us-east-1:123456789012:connection/0f8e2a1c-3b6d-4e5f-9a7b',
      owner: 'shop',
      repo: 'api',
    },
    repository: ecr.Repository.fromRepositoryName(stack, 'Images', 'shop/api'),
    testCommand: 'docker run --rm "$TPS_IMAGE" npm test',
    ...extra,
  });
  const template = Template.fromStack(stack);
  const pipeline = Object.values(template.findResources('AWS::CodePipeline::Pipeline'))[0]!;
  return { template, example, stages: pipeline.Properties.Stages as PipelineStage[] };
}

describe('the release pipeline example', () => {
  const { template, stages } = synth();

  test('cdk-nag passes: the template synthesizes with the AWS Solutions checks on', () => {
    // Template.fromStack throws on any finding not acknowledged with a reason.
    expect(() => synth()).not.toThrow();
    expect(() => synth({ manualApproval: true })).not.toThrow();
    expect(stages.map((s) => s.Name)).toEqual(['Source', 'Build', 'Release']);
  });

  test('the source is the CodeStar connection; the build gets its commit, the pipeline execution and the reviewers', () => {
    const [source] = stages[0]!.Actions;
    expect(source!.ActionTypeId).toMatchObject({ Category: 'Source', Provider: 'CodeStarSourceConnection' });
    const [build] = stages[1]!.Actions;
    expect(build!.Name).toBe('BuildAndTest');
    expect(build!.ActionTypeId).toMatchObject({ Category: 'Build', Provider: 'CodeBuild' });
    const vars = JSON.parse(build!.Configuration.EnvironmentVariables as string) as {
      name: string;
      value: string;
    }[];
    expect(Object.fromEntries(vars.map((v) => [v.name, v.value]))).toEqual({
      TPS_CHANGE_REF: '#{Source_Source_NS.CommitId}',
      TPS_PIPELINE_EXECUTION_ID: '#{codepipeline.PipelineExecutionId}',
      TPS_REVIEWERS: '#{variables.Reviewers}',
    });
  });

  test("the invoke action's input is release.json from the build's output artifact (InputType FilePath)", () => {
    const [build] = stages[1]!.Actions;
    const [invoke] = stages[2]!.Actions;
    expect(invoke!.ActionTypeId).toMatchObject({ Category: 'Invoke', Provider: 'StepFunctions' });
    expect(invoke!.Configuration).toMatchObject({ InputType: 'FilePath', Input: RELEASE_FILE });
    expect(build!.OutputArtifacts).toEqual([{ Name: 'BuildOutput' }]);
    expect(invoke!.InputArtifacts).toEqual(build!.OutputArtifacts);
    expect(invoke!.OutputArtifacts).toEqual([{ Name: 'ReleaseRecord' }]);
    template.hasResourceProperties('AWS::CodePipeline::Pipeline', {
      Stages: Match.arrayWith([
        Match.objectLike({
          Name: 'Release',
          Actions: [
            Match.objectLike({
              Configuration: Match.objectLike({
                StateMachineArn: {
                  'Fn::Join': [
                    '',
                    Match.arrayWith([`:states:us-east-1:123456789012:stateMachine:${RUNBOOK}`]),
                  ],
                },
              }),
            }),
          ],
        }),
      ]),
    });
  });

  test("CDK's StateMachineInput.filePath alone would name `<artifact>::<path>`, which is why the example passes the bare path", () => {
    // If this starts failing, CDK has fixed filePath: use it directly and drop releaseFileInput.
    const artifact = new codepipeline.Artifact('BuildOutput');
    expect(actions.StateMachineInput.filePath(artifact.atPath(RELEASE_FILE)).input).toBe(
      `BuildOutput::${RELEASE_FILE}`,
    );
    expect(releaseFileInput(artifact)).toEqual({
      input: RELEASE_FILE,
      inputArtifact: artifact,
      inputType: 'FilePath',
    });
  });

  test('the buildspec writes release.json with release-json.mjs byte for byte and keeps it as the artifact', () => {
    const project = Object.values(template.findResources('AWS::CodeBuild::Project'))[0]!;
    const spec = JSON.parse(project.Properties.Source.BuildSpec) as {
      env: { 'exported-variables': string[] };
      phases: { build: { commands: string[] } };
      artifacts: { files: string[] };
    };
    const commands = spec.phases.build.commands;
    const decode = commands.find((c) => c.includes('base64 -d'))!;
    const embedded = /^printf %s '([A-Za-z0-9+/=]+)' \| base64 -d > (\S+)$/.exec(decode);
    expect(embedded).not.toBeNull();
    expect(Buffer.from(embedded![1]!, 'base64').toString('utf8')).toBe(RELEASE_JSON_WRITER);
    expect(commands.at(-2)).toBe(`node ${embedded![2]} ${RELEASE_FILE} ${VERDICT_FILE}`);
    // The writer's verdict and the image are the action's output variables (the gate reads them).
    expect(commands.at(-1)).toBe(`export TPS_TESTS_PASSED="$(cat ${VERDICT_FILE})"`);
    expect(spec.env['exported-variables']).toEqual(['TPS_TESTS_PASSED', 'TPS_IMAGE']);
    // The writer runs after the push: the image it names exists.
    expect(commands.findIndex((c) => c.startsWith('docker push'))).toBeLessThan(commands.indexOf(decode));
    expect(spec.artifacts.files).toEqual([RELEASE_FILE]);
    // The image is built with its tag as IMAGE_TAG and named by tag and pushed digest.
    expect(commands).toContain('docker build --build-arg IMAGE_TAG="$TAG" -t "$REPOSITORY_URI:$TAG" .');
    expect(commands.find((c) => c.startsWith('export TPS_IMAGE='))).toContain('{{index .RepoDigests 0}}');
    expect(project.Properties.Environment).toMatchObject({ PrivilegedMode: true });
  });

  test('the build may read the state of this pipeline alone (its own action execution) and push to the repository', () => {
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[],
    );
    const reads = statements.filter((st) => [st.Action].flat().includes('codepipeline:GetPipelineState'));
    expect(reads).toHaveLength(1);
    expect(reads[0]!.Action).toBe('codepipeline:GetPipelineState');
    expect(JSON.stringify(reads[0]!.Resource)).toMatch(
      /^\{"Fn::Join":\["",\["arn:",\{"Ref":"AWS::Partition"\},":codepipeline:us-east-1:123456789012:shop-api-release"\]\]\}$/,
    );
    expect(JSON.stringify(statements)).toContain('ecr:PutImage');
  });

  test('one execution per stage at a time, and the Reviewers variable names nobody unless given', () => {
    template.hasResourceProperties('AWS::CodePipeline::Pipeline', {
      PipelineType: 'V2',
      ExecutionMode: 'SUPERSEDED',
      Variables: [Match.objectLike({ Name: 'Reviewers', DefaultValue: '-' })],
    });
  });

  test('the pipeline role may start and describe executions of that state machine', () => {
    const policies = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(policies).toContain('states:StartExecution');
    expect(policies).toContain('states:DescribeExecution');
  });

  test('with manualApproval an Approve stage sits between the build and the release', () => {
    const approved = synth({ manualApproval: true }).stages;
    expect(approved.map((s) => s.Name)).toEqual(['Source', 'Build', 'Approve', 'Release']);
    expect(approved[2]!.Actions[0]!.ActionTypeId).toMatchObject({ Category: 'Approval', Provider: 'Manual' });
  });

  test('bad props are refused, naming each', () => {
    expect(() => synth({ pipelineName: 'shop api', testsActionName: '', testCommand: ' ' })).toThrow(
      /pipelineName must be .* \(got "shop api"\); testsActionName must be .* \(got ""\); testCommand must run the tests/,
    );
  });
});

/** The README's CodePipeline snippet, synthesized against the real stack's state machine. */

import { describe, expect, test } from '@jest/globals';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as actions from 'aws-cdk-lib/aws-codepipeline-actions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { parseCatalog } from '../../functions/domain/config.js';
import { parseExecutionInput } from '../../functions/domain/input.js';
import { addReleaseStage } from '../../infra/examples/codepipeline-stage.js';
import { ReleaseStack } from '../../infra/release-stack.js';
import sampleCatalog from '../../tps.config.js';

describe('CodePipeline stage with the Step Functions invoke action', () => {
  const catalog = parseCatalog(sampleCatalog);
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const env = { account: '123456789012', region: 'us-east-1' };
  const release = new ReleaseStack(app, 'Release', { env, catalog });
  const stack = new Stack(app, 'Pipeline', { env });
  const source = new codepipeline.Artifact('Source');
  const pipeline = new codepipeline.Pipeline(stack, 'Pipeline', {
    stages: [
      {
        stageName: 'Source',
        actions: [
          new actions.S3SourceAction({
            actionName: 'Source',
            bucket: new s3.Bucket(stack, 'Sources', { enforceSSL: true }),
            bucketKey: 'app.zip',
            output: source,
          }),
        ],
      },
    ],
  });
  const input = {
    service: 'api',
    image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/api:v2.1.0',
    changeRef: 'CHG-2041',
    reviewers: ['alice', 'bob'],
  };
  addReleaseStage(pipeline, release.pipelines.api!.stateMachine, input);
  const template = Template.fromStack(stack);

  test('the stage invokes the service state machine with a literal input', () => {
    template.hasResourceProperties('AWS::CodePipeline::Pipeline', {
      Stages: Match.arrayWith([
        Match.objectLike({
          Name: 'Release',
          Actions: [
            Match.objectLike({
              ActionTypeId: { Category: 'Invoke', Owner: 'AWS', Provider: 'StepFunctions', Version: '1' },
              Configuration: Match.objectLike({ InputType: 'Literal', StateMachineArn: Match.anyValue() }),
              OutputArtifacts: [{ Name: 'ReleaseRecord' }],
            }),
          ],
        }),
      ]),
    });
  });

  test('the literal input is one the state machine accepts', () => {
    const stages = Object.values(template.findResources('AWS::CodePipeline::Pipeline'))[0]!.Properties
      .Stages as {
      Name: string;
      Actions: { Configuration: { Input: string } }[];
    }[];
    const literal = JSON.parse(stages.find((s) => s.Name === 'Release')!.Actions[0]!.Configuration.Input);
    const plan = parseExecutionInput(literal, catalog, 'from-codepipeline');
    expect(plan.service).toBe('api');
    expect(plan.images).toEqual({ api: input.image });
    expect(literal.attestations.reviewers).toEqual(['alice', 'bob']);
  });

  test('the pipeline role may start and describe executions of that state machine', () => {
    const policies = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(policies).toContain('states:StartExecution');
    expect(policies).toContain('states:DescribeExecution');
  });
});

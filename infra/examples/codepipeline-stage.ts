/**
 * Starting a release from CodePipeline: a stage with the Step Functions invoke action. Copy this
 * into your pipeline stack. The action polls the execution (Standard workflows) and fails the
 * stage when the release is rolled back, rejected or fails; the execution output becomes the
 * action's output artifact. test/infra/codepipeline.test.ts synthesizes it.
 */
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as actions from 'aws-cdk-lib/aws-codepipeline-actions';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';

/** Adds a "Release" stage that runs the service's tps-deploy state machine. */
export function addReleaseStage(
  pipeline: codepipeline.Pipeline,
  stateMachine: sfn.IStateMachine,
  release: { service: string; image: string; changeRef: string; reviewers: string[] },
): codepipeline.Artifact {
  const output = new codepipeline.Artifact('ReleaseRecord');
  pipeline.addStage({
    stageName: 'Release',
    actions: [
      new actions.StepFunctionInvokeAction({
        actionName: `Release-${release.service}`,
        stateMachine,
        // The same input as from the console or the CLI; the attestations come from the stages before.
        stateMachineInput: actions.StateMachineInput.literal({
          service: release.service,
          image: release.image,
          changeRef: release.changeRef,
          requestedBy: 'codepipeline',
          attestations: { testsPassed: true, reviewers: release.reviewers },
        }),
        output,
      }),
    ],
  });
  return output;
}

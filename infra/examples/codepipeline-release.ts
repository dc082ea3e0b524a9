/**
 * A release pipeline for one service, to copy into your own CDK app: source → build, push and test
 * → (optional manual approval) → the service's tps-deploy state machine.
 *
 * - Source: a CodeStar connection (GitHub, GitLab, Bitbucket), the source action for code kept
 *   outside AWS. Swap in another source action if yours differs: the build needs only the commit
 *   id (`TPS_CHANGE_REF`).
 * - Build: one CodeBuild action builds the image, pushes it to ECR, runs the tests and writes
 *   `release.json`, the execution input, with infra/examples/release-json.mjs (embedded in the
 *   buildspec byte for byte). `attestations.testsPassed` is the test command's exit code in that
 *   build; the provenance names this action's execution in this pipeline execution. The build
 *   exports the verdict and the image as the action's output variables TPS_TESTS_PASSED and
 *   TPS_IMAGE (`TESTS_OUTPUT_VARIABLES`), which CodePipeline records with the action execution.
 *   When the catalog sets `duties.requireTestsFrom: { pipeline: <pipelineName>, action:
 *   <testsActionName> }`, the "tests provenance" gate confirms with CodePipeline that this action
 *   execution succeeded there with TPS_TESTS_PASSED `true` and TPS_IMAGE the released image.
 * - Release: the Step Functions invoke action starts the state machine with `release.json` from the
 *   build's output artifact (InputType FilePath). For a Standard workflow it waits for the execution
 *   and fails the stage when the release ends FAILED (refused, rolled back), TIMED_OUT or ABORTED;
 *   the execution's output becomes the `ReleaseRecord` artifact.
 *
 * test/infra/codepipeline.test.ts synthesizes it (and cdk-nag checks it);
 * test/integration/codepipeline-release.test.ts runs release-json.mjs with passing and failing tests
 * and starts what it writes through the synthesized state machine on the local cluster.
 */
import { readFileSync } from 'node:fs';
import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as actions from 'aws-cdk-lib/aws-codepipeline-actions';
import type * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { TESTS_OUTPUT_VARIABLES } from '../../functions/domain/build-outputs.js';
import { acknowledgeNag, nagResource } from '../nag.js';

/** The writer of release.json, as the buildspec decodes it into the build. */
export const RELEASE_JSON_WRITER = readFileSync(new URL('./release-json.mjs', import.meta.url), 'utf8');

/** Where the build writes the execution input (the path in the build's output artifact). */
export const RELEASE_FILE = 'release.json';

/** Where the writer leaves its verdict (`true`/`false`) for the buildspec to export (not an artifact). */
export const VERDICT_FILE = 'tps-tests-passed';

/** Props of {@link CodePipelineRelease}. */
export interface CodePipelineReleaseProps {
  /** The service's name in the catalog (tps.config.ts). */
  readonly service: string;
  /**
   * The service's tps-deploy state machine, from the deployed tps-deploy stack by its name
   * `<appName>-<service>`: `sfn.StateMachine.fromStateMachineName(this, 'Runbook', 'tps-deploy-api')`.
   * (The cdk-nag acknowledgement of the action's grant on its executions is computed from that
   * ARN; a state machine of another stack in the same app resolves only at synthesis.)
   */
  readonly stateMachine: sfn.IStateMachine;
  /**
   * The pipeline's name: what `duties.requireTestsFrom.pipeline` names, and what the build looks
   * up its own action execution in.
   */
  readonly pipelineName: string;
  /** The repository on a CodeStar connection (GitHub, GitLab, Bitbucket). */
  readonly source: {
    /** ARN of the connection, created and authorized in the console. */
    readonly connectionArn: string;
    readonly owner: string;
    readonly repo: string;
    /** @default 'main' */
    readonly branch?: string;
  };
  /** Where the build pushes the image (its tag is the commit's first 12 characters). */
  readonly repository: ecr.IRepository;
  /**
   * The tests, run with `sh -c` in the build after the push; `$TPS_IMAGE` is the pushed image.
   * Their exit code is `attestations.testsPassed`. E.g. `docker run --rm "$TPS_IMAGE" npm test`.
   */
  readonly testCommand: string;
  /** The build action's name: what `duties.requireTestsFrom.action` names. @default 'BuildAndTest' */
  readonly testsActionName?: string;
  /**
   * A manual approval stage between the build and the release, for teams that want a person to
   * look before the release starts at all (the state machine has its own "Request Approval" for
   * the team leads after the gates). @default false
   */
  readonly manualApproval?: boolean;
}

const NAME_RE = /^[A-Za-z0-9.@_-]{1,100}$/;

/**
 * The pipeline; `pipeline`, `project` and `buildOutput` are exposed for additions (notifications,
 * more stages).
 */
export class CodePipelineRelease extends Construct {
  readonly pipeline: codepipeline.Pipeline;
  readonly project: codebuild.PipelineProject;
  /** The build's output artifact, holding {@link RELEASE_FILE}. */
  readonly buildOutput: codepipeline.Artifact;

  constructor(scope: Construct, id: string, props: CodePipelineReleaseProps) {
    super(scope, id);
    const testsActionName = props.testsActionName ?? 'BuildAndTest';
    const problems: string[] = [];
    if (!NAME_RE.test(props.pipelineName))
      problems.push(
        `pipelineName must be 1-100 characters of A-Z, a-z, 0-9, ., @, - and _ (got "${props.pipelineName}")`,
      );
    if (!NAME_RE.test(testsActionName))
      problems.push(
        `testsActionName must be 1-100 characters of A-Z, a-z, 0-9, ., @, - and _ (got "${testsActionName}")`,
      );
    if (props.service.trim() === '') problems.push('service must be the catalog service name (got "")');
    if (props.testCommand.trim() === '')
      problems.push('testCommand must run the tests, e.g. docker run --rm "$TPS_IMAGE" npm test (got "")');
    if (problems.length > 0) throw new Error(`CodePipelineRelease: ${problems.join('; ')}.`);

    const sourceOutput = new codepipeline.Artifact('Source');
    this.buildOutput = new codepipeline.Artifact('BuildOutput');
    const source = new actions.CodeStarConnectionsSourceAction({
      actionName: 'Source',
      connectionArn: props.source.connectionArn,
      owner: props.source.owner,
      repo: props.source.repo,
      branch: props.source.branch ?? 'main',
      output: sourceOutput,
    });
    // Who reviewed the change: the person starting the pipeline names them
    // (`aws codepipeline start-pipeline-execution --variables name=Reviewers,value=alice,bob`); a
    // run a push starts names nobody ("-"), and the attestations gate then refuses it.
    const reviewers = new codepipeline.Variable({
      variableName: 'Reviewers',
      defaultValue: '-',
      description: 'Comma-separated reviewers of the change ("-": none named)',
    });

    this.project = new codebuild.PipelineProject(this, 'Build', {
      description: `Builds, pushes and tests ${props.service}; writes the tps-deploy release input`,
      // Docker builds need privileged mode.
      environment: { buildImage: codebuild.LinuxBuildImage.STANDARD_7_0, privileged: true },
      environmentVariables: {
        TPS_SERVICE: { value: props.service },
        TPS_TESTS_ACTION: { value: testsActionName },
        TPS_TEST_COMMAND: { value: props.testCommand },
        REPOSITORY_URI: { value: props.repository.repositoryUri },
      },
      buildSpec: codebuild.BuildSpec.fromObject({
        version: '0.2',
        // CodePipeline records these with the action execution; the tests provenance gate reads them.
        env: { 'exported-variables': [TESTS_OUTPUT_VARIABLES.testsPassed, TESTS_OUTPUT_VARIABLES.image] },
        phases: {
          build: {
            commands: [
              'aws ecr get-login-password | docker login --username AWS --password-stdin "$(echo "$REPOSITORY_URI" | cut -d/ -f1)"',
              'TAG="$(printf %s "$TPS_CHANGE_REF" | cut -c1-12)"',
              // IMAGE_TAG: the version the service reports until tps-deploy gives its pods TPS_RELEASE_VERSION.
              'docker build --build-arg IMAGE_TAG="$TAG" -t "$REPOSITORY_URI:$TAG" .',
              'docker push "$REPOSITORY_URI:$TAG"',
              // The tag names the version, the digest pins exactly what was pushed.
              `export ${TESTS_OUTPUT_VARIABLES.image}="$REPOSITORY_URI:$TAG@$(docker inspect --format '{{index .RepoDigests 0}}' "$REPOSITORY_URI:$TAG" | cut -d@ -f2)"`,
              // infra/examples/release-json.mjs, byte for byte: runs the tests, writes release.json.
              `printf %s '${Buffer.from(RELEASE_JSON_WRITER).toString('base64')}' | base64 -d > /tmp/release-json.mjs`,
              `node /tmp/release-json.mjs ${RELEASE_FILE} ${VERDICT_FILE}`,
              // The verdict as an output variable: the writer's, not release.json's (which can be edited).
              `export ${TESTS_OUTPUT_VARIABLES.testsPassed}="$(cat ${VERDICT_FILE})"`,
            ],
          },
        },
        artifacts: { files: [RELEASE_FILE] },
      }),
    });
    props.repository.grantPullPush(this.project);
    // The build learns its own action execution id from the pipeline's state. The ARN is built
    // from the name (not the pipeline's attribute), which keeps the project and the pipeline
    // free of a dependency cycle.
    this.project.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['codepipeline:GetPipelineState'],
        resources: [Stack.of(this).formatArn({ service: 'codepipeline', resource: props.pipelineName })],
      }),
    );

    const build = new actions.CodeBuildAction({
      actionName: testsActionName,
      project: this.project,
      input: sourceOutput,
      outputs: [this.buildOutput],
      variablesNamespace: 'Build',
      environmentVariables: {
        TPS_CHANGE_REF: { value: source.variables.commitId },
        TPS_PIPELINE_EXECUTION_ID: { value: codepipeline.GlobalVariables.executionId },
        TPS_REVIEWERS: { value: reviewers.reference() },
      },
    });
    const release = new actions.StepFunctionInvokeAction({
      actionName: `Release-${props.service}`,
      stateMachine: props.stateMachine,
      stateMachineInput: releaseFileInput(this.buildOutput),
      output: new codepipeline.Artifact('ReleaseRecord'),
    });

    this.pipeline = new codepipeline.Pipeline(this, 'Pipeline', {
      pipelineName: props.pipelineName,
      pipelineType: codepipeline.PipelineType.V2,
      // One account and region: the artifacts need no customer managed key to cross accounts.
      crossAccountKeys: false,
      // One execution per stage at a time: the build's look-up of its own action execution relies
      // on it, and tps-deploy releases a service once at a time anyway.
      executionMode: codepipeline.ExecutionMode.SUPERSEDED,
      variables: [reviewers],
      stages: [
        { stageName: 'Source', actions: [source] },
        { stageName: 'Build', actions: [build] },
        ...(props.manualApproval
          ? [
              {
                stageName: 'Approve',
                actions: [
                  new actions.ManualApprovalAction({
                    actionName: 'Approve',
                    additionalInformation: `Release ${build.variable(TESTS_OUTPUT_VARIABLES.image)} of ${props.service} with tps-deploy`,
                  }),
                ],
              },
            ]
          : []),
        { stageName: 'Release', actions: [release] },
      ],
    });

    acknowledgeGrants(this, props, release);
  }
}

/**
 * The invoke action's input: the file {@link RELEASE_FILE} of the build's output artifact.
 * `StateMachineInput.filePath` writes the CloudFormation-style `<artifact>::<path>` into the
 * action's Input (`BuildOutput::release.json`), but the Step Functions action reads Input as the
 * path inside its input artifact (CodePipeline's action reference: `Input: assets/input.json`), as
 * CDK once fixed for the Service Catalog action. So the same input artifact and type, with the
 * bare path.
 */
export function releaseFileInput(buildOutput: codepipeline.Artifact): actions.StateMachineInput {
  return { ...actions.StateMachineInput.filePath(buildOutput.atPath(RELEASE_FILE)), input: RELEASE_FILE };
}

/**
 * The cdk-nag AWS Solutions findings this pipeline leaves, each acknowledged with its reason (drop
 * this if you do not run cdk-nag). They come from the grants CDK makes for the pipeline's own
 * artifacts, the build's own logs and reports, ECR sign-in and the executions of the one state
 * machine.
 */
function acknowledgeGrants(
  self: CodePipelineRelease,
  props: CodePipelineReleaseProps,
  release: actions.StepFunctionInvokeAction,
): void {
  const stack = Stack.of(self);
  const artifacts =
    "CDK's grant on the pipeline's own artifact bucket: every execution writes new objects, so the actions read and write the bucket's objects";
  for (const action of ['s3:Abort*', 's3:DeleteObject*', 's3:GetBucket*', 's3:GetObject*', 's3:List*']) {
    acknowledgeNag(self, 'AwsSolutions-IAM5', `Action::${action}`, artifacts);
  }
  acknowledgeNag(
    self,
    'AwsSolutions-IAM5',
    nagResource(self, `${self.pipeline.artifactBucket.bucketArn}/*`),
    artifacts,
  );
  acknowledgeNag(
    self.project,
    'AwsSolutions-IAM5',
    'Resource::*',
    'ecr:GetAuthorizationToken (docker login to ECR) has no resource-level permissions; pushing is granted on the one repository',
  );
  acknowledgeNag(
    self.project,
    'AwsSolutions-IAM5',
    nagResource(
      self,
      stack.formatArn({
        service: 'logs',
        resource: 'log-group',
        resourceName: `/aws/codebuild/${self.project.projectName}:*`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
    ),
    "CodeBuild writes one log stream per build into the project's own log group",
  );
  acknowledgeNag(
    self.project,
    'AwsSolutions-IAM5',
    nagResource(
      self,
      stack.formatArn({
        service: 'codebuild',
        resource: 'report-group',
        resourceName: `${self.project.projectName}-*`,
      }),
    ),
    "CDK's default grant on the report groups named after the project (test reports, if the buildspec adds them)",
  );
  const sm = Stack.of(props.stateMachine).splitArn(
    props.stateMachine.stateMachineArn,
    ArnFormat.COLON_RESOURCE_NAME,
  );
  acknowledgeNag(
    self,
    'AwsSolutions-IAM5',
    nagResource(
      self,
      Stack.of(props.stateMachine).formatArn({
        ...sm,
        service: 'states',
        resource: 'execution',
        resourceName: `${sm.resourceName}:*`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
    ),
    `The ${release.actionProperties.actionName} action describes the executions it starts, whose names CodePipeline generates, of the one state machine`,
  );
  acknowledgeNag(
    self.pipeline.artifactBucket,
    'AwsSolutions-S1',
    undefined,
    'The artifact bucket holds only what the pipeline passes between its actions (sources, release.json, the execution output); CloudTrail records who reads it',
  );
  acknowledgeNag(
    self.project,
    'AwsSolutions-CB3',
    undefined,
    'Privileged mode runs the Docker daemon that builds and pushes the service image; the build runs only the repository the connection names',
  );
  acknowledgeNag(
    self.project,
    'AwsSolutions-CB4',
    undefined,
    'CodeBuild encrypts the build output with the AWS managed key; release.json holds no secrets',
  );
}

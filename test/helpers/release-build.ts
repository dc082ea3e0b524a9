/**
 * The release pipeline example's build, as CodeBuild would run its last step: the release.json
 * writer decoded from the SYNTHESIZED buildspec (infra/examples/codepipeline-release.ts), with the
 * environment the synthesized project and CodeBuild action give it (CodePipeline's variable
 * references replaced by the values CodePipeline would put there) plus what CodeBuild itself sets.
 *
 * The build's commands from the writer's on run in one shell, as CodeBuild runs a buildspec
 * 0.2 phase; the variables the buildspec names in `env.exported-variables` are read from that
 * shell's environment at the end, as CodeBuild exports them to CodePipeline.
 *
 * The only stand-in is CodePipeline (it cannot run here): an `aws` executable first on PATH answers
 * `aws codepipeline get-pipeline-state` with a response in the shape of the API reference
 * (GetPipelineState: stageStates[].actionStates[].latestExecution, stageStates[].latestExecution)
 * and records how it was called; {@link recordedActionExecution} is what ListActionExecutions then
 * lists for the build action (actionExecutionDetails[]: status, output.outputVariables).
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { PipelineActionExecution } from '../../functions/ports/pipelines.js';
import { CodePipelineRelease, RELEASE_FILE } from '../../infra/examples/codepipeline-release.js';
import { stateMachineName } from '../../infra/names.js';

/** The example as the integration and unit tests synthesize it (sample app `tps-deploy`, service `api`). */
export const EXAMPLE = {
  service: 'api',
  pipelineName: 'shop-api-release',
  region: 'us-east-1',
  account: '123456789012',
} as const;

/** What the synthesized example gives the build. */
export interface SynthesizedBuild {
  /** The writer, decoded from the buildspec's `base64 -d` command. */
  readonly writerSource: string;
  /** Where the buildspec decodes the writer to. */
  readonly writerPath: string;
  /** The buildspec's commands from the one running the writer to the end of the build phase. */
  readonly fromWriter: readonly string[];
  /** The buildspec's `env.exported-variables`. */
  readonly exportedVariables: readonly string[];
  /** The project's plain environment variables (tokens left out). */
  readonly projectEnv: Readonly<Record<string, string>>;
  /** The CodeBuild action's environment variables, as written (`#{...}` references). */
  readonly actionEnv: Readonly<Record<string, string>>;
  /** The CodeBuild action's name in the pipeline. */
  readonly buildActionName: string;
  readonly pipelineName: string;
}

/** Synthesizes the example for the sample service and reads what its build runs. */
export function synthesizeReleaseBuild(appName: string): SynthesizedBuild {
  const app = new App();
  const stack = new Stack(app, 'Pipeline', { env: { account: EXAMPLE.account, region: EXAMPLE.region } });
  new CodePipelineRelease(stack, 'Release', {
    service: EXAMPLE.service,
    stateMachine: sfn.StateMachine.fromStateMachineName(
      stack,
      'Runbook',
      stateMachineName(appName, EXAMPLE.service),
    ),
    pipelineName: EXAMPLE.pipelineName,
    source: {
      connectionArn: `arn:aws:codestar-connections:${EXAMPLE.region}:${EXAMPLE.account}:connection/example`,
      owner: 'shop',
      repo: 'api',
    },
    repository: ecr.Repository.fromRepositoryName(stack, 'Images', 'shop/api'),
    testCommand: 'docker run --rm "$TPS_IMAGE" npm test',
  });
  const template = Template.fromStack(stack);
  const project = Object.values(template.findResources('AWS::CodeBuild::Project'))[0]!;
  const spec = JSON.parse(project.Properties.Source.BuildSpec) as {
    env?: { 'exported-variables'?: string[] };
    phases: { build: { commands: string[] } };
  };
  const commands = spec.phases.build.commands;
  const decode = commands
    .map((c) => /^printf %s '([A-Za-z0-9+/=]+)' \| base64 -d > (\S+)$/.exec(c))
    .find((m) => m !== null);
  if (!decode) throw new Error('the buildspec has no base64 -d command for the writer');
  const run = commands.findIndex((c) => c.startsWith(`node ${decode[2]} `));
  if (run < 0) throw new Error(`the buildspec never runs ${decode[2]}`);
  const projectEnv = Object.fromEntries(
    (project.Properties.Environment.EnvironmentVariables as { Name: string; Value: unknown }[])
      .filter((v) => typeof v.Value === 'string')
      .map((v) => [v.Name, v.Value as string]),
  );
  const stages = Object.values(template.findResources('AWS::CodePipeline::Pipeline'))[0]!.Properties
    .Stages as {
    Name: string;
    Actions: { Name: string; ActionTypeId: { Provider: string }; Configuration: Record<string, string> }[];
  }[];
  const build = stages.flatMap((s) => s.Actions).find((a) => a.ActionTypeId.Provider === 'CodeBuild')!;
  const actionEnv = Object.fromEntries(
    (JSON.parse(build.Configuration.EnvironmentVariables!) as { name: string; value: string }[]).map((v) => [
      v.name,
      v.value,
    ]),
  );
  return {
    writerSource: Buffer.from(decode[1]!, 'base64').toString('utf8'),
    writerPath: decode[2]!,
    fromWriter: commands.slice(run),
    exportedVariables: spec.env?.['exported-variables'] ?? [],
    projectEnv,
    actionEnv,
    buildActionName: build.Name,
    pipelineName: EXAMPLE.pipelineName,
  };
}

/** What CodePipeline knows of one run of the build, for GetPipelineState and the local records. */
export interface PipelineRun {
  readonly pipelineExecutionId: string;
  readonly actionExecutionId: string;
  /** The CodeBuild build id (CODEBUILD_BUILD_ID and the action's externalExecutionId). */
  readonly buildId: string;
  readonly commit: string;
}

/** A new run with fresh ids. */
export function pipelineRun(): PipelineRun {
  const id = () => randomUUID();
  return {
    pipelineExecutionId: id(),
    actionExecutionId: id(),
    buildId: `shop-api-build:${id()}`,
    commit: 'a3f9c2e1b7d04c6e8f1a2b3c4d5e6f708192a3b4',
  };
}

/**
 * GetPipelineState while the build runs (API reference's response syntax): Source succeeded,
 * the build action in progress, the release stage not reached.
 */
export function pipelineStateDuringBuild(build: SynthesizedBuild, run: PipelineRun): Record<string, unknown> {
  return {
    pipelineName: build.pipelineName,
    pipelineVersion: 1,
    stageStates: [
      {
        stageName: 'Source',
        inboundTransitionState: { enabled: true },
        actionStates: [
          {
            actionName: 'Source',
            currentRevision: { revisionId: run.commit },
            latestExecution: {
              actionExecutionId: randomUUID(),
              status: 'Succeeded',
              externalExecutionId: run.commit,
              lastStatusChange: 1_765_000_000,
            },
          },
        ],
        latestExecution: { pipelineExecutionId: run.pipelineExecutionId, status: 'Succeeded' },
      },
      {
        stageName: 'Build',
        inboundTransitionState: { enabled: true },
        actionStates: [
          {
            actionName: build.buildActionName,
            latestExecution: {
              actionExecutionId: run.actionExecutionId,
              status: 'InProgress',
              externalExecutionId: run.buildId,
              lastStatusChange: 1_765_000_060,
            },
          },
        ],
        latestExecution: { pipelineExecutionId: run.pipelineExecutionId, status: 'InProgress' },
      },
      {
        stageName: 'Release',
        inboundTransitionState: { enabled: true },
        actionStates: [{ actionName: `Release-${EXAMPLE.service}` }],
      },
    ],
  };
}

/** One run of the writer. */
export interface WriterRun {
  /** The writer's exit status. */
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** release.json as written, or null when it was not. */
  readonly release: Record<string, unknown> | null;
  /** Each call of `aws`, its arguments joined by spaces. */
  readonly awsCalls: readonly string[];
  /** Whether the test command ran (it touches a marker file first). */
  readonly testsRan: boolean;
  /**
   * What CodeBuild exports to CodePipeline: each of the buildspec's `exported-variables` that is
   * set in the build's shell when its commands end (empty when a command failed: the build failed).
   */
  readonly exported: Readonly<Record<string, string>>;
}

/**
 * Runs the synthesized build's writer as CodeBuild would: `node <writer> release.json` in the
 * source directory, the project's and the action's environment (references resolved for `run`),
 * CodeBuild's own variables, `testCommand` as the test step and `state` as CodePipeline's answer.
 */
export function runReleaseWriter(opts: {
  build: SynthesizedBuild;
  run: PipelineRun;
  testCommand: string;
  image: string;
  reviewers?: string;
  /** @default pipelineStateDuringBuild(build, run) */
  state?: Record<string, unknown>;
  /** Variables to set or (undefined) remove after the others. */
  env?: Record<string, string | undefined>;
  /** `aws` exits with this status (and no output) instead of answering. */
  awsFails?: number;
}): WriterRun {
  const dir = mkdtempSync(join(tmpdir(), 'tps-release-build-'));
  try {
    const bin = join(dir, 'bin');
    const src = join(dir, 'src');
    mkdirSync(bin);
    mkdirSync(src);
    const writer = join(dir, 'release-json.mjs');
    writeFileSync(writer, opts.build.writerSource);
    writeFileSync(
      join(dir, 'state.json'),
      JSON.stringify(opts.state ?? pipelineStateDuringBuild(opts.build, opts.run)),
    );
    writeFileSync(
      join(bin, 'aws'),
      `#!/bin/sh\nprintf '%s\\n' "$*" >> '${dir}/aws-calls'\n${
        opts.awsFails
          ? `echo 'An error occurred (AccessDeniedException)' >&2\nexit ${opts.awsFails}`
          : `cat '${dir}/state.json'`
      }\n`,
    );
    chmodSync(join(bin, 'aws'), 0o755);
    const resolve = (v: string) =>
      v
        .replace('#{codepipeline.PipelineExecutionId}', opts.run.pipelineExecutionId)
        .replace(/#\{[A-Za-z0-9_]+\.CommitId\}/, opts.run.commit)
        .replace('#{variables.Reviewers}', opts.reviewers ?? '-');
    const env: Record<string, string | undefined> = {
      PATH: `${bin}:${process.env.PATH}`,
      HOME: dir,
      ...opts.build.projectEnv,
      ...Object.fromEntries(Object.entries(opts.build.actionEnv).map(([k, v]) => [k, resolve(v)])),
      TPS_TEST_COMMAND: `touch '${dir}/tests-ran' && ${opts.testCommand}`,
      TPS_IMAGE: opts.image,
      CODEBUILD_INITIATOR: `codepipeline/${opts.build.pipelineName}`,
      CODEBUILD_BUILD_ID: opts.run.buildId,
      CODEBUILD_BUILD_ARN: `arn:aws:codebuild:${EXAMPLE.region}:${EXAMPLE.account}:build/${opts.run.buildId}`,
      CODEBUILD_SRC_DIR: src,
      ...opts.env,
    };
    // `node` as CodeBuild's image has it; the build's commands from the writer's on, in one
    // shell that stops at the first failing command; then its environment, for exported-variables.
    symlinkSync(process.execPath, join(bin, 'node'));
    const envFile = join(dir, 'env-at-end.json');
    const script = [
      'set -e',
      ...opts.build.fromWriter.map((c) => c.split(opts.build.writerPath).join(writer)),
      `node -e 'require("fs").writeFileSync(process.argv[1], JSON.stringify(process.env))' '${envFile}'`,
    ].join('\n');
    const r = spawnSync('sh', ['-c', script], {
      cwd: src,
      env: Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined)),
      encoding: 'utf8',
    });
    const out = join(src, RELEASE_FILE);
    const calls = join(dir, 'aws-calls');
    const atEnd = existsSync(envFile)
      ? (JSON.parse(readFileSync(envFile, 'utf8')) as Record<string, string>)
      : null;
    return {
      status: r.status,
      stdout: r.stdout,
      stderr: r.stderr,
      release: existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as Record<string, unknown>) : null,
      awsCalls: existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n') : [],
      testsRan: existsSync(join(dir, 'tests-ran')),
      exported: Object.fromEntries(
        opts.build.exportedVariables.flatMap((n) => (atEnd?.[n] !== undefined ? [[n, atEnd[n]]] : [])),
      ),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The build action's execution as CodePipeline then records it (ListActionExecutions'
 * actionExecutionDetails[]): Succeeded when the build's commands all exited 0, else Failed, with
 * the variables the build exported as its `output.outputVariables`.
 */
export function recordedActionExecution(
  build: SynthesizedBuild,
  run: PipelineRun,
  w: WriterRun,
  lastUpdateTime = '2026-12-06T09:00:00.000Z',
): PipelineActionExecution {
  return {
    pipelineName: build.pipelineName,
    pipelineExecutionId: run.pipelineExecutionId,
    actionExecutionId: run.actionExecutionId,
    stageName: 'Build',
    actionName: build.buildActionName,
    status: w.status === 0 ? 'Succeeded' : 'Failed',
    lastUpdateTime,
    outputVariables: w.exported,
  };
}

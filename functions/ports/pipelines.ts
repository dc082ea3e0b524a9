/**
 * What CodePipeline recorded of its runs: the "tests provenance" gate asks it whether the pipeline
 * action an attestation names really ran, in that pipeline, succeeded, and exported that its tests
 * passed for the released image.
 */

/** One action execution as CodePipeline records it (ListActionExecutions' `actionExecutionDetails`). */
export interface PipelineActionExecution {
  readonly pipelineName: string;
  readonly pipelineExecutionId: string;
  readonly actionExecutionId: string;
  readonly stageName: string;
  readonly actionName: string;
  /** `InProgress`, `Abandoned`, `Succeeded` or `Failed`. */
  readonly status: string;
  /** When CodePipeline last updated it (ISO 8601), when it says. */
  readonly lastUpdateTime: string | null;
  /**
   * The variables the action exported (`output.outputVariables`; empty when it exported none):
   * for a CodeBuild action, the buildspec's `env.exported-variables` as they were at the end of
   * the build.
   */
  readonly outputVariables: Readonly<Record<string, string>>;
}

/** CodePipeline's record of action executions. */
export interface PipelineRecords {
  /**
   * The action execution `actionExecutionId` of the pipeline execution `pipelineExecutionId` of
   * `pipeline`, or null when that pipeline execution has none with this id. Throws when the
   * pipeline cannot be read (the gate then fails with the reason).
   */
  actionExecution(
    pipeline: string,
    pipelineExecutionId: string,
    actionExecutionId: string,
  ): Promise<PipelineActionExecution | null>;
}

/**
 * PipelineRecords over CodePipeline's ListActionExecutions, filtered by the pipeline execution
 * (a pipeline execution has a handful of actions; the pages are followed all the same).
 */
import { type CodePipelineClient, paginateListActionExecutions } from '@aws-sdk/client-codepipeline';
import type { PipelineActionExecution, PipelineRecords } from '../../ports/pipelines.js';

export interface CodePipelineRecordsProps {
  readonly client: CodePipelineClient;
}

export class CodePipelineRecords implements PipelineRecords {
  constructor(private readonly props: CodePipelineRecordsProps) {}

  async actionExecution(
    pipeline: string,
    pipelineExecutionId: string,
    actionExecutionId: string,
  ): Promise<PipelineActionExecution | null> {
    const pages = paginateListActionExecutions(
      { client: this.props.client },
      { pipelineName: pipeline, filter: { pipelineExecutionId } },
    );
    for await (const page of pages) {
      for (const d of page.actionExecutionDetails ?? []) {
        if (d.actionExecutionId !== actionExecutionId) continue;
        return {
          pipelineName: pipeline,
          pipelineExecutionId: d.pipelineExecutionId ?? pipelineExecutionId,
          actionExecutionId,
          stageName: d.stageName ?? '',
          actionName: d.actionName ?? '',
          status: d.status ?? 'unknown',
          lastUpdateTime: d.lastUpdateTime ? d.lastUpdateTime.toISOString() : null,
          outputVariables: { ...(d.output?.outputVariables ?? {}) },
        };
      }
    }
    return null;
  }
}

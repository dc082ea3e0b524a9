/**
 * The executions port on Step Functions: StopExecution and DescribeExecution (AWS Step Functions
 * API reference). An execution that does not exist (yet, or any more) is not running.
 */
import { DescribeExecutionCommand, type SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { AwsTransientError } from '../../domain/errors.js';
import type { ExecutionState } from '../../domain/lock.js';
import type { Executions } from '../../ports/executions.js';
import { describeError, isTransientAwsError } from './errors.js';

const STATES: readonly ExecutionState[] = [
  'RUNNING',
  'SUCCEEDED',
  'FAILED',
  'TIMED_OUT',
  'ABORTED',
  'PENDING_REDRIVE',
];

export class SfnExecutions implements Executions {
  constructor(private readonly props: { readonly client: SFNClient }) {}

  async stop(executionArn: string, cause: string): Promise<void> {
    try {
      await this.props.client.send(new StopExecutionCommand({ executionArn, cause: cause.slice(0, 32_000) }));
    } catch (e) {
      // An execution that already ended cannot be stopped: nothing to do.
      if ((e as { name?: string }).name !== 'ExecutionDoesNotExist') throw e;
    }
  }

  async status(executionArn: string): Promise<ExecutionState> {
    try {
      const out = await this.props.client.send(new DescribeExecutionCommand({ executionArn }));
      const status = out.status as ExecutionState | undefined;
      return status && STATES.includes(status) ? status : 'UNKNOWN';
    } catch (e) {
      if ((e as { name?: string }).name === 'ExecutionDoesNotExist') return 'UNKNOWN';
      if (isTransientAwsError(e)) {
        throw new AwsTransientError(`Step Functions DescribeExecution ${executionArn}: ${describeError(e)}`, {
          cause: e,
        });
      }
      throw e;
    }
  }
}

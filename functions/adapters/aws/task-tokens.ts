import { SendTaskFailureCommand, SendTaskSuccessCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { AwsTransientError } from '../../domain/errors.js';
import type { TaskTokens } from '../../ports/task-tokens.js';
import { describeError, isTransientAwsError } from './errors.js';

/** Step Functions limits a task failure's cause to 32 768 characters. */
export const TASK_CAUSE_MAX = 32_768;

/**
 * Answers a waiting `.waitForTaskToken` state with SendTaskSuccess/SendTaskFailure. A token that
 * is no longer open fails with the service's own error (`TaskTimedOut`, `InvalidToken`,
 * `TaskDoesNotExist`), which callers tell the person about; throttling and 5xx become
 * AwsTransientError.
 */
export class SfnTaskTokens implements TaskTokens {
  constructor(private readonly props: { readonly client: SFNClient }) {}

  async succeed(taskToken: string, output: Readonly<Record<string, unknown>>): Promise<void> {
    await this.send('SendTaskSuccess', () =>
      this.props.client.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) })),
    );
  }

  async fail(taskToken: string, error: string, cause: string): Promise<void> {
    await this.send('SendTaskFailure', () =>
      this.props.client.send(
        new SendTaskFailureCommand({
          taskToken,
          error: error.slice(0, 256),
          cause: cause.slice(0, TASK_CAUSE_MAX),
        }),
      ),
    );
  }

  private async send(what: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (error) {
      if (isTransientAwsError(error)) {
        throw new AwsTransientError(`${what} failed: ${describeError(error)}`, { cause: error });
      }
      throw error;
    }
  }
}

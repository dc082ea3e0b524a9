/** The answer to a waiting task token. */
export interface TaskTokens {
  /** SendTaskSuccess; throws an error named `TaskTimedOut`/`InvalidToken`/`TaskDoesNotExist` when too late. */
  succeed(taskToken: string, output: Readonly<Record<string, unknown>>): Promise<void>;
  /** SendTaskFailure with an error name the state machine catches. */
  fail(taskToken: string, error: string, cause: string): Promise<void>;
}

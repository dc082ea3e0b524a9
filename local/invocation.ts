/**
 * The task functions, invoked locally as Lambda invokes them: through the same instrumented
 * invocation (functions/invoke.ts), with a Lambda context that names the synthesized function
 * (its placeholder ARN), its memory and a fresh request ID, so a local run logs what Lambda logs.
 * Only the cold start differs: Powertools reports one only where Lambda says the container is new
 * (AWS_LAMBDA_INITIALIZATION_TYPE), so locally `cold_start` is false.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import { TASKS, type TaskKey } from '../functions/contract/tasks.js';
import { invokeTask, type LambdaContext } from '../functions/invoke.js';
import type { ReleasePorts } from '../functions/ports/release.js';

export class LocalFunctions {
  private readonly arnOf = new Map<TaskKey, string>();

  /**
   * @param logger the functions' logger (functions/adapters/powertools/function-logger.ts)
   * @param resourceTasks the synthesized functions: placeholder ARN -> task
   */
  constructor(
    private readonly logger: Logger,
    resourceTasks: Readonly<Record<string, TaskKey>>,
  ) {
    for (const [arn, task] of Object.entries(resourceTasks)) this.arnOf.set(task, arn);
  }

  /** One invocation of `task`'s function with `event`. */
  invoke(task: TaskKey, ports: ReleasePorts, event: unknown): Promise<unknown> {
    const arn = this.arnOf.get(task) ?? `arn:aws:lambda:local:000000000000:function:${task}`;
    const context: LambdaContext = {
      functionName: arn.split(':').at(-1) ?? task,
      functionVersion: '$LATEST',
      invokedFunctionArn: arn,
      memoryLimitInMB: String(TASKS[task].memoryMb),
      awsRequestId: randomUUID(),
    };
    // A child per invocation: steps run concurrently here (an alarm rollback during a step), and
    // the Lambda context a logger carries is the logger's.
    return invokeTask(task, () => ports, event, { logger: this.logger.createChild(), context });
  }
}

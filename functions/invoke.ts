/**
 * The one instrumented invocation of a task: the Lambda runtime (functions/handlers/aws-runtime.ts)
 * and the local runner (local/invocation.ts) both run every step through {@link invokeTask}, so a
 * local run logs what Lambda logs.
 *
 * Every line carries the Lambda context (Powertools `addContext`: cold_start, function_name,
 * function_request_id, ...), the release's `service`, `deploymentId` and `phase` where the task has
 * one (functions/release/log-keys.ts), the task and its duration; a failure is logged with its
 * error (name, message, stack, cause) and rethrown unchanged, since the state machine's
 * Retry/Catch match its name. The release metrics need no flush here: the telemetry port writes
 * each event's documents when the event happens (functions/adapters/powertools/emf-telemetry.ts).
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { RELEASE_SERVICE_KEY } from './adapters/powertools/function-logger.js';
import type { TaskKey } from './contract/tasks.js';
import type { ReleasePorts } from './ports/release.js';
import { type ReleaseKeys, releaseKeysOf, withOutcomeKeys } from './release/log-keys.js';
import { runStep } from './release/registry.js';

/** The fields of Lambda's invocation context that the log lines carry. */
export interface LambdaContext {
  readonly functionName: string;
  readonly functionVersion: string;
  readonly invokedFunctionArn: string;
  readonly memoryLimitInMB: string;
  readonly awsRequestId: string;
}

/** Where and as what one invocation logs. */
export interface Invocation {
  /**
   * The logger; {@link invokeTask} adds the context to it. Lambda runs one invocation per
   * container at a time and passes its module-level logger (which tracks the cold start); the
   * local runner, whose steps run concurrently in one process, passes a child logger per invocation.
   */
  readonly logger: Logger;
  readonly context: LambdaContext;
}

/** The log attributes of a release's keys (`service` under the formatter's carrier key). */
function logKeys(task: TaskKey, keys: ReleaseKeys): Record<string, unknown> {
  return {
    [RELEASE_SERVICE_KEY]: keys.service,
    deploymentId: keys.deploymentId,
    phase: keys.phase,
    task,
  };
}

/**
 * Runs the step of `task` with the ports `ports()` gives (built lazily, so a runtime that cannot
 * build them logs why), logs `task done` or `task failed`, and returns the step's result.
 */
export async function invokeTask(
  task: TaskKey,
  ports: () => ReleasePorts,
  event: unknown,
  { logger, context }: Invocation,
): Promise<unknown> {
  logger.addContext(context as never);
  const started = performance.now();
  let keys: ReleaseKeys = {};
  try {
    const p = ports();
    keys = releaseKeysOf(task, event, p.catalog);
    const result = await runStep(task, p, event);
    logger.info('task done', {
      ...logKeys(task, withOutcomeKeys(keys, result)),
      durationMs: Math.round(performance.now() - started),
    });
    return result;
  } catch (e) {
    logger.error('task failed', {
      ...logKeys(task, keys),
      durationMs: Math.round(performance.now() - started),
      // An Error under `error` is logged by Powertools with name, location, message, stack and cause.
      error: e instanceof Error ? e : new Error(String(e)),
    });
    throw e;
  }
}

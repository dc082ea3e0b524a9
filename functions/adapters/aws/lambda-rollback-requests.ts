/**
 * The `RollbackRequests` port on Lambda: an asynchronous Invoke (`InvocationType: Event`) of the
 * function that rolls back after a stopped execution (functions/handlers/execution-stopped.ts),
 * with a person's rollback request (functions/release/steer.ts `PERSON_ROLLBACK_SOURCE`). Lambda
 * queues the event; the function's retries and dead-letter queue apply as to a status event.
 */
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { AwsTransientError } from '../../domain/errors.js';
import { personRollbackEvent } from '../../domain/person-rollback.js';
import type { PersonRollbackRequest, RollbackRequests } from '../../ports/executions.js';
import { describeError, isTransientAwsError } from './errors.js';

export class LambdaRollbackRequests implements RollbackRequests {
  constructor(
    private readonly props: {
      readonly client: LambdaClient;
      /** The name or ARN of the rollback function. */
      readonly functionName: string;
    },
  ) {}

  async request(request: PersonRollbackRequest): Promise<void> {
    try {
      await this.props.client.send(
        new InvokeCommand({
          FunctionName: this.props.functionName,
          InvocationType: 'Event',
          Payload: new TextEncoder().encode(JSON.stringify(personRollbackEvent(request))),
        }),
      );
    } catch (e) {
      if (isTransientAwsError(e)) {
        throw new AwsTransientError(
          `Lambda Invoke ${this.props.functionName} (rollback of ${request.service}/${request.deploymentId}): ${describeError(e)}`,
          { cause: e },
        );
      }
      throw e;
    }
  }
}

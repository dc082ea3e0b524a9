/**
 * One deployments table as the store's parts use it: the document client, the table's name, and
 * the one place SDK failures that outlived the SDK's retries become StoreUnavailableError.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { StoreUnavailableError } from '../../../domain/errors.js';
import { describeError, isTransientAwsError } from '../errors.js';
import { ITEM_KEYS } from './items.js';

/** The deployments table and how to call it. */
export class DeploymentsTable {
  readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    readonly name: string,
  ) {
    this.doc = DynamoDBDocumentClient.from(client, {
      marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
    });
  }

  /** Runs one SDK call; turns failures that outlived the SDK's retries into StoreUnavailableError. */
  async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (isTransientAwsError(error)) {
        throw new StoreUnavailableError(
          `deployments table ${this.name}: ${operation} failed: ${describeError(error)}`,
          {
            cause: error,
          },
        );
      }
      throw error;
    }
  }

  /** One item of the service's partition by its sort key, strongly consistent; undefined when absent. */
  async read(operation: string, service: string, sk: string): Promise<Record<string, unknown> | undefined> {
    const out = await this.call(operation, () =>
      this.doc.send(
        new GetCommand({
          TableName: this.name,
          Key: { pk: ITEM_KEYS.partition(service), sk },
          ConsistentRead: true,
        }),
      ),
    );
    return out.Item;
  }
}

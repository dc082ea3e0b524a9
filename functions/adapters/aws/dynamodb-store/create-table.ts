/**
 * Creates the deployments table for local runs and tests (dynalite); in AWS the CDK stack creates
 * it. Both build it from {@link TABLE_KEYS}, so the schema is written down once.
 */

import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import { StoreUnavailableError } from '../../../domain/errors.js';
import { TABLE_KEYS } from './items.js';

/**
 * Creates the deployments table (on demand, keys from {@link TABLE_KEYS}) unless it exists, and
 * waits until it is ACTIVE. For local runs and tests; in AWS the CDK stack creates it.
 * Returns true when this call created it.
 */
export async function createTableIfMissing(client: DynamoDBClient, tableName: string): Promise<boolean> {
  try {
    const out = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (out.Table?.TableStatus !== 'ACTIVE') await waitForTable(client, tableName);
    return false;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
    const attrs = [
      TABLE_KEYS.partitionKey,
      TABLE_KEYS.sortKey,
      ...TABLE_KEYS.localIndexes.map((i) => i.sortKey),
    ];
    try {
      await client.send(
        new CreateTableCommand({
          TableName: tableName,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: attrs.map((a) => ({ AttributeName: a.name, AttributeType: a.type })),
          KeySchema: [
            { AttributeName: TABLE_KEYS.partitionKey.name, KeyType: 'HASH' },
            { AttributeName: TABLE_KEYS.sortKey.name, KeyType: 'RANGE' },
          ],
          LocalSecondaryIndexes: TABLE_KEYS.localIndexes.map((i) => ({
            IndexName: i.indexName,
            KeySchema: [
              { AttributeName: TABLE_KEYS.partitionKey.name, KeyType: 'HASH' },
              { AttributeName: i.sortKey.name, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: i.projection },
          })),
        }),
      );
    } catch (createError) {
      // Someone else created it between our describe and create: wait for theirs.
      if (!(createError instanceof ResourceInUseException)) throw createError;
      await waitForTable(client, tableName);
      return false;
    }
  }
  await waitForTable(client, tableName);
  return true;
}

/** Polls DescribeTable until ACTIVE: from 50 ms (local tables are ready at once) up to 2 s, for 2 minutes. */
async function waitForTable(client: DynamoDBClient, tableName: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (let delay = 50; ; delay = Math.min(delay * 2, 2000)) {
    const out = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (out.Table?.TableStatus === 'ACTIVE') return;
    if (Date.now() > deadline) {
      throw new StoreUnavailableError(
        `table ${tableName} is still ${out.Table?.TableStatus} after 2 minutes; check it in the DynamoDB console`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

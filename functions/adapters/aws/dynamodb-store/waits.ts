/**
 * What a release waits on and how it was started, kept apart from its record:
 *
 * 1. The task token of a waiting approval or hold is its own item (`TOKEN#<id>`), never an
 *    attribute of the record: `get` and `history` read only deployment items (the history index
 *    holds only items with `historyKey`, which these lack), so no record reader returns it. Only
 *    the answer step reads it, and only a principal allowed to answer gets that far. Knowing the
 *    token is not enough anyway: nobody but the answer function may call SendTaskSuccess/Failure.
 * 2. A verified start (`START#<id>`) is written by the answer endpoint before StartExecution, with
 *    the caller's verified ARN and a digest of the input; "Check Gates" trusts it only for the
 *    same input.
 */
import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { VerifiedStart } from '../../../ports/store.js';
import { ITEM_KEYS } from './items.js';
import type { DeploymentsTable } from './table.js';

export async function saveTaskToken(
  table: DeploymentsTable,
  service: string,
  deploymentId: string,
  taskToken: string,
): Promise<void> {
  await table.call('PutItem(task token)', () =>
    table.doc.send(
      new PutCommand({
        TableName: table.name,
        Item: {
          pk: ITEM_KEYS.partition(service),
          sk: ITEM_KEYS.taskToken(deploymentId),
          kind: 'task-token',
          deploymentId,
          taskToken,
        },
      }),
    ),
  );
}

export async function readTaskToken(
  table: DeploymentsTable,
  service: string,
  deploymentId: string,
): Promise<string | null> {
  const item = await table.read('GetItem(task token)', service, ITEM_KEYS.taskToken(deploymentId));
  return typeof item?.taskToken === 'string' ? item.taskToken : null;
}

export async function dropTaskToken(
  table: DeploymentsTable,
  service: string,
  deploymentId: string,
): Promise<void> {
  await table.call('DeleteItem(task token)', () =>
    table.doc.send(
      new DeleteCommand({
        TableName: table.name,
        Key: { pk: ITEM_KEYS.partition(service), sk: ITEM_KEYS.taskToken(deploymentId) },
      }),
    ),
  );
}

export async function saveVerifiedStart(
  table: DeploymentsTable,
  service: string,
  deploymentId: string,
  start: VerifiedStart,
): Promise<void> {
  await table.call('PutItem(verified start)', () =>
    table.doc.send(
      new PutCommand({
        TableName: table.name,
        Item: {
          pk: ITEM_KEYS.partition(service),
          sk: ITEM_KEYS.verifiedStart(deploymentId),
          kind: 'verified-start',
          deploymentId,
          principal: start.principal,
          at: start.at,
          inputDigest: start.inputDigest,
        },
        // A start is written once: a second one for the same name is not the same person's.
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    ),
  );
}

export async function dropVerifiedStart(
  table: DeploymentsTable,
  service: string,
  deploymentId: string,
): Promise<void> {
  await table.call('DeleteItem(verified start)', () =>
    table.doc.send(
      new DeleteCommand({
        TableName: table.name,
        Key: { pk: ITEM_KEYS.partition(service), sk: ITEM_KEYS.verifiedStart(deploymentId) },
      }),
    ),
  );
}

export async function readVerifiedStart(
  table: DeploymentsTable,
  service: string,
  deploymentId: string,
): Promise<VerifiedStart | null> {
  const item = await table.read('GetItem(verified start)', service, ITEM_KEYS.verifiedStart(deploymentId));
  if (!item || typeof item.principal !== 'string') return null;
  return { principal: item.principal, at: String(item.at), inputDigest: String(item.inputDigest) };
}

/**
 * The rollback claim: exactly one party records and notifies a deployment's rollback. The claim
 * is its own item (`ROLLBACK#<deploymentId>`), written with one conditional PutItem:
 *
 * 1. First claimant wins. The claim is written only if absent, so of concurrent claimants (the
 *    state machine's "Roll Back", an alarm, the execution-status cleanup) exactly one gets `true`.
 * 2. Asking again is a retry. The same claimant asking again also gets `true`, so a retry after
 *    a lost response does not mistake its own claim for someone else's; claimants must therefore
 *    be unique per caller.
 * 3. Takeover only from the gone. `takeOverFrom` names a claimant known to be gone (it died
 *    between claiming and recording): its claim passes to the caller; any other claim stands.
 * 4. It is the rollback's write-ahead. It is written before the rollback changes the cluster, and
 *    steps that change the cluster read it (strongly consistent) after their change
 *    (functions/release/write-ahead.ts). A record `put` never touches it, and it does not need
 *    the record to exist.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { RollbackClaim } from '../../../ports/store.js';
import { isConditionalCheckFailed } from '../errors.js';
import { ITEM_KEYS } from './items.js';
import type { DeploymentsTable } from './table.js';

/** Claims the deployment's rollback for `claimant` (invariants 1 to 3); false when someone else holds it. */
export async function claimRollback(
  table: DeploymentsTable,
  service: string,
  deploymentId: string,
  claimant: string,
  takeOverFrom?: string,
): Promise<boolean> {
  try {
    await table.call('PutItem(rollback claim)', () =>
      table.doc.send(
        new PutCommand({
          TableName: table.name,
          Item: {
            pk: ITEM_KEYS.partition(service),
            sk: ITEM_KEYS.rollbackClaim(deploymentId),
            kind: 'rollback-claim',
            deploymentId,
            claimant,
            claimedAt: new Date().toISOString(),
          },
          ConditionExpression:
            takeOverFrom === undefined
              ? 'attribute_not_exists(pk) OR claimant = :claimant'
              : 'attribute_not_exists(pk) OR claimant = :claimant OR claimant = :gone',
          ExpressionAttributeValues: {
            ':claimant': claimant,
            ...(takeOverFrom === undefined ? {} : { ':gone': takeOverFrom }),
          },
        }),
      ),
    );
    return true;
  } catch (error) {
    if (isConditionalCheckFailed(error)) return false;
    throw error;
  }
}

/** Who claimed the deployment's rollback (strongly consistent), or null when no one has. */
export async function readRollbackClaim(
  table: DeploymentsTable,
  service: string,
  deploymentId: string,
): Promise<RollbackClaim | null> {
  const item = (await table.read(
    'GetItem(rollback claim)',
    service,
    ITEM_KEYS.rollbackClaim(deploymentId),
  )) as { claimant?: unknown; claimedAt?: unknown } | undefined;
  if (!item || typeof item.claimant !== 'string') return null;
  return { claimant: item.claimant, claimedAt: String(item.claimedAt ?? '') };
}

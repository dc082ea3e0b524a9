/**
 * The service lock: at most one deployment of a service at a time. The lock is one item (`LOCK`
 * in the service's partition) and every guarantee rests on DynamoDB's conditional writes:
 *
 * 1. One holder. The lock is written only if absent (`attribute_not_exists(pk)`), so of
 *    concurrent `begin`s exactly one takes it.
 * 2. A refused `begin` changes nothing. It fails at this first write, before its record is
 *    written, with DeploymentInProgressError naming the holder.
 * 3. Taking it again is a retry. A `begin` that finds the lock held by its own deploymentId and
 *    its own execution (the same start time: a reused execution name is another execution) goes
 *    on (its earlier attempt took it, and may have crashed before writing the record).
 * 4. Only the holder moves or frees it. `setStage` and `release` are conditional on
 *    `deploymentId = :id` and do nothing for anyone else, so a late release from an old execution
 *    never frees a newer deployment's lock.
 * 5. It never expires on a timer (a release may rightly run for hours). A lock whose holder has
 *    ended is taken over by `takeOverLock`, conditional on that holder still holding it: the
 *    caller (the next release's "Check Gates") decides from the holder's record and execution
 *    (functions/domain/lock.ts) that it ended; the condition keeps two takers from both winning.
 *
 * Lock then record is two writes, not one transaction (dynalite has no TransactWriteItems), so
 * the protocol the tests run is the one that runs in AWS.
 */
import { DeleteCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { DeploymentInProgressError } from '../../../domain/errors.js';
import type { DeploymentRecord } from '../../../domain/record.js';
import type { ActiveDeployment } from '../../../ports/store.js';
import { isConditionalCheckFailed } from '../errors.js';
import { ITEM_KEYS } from './items.js';
import type { DeploymentsTable } from './table.js';

/** The lock item's attributes besides its keys. */
interface LockItem {
  readonly deploymentId: string;
  readonly executionArn: string | null;
  /** The holder execution's StartTime (a reused name with another start time is not the holder). */
  readonly executionStartedAt?: string | null;
  readonly since: string;
  readonly stage: ActiveDeployment['stage'];
}

/** The lock item's key. */
function lockKey(service: string) {
  return { pk: ITEM_KEYS.partition(service), sk: ITEM_KEYS.lock };
}

/** The condition of every change to a held lock (invariant 4); `:id` is the writer's deploymentId. */
const HELD_BY_WRITER = 'deploymentId = :id';

/**
 * Takes the service's lock for `record`'s deployment (invariants 1 to 3), or throws
 * DeploymentInProgressError naming the deployment that holds it.
 */
export async function takeLock(table: DeploymentsTable, record: DeploymentRecord): Promise<void> {
  const pk = ITEM_KEYS.partition(record.service);
  const lock: LockItem = {
    deploymentId: record.deploymentId,
    executionArn: record.executionArn,
    executionStartedAt: record.executionStartedAt ?? null,
    since: record.startedAt,
    stage: 'releasing',
  };
  // Two tries: a holder that releases between our refused write and our read leaves no holder.
  for (let attempt = 0; ; attempt++) {
    try {
      await table.call('PutItem(lock)', () =>
        table.doc.send(
          new PutCommand({
            TableName: table.name,
            Item: { pk, sk: ITEM_KEYS.lock, kind: 'lock', ...lock },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        ),
      );
      return;
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      const holder = await readLock(table, record.service);
      const ours =
        holder?.deploymentId === record.deploymentId &&
        holder.executionStartedAt === (record.executionStartedAt ?? null);
      if (ours) return; // a retry of our own begin
      if (holder) throw new DeploymentInProgressError(record.service, holder.deploymentId);
      if (attempt >= 1) throw new DeploymentInProgressError(record.service, 'an unknown deployment');
    }
  }
}

/** Who holds the service's lock (strongly consistent), or null when no one does. */
export async function readLock(table: DeploymentsTable, service: string): Promise<ActiveDeployment | null> {
  const item = await table.read('GetItem(lock)', service, ITEM_KEYS.lock);
  if (!item) return null;
  const lock = item as unknown as LockItem;
  return {
    service,
    deploymentId: lock.deploymentId,
    executionArn: lock.executionArn ?? null,
    executionStartedAt: lock.executionStartedAt ?? null,
    since: lock.since,
    stage: lock.stage,
  };
}

/** Changes the lock's stage if this deployment holds the lock; a no-op otherwise (invariant 4). */
export async function setLockStage(
  table: DeploymentsTable,
  service: string,
  deploymentId: string,
  stage: ActiveDeployment['stage'],
): Promise<void> {
  await unlessNotHolder(() =>
    table.call('UpdateItem(lock)', () =>
      table.doc.send(
        new UpdateCommand({
          TableName: table.name,
          Key: lockKey(service),
          UpdateExpression: 'SET #stage = :stage',
          ConditionExpression: HELD_BY_WRITER,
          ExpressionAttributeNames: { '#stage': 'stage' },
          ExpressionAttributeValues: { ':stage': stage, ':id': deploymentId },
        }),
      ),
    ),
  );
}

/** Releases the lock if this deployment holds it; a no-op otherwise (invariant 4). */
export async function releaseLock(
  table: DeploymentsTable,
  service: string,
  deploymentId: string,
): Promise<void> {
  await unlessNotHolder(() =>
    table.call('DeleteItem(lock)', () =>
      table.doc.send(
        new DeleteCommand({
          TableName: table.name,
          Key: lockKey(service),
          ConditionExpression: HELD_BY_WRITER,
          ExpressionAttributeValues: { ':id': deploymentId },
        }),
      ),
    ),
  );
}

/** Runs a write conditional on holding the lock; a failed condition (not the holder) is no error. */
async function unlessNotHolder(write: () => Promise<unknown>): Promise<void> {
  try {
    await write();
  } catch (error) {
    if (!isConditionalCheckFailed(error)) throw error;
  }
}

/**
 * Frees the lock of `fromDeploymentId` (only if it still holds it) and takes it for `record`'s
 * deployment (invariant 5). Throws DeploymentInProgressError when someone else got it first.
 */
export async function takeOverLock(
  table: DeploymentsTable,
  record: DeploymentRecord,
  fromDeploymentId: string,
): Promise<void> {
  await releaseLock(table, record.service, fromDeploymentId);
  await takeLock(table, record);
}

/**
 * Deployment records and their rollback plans: reads, the first write at `begin`, and optimistic
 * updates. Each deployment item has a revision `rev` (1 at `begin`); a record object read here
 * remembers the revision it was read at, and `put` of that object writes only if `rev` is still
 * that value, else throws {@link RecordConflictError}. A record object built some other way is
 * written unconditionally.
 */
import { PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { StoreUnavailableError } from '../../../domain/errors.js';
import type { DeploymentRecord } from '../../../domain/record.js';
import type { RollbackPlan } from '../../../ports/cluster.js';
import { isConditionalCheckFailed } from '../errors.js';
import { type DeploymentItem, HISTORY_INDEX, ITEM_KEYS, planItem, recordItem } from './items.js';
import type { DeploymentsTable } from './table.js';

/**
 * A `put` found the record changed since this process read it (another writer, e.g. the alarm
 * rollback, got there first). Named StoreUnavailableError so the state machine retries the task,
 * which reads the record again.
 */
export class RecordConflictError extends StoreUnavailableError {
  constructor(
    readonly service: string,
    readonly deploymentId: string,
    readonly expectedRevision: number,
  ) {
    super(
      `deployment record ${service}/${deploymentId} changed since it was read (expected revision ${expectedRevision}); read it again and retry`,
    );
  }
}

/** The records and plans of one table, with the revision each record object was read at. */
export class Records {
  /** Revision each record object was read at (identity, so a copy is not mistaken for the original). */
  private readonly revisions = new WeakMap<DeploymentRecord, number>();

  constructor(private readonly table: DeploymentsTable) {}

  /**
   * Writes a new deployment's record at revision 1, only if absent. An existing record means this
   * `begin` is a retry, and the stored record may have moved on since: it is left as it is.
   */
  async create(record: DeploymentRecord): Promise<void> {
    const item = recordItem(record, 1);
    try {
      await this.table.call('PutItem(record)', () =>
        this.table.doc.send(
          new PutCommand({
            TableName: this.table.name,
            Item: item,
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        ),
      );
      this.revisions.set(record, 1);
    } catch (error) {
      // The record is there already: this begin is a retry, and the stored record may have moved on.
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }

  async get(service: string, deploymentId: string): Promise<DeploymentRecord | null> {
    const item = await this.table.read('GetItem(record)', service, ITEM_KEYS.deployment(deploymentId));
    if (!item) return null;
    return this.parse(item as unknown as DeploymentItem);
  }

  /** Replaces the record: conditional on the revision it was read at, if it was read here. */
  async put(record: DeploymentRecord): Promise<void> {
    const expected = this.revisions.get(record);
    const next = (expected ?? 0) + 1;
    const fields = recordItem(record, next);
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const sets: string[] = [];
    for (const [k, v] of Object.entries(fields)) {
      if (k === 'pk' || k === 'sk' || k === 'rev') continue;
      names[`#${k}`] = k;
      values[`:${k}`] = v;
      sets.push(`#${k} = :${k}`);
    }
    names['#rev'] = 'rev';
    if (expected === undefined) {
      sets.push('#rev = if_not_exists(#rev, :zero) + :one');
      values[':zero'] = 0;
      values[':one'] = 1;
    } else {
      sets.push('#rev = :next');
      values[':next'] = next;
      values[':expected'] = expected;
    }
    try {
      const out = await this.table.call('UpdateItem(record)', () =>
        this.table.doc.send(
          new UpdateCommand({
            TableName: this.table.name,
            Key: { pk: fields.pk, sk: fields.sk },
            UpdateExpression: `SET ${sets.join(', ')}`,
            ConditionExpression: expected === undefined ? undefined : '#rev = :expected',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
            ReturnValues: 'UPDATED_NEW',
          }),
        ),
      );
      const rev = (out.Attributes as { rev?: number } | undefined)?.rev;
      if (expected !== undefined && typeof rev === 'number') this.revisions.set(record, rev);
    } catch (error) {
      if (expected !== undefined && isConditionalCheckFailed(error)) {
        throw new RecordConflictError(record.service, record.deploymentId, expected);
      }
      throw error;
    }
  }

  /** The service's records, newest first, at most `limit` (strongly consistent). */
  async history(service: string, limit: number): Promise<DeploymentRecord[]> {
    const records: DeploymentRecord[] = [];
    let start: Record<string, unknown> | undefined;
    while (records.length < limit) {
      const out = await this.table.call('Query(history)', () =>
        this.table.doc.send(
          new QueryCommand({
            TableName: this.table.name,
            IndexName: HISTORY_INDEX,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': ITEM_KEYS.partition(service) },
            ScanIndexForward: false,
            ConsistentRead: true,
            Limit: limit - records.length,
            ExclusiveStartKey: start,
          }),
        ),
      );
      for (const item of out.Items ?? []) records.push(this.parse(item as unknown as DeploymentItem));
      start = out.LastEvaluatedKey;
      if (!start) break;
    }
    return records;
  }

  async savePlan(service: string, deploymentId: string, plan: RollbackPlan): Promise<void> {
    await this.table.call('PutItem(plan)', () =>
      this.table.doc.send(
        new PutCommand({ TableName: this.table.name, Item: planItem(service, deploymentId, plan) }),
      ),
    );
  }

  async getPlan(service: string, deploymentId: string): Promise<RollbackPlan | null> {
    const item = await this.table.read('GetItem(plan)', service, ITEM_KEYS.plan(deploymentId));
    const plan = item?.plan;
    return typeof plan === 'string' ? (JSON.parse(plan) as RollbackPlan) : null;
  }

  private parse(item: DeploymentItem): DeploymentRecord {
    const record = JSON.parse(item.record) as DeploymentRecord;
    this.revisions.set(record, item.rev);
    return record;
  }
}

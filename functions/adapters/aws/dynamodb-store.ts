import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { ConfigError, DeploymentInProgressError, StoreUnavailableError } from '../../domain/errors.js';
import type { DeploymentRecord } from '../../domain/record.js';
import type { RollbackPlan } from '../../ports/cluster.js';
import type { ActiveDeployment, DeploymentStore, RollbackClaim } from '../../ports/store.js';
import { describeError, isConditionalCheckFailed, isTransientAwsError } from './errors.js';

/**
 * Key schema of the deployments table: the CDK stack and {@link createTableIfMissing} both build
 * the table from these constants. Types are DynamoDB attribute types (`S` = string), which is
 * also the value of CDK's `AttributeType.STRING`.
 *
 * One partition per service holds its lock, its deployment records, their rollback plans and
 * rollback claims. `history` is a local secondary index (same partition key, sort key
 * `historyKey` = `<startedAt>#<deploymentId>`) that only deployment records carry, so a query on
 * it lists a service's deployments newest first with strongly consistent reads. An LSI can only
 * be created with the table, and it caps each service's partition (its item collection) at 10 GB.
 */
export const TABLE_KEYS = {
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  localIndexes: [{ indexName: 'history', sortKey: { name: 'historyKey', type: 'S' }, projection: 'ALL' }],
  globalIndexes: [],
} as const;

/** Builds the keys of every item kind; see docs/table-design.md. */
export const ITEM_KEYS = {
  partition: (service: string) => `SERVICE#${service}`,
  lock: 'LOCK',
  deployment: (deploymentId: string) => `DEPLOYMENT#${deploymentId}`,
  plan: (deploymentId: string) => `PLAN#${deploymentId}`,
  rollbackClaim: (deploymentId: string) => `ROLLBACK#${deploymentId}`,
  historyKey: (startedAt: string, deploymentId: string) => `${startedAt}#${deploymentId}`,
} as const;

/**
 * A record above this many bytes (as stored JSON) loses its oldest `events` until it fits,
 * leaving room under DynamoDB's 400 KB item limit for keys and the other attributes.
 */
export const MAX_RECORD_BYTES = 350_000;

const HISTORY_INDEX = TABLE_KEYS.localIndexes[0].indexName;

/** Where the store lives. */
export interface DynamoDbDeploymentStoreProps {
  /** A DynamoDB client (its retry settings apply before errors become StoreUnavailableError). */
  readonly client: DynamoDBClient;
  readonly tableName: string;
}

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

interface LockItem {
  readonly deploymentId: string;
  readonly executionArn: string | null;
  readonly since: string;
  readonly stage: ActiveDeployment['stage'];
}

interface DeploymentItem {
  readonly rev: number;
  readonly record: string;
}

/**
 * The deployments table in DynamoDB (dynalite locally).
 *
 * `begin` is two conditional writes rather than one transaction: the lock (refused unless absent or
 * already held by the same deployment), then the record (written only if absent). A refusal fails
 * at the first write and changes nothing; a crash between the two leaves the lock held by this
 * deployment, and the retried `begin` (same deploymentId) passes the lock and writes the record.
 * dynalite has no TransactWriteItems, so this protocol is the one the tests can run for real.
 *
 * `put` is optimistic for records obtained from `get` or passed to `begin` on this instance: it
 * writes only if the stored revision is still the one read, else throws {@link RecordConflictError}.
 * Records built some other way are written unconditionally.
 */
export class DynamoDbDeploymentStore implements DeploymentStore {
  private readonly doc: DynamoDBDocumentClient;
  private readonly table: string;
  /** Revision each record object was read at (identity, so a copy is not mistaken for the original). */
  private readonly revisions = new WeakMap<DeploymentRecord, number>();

  constructor(props: DynamoDbDeploymentStoreProps) {
    if (!props.tableName)
      throw new ConfigError('DynamoDbDeploymentStore: tableName is empty; pass the deployments table name');
    this.doc = DynamoDBDocumentClient.from(props.client, {
      marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
    });
    this.table = props.tableName;
  }

  async begin(record: DeploymentRecord): Promise<void> {
    const pk = ITEM_KEYS.partition(record.service);
    const lock: LockItem = {
      deploymentId: record.deploymentId,
      executionArn: record.executionArn,
      since: record.startedAt,
      stage: 'releasing',
    };
    // Two tries: a holder that releases between our refused write and our read leaves no holder.
    for (let attempt = 0; ; attempt++) {
      try {
        await this.call('PutItem(lock)', () =>
          this.doc.send(
            new PutCommand({
              TableName: this.table,
              Item: { pk, sk: ITEM_KEYS.lock, kind: 'lock', ...lock },
              ConditionExpression: 'attribute_not_exists(pk)',
            }),
          ),
        );
        break;
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
        const holder = await this.active(record.service);
        if (holder?.deploymentId === record.deploymentId) break; // a retry of our own begin
        if (holder) throw new DeploymentInProgressError(record.service, holder.deploymentId);
        if (attempt >= 1) throw new DeploymentInProgressError(record.service, 'an unknown deployment');
      }
    }
    const item = this.recordItem(record, 1);
    try {
      await this.call('PutItem(record)', () =>
        this.doc.send(
          new PutCommand({
            TableName: this.table,
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
    const out = await this.call('GetItem(record)', () =>
      this.doc.send(
        new GetCommand({
          TableName: this.table,
          Key: { pk: ITEM_KEYS.partition(service), sk: ITEM_KEYS.deployment(deploymentId) },
          ConsistentRead: true,
        }),
      ),
    );
    if (!out.Item) return null;
    return this.parseRecord(out.Item as unknown as DeploymentItem);
  }

  async put(record: DeploymentRecord): Promise<void> {
    const expected = this.revisions.get(record);
    const next = (expected ?? 0) + 1;
    const fields = this.recordItem(record, next);
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
      const out = await this.call('UpdateItem(record)', () =>
        this.doc.send(
          new UpdateCommand({
            TableName: this.table,
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

  async savePlan(service: string, deploymentId: string, plan: RollbackPlan): Promise<void> {
    await this.call('PutItem(plan)', () =>
      this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            pk: ITEM_KEYS.partition(service),
            sk: ITEM_KEYS.plan(deploymentId),
            kind: 'plan',
            deploymentId,
            recordedAt: plan.recordedAt,
            plan: JSON.stringify(plan),
          },
        }),
      ),
    );
  }

  async getPlan(service: string, deploymentId: string): Promise<RollbackPlan | null> {
    const out = await this.call('GetItem(plan)', () =>
      this.doc.send(
        new GetCommand({
          TableName: this.table,
          Key: { pk: ITEM_KEYS.partition(service), sk: ITEM_KEYS.plan(deploymentId) },
          ConsistentRead: true,
        }),
      ),
    );
    const plan = out.Item?.plan;
    return typeof plan === 'string' ? (JSON.parse(plan) as RollbackPlan) : null;
  }

  async active(service: string): Promise<ActiveDeployment | null> {
    const out = await this.call('GetItem(lock)', () =>
      this.doc.send(
        new GetCommand({
          TableName: this.table,
          Key: { pk: ITEM_KEYS.partition(service), sk: ITEM_KEYS.lock },
          ConsistentRead: true,
        }),
      ),
    );
    if (!out.Item) return null;
    const lock = out.Item as unknown as LockItem;
    return {
      service,
      deploymentId: lock.deploymentId,
      executionArn: lock.executionArn ?? null,
      since: lock.since,
      stage: lock.stage,
    };
  }

  /** Changes the lock's stage if this deployment holds the lock; a no-op otherwise. */
  async setStage(service: string, deploymentId: string, stage: ActiveDeployment['stage']): Promise<void> {
    try {
      await this.call('UpdateItem(lock)', () =>
        this.doc.send(
          new UpdateCommand({
            TableName: this.table,
            Key: { pk: ITEM_KEYS.partition(service), sk: ITEM_KEYS.lock },
            UpdateExpression: 'SET #stage = :stage',
            ConditionExpression: 'deploymentId = :id',
            ExpressionAttributeNames: { '#stage': 'stage' },
            ExpressionAttributeValues: { ':stage': stage, ':id': deploymentId },
          }),
        ),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }

  async release(service: string, deploymentId: string): Promise<void> {
    try {
      await this.call('DeleteItem(lock)', () =>
        this.doc.send(
          new DeleteCommand({
            TableName: this.table,
            Key: { pk: ITEM_KEYS.partition(service), sk: ITEM_KEYS.lock },
            ConditionExpression: 'deploymentId = :id',
            ExpressionAttributeValues: { ':id': deploymentId },
          }),
        ),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }

  /**
   * A conditional put of the deployment's rollback-claim item: the first claimant wins. The same
   * claimant asking again also gets `true`, so a retry after a lost response does not mistake its
   * own claim for someone else's; claimants must therefore be unique per caller. `takeOverFrom`
   * names a claimant known to be gone (it died between claiming and recording): its claim passes.
   */
  async claimRollback(
    service: string,
    deploymentId: string,
    claimant: string,
    takeOverFrom?: string,
  ): Promise<boolean> {
    try {
      await this.call('PutItem(rollback claim)', () =>
        this.doc.send(
          new PutCommand({
            TableName: this.table,
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

  async rollbackClaim(service: string, deploymentId: string): Promise<RollbackClaim | null> {
    const out = await this.call('GetItem(rollback claim)', () =>
      this.doc.send(
        new GetCommand({
          TableName: this.table,
          Key: { pk: ITEM_KEYS.partition(service), sk: ITEM_KEYS.rollbackClaim(deploymentId) },
          ConsistentRead: true,
        }),
      ),
    );
    const item = out.Item as { claimant?: unknown; claimedAt?: unknown } | undefined;
    if (!item || typeof item.claimant !== 'string') return null;
    return { claimant: item.claimant, claimedAt: String(item.claimedAt ?? '') };
  }

  async history(service: string, limit: number): Promise<DeploymentRecord[]> {
    const records: DeploymentRecord[] = [];
    let start: Record<string, unknown> | undefined;
    while (records.length < limit) {
      const out = await this.call('Query(history)', () =>
        this.doc.send(
          new QueryCommand({
            TableName: this.table,
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
      for (const item of out.Items ?? []) records.push(this.parseRecord(item as unknown as DeploymentItem));
      start = out.LastEvaluatedKey;
      if (!start) break;
    }
    return records;
  }

  private parseRecord(item: DeploymentItem): DeploymentRecord {
    const record = JSON.parse(item.record) as DeploymentRecord;
    this.revisions.set(record, item.rev);
    return record;
  }

  /**
   * The item of a record. The record itself is one JSON string attribute (exact round trip, no
   * DynamoDB number or empty-set pitfalls); a few fields are copied out for people reading the
   * table in the console and for the history index.
   */
  private recordItem(record: DeploymentRecord, rev: number) {
    return {
      pk: ITEM_KEYS.partition(record.service),
      sk: ITEM_KEYS.deployment(record.deploymentId),
      kind: 'deployment',
      historyKey: ITEM_KEYS.historyKey(record.startedAt, record.deploymentId),
      deploymentId: record.deploymentId,
      service: record.service,
      startedAt: record.startedAt,
      outcome: record.outcome,
      image: record.image,
      requestedBy: record.requestedBy,
      rev,
      record: fitRecord(record),
    };
  }

  /** Runs one SDK call; turns failures that outlived the SDK's retries into StoreUnavailableError. */
  private async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (isTransientAwsError(error)) {
        throw new StoreUnavailableError(
          `deployments table ${this.table}: ${operation} failed: ${describeError(error)}`,
          {
            cause: error,
          },
        );
      }
      throw error;
    }
  }
}

/**
 * The record as JSON, dropping its oldest events (and saying so in a first event) if it would
 * exceed {@link MAX_RECORD_BYTES}. The caller's object is not changed.
 */
export function fitRecord(record: DeploymentRecord, maxBytes = MAX_RECORD_BYTES): string {
  const json = JSON.stringify(record);
  if (Buffer.byteLength(json) <= maxBytes) return json;
  const events = record.events;
  // Bytes each event takes in the JSON array (its text plus a comma).
  const sizes = events.map((e) => Buffer.byteLength(JSON.stringify(e)) + 1);
  let excess = Buffer.byteLength(json) - maxBytes + 200; // 200: room for the marker event
  let drop = 0;
  while (drop < events.length && excess > 0) {
    excess -= sizes[drop] ?? 0;
    drop++;
  }
  const kept = events.slice(drop);
  const marker = {
    at: events[drop - 1]?.at ?? record.startedAt,
    message: `${drop} older events trimmed to keep the record under ${Math.round(maxBytes / 1000)} KB`,
  };
  return JSON.stringify({ ...record, events: drop > 0 ? [marker, ...kept] : kept });
}

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

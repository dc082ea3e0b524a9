/**
 * The deployments table's keys and items, pure: the key schema the CDK stack and
 * `createTableIfMissing` build the table from, the key of every item kind, and how a
 * record becomes its item (docs/table-design.md lists them all).
 */
import type { DeploymentRecord } from '../../../domain/record.js';
import type { RollbackPlan } from '../../../ports/cluster.js';

/**
 * Key schema of the deployments table: the CDK stack and `createTableIfMissing` both build
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
  taskToken: (deploymentId: string) => `TOKEN#${deploymentId}`,
  verifiedStart: (deploymentId: string) => `START#${deploymentId}`,
  historyKey: (startedAt: string, deploymentId: string) => `${startedAt}#${deploymentId}`,
} as const;

/** The index that lists a service's deployments newest first. */
export const HISTORY_INDEX = TABLE_KEYS.localIndexes[0].indexName;

/**
 * A record above this many bytes (as stored JSON) loses its oldest `events` until it fits,
 * leaving room under DynamoDB's 400 KB item limit for keys and the other attributes.
 */
export const MAX_RECORD_BYTES = 350_000;

/** The attributes of a deployment item that reading it back needs. */
export interface DeploymentItem {
  readonly rev: number;
  readonly record: string;
}

/**
 * The item of a record. The record itself is one JSON string attribute (exact round trip, no
 * DynamoDB number or empty-set pitfalls); a few fields are copied out for people reading the
 * table in the console and for the history index.
 */
export function recordItem(record: DeploymentRecord, rev: number) {
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

/** The item of a rollback plan: the plan as one JSON string, like the record. */
export function planItem(service: string, deploymentId: string, plan: RollbackPlan) {
  return {
    pk: ITEM_KEYS.partition(service),
    sk: ITEM_KEYS.plan(deploymentId),
    kind: 'plan',
    deploymentId,
    recordedAt: plan.recordedAt,
    plan: JSON.stringify(plan),
  };
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

/**
 * The deployments table: the DynamoDB `DeploymentStore` and what the CDK stack, the local
 * environment and the tests need of its schema. This module only re-exports; the parts live in
 * `dynamodb-store/`:
 *
 * - `store.ts`: {@link DynamoDbDeploymentStore}, the port over the parts below;
 * - `lock.ts`: the service lock, its invariants in its opening comment;
 * - `rollback-claim.ts`: the rollback claim, its invariants in its opening comment;
 * - `waits.ts`: the waiting task token and the verified start, items apart from the record;
 * - `records.ts`: records and rollback plans, optimistic updates ({@link RecordConflictError});
 * - `items.ts`: keys and items, pure ({@link TABLE_KEYS}, {@link ITEM_KEYS}, {@link fitRecord});
 * - `table.ts`: the document client and the one place failures become StoreUnavailableError;
 * - `create-table.ts`: {@link createTableIfMissing}, for local runs and tests.
 */
export { createTableIfMissing } from './dynamodb-store/create-table.js';
export { fitRecord, ITEM_KEYS, MAX_RECORD_BYTES, TABLE_KEYS } from './dynamodb-store/items.js';
export { RecordConflictError } from './dynamodb-store/records.js';
export { DynamoDbDeploymentStore, type DynamoDbDeploymentStoreProps } from './dynamodb-store/store.js';

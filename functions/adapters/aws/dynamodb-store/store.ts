/**
 * The `DeploymentStore` port on DynamoDB (dynalite locally): one class over the table's parts,
 * the lock (`lock.ts`), the rollback claim (`rollback-claim.ts`) and the records (`records.ts`).
 */

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ConfigError } from '../../../domain/errors.js';
import type { DeploymentRecord } from '../../../domain/record.js';
import type { RollbackPlan } from '../../../ports/cluster.js';
import type {
  ActiveDeployment,
  DeploymentStore,
  RollbackClaim,
  VerifiedStart,
} from '../../../ports/store.js';
import { readLock, releaseLock, setLockStage, takeLock, takeOverLock } from './lock.js';
import { Records } from './records.js';
import { claimRollback, readRollbackClaim } from './rollback-claim.js';
import { DeploymentsTable } from './table.js';
import {
  dropTaskToken,
  dropVerifiedStart,
  readTaskToken,
  readVerifiedStart,
  saveTaskToken,
  saveVerifiedStart,
} from './waits.js';

/** Where the store lives. */
export interface DynamoDbDeploymentStoreProps {
  /** A DynamoDB client (its retry settings apply before errors become StoreUnavailableError). */
  readonly client: DynamoDBClient;
  readonly tableName: string;
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
 * writes only if the stored revision is still the one read, else throws `RecordConflictError`.
 * Records built some other way are written unconditionally.
 */
export class DynamoDbDeploymentStore implements DeploymentStore {
  private readonly table: DeploymentsTable;
  private readonly records: Records;

  constructor(props: DynamoDbDeploymentStoreProps) {
    if (!props.tableName)
      throw new ConfigError('DynamoDbDeploymentStore: tableName is empty; pass the deployments table name');
    this.table = new DeploymentsTable(props.client, props.tableName);
    this.records = new Records(this.table);
  }

  async begin(record: DeploymentRecord, takeOverFrom?: string): Promise<void> {
    if (takeOverFrom) await takeOverLock(this.table, record, takeOverFrom);
    else await takeLock(this.table, record);
    await this.records.create(record);
  }

  get(service: string, deploymentId: string): Promise<DeploymentRecord | null> {
    return this.records.get(service, deploymentId);
  }

  put(record: DeploymentRecord): Promise<void> {
    return this.records.put(record);
  }

  savePlan(service: string, deploymentId: string, plan: RollbackPlan): Promise<void> {
    return this.records.savePlan(service, deploymentId, plan);
  }

  getPlan(service: string, deploymentId: string): Promise<RollbackPlan | null> {
    return this.records.getPlan(service, deploymentId);
  }

  active(service: string): Promise<ActiveDeployment | null> {
    return readLock(this.table, service);
  }

  /** Changes the lock's stage if this deployment holds the lock; a no-op otherwise. */
  setStage(service: string, deploymentId: string, stage: ActiveDeployment['stage']): Promise<void> {
    return setLockStage(this.table, service, deploymentId, stage);
  }

  release(service: string, deploymentId: string): Promise<void> {
    return releaseLock(this.table, service, deploymentId);
  }

  /** A conditional put of the deployment's rollback-claim item; its rules open `rollback-claim.ts`. */
  claimRollback(
    service: string,
    deploymentId: string,
    claimant: string,
    takeOverFrom?: string,
  ): Promise<boolean> {
    return claimRollback(this.table, service, deploymentId, claimant, takeOverFrom);
  }

  rollbackClaim(service: string, deploymentId: string): Promise<RollbackClaim | null> {
    return readRollbackClaim(this.table, service, deploymentId);
  }

  history(service: string, limit: number): Promise<DeploymentRecord[]> {
    return this.records.history(service, limit);
  }

  /** The waiting task token's own item; its rules open `waits.ts`. */
  saveTaskToken(service: string, deploymentId: string, taskToken: string): Promise<void> {
    return saveTaskToken(this.table, service, deploymentId, taskToken);
  }

  taskToken(service: string, deploymentId: string): Promise<string | null> {
    return readTaskToken(this.table, service, deploymentId);
  }

  dropTaskToken(service: string, deploymentId: string): Promise<void> {
    return dropTaskToken(this.table, service, deploymentId);
  }

  saveVerifiedStart(service: string, deploymentId: string, start: VerifiedStart): Promise<void> {
    return saveVerifiedStart(this.table, service, deploymentId, start);
  }

  verifiedStart(service: string, deploymentId: string): Promise<VerifiedStart | null> {
    return readVerifiedStart(this.table, service, deploymentId);
  }

  dropVerifiedStart(service: string, deploymentId: string): Promise<void> {
    return dropVerifiedStart(this.table, service, deploymentId);
  }
}

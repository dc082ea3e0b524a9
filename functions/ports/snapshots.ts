/** A database a migration snapshots first. */
export interface DatabaseRef {
  readonly kind: 'rds-instance' | 'aurora-cluster';
  readonly identifier: string;
}

/** Where a snapshot is. */
export interface SnapshotStatus {
  readonly snapshotId: string;
  readonly status: 'creating' | 'available' | 'failed';
  /** The service's own status word and progress, for the record. */
  readonly detail: string;
  readonly arn: string | null;
}

/** RDS/Aurora snapshots: CreateDBSnapshot / CreateDBClusterSnapshot and Describe* in AWS. */
export interface DatabaseSnapshots {
  /** Starts a snapshot; asking again for the same id returns its status (idempotent). */
  create(db: DatabaseRef, snapshotId: string): Promise<SnapshotStatus>;
  status(db: DatabaseRef, snapshotId: string): Promise<SnapshotStatus>;
}

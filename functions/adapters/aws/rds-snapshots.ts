import {
  CreateDBClusterSnapshotCommand,
  CreateDBSnapshotCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBSnapshotsCommand,
  type RDSClient,
} from '@aws-sdk/client-rds';
import { AwsTransientError } from '../../domain/errors.js';
import type { DatabaseRef, DatabaseSnapshots, SnapshotStatus } from '../../ports/snapshots.js';
import { describeError, isTransientAwsError } from './errors.js';

/** Snapshot states that will never become `available`. */
const FAILED_STATES = new Set([
  'failed',
  'error',
  'deleted',
  'deleting',
  'incompatible-restore',
  'incompatible-parameters',
]);

/** What RDS says about one snapshot (DBSnapshot or DBClusterSnapshot). */
interface SnapshotShape {
  readonly Status?: string;
  readonly PercentProgress?: number;
  readonly arn?: string;
}

/** The port's status of an RDS snapshot description (pure; exported for tests). */
export function snapshotStatusOf(snapshotId: string, s: SnapshotShape | undefined): SnapshotStatus {
  if (!s) return { snapshotId, status: 'failed', detail: `snapshot ${snapshotId} not found`, arn: null };
  const word = (s.Status ?? 'unknown').toLowerCase();
  const progress = s.PercentProgress === undefined ? '' : ` (${s.PercentProgress}%)`;
  const status: SnapshotStatus['status'] =
    word === 'available'
      ? 'available'
      : FAILED_STATES.has(word) || word.startsWith('incompatible')
        ? 'failed'
        : 'creating';
  return { snapshotId, status, detail: `${word}${progress}`, arn: s.arn ?? null };
}

/**
 * Snapshots before a migration: CreateDBSnapshot for an RDS DB instance, CreateDBClusterSnapshot
 * for an Aurora cluster, then DescribeDBSnapshots / DescribeDBClusterSnapshots until `available`.
 * Creating an id that exists (a retry) reads that snapshot instead. Throttling and 5xx become
 * AwsTransientError; anything else (the database does not exist, a snapshot quota) is thrown.
 */
export class RdsDatabaseSnapshots implements DatabaseSnapshots {
  constructor(private readonly props: { readonly client: RDSClient }) {}

  async create(db: DatabaseRef, snapshotId: string): Promise<SnapshotStatus> {
    const { client } = this.props;
    try {
      if (db.kind === 'rds-instance') {
        const out = await client.send(
          new CreateDBSnapshotCommand({
            DBInstanceIdentifier: db.identifier,
            DBSnapshotIdentifier: snapshotId,
          }),
        );
        return snapshotStatusOf(snapshotId, { ...out.DBSnapshot, arn: out.DBSnapshot?.DBSnapshotArn });
      }
      const out = await client.send(
        new CreateDBClusterSnapshotCommand({
          DBClusterIdentifier: db.identifier,
          DBClusterSnapshotIdentifier: snapshotId,
        }),
      );
      return snapshotStatusOf(snapshotId, {
        ...out.DBClusterSnapshot,
        arn: out.DBClusterSnapshot?.DBClusterSnapshotArn,
      });
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (name === 'DBSnapshotAlreadyExistsFault' || name === 'DBClusterSnapshotAlreadyExistsFault') {
        return this.status(db, snapshotId);
      }
      throw this.wrap(`create snapshot ${snapshotId} of ${db.identifier}`, error);
    }
  }

  async status(db: DatabaseRef, snapshotId: string): Promise<SnapshotStatus> {
    const { client } = this.props;
    try {
      if (db.kind === 'rds-instance') {
        const out = await client.send(
          new DescribeDBSnapshotsCommand({
            DBInstanceIdentifier: db.identifier,
            DBSnapshotIdentifier: snapshotId,
          }),
        );
        const s = out.DBSnapshots?.[0];
        return snapshotStatusOf(snapshotId, s ? { ...s, arn: s.DBSnapshotArn } : undefined);
      }
      const out = await client.send(
        new DescribeDBClusterSnapshotsCommand({
          DBClusterIdentifier: db.identifier,
          DBClusterSnapshotIdentifier: snapshotId,
        }),
      );
      const s = out.DBClusterSnapshots?.[0];
      return snapshotStatusOf(snapshotId, s ? { ...s, arn: s.DBClusterSnapshotArn } : undefined);
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (name === 'DBSnapshotNotFoundFault' || name === 'DBClusterSnapshotNotFoundFault') {
        return snapshotStatusOf(snapshotId, undefined);
      }
      throw this.wrap(`describe snapshot ${snapshotId} of ${db.identifier}`, error);
    }
  }

  private wrap(what: string, error: unknown): unknown {
    if (isTransientAwsError(error))
      return new AwsTransientError(`${what}: ${describeError(error)}`, { cause: error });
    return error;
  }
}

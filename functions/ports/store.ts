import type { DeploymentRecord } from '../domain/record.js';
import type { RollbackPlan } from './cluster.js';

/** The lock that allows one deployment per service at a time. */
export interface ActiveDeployment {
  readonly service: string;
  readonly deploymentId: string;
  readonly executionArn: string | null;
  /** The holder execution's StartTime; null for locks written before it was kept. */
  readonly executionStartedAt: string | null;
  readonly since: string;
  /** `releasing` during phases, `watching` during the post-deployment watch. */
  readonly stage: 'releasing' | 'watching';
}

/** A claimed rollback: written before the rollback changes the cluster. */
export interface RollbackClaim {
  readonly claimant: string;
  readonly claimedAt: string;
}

/**
 * A release started through the verified endpoint: who started it (the ARN AWS verified) and a
 * digest of the input it started, kept apart from the record until "Check Gates" creates it.
 */
export interface VerifiedStart {
  readonly principal: string;
  readonly at: string;
  /** `inputDigest` of the validated input (functions/domain/duties.ts), so another input with the same name is not taken for it. */
  readonly inputDigest: string;
}

/** The deployments table (DynamoDB in AWS, dynalite locally). */
export interface DeploymentStore {
  /**
   * Takes the service's lock, then writes the new record (two conditional writes). Throws
   * DeploymentInProgressError (changing nothing) when another deployment holds it. With
   * `takeOverFrom`, first frees the lock of that deployment (only if it still holds it): the
   * caller has established that it ended (functions/domain/lock.ts).
   */
  begin(record: DeploymentRecord, takeOverFrom?: string): Promise<void>;
  get(service: string, deploymentId: string): Promise<DeploymentRecord | null>;
  /** Replaces the record (optimistic: the caller read it first). */
  put(record: DeploymentRecord): Promise<void>;
  savePlan(service: string, deploymentId: string, plan: RollbackPlan): Promise<void>;
  getPlan(service: string, deploymentId: string): Promise<RollbackPlan | null>;
  active(service: string): Promise<ActiveDeployment | null>;
  setStage(service: string, deploymentId: string, stage: ActiveDeployment['stage']): Promise<void>;
  /** Releases the lock if this deployment holds it; a no-op otherwise. */
  release(service: string, deploymentId: string): Promise<void>;
  /**
   * Claims the right to roll this deployment back. Exactly one caller gets `true`; the others
   * get `false` and must treat the rollback as done or in progress by someone else.
   */
  claimRollback(
    service: string,
    deploymentId: string,
    claimant: string,
    /** A claimant known to be gone: its claim passes to `claimant`. */
    takeOverFrom?: string,
  ): Promise<boolean>;
  /** Who claimed this deployment's rollback, if anyone (strongly consistent). */
  rollbackClaim(service: string, deploymentId: string): Promise<RollbackClaim | null>;
  /** Newest first. */
  history(service: string, limit: number): Promise<DeploymentRecord[]>;
  /**
   * Keeps the task token a release waits on (approval, hold) in its own item: never part of the
   * record, never returned by `get` or `history` (functions/adapters/aws/dynamodb-store/waits.ts).
   */
  saveTaskToken(service: string, deploymentId: string, taskToken: string): Promise<void>;
  /** The task token the release waits on, or null. */
  taskToken(service: string, deploymentId: string): Promise<string | null>;
  /** Forgets the task token (the wait is over). */
  dropTaskToken(service: string, deploymentId: string): Promise<void>;
  /** Records a verified start before its execution starts (the answer endpoint's `start`). */
  saveVerifiedStart(service: string, deploymentId: string, start: VerifiedStart): Promise<void>;
  /** The verified start of a deployment, or null when it was started some other way. */
  verifiedStart(service: string, deploymentId: string): Promise<VerifiedStart | null>;
  /** Forgets a verified start whose execution did not start (StartExecution failed). */
  dropVerifiedStart(service: string, deploymentId: string): Promise<void>;
}

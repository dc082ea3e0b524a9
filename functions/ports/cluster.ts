/**
 * The cluster port: reading and restoring the workload. The adapter is
 * functions/adapters/kubernetes/*, built on @kubernetes/client-node; tests use the local control
 * plane, never an imitation of the API.
 */

/** What the rollback restores: recorded before anything changes. */
export interface RollbackPlan {
  readonly namespace: string;
  readonly deployment: string;
  readonly replicas: number;
  /** The Deployment's `spec.template` exactly as recorded (plain JSON). */
  readonly template: Record<string, unknown>;
  /** Image per container, for people and the record. */
  readonly images: Readonly<Record<string, string>>;
  /** `metadata.generation` at record time; a later change by someone else is drift. */
  readonly generation: number;
  readonly recordedAt: string;
}

/** Status of a set of pods (one version): a domain type, re-exported for the adapters. */
export type { WorkloadHealth } from '../domain/pods.js';

import type { WorkloadHealth } from '../domain/pods.js';

/** Identifies one release on the cluster. */
export interface ReleaseTarget {
  readonly deploymentId: string;
  readonly service: string;
  readonly namespace: string;
  readonly deployment: string;
  /** New image per container. */
  readonly images: Readonly<Record<string, string>>;
  /**
   * The release version (the tag of the first container's image, ReleasePlan `version`): the
   * pods' version label, annotation and TPS_RELEASE_VERSION.
   */
  readonly version: string;
}

export interface ClusterClient {
  /** Reads the Deployment's current template and replicas. Throws TargetNotFoundError if absent. */
  recordPlan(namespace: string, deployment: string): Promise<RollbackPlan>;
  /** Health of the pods of one track of the release (the new version or the stable one). */
  health(target: ReleaseTarget, track: 'canary' | 'stable'): Promise<WorkloadHealth>;
  /**
   * Differences between the live Deployment and what the release expects (template or replicas
   * changed by someone else); empty when there is no drift.
   */
  drift(target: ReleaseTarget, plan: RollbackPlan, expected: 'recorded' | 'finalized'): Promise<string[]>;
  /** {@link drift}, with who made the changes: what a rollback keeps. */
  driftDetail(target: ReleaseTarget, plan: RollbackPlan, expected: 'recorded' | 'finalized'): Promise<Drift>;
}

/** Differences from what the release expects, and whether someone else made them. */
export interface Drift {
  readonly changes: readonly string[];
  /** A writer other than tps-deploy changed the template since the plan was recorded. */
  readonly templateByOthers: boolean;
  /** The count differs and was set by a writer other than tps-deploy or an autoscaler. */
  readonly replicasByOthers: boolean;
}

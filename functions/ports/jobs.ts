import type { JobEnv } from '../domain/job-env.js';
import type { JobPodPolicy } from '../domain/job-policy.js';

/** A Kubernetes Job to run once (restartPolicy Never, no retries). */
export interface JobRequest {
  readonly namespace: string;
  readonly name: string;
  readonly image: string;
  readonly command?: readonly string[];
  /** Plaintext values, or `{ secretKeyRef: { name, key } }` for a Secret's key (read by the kubelet). */
  readonly env: JobEnv;
  /** What the Job is for (`test-canary`, `migrate`, `migrate-rollback`, ...). */
  readonly kind: string;
  /** The service released; the runner labels the Job with it, so people can find its Jobs. */
  readonly service: string;
  /** activeDeadlineSeconds: Kubernetes fails the Job after this. */
  readonly timeoutSeconds: number;
  /** The catalog's ServiceAccount, token mount, resources and user (never from the input). */
  readonly pod: JobPodPolicy;
}

/** What a Job did so far. */
export interface JobStatus {
  readonly name: string;
  readonly state: 'running' | 'succeeded' | 'failed' | 'missing';
  readonly startedAt: string | null;
  readonly completedAt: string | null;
  /** The Job's conditions and pod counts in words. */
  readonly detail: string;
  /** Where its logs are. */
  readonly logs: string;
}

/** Runs Kubernetes Jobs (functions/adapters/kubernetes/jobs.ts). */
export interface JobRunner {
  /** Creates the Job unless it exists (a retry finds the first one) and returns its status. */
  start(job: JobRequest): Promise<JobStatus>;
  status(namespace: string, name: string): Promise<JobStatus>;
}

/**
 * The Jobs a release runs (test hooks, migrations): their names, their runner and their entries
 * in the record.
 */
import type { ServiceConfig } from '../domain/config.js';
import type { PhaseName } from '../domain/defaults.js';
import type { JobRun } from '../domain/record.js';
import type { JobRequest, JobRunner, JobStatus } from '../ports/jobs.js';
import type { ReleasePorts } from '../ports/release.js';
import { secondsBetween } from './support.js';

function shortHash(text: string): string {
  let h = 0;
  for (const ch of text) h = (Math.imul(h, 31) + ch.charCodeAt(0)) >>> 0;
  return h.toString(36).padStart(7, '0').slice(0, 7);
}

/** What a release runs as a Job. */
export type JobKind = `test-${PhaseName}` | 'migrate' | 'migrate-rollback';

/**
 * The Job name of one kind of Job of one release: `<deployment>-tps-<kind>-<hash of the
 * deployment id>`, at most 63 characters (the `job-name` label limit). Deterministic, so a retried
 * step finds the Job it created.
 */
export function jobNameFor(deployment: string, kind: JobKind, deploymentId: string): string {
  const suffix = `-tps-${kind}-${shortHash(deploymentId)}`;
  const head = deployment.slice(0, 63 - suffix.length).replace(/[-.]+$/, '');
  return `${head}${suffix}`;
}

/** The Job runner of the service's cluster. */
export async function jobRunnerOf(ports: ReleasePorts, svc: ServiceConfig): Promise<JobRunner> {
  return (await ports.workloads(svc)).jobs;
}

/** A fresh record entry for a Job just started. */
export function jobRunOf(request: JobRequest, status: JobStatus, now: Date): JobRun {
  return updateJobRun(
    {
      name: request.name,
      namespace: request.namespace,
      image: request.image,
      startedAt: status.startedAt ?? now.toISOString(),
      completedAt: null,
      status: 'running',
      passed: null,
      durationSeconds: null,
      detail: status.detail,
      logs: status.logs,
    },
    status,
    now,
  );
}

/** The record entry of a Job after a status read. A Job that disappeared counts as failed. */
export function updateJobRun(run: JobRun, status: JobStatus, now: Date): JobRun {
  if (status.state === 'running') return { ...run, status: 'running', passed: null, detail: status.detail };
  const completedAt = status.completedAt ?? now.toISOString();
  const passed = status.state === 'succeeded';
  return {
    ...run,
    status: passed ? 'succeeded' : 'failed',
    passed,
    completedAt,
    durationSeconds: Math.max(0, secondsBetween(status.startedAt ?? run.startedAt, completedAt)),
    detail: status.detail,
  };
}

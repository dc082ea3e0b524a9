/**
 * Small helpers the runbook steps (gates, approval, hold, tests, migration, watch) share: finding
 * the service and the record, adding to the record's timeline, naming the Jobs a release creates.
 */
import type { ServiceConfig } from '../domain/config.js';
import type { PhaseName } from '../domain/defaults.js';
import { StoreUnavailableError, TargetNotFoundError } from '../domain/errors.js';
import type { ReleasePlan } from '../domain/input.js';
import type { DeploymentRecord, JobRun } from '../domain/record.js';
import type { JobRequest, JobRunner, JobStatus } from '../ports/jobs.js';
import type { ReleasePorts } from '../ports/release.js';

/** The catalog entry of the plan's service. */
export function serviceOf(
  ports: Pick<ReleasePorts, 'catalog'>,
  plan: Pick<ReleasePlan, 'service'>,
): ServiceConfig {
  const svc = ports.catalog.services[plan.service];
  if (!svc) throw new TargetNotFoundError(`service ${plan.service} is not in the catalog`);
  return svc;
}

/** The deployment record; its absence is a store problem (retried), never a reason to go on blind. */
export async function loadRecord(
  ports: Pick<ReleasePorts, 'store'>,
  plan: Pick<ReleasePlan, 'service' | 'deploymentId'>,
): Promise<DeploymentRecord> {
  const record = await ports.store.get(plan.service, plan.deploymentId);
  if (!record) throw new StoreUnavailableError(`no record for ${plan.service}/${plan.deploymentId}`);
  return record;
}

/** Appends to the record's timeline. */
export function addEvent(record: DeploymentRecord, at: Date, message: string): void {
  record.events.push({ at: at.toISOString(), message });
}

/** `canary` -> `Canary`. */
export function title(phase: string): string {
  return phase.charAt(0).toUpperCase() + phase.slice(1);
}

/** Seconds between two ISO times (or a time and now), one decimal. */
export function secondsBetween(from: string, to: string | Date): number {
  const end = typeof to === 'string' ? Date.parse(to) : to.getTime();
  return Math.round((end - Date.parse(from)) / 100) / 10;
}

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

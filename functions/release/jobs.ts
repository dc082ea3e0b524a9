/**
 * Test hooks: a service may configure a Kubernetes Job per phase (`tests.<phase>`). "Start <Phase>
 * Tests" creates it when the validation window starts (the new pods are Ready), "Check <Phase>
 * Tests" waits for it once the window is over, and "Validate <Phase>" counts its result: a
 * failing Job fails the phase. The result (passed, duration, where the logs are) is in the
 * phase's record.
 */
import type { TestJobConfig } from '../domain/config.js';
import { type PhaseName, RUNBOOK } from '../domain/defaults.js';
import { ConfigError, InvalidInputError } from '../domain/errors.js';
import type { ReleasePlan } from '../domain/input.js';
import type { JobEnv } from '../domain/job-env.js';
import { type JobsConfig, jobPodPolicy, jobSpecIssues } from '../domain/job-policy.js';
import type { CheckResult, JobRun, PhaseRecord } from '../domain/record.js';
import { addEvent } from '../domain/record-transitions.js';
import type { JobRequest } from '../ports/jobs.js';
import type { ReleasePorts } from '../ports/release.js';
import { type JobKind, jobNameFor, jobRunnerOf, jobRunOf, updateJobRun } from './job-runs.js';
import { loadRecord, serviceOf } from './support.js';
import { changeCluster } from './write-ahead.js';

/**
 * The Job a release runs for one purpose (pure). Environment: the spec's (plaintext or Secret
 * references, passed on as they are) plus `TPS_*` facts. What it runs as is the service's `jobs`
 * block's alone. The catalog and Validate Input already refused an image or Secret the block does
 * not allow; they are checked again here, against the catalog the function runs with, so no path
 * to a Job skips the check.
 */
export function releaseJob(
  plan: Pick<ReleasePlan, 'service' | 'namespace' | 'deployment' | 'deploymentId' | 'version'>,
  jobs: JobsConfig | undefined,
  kind: JobKind,
  spec: {
    readonly image: string;
    readonly command?: readonly string[];
    readonly env?: JobEnv;
  },
  timeoutSeconds: number,
  extraEnv: Readonly<Record<string, string>> = {},
): JobRequest {
  const where = `the catalog's services.${plan.service}.jobs`;
  if (!jobs) {
    throw new ConfigError(`service ${plan.service} declares no jobs block: it runs no ${kind} Job`, [
      { path: `services.${plan.service}.jobs`, message: 'required to run Jobs' },
    ]);
  }
  const issues = jobSpecIssues(jobs, spec, kind, where);
  if (issues.length > 0) throw new InvalidInputError(issues, `${kind} Job`);
  return {
    namespace: plan.namespace,
    name: jobNameFor(plan.deployment, kind, plan.deploymentId),
    image: spec.image,
    ...(spec.command ? { command: spec.command } : {}),
    env: {
      ...(spec.env ?? {}),
      TPS_SERVICE: plan.service,
      TPS_DEPLOYMENT_ID: plan.deploymentId,
      TPS_VERSION: plan.version,
      ...extraEnv,
    },
    kind,
    service: plan.service,
    timeoutSeconds,
    pod: jobPodPolicy(jobs),
  };
}

function testSpec(ports: ReleasePorts, plan: ReleasePlan, phase: PhaseName): TestJobConfig {
  const spec = serviceOf(ports, plan).tests?.[phase];
  if (!spec) throw new ConfigError(`service ${plan.service} has no tests.${phase}`);
  return spec;
}

/** "Start <Phase> Tests": creates the phase's test Job. Idempotent. */
export async function startTests(
  ports: ReleasePorts,
  event: { plan: ReleasePlan; phase: PhaseName },
): Promise<{ job: string; status: JobRun['status'] }> {
  const { plan, phase } = event;
  const svc = serviceOf(ports, plan);
  const spec = testSpec(ports, plan, phase);
  const request = releaseJob(
    plan,
    svc.jobs,
    `test-${phase}`,
    spec,
    spec.timeoutSeconds ?? RUNBOOK.tests.timeoutSeconds,
    {
      TPS_PHASE: phase,
    },
  );
  const jobs = await jobRunnerOf(ports, svc);
  const { result: status, record } = await changeCluster(ports, plan, {
    intent: `${phase}: start test Job ${request.name} (${spec.image})`,
    apply: () => jobs.start(request),
    undo: null,
  });
  const now = ports.clock.now();
  const pr = record.phases.find((p) => p.name === phase);
  const run = jobRunOf(request, status, now);
  if (pr) pr.tests = pr.tests ?? run;
  addEvent(record, now, `${phase}: test Job ${request.name} started (${spec.image}); logs: ${run.logs}`);
  await ports.store.put(record);
  return { job: request.name, status: run.status };
}

/** "Check <Phase> Tests": the test Job's status into the record; `done` once it finished. */
export async function checkTests(
  ports: ReleasePorts,
  event: { plan: ReleasePlan; phase: PhaseName },
): Promise<{ status: 'running' | 'done'; passed: boolean | null; detail: string }> {
  const { plan, phase } = event;
  const svc = serviceOf(ports, plan);
  const spec = testSpec(ports, plan, phase);
  const name = jobNameFor(plan.deployment, `test-${phase}`, plan.deploymentId);
  const jobs = await jobRunnerOf(ports, svc);
  const status = await jobs.status(plan.namespace, name);
  const now = ports.clock.now();
  const record = await loadRecord(ports, plan);
  const pr = record.phases.find((p) => p.name === phase);
  const previous: JobRun = pr?.tests ?? {
    name,
    namespace: plan.namespace,
    image: spec.image,
    startedAt: status.startedAt ?? now.toISOString(),
    completedAt: null,
    status: 'running',
    passed: null,
    durationSeconds: null,
    detail: '',
    logs: status.logs,
  };
  const run = updateJobRun(previous, status, now);
  if (pr) pr.tests = run;
  if (run.status !== 'running') {
    addEvent(
      record,
      now,
      `${phase}: test Job ${name} ${run.passed ? 'passed' : 'FAILED'} in ${run.durationSeconds} s: ${run.detail}; logs: ${run.logs}`,
    );
    await ports.store.put(record);
    return { status: 'done', passed: run.passed, detail: run.detail };
  }
  if (pr) await ports.store.put(record);
  return { status: 'running', passed: null, detail: run.detail };
}

/**
 * The tests' part of a phase verdict (pure): null without tests; a Job that did not pass (failed,
 * or still running when judged) is a failing check.
 */
export function testsCheck(pr: Pick<PhaseRecord, 'tests'> | undefined): CheckResult | null {
  const t = pr?.tests;
  if (!t) return null;
  const verdict = t.passed === true ? 'pass' : 'fail';
  const took = t.durationSeconds === null ? '' : ` in ${t.durationSeconds} s`;
  return {
    name: 'tests',
    verdict,
    detail: `test Job ${t.name} ${t.passed === true ? 'passed' : t.status === 'running' ? 'had not finished' : 'failed'}${took}: ${t.detail}; logs: ${t.logs}`,
    value: t.durationSeconds,
    threshold: null,
  };
}

/**
 * The start of a release: "Validate Input" (no I/O) and "Record Rollback Plan", which records
 * what a rollback restores before anything changes: the Deployment's template and replicas, the
 * stable version's baseline, and the p99 alarm armed at a multiple of that baseline.
 */
import type { ServiceConfig } from '../domain/config.js';
import { RUNBOOK } from '../domain/defaults.js';
import { imageVersion, parseExecutionInput, type ReleasePlan } from '../domain/input.js';
import { type DeploymentRecord, newRecord } from '../domain/record.js';
import { addEvent } from '../domain/record-transitions.js';
import { releaseStarted } from '../domain/release-metrics.js';
import type { ReleasePorts } from '../ports/release.js';
import { armLatencyAlarm } from './latency-alarm.js';
import { loadRecord, ownRecord, serviceOf, takeServiceLock } from './support.js';

/** "Validate Input": the execution input checked against the catalog. No I/O, no writes. */
export function validateInput(
  ports: Pick<ReleasePorts, 'catalog'>,
  event: { input: unknown; executionName: string },
): ReleasePlan {
  return parseExecutionInput(event.input, ports.catalog, event.executionName);
}

export interface BeginResult {
  readonly previousImage: string;
  readonly replicas: number;
  readonly recordedAt: string;
}

/**
 * "Record Rollback Plan": takes the service's lock with the new record (a second deployment
 * fails here and changes nothing), then records the current template and replicas.
 */
export async function beginRelease(
  ports: ReleasePorts,
  event: { plan: ReleasePlan; executionArn: string | null; executionStartTime?: string | null },
): Promise<BeginResult> {
  const { plan } = event;
  const svc = serviceOf(ports, plan);
  const now = ports.clock.now();
  const firstImage = Object.values(plan.images)[0]!;
  const execution = {
    executionArn: event.executionArn,
    executionStartTime: event.executionStartTime ?? null,
  };
  const existing = await ownRecord(ports, plan, execution);
  const record: DeploymentRecord = existing ?? newRecord(plan, execution, now);
  await takeServiceLock(ports, record);

  const { cluster } = await ports.workloads(svc);
  let rb = await ports.store.getPlan(plan.service, plan.deploymentId);
  if (!rb) {
    rb = await cluster.recordPlan(plan.namespace, plan.deployment);
    await ports.store.savePlan(plan.service, plan.deploymentId, rb);
    // Counted once: a retry finds the plan saved and does not count the release again.
    await ports.telemetry.record(releaseStarted(plan));
  }
  const fresh = await loadRecord(ports, plan);
  const container = Object.keys(plan.images)[0]!;
  fresh.previousImages = { ...rb.images };
  fresh.previousImage = rb.images[container] ?? Object.values(rb.images)[0] ?? null;
  addEvent(fresh, now, `rollback plan recorded: ${rb.replicas} replicas of ${JSON.stringify(rb.images)}`);
  if (fresh.baseline === undefined) {
    fresh.baseline = await measureBaseline(ports, svc, plan, fresh);
    addEvent(
      fresh,
      now,
      `baseline: ${fresh.baseline.rps ?? 'no'} rps, p99 ${fresh.baseline.p99Ms ?? 'no data'} ms over the last ${svc.baselineSeconds ?? RUNBOOK.baselineSeconds} s`,
    );
    const armed = await armLatencyAlarm(ports, plan.service, fresh.baseline);
    if (armed) addEvent(fresh, now, armed);
  }
  await ports.store.put(fresh);
  await ports.notifier.notify({
    kind: 'starting',
    service: plan.service,
    deploymentId: plan.deploymentId,
    subject: `${plan.service}: release of ${plan.version} starting`,
    message: `${plan.requestedBy} is releasing ${firstImage} (${plan.mode}); current ${fresh.previousImage}, ${rb.replicas} replicas.${plan.changeRef ? ` Change ${plan.changeRef}.` : ''}`,
  });
  return { previousImage: fresh.previousImage ?? '', replicas: rb.replicas, recordedAt: rb.recordedAt };
}

/** The stable version's throughput and p99 over the baseline period before the release. */
async function measureBaseline(
  ports: ReleasePorts,
  svc: ServiceConfig,
  plan: ReleasePlan,
  record: DeploymentRecord,
): Promise<{ rps: number | null; p99Ms: number | null; measuredAt: string }> {
  const end = ports.clock.now();
  const stable = imageVersion(record.previousImage ?? '');
  const m = await ports.metrics(svc, new Date(record.startedAt)).window({
    service: plan.service,
    start: new Date(end.getTime() - (svc.baselineSeconds ?? RUNBOOK.baselineSeconds) * 1000),
    end,
    // The new version has no traffic yet: only the stable side answers, which is the baseline.
    canaryVersion: plan.version,
    stableVersion: stable,
  });
  return { rps: m.stable?.rps ?? null, p99Ms: m.stable?.p99Ms ?? null, measuredAt: end.toISOString() };
}

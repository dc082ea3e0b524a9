/**
 * Rollback speed: an alarm rolls a release back (the alarmRollback function's step code with a
 * LocalEnvironment's ports), against the runbook's manual path (`kubectl set image` back to the
 * old image, then `kubectl rollout status`), interleaved on one local cluster.
 *
 * Times are from the moment the alarm event enters the function (or kubectl is started) to:
 * (a) the API server has accepted the restored state, seen by a watch; for the manual path, the
 *     moment `kubectl set image` returns (and, for comparison, the watch's view too);
 * (b) every pod of the previous version is Ready (Deployment status: replicas = ready = updated =
 *     available = recorded, spec change observed) and no canary pod is left; for the manual path,
 *     the moment `kubectl rollout status` returns.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import type { V1Deployment } from '@kubernetes/client-node';
import { imagesOf } from '../functions/adapters/kubernetes/deployment.js';
import { deepEqual, type PlainObject } from '../functions/adapters/kubernetes/generic.js';
import { CANARY_SUFFIX, K8S_LABELS } from '../functions/adapters/kubernetes/labels.js';
import { discardLines } from '../functions/adapters/powertools/output.js';
import type { PhaseName } from '../functions/domain/defaults.js';
import { capitalise } from '../functions/domain/text.js';
import type { AlarmOutcome } from '../functions/release/alarm.js';
import { STEPS } from '../functions/release/registry.js';
import { alarmEvent } from '../local/alarm-event.js';
import { mintFunctionIdentities } from '../local/cluster/identities.js';
import { LocalEnvironment } from '../local/environment.js';
import { benchCluster } from './lib/cluster.js';
import { kubectlPath, runKubectl } from './lib/kubectl.js';
import { startMark, type TargetCheck, writeResult } from './lib/results.js';
import { percentile, ratio, round, summarize } from './lib/stats.js';
import { type Condition, NamespaceTracker, normalized, rolledOut } from './lib/tracker.js';
import * as workloads from './lib/workloads.js';

const NAMESPACE = 'bench-rollback';
const SERVICE = 'rb';
const MANUAL = 'manual';
const REPLICAS = 4;
const say = (s: string) => process.stdout.write(`  ${s}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One automatic rollback. */
interface AutoRun {
  readonly run: number;
  readonly phase: PhaseName;
  /** (a) ms until the API server holds the restored state. */
  readonly acceptedMs: number;
  /** (b) ms until the previous version is all Ready and no canary pod is left. */
  readonly readyMs: number;
  /** ms until the function returned (it waits for (b) itself, polling every 500 ms). */
  readonly functionMs: number;
  /** The original Deployment's resourceVersion/generation when (a) was observed. */
  readonly acceptedAt: string;
  /** Kubernetes API and DynamoDB requests the function started before (a), in order. */
  readonly callsBeforeAccepted: { readonly kubernetes: number; readonly dynamodb: number };
  /** Every request the function started: `+ms target METHOD path`. */
  readonly timeline: readonly string[];
  readonly outcome: string;
}

/** One manual rollback. */
interface ManualRun {
  readonly run: number;
  /** (a) ms until `kubectl set image` returned. */
  readonly setImageMs: number;
  /** The watch saw the old template accepted after this many ms (kubectl's own start-up included). */
  readonly apiAcceptedMs: number;
  /** (b) ms until `kubectl rollout status` returned. */
  readonly rolloutStatusMs: number;
  /** The watch saw every pod of the old image Ready after this many ms. */
  readonly observedReadyMs: number;
}

function imageOfDeployment(d: V1Deployment | undefined): string | undefined {
  return Object.values(imagesOf((normalized(d?.spec?.template) ?? {}) as PlainObject))[0];
}

/** Runs the benchmark; returns the result file's path. */
export async function rollbackBenchmark(opts: { runs?: number } = {}): Promise<string> {
  const runs = opts.runs ?? 15;
  const mark = startMark();
  const cluster = await benchCluster();
  const kubectl = kubectlPath(cluster.kubectl);
  const admin = cluster.kubeconfig;
  await workloads.freshNamespace(admin, NAMESPACE);
  await workloads.createWorkload(admin, NAMESPACE, SERVICE, workloads.imageOf(SERVICE, 'v1.0.0'), REPLICAS);
  await workloads.createWorkload(admin, NAMESPACE, MANUAL, workloads.imageOf(MANUAL, 'v1.0.0'), REPLICAS);
  await workloads.waitAllReady(admin, NAMESPACE, [SERVICE, MANUAL]);
  const env = await LocalEnvironment.start({
    catalog: {
      appName: workloads.APP_NAME,
      services: { [SERVICE]: workloads.benchService(NAMESPACE, SERVICE, { readinessTimeoutSeconds: 600 }) },
    },
    kubeconfigs: await mintFunctionIdentities(cluster.kubeconfig, workloads.APP_NAME),
    functionOutput: discardLines,
  });
  const tracker = await NamespaceTracker.start(admin, NAMESPACE);
  const auto: AutoRun[] = [];
  const manual: ManualRun[] = [];
  const warmup: { auto?: AutoRun; manual?: ManualRun } = {};
  try {
    // One of each first, not counted: JIT, connection pools and dynalite warm up.
    warmup.auto = await autoRollback(env, tracker, -1, 'canary');
    warmup.manual = await manualRollback(tracker, kubectl, admin, -1);
    for (let i = 0; i < runs; i++) {
      const phase: PhaseName = i % 2 === 0 ? 'canary' : 'staging';
      const a = await autoRollback(env, tracker, i, phase);
      auto.push(a);
      say(
        `auto   #${i} ${phase.padEnd(7)} accepted ${a.acceptedMs.toFixed(0)} ms, ready ${a.readyMs.toFixed(0)} ms, function ${a.functionMs.toFixed(0)} ms`,
      );
      const m = await manualRollback(tracker, kubectl, admin, i);
      manual.push(m);
      say(
        `manual #${i}         set image ${m.setImageMs.toFixed(0)} ms (API ${m.apiAcceptedMs.toFixed(0)} ms), rollout status ${m.rolloutStatusMs.toFixed(0)} ms`,
      );
    }
  } finally {
    tracker.stop();
    await env.stop();
    await workloads.deleteNamespace(admin, NAMESPACE);
  }

  const accepted = auto.map((r) => r.acceptedMs);
  const ready = auto.map((r) => r.readyMs);
  const setImage = manual.map((r) => r.setImageMs);
  const rolloutStatus = manual.map((r) => r.rolloutStatusMs);
  const p = (xs: number[], q: number) => round(percentile(xs, q), 0);
  const byPhase = Object.fromEntries(
    (['canary', 'staging'] as const).map((ph) => {
      const rs = auto.filter((r) => r.phase === ph);
      return [
        ph,
        {
          runs: rs.length,
          acceptedMs: summarize(
            rs.map((r) => r.acceptedMs),
            0,
          ),
          readyMs: summarize(
            rs.map((r) => r.readyMs),
            0,
          ),
          functionMs: summarize(
            rs.map((r) => r.functionMs),
            0,
          ),
        },
      ];
    }),
  );
  const targets: TargetCheck[] = [
    {
      target: '(a) restored state accepted by the API server within 1 s at p95',
      met: p(accepted, 95) <= 1000,
      detail: `p95 ${p(accepted, 95)} ms`,
    },
    {
      target: '(a) no slower than the manual path (kubectl set image returns), p50 and p95',
      met: p(accepted, 50) <= p(setImage, 50) && p(accepted, 95) <= p(setImage, 95),
      detail: `p50 ${p(accepted, 50)} vs ${p(setImage, 50)} ms; p95 ${p(accepted, 95)} vs ${p(setImage, 95)} ms`,
    },
    {
      target:
        '(b) previous version Ready no slower than the manual path (kubectl rollout status returns), p50 and p95',
      met: p(ready, 50) <= p(rolloutStatus, 50) && p(ready, 95) <= p(rolloutStatus, 95),
      detail: `p50 ${p(ready, 50)} vs ${p(rolloutStatus, 50)} ms; p95 ${p(ready, 95)} vs ${p(rolloutStatus, 95)} ms`,
    },
  ];
  return writeResult('rollback', mark, {
    method: [
      `${runs} automatic and ${runs} manual rollbacks, interleaved (auto, manual, auto, ...), after one unrecorded warm-up of each, on one local control plane (KWOK pods become Ready ${1000} ms after they are scheduled).`,
      `Automatic: a release of ${SERVICE} (${REPLICAS} replicas, replica-ratio router) runs through its synthesized state machine until it enters the canary window (even runs) or the staging window (odd runs) and the record shows that phase; then an EventBridge "CloudWatch Alarm State Change" event for ${workloads.APP_NAME}-${SERVICE}-errorRate (OK -> ALARM) goes into STEPS.alarmRollback with the LocalEnvironment's ports (restricted identity, dynalite, the local executor's stop as StopExecution). The clock starts when the event enters the function, in-process and warm: a cold Lambda adds its init time (coldstart.json).`,
      "(a) is the arrival time of the first watch event (LIST + WATCH of Deployments and Pods in the namespace, client-node Watch, no polling) after which the original Deployment has the recorded pod template (null fields dropped on both sides) and the recorded replicas, and the canary Deployment is gone or marked for deletion. With the replica-ratio router the original keeps the recorded template during canary and staging: what a rollback restores is the replica count and the canary Deployment's removal (the Service selector changes only at 100%).",
      '(b) is the first watch event after which the original Deployment reports replicas = ready = updated = available = recorded with the spec change observed, the canary Deployment is gone, and no pod with the canary track label is left.',
      `Manual: a second Deployment (${MANUAL}, ${REPLICAS} replicas) is moved to a new image with kubectl set image + rollout status (not timed); then \`kubectl set image deployment/${MANUAL} ${MANUAL}=<old>\` is timed until it exits (a) and \`kubectl rollout status deployment/${MANUAL}\` until it exits (b). kubectl is the one built for the cluster (TPS_KUBECTL), with the admin kubeconfig; its process start-up is part of its time, as it is for a person.`,
      'p50/p95 by nearest rank. The machine is shared: compare the two paths within this run.',
    ],
    targets,
    runs: { automatic: auto.length, manual: manual.length },
    p50Ms: p(accepted, 50),
    p95Ms: p(accepted, 95),
    readyP50Ms: p(ready, 50),
    manualP50Ms: p(setImage, 50),
    manualReadyP50Ms: p(rolloutStatus, 50),
    p95s: {
      acceptedMs: p(accepted, 95),
      readyMs: p(ready, 95),
      manualSetImageMs: p(setImage, 95),
      manualRolloutStatusMs: p(rolloutStatus, 95),
    },
    ratios: {
      acceptedVsSetImageP50: ratio(p(accepted, 50), p(setImage, 50)),
      readyVsRolloutStatusP50: ratio(p(ready, 50), p(rolloutStatus, 50)),
    },
    functionReturnMs: summarize(
      auto.map((r) => r.functionMs),
      0,
    ),
    callsBeforeAccepted: {
      kubernetes: summarize(
        auto.map((r) => r.callsBeforeAccepted.kubernetes),
        0,
      ),
      dynamodb: summarize(
        auto.map((r) => r.callsBeforeAccepted.dynamodb),
        0,
      ),
    },
    manualApiAcceptedMs: summarize(
      manual.map((r) => r.apiAcceptedMs),
      0,
    ),
    manualObservedReadyMs: summarize(
      manual.map((r) => r.observedReadyMs),
      0,
    ),
    byPhase,
    samples: { automatic: auto, manual, warmup },
  });
}

async function autoRollback(
  env: LocalEnvironment,
  tracker: NamespaceTracker,
  i: number,
  phase: PhaseName,
): Promise<AutoRun> {
  const windowState = `${capitalise(phase)} Validation Window`;
  const version = `v1.${i + 2}.0`;
  let entered!: () => void;
  const inWindow = new Promise<void>((r) => {
    entered = r;
  });
  const execution = env.run(
    workloads.releaseInput(SERVICE, workloads.imageOf(SERVICE, version), `BENCH-RB-${i}`),
    {
      executionName: `bench-rollback-${i + 1}-${Date.now()}`,
      speed: 10_000,
      pollMs: 100,
      // The window the alarm interrupts lasts (really) up to 5 minutes; the others are compressed.
      waitMs: { [windowState]: 300_000 },
      onState: (name) => {
        if (name === windowState) entered();
      },
    },
  );
  const early = execution.then((r) => {
    throw new Error(`release ended ${r.status} (${r.error}: ${r.cause}) before ${windowState}`);
  });
  early.catch(() => undefined);
  await Promise.race([inWindow, early]);
  const lock = await env.store.active(SERVICE);
  if (!lock) throw new Error('no active deployment in the window');
  for (let k = 0; ; k++) {
    const rec = await env.store.get(SERVICE, lock.deploymentId);
    if (rec?.phases.some((p) => p.name === phase)) break;
    if (k > 200) throw new Error(`the record never showed phase ${phase}`);
    await sleep(10);
  }
  const plan = await env.store.getPlan(SERVICE, lock.deploymentId);
  if (!plan) throw new Error('no rollback plan recorded');
  const template = normalized(plan.template);
  const canary = `${SERVICE}${CANARY_SUFFIX}`;
  const accepted: Condition = (v) => {
    const d = v.deployments.get(SERVICE);
    const c = v.deployments.get(canary);
    return (
      d !== undefined &&
      d.spec?.replicas === plan.replicas &&
      deepEqual(normalized(d.spec?.template), template) &&
      (c === undefined || Boolean(c.metadata?.deletionTimestamp))
    );
  };
  const ready: Condition = (v) =>
    rolledOut(v.deployments.get(SERVICE), plan.replicas) &&
    !v.deployments.has(canary) &&
    ![...v.pods.values()].some((p) => p.metadata?.labels?.[K8S_LABELS.track] === 'canary');
  if (accepted(tracker)) throw new Error(`the ${phase} window already looks rolled back: nothing to measure`);

  const event = JSON.parse(
    JSON.stringify(alarmEvent(workloads.APP_NAME, SERVICE, 'errorRate', env.clock.now())),
  );
  const calls = recordCalls();
  const t0 = performance.now();
  const fn = (STEPS.alarmRollback(env.ports, event) as Promise<AlarmOutcome>).then((out) => ({
    out,
    at: performance.now(),
  }));
  const a = tracker.when(accepted);
  const b = tracker.when(ready);
  const [ra, rb, rf] = await Promise.all([a, b, fn]);
  calls.stop();
  const result = await execution;
  const record = await env.store.get(SERVICE, lock.deploymentId);
  if (rf.out.action !== 'rolled-back' || result.status !== 'ABORTED' || record?.outcome !== 'ROLLED_BACK') {
    throw new Error(
      `alarm rollback did not go as expected: action ${rf.out.action}, execution ${result.status}, record ${record?.outcome}`,
    );
  }
  return {
    run: i,
    phase,
    acceptedMs: round(ra.at - t0, 1),
    readyMs: round(rb.at - t0, 1),
    functionMs: round(rf.at - t0, 1),
    acceptedAt: ra.deploymentVersions[SERVICE] ?? '',
    callsBeforeAccepted: {
      kubernetes: calls.list.filter((c) => c.at < ra.at && c.target === 'k8s').length,
      dynamodb: calls.list.filter((c) => c.at < ra.at && c.target === 'dynamodb').length,
    },
    timeline: calls.list.map((c) => `+${(c.at - t0).toFixed(0)} ms ${c.target} ${c.what}`),
    outcome: `${record.outcome} by ${record.rollback?.trigger}`,
  };
}

/**
 * Requests this process starts from now on: Kubernetes API requests (client-node sends through
 * undici) and DynamoDB requests (the AWS SDK sends through node:http to dynalite). The tracker's
 * own watch was opened before, so only the function's requests are seen.
 */
function recordCalls() {
  const list: { at: number; target: 'k8s' | 'dynamodb'; what: string }[] = [];
  const k8s = (m: unknown) => {
    const r = (m as { request?: { method?: string; path?: string } }).request;
    list.push({ at: performance.now(), target: 'k8s', what: `${r?.method} ${r?.path?.split('?')[0]}` });
  };
  const http = (m: unknown) => {
    const r = (m as { request?: { method?: string; getHeader?: (h: string) => unknown } }).request;
    const op = String(r?.getHeader?.('x-amz-target') ?? '')
      .split('.')
      .at(-1);
    list.push({ at: performance.now(), target: 'dynamodb', what: op || `${r?.method}` });
  };
  subscribe('undici:request:create', k8s);
  subscribe('http.client.request.start', http);
  return {
    list,
    stop: () => {
      unsubscribe('undici:request:create', k8s);
      unsubscribe('http.client.request.start', http);
    },
  };
}

async function manualRollback(
  tracker: NamespaceTracker,
  kubectl: string,
  admin: string,
  i: number,
): Promise<ManualRun> {
  const old = workloads.imageOf(MANUAL, 'v1.0.0');
  const next = workloads.imageOf(MANUAL, `v1.${i + 2}.0`);
  const ns = ['-n', NAMESPACE];
  // The starting situation: the Deployment moved to a new image and rolled out.
  await runKubectl(kubectl, admin, [...ns, 'set', 'image', `deployment/${MANUAL}`, `${MANUAL}=${next}`]);
  await runKubectl(kubectl, admin, [...ns, 'rollout', 'status', `deployment/${MANUAL}`, '--timeout=180s']);
  await tracker.when(
    (v) =>
      rolledOut(v.deployments.get(MANUAL), REPLICAS) && imageOfDeployment(v.deployments.get(MANUAL)) === next,
  );
  await tracker.when(
    (v) =>
      ![...v.pods.values()].some(
        (p) => p.metadata?.labels?.app === MANUAL && p.spec?.containers[0]?.image !== next,
      ),
  );

  const t0 = performance.now();
  const a = tracker.when((v) => imageOfDeployment(v.deployments.get(MANUAL)) === old);
  const b = tracker.when(
    (v) =>
      rolledOut(v.deployments.get(MANUAL), REPLICAS) &&
      imageOfDeployment(v.deployments.get(MANUAL)) === old &&
      ![...v.pods.values()].some(
        (p) => p.metadata?.labels?.app === MANUAL && p.spec?.containers[0]?.image !== old,
      ),
  );
  const set = await runKubectl(kubectl, admin, [
    ...ns,
    'set',
    'image',
    `deployment/${MANUAL}`,
    `${MANUAL}=${old}`,
  ]);
  const status = await runKubectl(kubectl, admin, [
    ...ns,
    'rollout',
    'status',
    `deployment/${MANUAL}`,
    '--timeout=180s',
  ]);
  const [ra, rb] = await Promise.all([a, b]);
  return {
    run: i,
    setImageMs: round(set.exitedAt - t0, 1),
    apiAcceptedMs: round(ra.at - t0, 1),
    rolloutStatusMs: round(status.exitedAt - t0, 1),
    observedReadyMs: round(rb.at - t0, 1),
  };
}

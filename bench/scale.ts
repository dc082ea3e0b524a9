/**
 * Scale: many releases of different services at once on one local cluster, through one
 * LocalEnvironment whose catalog holds all of them: half release a healthy version (expected
 * SUCCEEDED), half a version whose pods crash-loop (expected ROLLED_BACK at the canary). Reports
 * whether every release reached its outcome, the wall time, and the Kubernetes API requests per
 * release, next to a naive CI-style loop (patch the image, then GET the Deployment and LIST its
 * pods every second until it is rolled out, setting the old image back on a crash loop) doing the
 * same services' rollouts.
 */
import { performance } from 'node:perf_hooks';
import type { V1Pod } from '@kubernetes/client-node';
import * as k8s from '@kubernetes/client-node';
import { discardLines } from '../functions/adapters/powertools/output.js';
import { RUNBOOK } from '../functions/domain/defaults.js';
import { mintFunctionIdentities } from '../local/cluster/identities.js';
import { LocalEnvironment } from '../local/environment.js';
import { ClientRequestCounter, delta, serverRequestTotals } from './lib/api-requests.js';
import { benchCluster } from './lib/cluster.js';
import { kubectlPath } from './lib/kubectl.js';
import { startMark, type TargetCheck, writeResult } from './lib/results.js';
import { ratio, round, summarize } from './lib/stats.js';
import * as workloads from './lib/workloads.js';

const NAMESPACE = 'bench-scale';
const REPLICAS = 2;
/** Real ms between readiness checks: the state machine's 5 s, as in AWS. */
const POLL_MS = RUNBOOK.readinessPollSeconds * 1000;
/** Idle seconds measured for the API server's background request rate. */
const IDLE_SECONDS = 30;
const say = (s: string) => process.stdout.write(`  ${s}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const nameOf = (i: number) => `s${String(i + 1).padStart(2, '0')}`;
/** Even services are healthy, odd ones crash. */
const crashes = (i: number) => i % 2 === 1;

export async function scaleBenchmark(opts: { services?: number } = {}): Promise<string> {
  const n = opts.services ?? 50;
  const mark = startMark();
  const cluster = await benchCluster();
  const admin = cluster.kubeconfig;
  const kubectl = kubectlPath(cluster.kubectl);
  const names = Array.from({ length: n }, (_, i) => nameOf(i));
  await workloads.freshNamespace(admin, NAMESPACE);
  for (const name of names)
    await workloads.createWorkload(admin, NAMESPACE, name, workloads.imageOf(name, 'v1.0.0'), REPLICAS);
  await workloads.waitAllReady(admin, NAMESPACE, names, 300_000);
  say(`${n} Deployments of ${REPLICAS} replicas Ready in ${NAMESPACE}`);

  const synthStart = performance.now();
  const env = await LocalEnvironment.start({
    catalog: {
      appName: workloads.APP_NAME,
      services: Object.fromEntries(
        names.map((name) => [
          name,
          // One virtual clock is shared by every execution and each Wait advances it: the readiness
          // deadline is the maximum so other executions' windows cannot expire it, and the watch is
          // 0 s (it would only add virtual time). With 2 replicas a 10% canary gets 33% of the
          // traffic; the benchmark measures the control plane, not the share, so it accepts that.
          workloads.benchService(NAMESPACE, name, {
            readinessTimeoutSeconds: 86_400,
            watchSeconds: 0,
            router: { type: 'replica-ratio', service: name, acceptShareDeviation: true },
          }),
        ]),
      ),
    },
    kubeconfigs: await mintFunctionIdentities(cluster.kubeconfig, workloads.APP_NAME),
    functionOutput: discardLines,
  });
  const synthSeconds = round((performance.now() - synthStart) / 1000, 1);
  say(`LocalEnvironment with ${n} state machines ready in ${synthSeconds} s`);
  // Every request names its service: in the object name (s07, s07-tps-canary) or a label selector.
  const counter = new ClientRequestCounter(
    cluster.apiServerUrl,
    (path) => /\b(s\d{2})(?![\w])/.exec(path)?.[1] ?? null,
  );

  let releases: {
    name: string;
    expected: string;
    outcome: string;
    status: string;
    image: string;
    ok: boolean;
    seconds: number;
    apiRequests?: number;
  }[] = [];
  let pipeline: {
    seconds: number;
    client: number;
    byKind: Record<string, number>;
    server: ReturnType<typeof delta>;
  };
  let idle: { seconds: number; server: ReturnType<typeof delta> };
  let polling: Awaited<ReturnType<typeof pollingBaseline>>;
  let perService: Record<string, number> = {};
  try {
    // The API server's own background (leases, KWOK heartbeats, controllers) while nothing happens.
    const idleBefore = await serverRequestTotals(kubectl, admin);
    const idleT0 = performance.now();
    await sleep(IDLE_SECONDS * 1000);
    const idleAfter = await serverRequestTotals(kubectl, admin);
    idle = { seconds: (performance.now() - idleT0) / 1000, server: delta(idleBefore, idleAfter) };

    const before = await serverRequestTotals(kubectl, admin);
    counter.reset();
    const t0 = performance.now();
    const settled = await Promise.allSettled(
      names.map(async (name, i) => {
        const image = workloads.imageOf(name, crashes(i) ? 'v1.1.0-crash' : 'v1.1.0');
        const started = performance.now();
        const r = await env.run(workloads.releaseInput(name, image, `BENCH-SCALE-${i}`), {
          executionName: `bench-scale-${name}-${Date.now()}`,
          pollMs: POLL_MS,
        });
        return { name, i, image, r, seconds: (performance.now() - started) / 1000 };
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const clientTotal = counter.total;
    const byKind = { ...counter.byKind };
    perService = { ...counter.byKey };
    const after = await serverRequestTotals(kubectl, admin);
    pipeline = { seconds, client: clientTotal, byKind, server: delta(before, after) };

    const { apps } = workloads.adminApis(admin);
    releases = await Promise.all(
      settled.map(async (s, i) => {
        const name = names[i]!;
        const expected = crashes(i) ? 'ROLLED_BACK' : 'SUCCEEDED';
        if (s.status === 'rejected') {
          return {
            name,
            expected,
            outcome: `threw: ${String(s.reason)}`,
            status: 'ERROR',
            image: '',
            ok: false,
            seconds: 0,
          };
        }
        const dep = await apps.readNamespacedDeployment({ name, namespace: NAMESPACE });
        const image = dep.spec?.template?.spec?.containers?.[0]?.image ?? '';
        const wantImage = crashes(i) ? workloads.imageOf(name, 'v1.0.0') : s.value.image;
        const outcome = s.value.r.record?.outcome ?? 'none';
        return {
          name,
          expected,
          outcome,
          status: s.value.r.status,
          image,
          ok: outcome === expected && image === wantImage,
          seconds: round(s.value.seconds, 1),
          apiRequests: perService[name] ?? 0,
        };
      }),
    );
    const correct = releases.filter((r) => r.ok).length;
    say(
      `${correct}/${n} releases reached the expected outcome in ${seconds.toFixed(1)} s; ${clientTotal} API requests from the functions (${(clientTotal / n).toFixed(0)} per release)`,
    );
    for (const r of releases.filter((x) => !x.ok))
      say(`  wrong: ${r.name} expected ${r.expected}, got ${r.outcome} (${r.status}), image ${r.image}`);

    // The naive loop acts as the app's write identity, as the pipeline's writes do.
    const identities = await mintFunctionIdentities(cluster.kubeconfig, workloads.APP_NAME);
    polling = await pollingBaseline(identities.write, kubectl, admin, names, counter);
    say(
      `polling baseline: ${polling.client} requests for ${n} rollouts in ${polling.seconds.toFixed(1)} s (${(polling.client / n).toFixed(0)} per rollout)`,
    );
  } finally {
    counter.stop();
    await env.stop();
    await workloads.deleteNamespace(admin, NAMESPACE);
  }

  const correct = releases.filter((r) => r.ok).length;
  const idleRate = idle.server.total / idle.seconds;
  const serverMinusIdle = pipeline.server.total - idleRate * pipeline.seconds;
  const pollingServerMinusIdle = polling.server.total - idleRate * polling.seconds;
  const perRelease = pipeline.client / n;
  const runbookSeconds =
    RUNBOOK.phases.canary.windowSeconds +
    RUNBOOK.phases.staging.windowSeconds +
    RUNBOOK.phases.production.windowSeconds +
    RUNBOOK.watchSeconds;
  const pollingPerSecond = 2; // GET the Deployment + LIST its pods, every second
  const targets: TargetCheck[] = [
    {
      target: `${n} releases at once all reach the right outcome`,
      met: correct === n,
      detail: `${correct}/${n} (${n / 2} healthy -> SUCCEEDED, ${n / 2} crash-looping -> ROLLED_BACK, image checked on the Deployment)`,
    },
  ];
  return writeResult('scale', mark, {
    method: [
      `${n} services in one namespace (${REPLICAS} replicas each, replica-ratio router, their own Service), one LocalEnvironment with a catalog of all ${n}, every release started at once in one process; even services release a healthy image (expected SUCCEEDED), odd ones an image whose pods crash-loop (expected ROLLED_BACK when the canary pods fail their readiness check). Runbook default windows on the virtual clock (speed 10 000); readiness polls wait ${POLL_MS / 1000} s of real time, as in AWS; post-deployment watch 0 s and readiness deadline 86 400 s, because all executions share one virtual clock and every Wait advances it.`,
      "Correct = the record's outcome is the expected one and the Deployment runs the expected image (new for healthy, the old one for rolled back).",
      "apiRequestsPerRelease = requests the functions' client-node sent to the API server while the releases ran (undici diagnostics channel, exact; only that client talks to the API server from this process then) / releases.",
      `Server side: apiserver_request_total (GET /metrics, admin kubeconfig) delta over the run; the metric has no user label, so it includes the controllers and KWOK reacting to the releases. The idle background rate was measured for ${IDLE_SECONDS} s before the run with nothing happening and subtracted for the run's duration.`,
      `Polling baseline: the same ${n} services then get a plain rolling update by a CI-style loop (restricted identity, client-node): patch the image (healthy ones to v1.2.0, crashing ones to a -crash image), then every 1 s GET the Deployment and LIST its pods until it is rolled out; on a crash loop, patch the old image back and keep polling until rolled out. Counted the same two ways. A CI script that also waited out the runbook's windows and watch (${runbookSeconds / 60} min) polling like this would send ${pollingPerSecond} requests/s for that long.`,
    ],
    targets,
    releases: n,
    correct,
    seconds: round(pipeline.seconds, 1),
    apiRequestsPerRelease: round(perRelease, 1),
    apiRequestsByKind: Object.fromEntries(Object.entries(pipeline.byKind).sort((a, b) => b[1] - a[1])),
    apiRequestsPerReleaseByOutcome: {
      healthy: summarize(
        names.filter((_, i) => !crashes(i)).map((s) => perService[s] ?? 0),
        0,
      ),
      crashing: summarize(
        names.filter((_, i) => crashes(i)).map((s) => perService[s] ?? 0),
        0,
      ),
      unattributed: pipeline.client - Object.values(perService).reduce((a, b) => a + b, 0),
    },
    server: {
      totalDuringRun: pipeline.server.total,
      byVerb: pipeline.server.byVerb,
      idleRequestsPerSecond: round(idleRate, 1),
      minusIdlePerRelease: round(serverMinusIdle / n, 1),
    },
    pollingBaseline: {
      seconds: round(polling.seconds, 1),
      apiRequestsPerRollout: round(polling.client / n, 1),
      apiRequestsByKind: polling.byKind,
      serverMinusIdlePerRollout: round(pollingServerMinusIdle / n, 1),
      correct: polling.correct,
      ifPollingThroughRunbook: {
        seconds: runbookSeconds,
        requestsPerRelease: runbookSeconds * pollingPerSecond,
        ratioToPipeline: ratio(runbookSeconds * pollingPerSecond, perRelease),
      },
    },
    ratios: {
      pipelineVsPollingRolloutRequests: ratio(perRelease, polling.client / n),
    },
    localEnvironmentStartSeconds: synthSeconds,
    perRelease: releases,
  });
}

/** The naive CI loop on every service at once; counted like the pipeline. */
async function pollingBaseline(
  restrictedKubeconfig: string,
  kubectl: string,
  admin: string,
  names: readonly string[],
  counter: ClientRequestCounter,
) {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(restrictedKubeconfig);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const patch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch);
  const setImage = (name: string, image: string) =>
    apps.patchNamespacedDeployment(
      {
        name,
        namespace: NAMESPACE,
        body: { spec: { template: { spec: { containers: [{ name, image }] } } } },
      },
      patch,
    );
  const crashLooping = (pods: V1Pod[]) =>
    pods.some((p) =>
      (p.status?.containerStatuses ?? []).some((c) => c.state?.waiting?.reason === 'CrashLoopBackOff'),
    );
  const before = await serverRequestTotals(kubectl, admin);
  counter.reset();
  const t0 = performance.now();
  const outcomes = await Promise.all(
    names.map(async (name, i) => {
      const old =
        (await apps.readNamespacedDeployment({ name, namespace: NAMESPACE })).spec?.template?.spec
          ?.containers?.[0]?.image ?? '';
      const next = workloads.imageOf(name, crashes(i) ? 'v1.2.0-crash' : 'v1.2.0');
      await setImage(name, next);
      let rolledBack = false;
      for (let k = 0; k < 600; k++) {
        await sleep(1000);
        const dep = await apps.readNamespacedDeployment({ name, namespace: NAMESPACE });
        const pods = await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: `app=${name}` });
        const st = dep.status ?? {};
        const r = dep.spec?.replicas ?? 1;
        const done =
          (st.observedGeneration ?? 0) >= (dep.metadata?.generation ?? 0) &&
          st.updatedReplicas === r &&
          st.readyReplicas === r &&
          st.availableReplicas === r &&
          st.replicas === r;
        if (done) return rolledBack ? 'ROLLED_BACK' : 'SUCCEEDED';
        if (!rolledBack && crashLooping(pods.items)) {
          await setImage(name, old);
          rolledBack = true;
        }
      }
      return 'TIMED_OUT';
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const client = counter.total;
  const byKind = Object.fromEntries(Object.entries(counter.byKind).sort((a, b) => b[1] - a[1]));
  const after = await serverRequestTotals(kubectl, admin);
  const correct = outcomes.filter((o, i) => o === (crashes(i) ? 'ROLLED_BACK' : 'SUCCEEDED')).length;
  return { seconds, client, byKind, server: delta(before, after), correct };
}

/**
 * Repeated fault runs, each outcome recorded, `rounds` times over, for both routers; every run is
 * judged by the full end-state fingerprint (test/helpers/fingerprint.ts):
 *
 * - the cut-point matrix of test/helpers/fault-matrix.ts: "Shift 10% To Canary", "Clean Up" and
 *   "Roll Back" killed, or the deployments table lost, at every write, then retried; and their
 *   Kubernetes credential refused (a real 401) at each of their mutations, renewed once;
 * - the scenario classes of test/helpers/fault-scenarios.ts: a reused execution name, late events
 *   of the previous release during the next one's canary, Complete Release's lock release failing
 *   once and persistently.
 *
 * `npm test` runs the kill and table-loss cuts once (test/integration/faults-cuts.test.ts) and a
 * subset of the other classes (faults-classes.test.ts); this repeats all of them so that a fault
 * whose outcome depends on timing (pods becoming Ready, the API server's caches) shows up.
 */
import { useCluster } from '../test/helpers/cluster-env.js';
import { CutMatrix, type CutStep, type FaultClass, type FaultOutcome } from '../test/helpers/fault-matrix.js';
import { ScenarioMatrix, type ScenarioSelection } from '../test/helpers/fault-scenarios.js';
import { deleteNamespace } from '../test/helpers/k8s.js';
import { type RouterKind, releaseFixture } from '../test/helpers/release.js';
import { ALWAYS_ON_CALL } from '../test/helpers/runbook.js';
import { benchCluster } from './lib/cluster.js';
import { startMark, writeResult } from './lib/results.js';

const say = (s: string) => process.stdout.write(`  ${s}\n`);

type Run = FaultOutcome & { round: number; router: RouterKind };

const CLASSES: readonly FaultClass[] = [
  'kill',
  'table-down',
  'token-expiry',
  'name-reuse',
  'late-event',
  'lock-leak',
];

export async function faultsBenchmark(opts: { rounds: number; quick: boolean }): Promise<string> {
  const started = startMark();
  // The test helpers read the cluster from the environment, as under Jest's global setup.
  useCluster(await benchCluster());
  const routers: RouterKind[] = opts.quick ? ['replica-ratio'] : ['replica-ratio', 'alb'];
  const steps: CutStep[] = opts.quick ? ['shift', 'rollback'] : ['shift', 'finalize', 'rollback'];
  const scenarios: ScenarioSelection = opts.quick
    ? { nameReuse: true, lateEvents: true, lockLeak: ['persistent'] }
    : { nameReuse: true, lateEvents: true, lockLeak: ['once', 'persistent'] };
  const runs: Run[] = [];
  // A part that could not run at all (its uninterrupted reference failed, say): recorded, not hidden.
  const failures: { round: number; router: RouterKind; part: string; error: string }[] = [];
  const attempt = async (
    round: number,
    router: RouterKind,
    part: string,
    body: () => Promise<FaultOutcome[]>,
  ) => {
    try {
      const outcomes = await body();
      runs.push(...outcomes.map((o) => ({ ...o, round, router })));
      const bad = outcomes.filter((o) => o.problems.length > 0).length;
      say(`round ${round} ${router} ${part}: ${outcomes.length} runs, ${bad} with problems`);
    } catch (e) {
      const error = e instanceof Error ? (e.stack ?? e.message) : String(e);
      failures.push({ round, router, part, error: error.slice(0, 2000) });
      say(`round ${round} ${router} ${part}: FAILED to run: ${error.split('\n')[0]}`);
    }
  };
  for (let round = 1; round <= opts.rounds; round++) {
    for (const router of routers) {
      for (const step of steps) {
        await attempt(round, router, step, async () => {
          const f = await releaseFixture(`bf-${step}`.slice(0, 12), router, {
            service: { approval: false, onCall: ALWAYS_ON_CALL },
          });
          const m = new CutMatrix(f);
          try {
            return await m.all(step, ['kill', 'table-down', 'token-expiry']);
          } finally {
            await m.close();
            await f.env.stop();
            await deleteNamespace(f.app.namespace);
          }
        });
      }
      await attempt(round, router, 'scenarios', async () => {
        const m = new ScenarioMatrix(router, 'bs');
        try {
          return await m.all(scenarios);
        } finally {
          await m.close();
        }
      });
    }
  }
  const count = (sel: Run[], pred: (o: Run) => boolean | null) => sel.filter((o) => pred(o) === true).length;
  const by = (pred: (o: Run) => boolean) => {
    const sel = runs.filter(pred);
    return {
      runs: sel.length,
      changedMidStep: count(sel, (o) => o.changedDuringFault),
      writeAheadChecked: sel.filter((o) => o.writeAheadHeld !== null).length,
      writeAheadHeld: count(sel, (o) => o.writeAheadHeld),
      recovered: count(sel, (o) => o.recovered),
      restoredChecked: sel.filter((o) => o.restored !== null).length,
      restored: count(sel, (o) => o.restored),
      withProblems: sel.filter((o) => o.problems.length > 0).length,
    };
  };
  const tokens = runs.filter((o) => o.fault === 'token-expiry');
  const summary = {
    all: by(() => true),
    byClass: Object.fromEntries(CLASSES.map((c) => [c, by((o) => o.fault === c)])),
    byRouter: Object.fromEntries(routers.map((r) => [r, by((o) => o.router === r)])),
    byStep: Object.fromEntries(steps.map((s) => [s, by((o) => o.step === s)])),
    byScenario: Object.fromEntries(
      [...new Set(runs.filter((o) => o.variant !== null).map((o) => `${o.fault}: ${o.variant}`))].map((v) => [
        v,
        by((o) => `${o.fault}: ${o.variant}` === v),
      ]),
    ),
    tokenExpiry: {
      runs: tokens.length,
      refused: tokens.filter((o) => o.interrupted.includes('refused (401)')).length,
      renewedOnce: tokens.filter((o) => o.renewals === 1).length,
      mutationNotReached: tokens.filter((o) => o.interrupted.includes('never sent')).length,
    },
    partsThatFailedToRun: failures.length,
  };
  const clean = (c: FaultClass) => {
    const sel = runs.filter((o) => o.fault === c);
    return { clean: sel.filter((o) => o.problems.length === 0).length, of: sel.length };
  };
  const target = (c: FaultClass, text: string) => {
    const { clean: ok, of } = clean(c);
    return { target: `${c}: ${text}`, met: of > 0 && ok === of, detail: `${ok} of ${of} runs clean` };
  };
  return writeResult('faults', started, {
    method: [
      'Local control plane (kube-apiserver, etcd, controller-manager, scheduler v1.35.4, KWOK nodes); dynalite behind a real HTTP proxy; the restricted identity (token expiry: a bound ServiceAccount token of the same shipped Role).',
      "Every run is judged by the full end-state fingerprint (test/helpers/fingerprint.ts): every Deployment (labels, annotations, spec), Service (labels, annotations, spec) and Ingress (labels, annotations, spec) of the namespace, the lock (holder, stage) and the record (outcome, phases, final image, images, rollback, rollbacks recorded). Normalized only: the deployment id (in labels, annotations, selectors, lock, ARNs), deployment.kubernetes.io/revision, a created Service's clusterIP(s), and a pod-template-hash value (replaced by the ReplicaSet it names); timestamps, resourceVersions and generations are never read.",
      'Cuts, per step and router: an uninterrupted reference run logs every request; then one run per cut point: killed just before and just after each write (later requests never leave, as for a killed Lambda), and the table taken away (connections reset) before each table request. After each interrupted attempt: did the cluster change, and if so was the intent (or the rollback claim) already in the table; then the step runs again as the Step Functions retry does and must reach the reference fingerprint; then a rollback must restore the recorded plan exactly and free the lock.',
      'Token expiry, per step and router: one run per Kubernetes mutation of the reference run; the token is revoked (its bound Secret deleted, waited for until kube-apiserver answers it 401) just before that mutation is sent; the step must renew its credential exactly once, complete in the same attempt and reach the reference fingerprint; then a rollback must restore.',
      "Scenarios, per router: R1 (v1->v2) and R2 (v2->v3) run uninterrupted through the local state machine and give the reference fingerprints; a second execution named R1 must be refused (DeploymentIdInUse at Check Gates) with nothing changed; the status-change event of a later execution named R2 (R2's record set to RUNNING) must be ignored with nothing changed; while R3 waits in its canary window, R2's alarm redelivered and R2's status-change cleanup (R2's record set to RUNNING) must leave R3's fingerprint unchanged; in namespaces of their own, a release whose Complete Release cannot free the lock once / every time (the cleanup redelivered after the fault ends) must end equal to R1's reference, and the next release equal to R2's.",
    ],
    targets: [
      target(
        'kill',
        'no unrecorded cluster change, the retry reaches the reference fingerprint, the rollback restores',
      ),
      target(
        'table-down',
        'StoreUnavailableError before any unrecorded change, the retry reaches the reference fingerprint, the rollback restores',
      ),
      target(
        'token-expiry',
        'one renewal, the step completes with the reference fingerprint, the rollback restores',
      ),
      target('name-reuse', 'refused or ignored, fingerprint and old record unchanged'),
      target('late-event', "the running release's fingerprint unchanged"),
      target(
        'lock-leak',
        'SUCCEEDED or freed by the cleanup with the reference fingerprint; the next release ends with its reference fingerprint',
      ),
      {
        target: 'every part of the matrix ran',
        met: failures.length === 0,
        detail: `${failures.length} parts failed to run`,
      },
    ],
    rounds: opts.rounds,
    quick: opts.quick,
    summary,
    failures,
    runs,
  });
}

/**
 * Repeated fault runs, each outcome recorded: the cut-point matrix of test/helpers/fault-matrix.ts
 * (a step killed, or the deployments table lost, at every write of "Shift 10% To Canary",
 * "Clean Up" and "Roll Back", then retried), for both routers, `rounds` times over. The same
 * matrix runs once in `npm test` (test/integration/faults-cuts.test.ts); this repeats it so that a
 * fault whose outcome depends on timing (pods becoming Ready, the API server's caches) shows up.
 */
import { useCluster } from '../test/helpers/cluster-env.js';
import { CutMatrix, type CutOutcome, type CutStep } from '../test/helpers/fault-matrix.js';
import { deleteNamespace } from '../test/helpers/k8s.js';
import { type RouterKind, releaseFixture } from '../test/helpers/release.js';
import { ALWAYS_ON_CALL } from '../test/helpers/runbook.js';
import { benchCluster } from './lib/cluster.js';
import { startMark, writeResult } from './lib/results.js';

const say = (s: string) => process.stdout.write(`  ${s}\n`);

export async function faultsBenchmark(opts: { rounds: number; quick: boolean }): Promise<string> {
  const started = startMark();
  // The test helpers read the cluster from the environment, as under Jest's global setup.
  useCluster(await benchCluster());
  const routers: RouterKind[] = opts.quick ? ['replica-ratio'] : ['replica-ratio', 'alb'];
  const steps: CutStep[] = opts.quick ? ['shift', 'rollback'] : ['shift', 'finalize', 'rollback'];
  const runs: (CutOutcome & { round: number; router: RouterKind })[] = [];
  for (let round = 1; round <= opts.rounds; round++) {
    for (const router of routers) {
      for (const step of steps) {
        const f = await releaseFixture(`bf-${step}`.slice(0, 12), router, {
          service: { approval: false, onCall: ALWAYS_ON_CALL },
        });
        const m = new CutMatrix(f);
        try {
          const outcomes = await m.all(step);
          runs.push(...outcomes.map((o) => ({ ...o, round, router })));
          const bad = outcomes.filter((o) => o.problems.length > 0).length;
          say(`round ${round} ${router} ${step}: ${outcomes.length} interrupted runs, ${bad} with problems`);
        } finally {
          await m.close();
          await f.env.stop();
          await deleteNamespace(f.app.namespace);
        }
      }
    }
  }
  const by = (pred: (o: (typeof runs)[number]) => boolean) => {
    const sel = runs.filter(pred);
    return {
      runs: sel.length,
      changedMidStep: sel.filter((o) => o.changedDuringFault).length,
      writeAheadHeld: sel.filter((o) => o.writeAheadHeld).length,
      recovered: sel.filter((o) => o.recovered).length,
      restored: sel.filter((o) => o.restored).length,
    };
  };
  const summary = {
    all: by(() => true),
    kill: by((o) => o.fault === 'kill'),
    tableDown: by((o) => o.fault === 'table-down'),
    byStep: Object.fromEntries(steps.map((s) => [s, by((o) => o.step === s)])),
  };
  const clean = runs.filter((o) => o.problems.length === 0).length;
  return writeResult('faults', started, {
    method: [
      'Local control plane (kube-apiserver, etcd, controller-manager, scheduler v1.35.4, KWOK nodes); dynalite behind a real HTTP proxy; the restricted identity.',
      'Per step and router: an uninterrupted reference run logs every request; then one run per cut point: killed just before and just after each write (later requests never leave, as for a killed Lambda), and the table taken away (connections reset) before each table request.',
      'After each interrupted attempt: did the cluster change, and if so was the intent (or the rollback claim) already in the table; then the step runs again as the Step Functions retry does and must reach the reference end state; then a rollback must restore the recorded plan exactly.',
    ],
    targets: [
      {
        target:
          'every interrupted run: no unrecorded cluster change, the retry recovers, the rollback restores',
        met: clean === runs.length,
        detail: `${clean} of ${runs.length} runs clean`,
      },
    ],
    rounds: opts.rounds,
    summary,
    runs,
  });
}

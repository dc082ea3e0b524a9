/**
 * A step interrupted at every point where it writes, then retried (test/helpers/fault-matrix.ts):
 * killed before or after each Kubernetes mutation and table write, or the deployments table taken
 * away (connections reset, through a real HTTP hop) before each of its table requests.
 * Guarantees, for "Shift 10% To Canary", "Clean Up" and "Roll Back", with both routers:
 * - no cluster change the table does not know of (the step's intent or the rollback claim is
 *   written before the change);
 * - the retry reaches the same end state as an uninterrupted run, compared in full (every
 *   Deployment, Service and Ingress, the lock and the record: test/helpers/fingerprint.ts);
 * - a rollback afterwards restores the recorded plan exactly.
 * And the comparison is strong enough to fail: a retry path that leaves one canary replica too
 * many, which the old comparison (canary present, phase count, images) let through, is reported.
 */
import { afterAll, describe, expect, jest, test } from '@jest/globals';
import { JSON_PATCH } from '../../functions/adapters/kubernetes/client.js';
import { canaryName } from '../../functions/adapters/kubernetes/labels.js';
import type { ServiceConfigInput } from '../../functions/domain/config.js';
import type { ReleasePorts } from '../../functions/ports/release.js';
import type { TrafficRouter } from '../../functions/ports/router.js';
import { CutMatrix, type CutStep, cutPoints, type FaultOutcome } from '../helpers/fault-matrix.js';
import type { Fingerprint } from '../helpers/fingerprint.js';
import { adminApis } from '../helpers/k8s.js';
import { type ReleaseFixture, type RouterKind, releaseFixture } from '../helpers/release.js';
import { ALWAYS_ON_CALL } from '../helpers/runbook.js';

jest.setTimeout(600_000);

const SERVICE: Partial<ServiceConfigInput> = { approval: false, onCall: ALWAYS_ON_CALL };
const fixtures: ReleaseFixture[] = [];
const matrices: CutMatrix[] = [];
const all: FaultOutcome[] = [];

afterAll(async () => {
  for (const m of matrices.splice(0)) await m.close();
  for (const f of fixtures.splice(0)) await f.env.stop();
  const kills = all.filter((o) => o.fault === 'kill').length;
  const outages = all.length - kills;
  const changed = all.filter((o) => o.changedDuringFault).length;
  process.stdout.write(
    `faults-cuts: ${all.length} interrupted runs (${kills} kills, ${outages} table outages), ${changed} left the cluster changed mid-step, ${all.filter((o) => o.problems.length === 0).length} recovered with the change recorded\n`,
  );
});

/**
 * The cuts count requests, not time: how fast pods become Ready changes nothing they check, so the
 * fixtures' pods are Ready after 200 ms instead of the local cluster's default 1 s
 * (local/cluster/stages.ts), and the six matrices run side by side (each has its own namespace,
 * table and proxies): their time goes to waiting for the cluster, not to computing.
 */
const FAST_PODS = { 'local.tps-deploy.dev/ready-delay': '200ms' };

const MATRICES = (['replica-ratio', 'alb'] as const).flatMap((router) =>
  (['shift', 'finalize', 'rollback'] as const).map((step) => [router, step] as const),
);

test.concurrent.each(MATRICES)(
  '%s router %s interrupted at every write, then retried',
  async (router: RouterKind, step: CutStep) => {
    const f = await releaseFixture(`cut-${step}`.slice(0, 16), router, {
      service: SERVICE,
      podAnnotations: FAST_PODS,
    });
    fixtures.push(f);
    const m = new CutMatrix(f);
    matrices.push(m);
    const outcomes = await m.all(step);
    all.push(...outcomes);
    expect(outcomes.length).toBeGreaterThan(4);
    // At least one cut must land between a change and its completion, or the test proves little.
    expect(outcomes.some((o) => o.changedDuringFault)).toBe(true);
    const bad = outcomes.filter((o) => o.problems.length > 0);
    expect(bad).toEqual([]);
  },
);

/** A retry path with a bug: its setWeight leaves the canary one replica larger than asked. */
function oneReplicaTooMany(ports: ReleasePorts): ReleasePorts {
  const broken = (r: TrafficRouter): TrafficRouter => ({
    type: r.type,
    status: (t, p) => r.status(t, p),
    finalize: (t, p) => r.finalize(t, p),
    rollback: (t, p) => r.rollback(t, p),
    async setWeight(t, p, weight) {
      const status = await r.setWeight(t, p, weight);
      const { apps } = adminApis();
      const name = canaryName(t.deployment);
      const canary = await apps.readNamespacedDeployment({ name, namespace: t.namespace });
      const body = [{ op: 'replace', path: '/spec/replicas', value: (canary.spec?.replicas ?? 0) + 1 }];
      await apps.patchNamespacedDeployment({ name, namespace: t.namespace, body }, JSON_PATCH);
      return status;
    },
  });
  return {
    ...ports,
    workloads: async (svc) => {
      const w = await ports.workloads(svc);
      return { ...w, router: broken(w.router) };
    },
  };
}

/** What the matrix compared for a shift before the full fingerprint. */
function oldComparison(fp: Fingerprint) {
  const live = fp.deployments.shop as { spec: { template: { spec: { containers: { image: string }[] } } } };
  const record = fp.records['<release 1>'] as { phases: { name: string }[] };
  return {
    canary: Object.hasOwn(fp.deployments, canaryName('shop')),
    phases: record.phases.filter((p) => p.name === 'canary').length,
    live: live.spec.template.spec.containers.map((c) => c.image).sort(),
  };
}

describe('the end-state comparison', () => {
  test('reports a retry that leaves one canary replica too many, which the old comparison passed', async () => {
    const f = await releaseFixture('cut-broken', 'replica-ratio', {
      service: SERVICE,
      podAnnotations: FAST_PODS,
    });
    fixtures.push(f);
    const m = new CutMatrix(f, { retryPorts: oneReplicaTooMany });
    matrices.push(m);
    const ref = await m.reference('shift');
    // Killed just before the shift's first write; the broken retry then completes it.
    const outcome = await m.cut('shift', 'kill', cutPoints(ref.log)[0]!, ref.end);

    expect(outcome.recovered).toBe(false);
    // That one difference and nothing else: what legitimately differs between runs is normalized.
    expect(outcome.problems).toEqual([
      `after the retry, differs from the uninterrupted run: deployments.${canaryName('shop')}.spec.replicas: 1 -> 2`,
    ]);
    expect(outcome.restored).toBe(true);
    expect(oldComparison(m.lastEnd!)).toEqual(oldComparison(ref.end));
  });
});

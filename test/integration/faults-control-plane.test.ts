/**
 * Faults of the control plane on a cluster of this file's own (components are paused): the
 * kube-apiserver and etcd frozen with SIGSTOP for longer than the Kubernetes client's retries
 * (5 attempts, about 2.5 s with the test's backoff) in the middle of the canary, then SIGCONT.
 * Guarantee: the execution ends SUCCEEDED or ROLLED_BACK, and the cluster matches what the
 * record says (never two versions serving with the record saying otherwise). Also: a step run
 * twice (a Lambda killed after its work and retried) is idempotent. And kube-apiserver stopped
 * and started again (same command line) in the middle of the canary, with the same guarantee.
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { CANARY_SUFFIX } from '../../functions/adapters/kubernetes/labels.js';
import type { ServiceConfigInput } from '../../functions/domain/config.js';
import { parseExecutionInput } from '../../functions/domain/input.js';
import { shiftTraffic } from '../../functions/release/shift.js';
import type { ClusterInfo } from '../../local/cluster/index.js';
import { restartComponent, startCluster, stopCluster } from '../../local/cluster/index.js';
import { useCluster } from '../helpers/cluster-env.js';
import { adminApis, liveTemplate } from '../helpers/k8s.js';
import { type ReleaseFixture, releaseFixture } from '../helpers/release.js';
import { ALWAYS_ON_CALL, ATTESTED, NEW_IMAGES, recordWhen } from '../helpers/runbook.js';

jest.setTimeout(300_000);

const SERVICE: Partial<ServiceConfigInput> = { approval: false, onCall: ALWAYS_ON_CALL };
let info: ClusterInfo;
let restoreEnv: () => void = () => undefined;
const fixtures: ReleaseFixture[] = [];

beforeAll(async () => {
  info = await startCluster({ name: `faults-${process.pid}`, ownerPid: process.pid, log: () => undefined });
  restoreEnv = useCluster(info);
}, 180_000);

afterAll(async () => {
  for (const f of fixtures.splice(0)) await f.env.stop();
  restoreEnv();
  if (info) await stopCluster(info.name);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The cluster agrees with the record: released -> new images, rolled back -> recorded template. */
async function assertConsistent(f: ReleaseFixture, outcome: string, recorded: unknown) {
  const { apps } = adminApis();
  const names = (await apps.listNamespacedDeployment({ namespace: f.app.namespace })).items.map(
    (d) => d.metadata?.name,
  );
  expect(names).not.toContain(`${f.app.name}${CANARY_SUFFIX}`);
  const live = await liveTemplate(f.app.namespace, f.app.name);
  if (outcome === 'SUCCEEDED') {
    expect(JSON.stringify(live)).toContain(NEW_IMAGES.api);
  } else {
    expect(outcome).toBe('ROLLED_BACK');
    expect(live).toEqual(recorded);
  }
  expect(await f.env.store.active('shop')).toBeNull();
}

describe.each([
  ['kube-apiserver', 'kube-apiserver'],
  ['etcd', 'etcd'],
] as const)('%s frozen during the canary', (_label, component) => {
  test('the execution resumes or rolls back, and the cluster matches the record', async () => {
    const f = await releaseFixture(`fault-${component}`.slice(0, 20), 'replica-ratio', { service: SERVICE });
    fixtures.push(f);
    const recorded = await liveTemplate(f.app.namespace, f.app.name);
    const name = `pause-${component}`;
    const execution = f.env.run(
      { ...ATTESTED, service: 'shop', images: NEW_IMAGES },
      { executionName: name, waitMs: { 'Canary Validation Window': 1500 } },
    );
    await recordWhen(f, name, 'canary shifted', (r) => r.phases.some((p) => p.name === 'canary'));
    const pid = info.pids[component];
    process.kill(pid, 'SIGSTOP');
    try {
      await sleep(8000);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const result = await execution;
    const rec = result.record!;
    expect(['SUCCEEDED', 'ROLLED_BACK']).toContain(rec.outcome);
    expect(result.status).toBe(rec.outcome === 'SUCCEEDED' ? 'SUCCEEDED' : 'FAILED');
    await assertConsistent(f, rec.outcome, recorded);
  });
});

describe('kube-apiserver restarted during the canary', () => {
  test('the execution resumes or rolls back, and the cluster matches the record', async () => {
    const f = await releaseFixture('fault-restart', 'replica-ratio', { service: SERVICE });
    fixtures.push(f);
    const recorded = await liveTemplate(f.app.namespace, f.app.name);
    const name = 'restart-apiserver';
    const execution = f.env.run(
      { ...ATTESTED, service: 'shop', images: NEW_IMAGES },
      // Task retries 1, 2, 4 s apart (in AWS: 2, 4, 8, 16 s), so a restart of a few seconds is
      // within them.
      { executionName: name, waitMs: { 'Canary Validation Window': 1500 }, retryIntervalMs: 1000 },
    );
    await recordWhen(f, name, 'canary shifted', (r) => r.phases.some((p) => p.name === 'canary'));
    const before = info.pids['kube-apiserver'];
    // Stopped (graceful, then killed), down for 3 s, started again with the same command line.
    const next = await restartComponent(info.name, 'kube-apiserver', { downMs: 3000 });
    expect(next.pid).not.toBe(before);
    info = { ...info, pids: { ...info.pids, 'kube-apiserver': next.pid } };
    const result = await execution;
    // A freshly started API server can answer 403 until its RBAC caches have synced: a rollback
    // that meets it fails, and the execution-status cleanup is retried as Lambda retries a failed
    // asynchronous invocation (twice, a minute or two apart; here a second).
    for (let retry = 0; retry < 2 && f.env.undelivered.length > 0; retry++) {
      await sleep(1000);
      await f.env.redeliver();
    }
    expect(f.env.undelivered).toEqual([]);
    const rec = (await f.env.store.get('shop', name))!;
    expect(['SUCCEEDED', 'ROLLED_BACK']).toContain(rec.outcome);
    expect(result.status).toBe(rec.outcome === 'SUCCEEDED' ? 'SUCCEEDED' : 'FAILED');
    await assertConsistent(f, rec.outcome, recorded);
  });
});

describe('a step killed after its work and run again', () => {
  test('shiftTraffic twice leaves the same cluster and one phase in the record', async () => {
    const f = await releaseFixture('fault-idem', 'replica-ratio', { service: SERVICE });
    fixtures.push(f);
    // Record the plan through the real pipeline: run until the canary exists, then stop.
    const name = 'idem-1';
    const execution = f.env.run(
      { ...ATTESTED, service: 'shop', images: NEW_IMAGES },
      { executionName: name, waitMs: { 'Canary Validation Window': 3000 } },
    );
    await recordWhen(f, name, 'canary pods ready', (r) =>
      r.events.some((e) => /canary: pods ready/.test(e.message)),
    );
    const plan = parseExecutionInput(
      { ...ATTESTED, service: 'shop', images: NEW_IMAGES },
      f.env.catalog,
      name,
    );
    const { apps } = adminApis();
    const snapshot = async () => {
      const ds = (await apps.listNamespacedDeployment({ namespace: f.app.namespace })).items;
      return ds.map((d) => [d.metadata?.name, d.spec?.replicas, d.metadata?.generation]).sort();
    };
    const before = await snapshot();
    const first = await shiftTraffic(f.env.ports, { plan, phase: 'canary', weight: 10 });
    const second = await shiftTraffic(f.env.ports, { plan, phase: 'canary', weight: 10 });
    expect(second.actualWeight).toBe(first.actualWeight);
    expect(await snapshot()).toEqual(before);
    const rec = await f.env.store.get('shop', name);
    expect(rec?.phases.filter((p) => p.name === 'canary')).toHaveLength(1);
    const result = await execution;
    expect(result.status).toBe('SUCCEEDED');
  });
});

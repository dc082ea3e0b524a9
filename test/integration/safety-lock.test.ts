/**
 * The service lock cannot be held for ever (issue #13, section 2): a terminal step that half
 * succeeded finishes on its retry, a lock its ended release left behind is freed by the cleanup or
 * taken over by the next release, and a lost notification never fails a release that is out.
 */

import { performRollback } from '../../functions/release/rollback.js';
import { failLockReleaseAfterSuccess } from '../helpers/fault-scenarios.js';
import { ATTESTED, closeFixtures, NEW_IMAGES, recordWhen, runbookFixture } from '../helpers/runbook.js';

afterAll(closeFixtures);

const V3 = { api: 'registry.local/shop/api:v3', sidecar: 'registry.local/shop/proxy:1.2' };

test('Complete Release whose lock release fails once finishes on its retry: SUCCEEDED, lock free', async () => {
  const f = await runbookFixture('lock-retry', { approval: false });
  const fault = failLockReleaseAfterSuccess(f.env.store, 1);
  try {
    const run = await f.env.run({ ...ATTESTED, service: 'shop', images: NEW_IMAGES }, { speed: 100_000 });
    expect(fault.failures).toBe(1);
    expect(run.status).toBe('SUCCEEDED');
    expect(run.record?.outcome).toBe('SUCCEEDED');
    expect(await f.env.store.active('shop')).toBeNull();
  } finally {
    fault.restore();
  }
});

test('a lock Complete Release could not free is freed by the execution-status cleanup; the next release starts', async () => {
  const f = await runbookFixture('lock-leak', { approval: false });
  const fault = failLockReleaseAfterSuccess(f.env.store, 1_000);
  const first = await f.env.run({ ...ATTESTED, service: 'shop', images: NEW_IMAGES }, { speed: 100_000 });
  expect(first.status).toBe('FAILED');
  expect(first.record?.outcome).toBe('SUCCEEDED');
  // The cleanup's first delivery met the same fault; Lambda retries it, by then the table answers.
  fault.restore();
  await f.env.redeliver();
  expect(await f.env.store.active('shop')).toBeNull();
  const second = await f.env.run({ ...ATTESTED, service: 'shop', images: V3 }, { speed: 100_000 });
  expect(second.status).toBe('SUCCEEDED');
});

test('a lock left behind by an ended release is taken over by the next one, and both records say so', async () => {
  const f = await runbookFixture('lock-take', { approval: false });
  const first = await f.env.run({ ...ATTESTED, service: 'shop', images: NEW_IMAGES }, { speed: 100_000 });
  expect(first.status).toBe('SUCCEEDED');
  // The lock as a terminal step that wrote SUCCEEDED and died before freeing it leaves it.
  await f.env.store.begin(first.record!);
  expect((await f.env.store.active('shop'))?.deploymentId).toBe(first.record!.deploymentId);

  const second = await f.env.run({ ...ATTESTED, service: 'shop', images: V3 }, { speed: 100_000 });
  expect(second.status).toBe('SUCCEEDED');
  const id = first.record!.deploymentId;
  expect(second.record?.events.map((e) => e.message)).toContain(
    `took over the lock of ${id}: ${id} ended SUCCEEDED and left its lock behind`,
  );
  const old = await f.env.store.get('shop', id);
  expect(old?.outcome).toBe('SUCCEEDED');
  expect(old?.events.at(-1)?.message).toBe(
    `lock taken over by ${second.record!.deploymentId}: ${id} ended SUCCEEDED and left its lock behind`,
  );
});

test('a notification that cannot be sent never turns a release that is out into a failed one', async () => {
  const f = await runbookFixture('notify-down', { approval: false });
  const notify = f.env.notifier.notify.bind(f.env.notifier);
  let refused = 0;
  f.env.notifier.notify = async () => {
    refused++;
    throw new Error('SNS Publish: AuthorizationError (injected)');
  };
  try {
    const run = await f.env.run({ ...ATTESTED, service: 'shop', images: NEW_IMAGES }, { speed: 100_000 });
    expect(run.status).toBe('SUCCEEDED');
    expect(run.record?.outcome).toBe('SUCCEEDED');
    expect(refused).toBeGreaterThan(3);
    expect(await f.env.store.active('shop')).toBeNull();
  } finally {
    f.env.notifier.notify = notify;
  }
});

test('a rollback that did not win the claim never frees the lock: the claimant still restoring keeps the service', async () => {
  const f = await runbookFixture('lock-claimant', { approval: false });
  const running = f.env.run(
    { ...ATTESTED, service: 'shop', images: NEW_IMAGES },
    { executionName: 'claimant-1', waitMs: { 'Canary Validation Window': 8_000 } },
  );
  await recordWhen(f, 'claimant-1', 'canary pods ready', (r) =>
    r.events.some((e) => /canary: pods ready/.test(e.message)),
  );
  // An alarm's rollback has claimed the release and is still restoring the cluster.
  expect(await f.env.store.claimRollback('shop', 'claimant-1', 'alarm:tps-test-shop-errorRate')).toBe(true);
  const second = await performRollback(f.env.ports, {
    service: 'shop',
    deploymentId: 'claimant-1',
    trigger: 'person:bob',
    reason: 'a second rollback while the first runs',
    phase: 'canary',
  });
  expect(second.claimed).toBe(false);
  // The lock is still the claimant's to free: no next release can start on a half-restored service.
  expect((await f.env.store.active('shop'))?.deploymentId).toBe('claimant-1');
  // The claimant finishes and frees it.
  const first = await performRollback(f.env.ports, {
    service: 'shop',
    deploymentId: 'claimant-1',
    trigger: 'alarm:tps-test-shop-errorRate',
    reason: 'error rate',
    phase: 'canary',
  });
  expect(first.claimed).toBe(true);
  expect(await f.env.store.active('shop')).toBeNull();
  await running;
});

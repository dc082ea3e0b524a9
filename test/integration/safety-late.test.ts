/**
 * Late rollbacks never hit the next release (issue #13, section 3): an alarm about release R1
 * redelivered while R2 runs, and R1's delayed execution-status cleanup arriving mid-R2, leave R2
 * untouched and say so in R1's record.
 */
import type { AlarmOutcome } from '../../functions/release/alarm.js';
import { STEPS } from '../../functions/release/registry.js';
import { handleExecutionStopped } from '../../functions/release/stopped.js';
import { alarmEvent } from '../../local/alarm-event.js';
import { adminApis } from '../helpers/k8s.js';
import type { ReleaseFixture } from '../helpers/release.js';
import { ATTESTED, closeFixtures, releasedAs, runbookFixture } from '../helpers/runbook.js';

afterAll(closeFixtures);

const V3 = { api: 'registry.local/shop/api:v3', sidecar: 'registry.local/shop/proxy:1.2' };

/** Starts a release and resolves once the execution waits in the canary's validation window. */
async function releaseInCanaryWindow(f: ReleaseFixture, executionName: string) {
  const entered: string[] = [];
  const run = f.env.run(
    { ...ATTESTED, service: 'shop', images: V3 },
    { executionName, speed: 1, onState: (n) => entered.push(n) },
  );
  let settled = false;
  void run.finally(() => {
    settled = true;
  });
  for (let i = 0; i < 2400 && !entered.includes('Canary Validation Window'); i++) {
    if (settled) throw new Error(`release ended early: ${entered.join(' -> ')}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return { run };
}

/** The Deployments and Services of the namespace, as a release or a rollback would change them. */
async function snapshot(f: ReleaseFixture) {
  const { apps, core } = adminApis();
  const ns = f.app.namespace;
  const [deployments, services] = await Promise.all([
    apps.listNamespacedDeployment({ namespace: ns }),
    core.listNamespacedService({ namespace: ns }),
  ]);
  return {
    deployments: deployments.items.map((d) => ({
      name: d.metadata?.name,
      spec: { ...d.spec, replicas: d.spec?.replicas },
    })),
    services: services.items.map((s) => ({ name: s.metadata?.name, selector: s.spec?.selector })),
  };
}

async function stopR2(f: ReleaseFixture, r2: string, run: Promise<unknown>) {
  for (const ex of f.env.executors.values()) ex.stop(f.env.executionArn('shop', r2));
  await run;
}

test("R1's alarm redelivered while R2 is in its canary: R2 untouched, R1's record says so", async () => {
  const f = await runbookFixture('late-alarm', { approval: false });
  const r1 = `late-a1-${Date.now().toString(36)}`;
  const first = await releasedAs(f, r1);
  // The alarm fired during R1 (a minute after it started); EventBridge delivers it again later.
  const during = new Date(Date.parse(first.record!.startedAt) + 60_000);

  const r2 = `late-a2-${Date.now().toString(36)}`;
  const { run } = await releaseInCanaryWindow(f, r2);
  try {
    const before = await snapshot(f);
    const outcome = (await STEPS.alarmRollback(
      f.env.ports,
      JSON.parse(JSON.stringify(alarmEvent('tps-test', 'shop', 'errorRate', during))),
    )) as AlarmOutcome;
    expect(outcome).toMatchObject({ action: 'notified', deploymentId: r2 });
    expect(outcome.detail).toContain(`before release ${r2} started`);
    expect(await snapshot(f)).toEqual(before);
    expect((await f.env.store.get('shop', r2))?.outcome).toBe('RUNNING');
    expect((await f.env.store.active('shop'))?.deploymentId).toBe(r2);
    expect((await f.env.store.get('shop', r1))?.events.at(-1)?.message).toMatch(
      new RegExp(
        `alarm tps-test-shop-errorRate .* delivered late, while ${r2} holds the service: not acted on`,
      ),
    );
  } finally {
    await stopR2(f, r2, run);
  }
});

test("R1's delayed status-change cleanup arriving mid-R2 changes nothing of R2's; R1's record says so", async () => {
  const f = await runbookFixture('late-stop', { approval: false });
  const r1 = `late-s1-${Date.now().toString(36)}`;
  const first = await releasedAs(f, r1);
  // The worst case: R1's record still says RUNNING (as if its end was never written), so the
  // cleanup would roll R1 back to its recorded plan, the version before R1.
  const rec = (await f.env.store.get('shop', r1))!;
  await f.env.store.put({ ...rec, outcome: 'RUNNING', endedAt: null });

  const r2 = `late-s2-${Date.now().toString(36)}`;
  const { run } = await releaseInCanaryWindow(f, r2);
  try {
    const before = await snapshot(f);
    const outcome = await handleExecutionStopped(f.env.ports, {
      'detail-type': 'Step Functions Execution Status Change',
      source: 'aws.states',
      detail: {
        executionArn: first.executionArn,
        stateMachineArn: 'arn:aws:states:local:000000000000:stateMachine:tps-test-shop',
        name: r1,
        status: 'ABORTED',
        startDate: Date.parse(first.executionStartTime!),
      },
    });
    expect(outcome.action).toBe('nothing-to-do');
    expect(await snapshot(f)).toEqual(before);
    expect((await f.env.store.active('shop'))?.deploymentId).toBe(r2);
    expect((await f.env.store.get('shop', r2))?.outcome).toBe('RUNNING');
    const after = await f.env.store.get('shop', r1);
    expect(after?.outcome).toBe('RUNNING');
    expect(after?.events.at(-1)?.message).toContain(
      `not done: release ${r2} holds the service now; nothing changed`,
    );
  } finally {
    await stopR2(f, r2, run);
  }
});

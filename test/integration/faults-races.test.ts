/**
 * A step that changes the cluster racing a rollback (functions/release/write-ahead.ts): the step's
 * first Kubernetes mutation is held while an alarm rolls the release back, then let go. The step
 * must not leave its change behind: it sees the rollback claim after its change, restores the
 * recorded plan again and stops with ReleaseEndedError. A step that starts after the claim changes
 * nothing at all.
 */
import { afterAll, describe, expect, jest, test } from '@jest/globals';
import type { Middleware, RequestContext, ResponseContext } from '@kubernetes/client-node';
import { CANARY_SUFFIX } from '../../functions/adapters/kubernetes/labels.js';
import type { ServiceConfigInput } from '../../functions/domain/config.js';
import { ERROR_NAMES } from '../../functions/domain/errors.js';
import { parseExecutionInput } from '../../functions/domain/input.js';
import type { AlarmOutcome } from '../../functions/release/alarm.js';
import { beginRelease } from '../../functions/release/begin.js';
import { completeRelease, finalizeRelease } from '../../functions/release/finish.js';
import { STEPS } from '../../functions/release/registry.js';
import { shiftTraffic } from '../../functions/release/shift.js';
import { alarmEvent } from '../../local/alarm-event.js';
import { mutationLog } from '../../local/faults.js';
import { clusterFingerprint } from '../helpers/fault-matrix.js';
import { adminApis, liveTemplate } from '../helpers/k8s.js';
import { type ReleaseFixture, type RouterKind, releaseFixture } from '../helpers/release.js';
import { ALWAYS_ON_CALL, ATTESTED, NEW_IMAGES } from '../helpers/runbook.js';

jest.setTimeout(240_000);

const SERVICE: Partial<ServiceConfigInput> = { approval: false, onCall: ALWAYS_ON_CALL };
const fixtures: ReleaseFixture[] = [];
afterAll(async () => {
  for (const f of fixtures.splice(0)) await f.env.stop();
});

/** Holds the first mutating request until `open()`; `held` resolves when it is waiting. */
function gate() {
  let open!: () => void;
  let markHeld!: () => void;
  const opened = new Promise<void>((r) => {
    open = r;
  });
  const held = new Promise<void>((r) => {
    markHeld = r;
  });
  let first = true;
  const middleware: Middleware = {
    pre: async (ctx: RequestContext) => {
      if (String(ctx.getHttpMethod()) !== 'GET' && first) {
        first = false;
        markHeld();
        await opened;
      }
      return ctx;
    },
    post: async (res: ResponseContext) => res,
  };
  return { middleware, held, open };
}

async function canaryExists(f: ReleaseFixture) {
  const { apps } = adminApis();
  const names = (await apps.listNamespacedDeployment({ namespace: f.app.namespace })).items.map(
    (d) => d.metadata?.name,
  );
  return names.includes(`${f.app.name}${CANARY_SUFFIX}`);
}

describe.each(['replica-ratio', 'alb'] as const)('%s router', (router: RouterKind) => {
  test.each(['shift', 'finalize'] as const)(
    'an alarm rollback while "%s" is in flight: the step undoes its change and stops',
    async (step) => {
      const f = await releaseFixture(`race-${step}`, router, { service: SERVICE });
      fixtures.push(f);
      const initial = await clusterFingerprint(f.app.namespace);
      const recorded = await liveTemplate(f.app.namespace, f.app.name);
      const plan = parseExecutionInput(
        { ...ATTESTED, service: 'shop', images: NEW_IMAGES },
        f.env.catalog,
        `race-${step}`,
      );
      await beginRelease(f.env.ports, { plan, executionArn: null });
      if (step === 'finalize') await shiftTraffic(f.env.ports, { plan, phase: 'canary', weight: 10 });

      const g = gate();
      const slow = f.env.portsWith({ kubeMiddleware: [g.middleware] });
      const inFlight =
        step === 'shift'
          ? shiftTraffic(slow, { plan, phase: 'canary', weight: 10 })
          : finalizeRelease(slow, { plan });
      inFlight.catch(() => undefined);
      await g.held;
      const outcome = (await STEPS.alarmRollback(
        f.env.ports,
        alarmEvent('tps-test', 'shop', 'errorRate', f.env.clock.now()),
      )) as AlarmOutcome;
      expect(outcome.action).toBe('rolled-back');
      g.open();

      await expect(inFlight).rejects.toMatchObject({
        name: ERROR_NAMES.releaseEnded,
        message: expect.stringContaining('claimed for rollback by alarm:'),
      });
      expect(await canaryExists(f)).toBe(false);
      expect(await liveTemplate(f.app.namespace, f.app.name)).toEqual(recorded);
      expect(await clusterFingerprint(f.app.namespace)).toBe(initial);
      const rec = await f.env.store.get('shop', plan.deploymentId);
      expect(rec?.outcome).toBe('ROLLED_BACK');
      expect(rec?.rollback?.trigger).toMatch(/^alarm:/);
      expect(rec?.events.filter((e) => e.message.startsWith('rolled back by'))).toHaveLength(1);

      // A step that starts after the rollback changes nothing at all.
      const mutations: { at: number; what: string }[] = [];
      const late = f.env.portsWith({ kubeMiddleware: [mutationLog(mutations)] });
      await expect(shiftTraffic(late, { plan, phase: 'staging', weight: 50 })).rejects.toMatchObject({
        name: ERROR_NAMES.releaseEnded,
      });
      expect(mutations).toEqual([]);
      expect(await clusterFingerprint(f.app.namespace)).toBe(initial);
    },
  );
});

describe('"Complete Release" after an alarm rollback', () => {
  test('refuses to mark the release released: the record stays ROLLED_BACK, one notification of each', async () => {
    const f = await releaseFixture('race-complete', 'replica-ratio', { service: SERVICE });
    fixtures.push(f);
    const plan = parseExecutionInput(
      { ...ATTESTED, service: 'shop', images: NEW_IMAGES },
      f.env.catalog,
      'race-complete',
    );
    await beginRelease(f.env.ports, { plan, executionArn: null });
    await shiftTraffic(f.env.ports, { plan, phase: 'canary', weight: 10 });
    await finalizeRelease(f.env.ports, { plan });
    const outcome = (await STEPS.alarmRollback(
      f.env.ports,
      alarmEvent('tps-test', 'shop', 'errorRate', f.env.clock.now()),
    )) as AlarmOutcome;
    expect(outcome.action).toBe('rolled-back');
    await expect(completeRelease(f.env.ports, { plan })).rejects.toMatchObject({
      name: ERROR_NAMES.releaseEnded,
    });
    const rec = await f.env.store.get('shop', plan.deploymentId);
    expect(rec?.outcome).toBe('ROLLED_BACK');
    expect(f.env.notifier.notifications.filter((n) => n.kind === 'finished')).toHaveLength(0);
    expect(f.env.notifier.notifications.filter((n) => n.kind === 'rollback')).toHaveLength(1);
  });
});

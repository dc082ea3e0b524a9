/**
 * The readiness task's wait inside its Lambda (ports.readinessWait, set by the AWS runtime): it
 * keeps checking the new pods for a while before answering "waiting", and answers as soon as they
 * are Ready or failing. Against the local control plane; the local runner itself checks once per
 * call (no readinessWait), which is also shown.
 */
import { afterAll, describe, expect, jest, test } from '@jest/globals';
import type { Middleware, RequestContext, ResponseContext } from '@kubernetes/client-node';
import type { ServiceConfigInput } from '../../functions/domain/config.js';
import { parseExecutionInput } from '../../functions/domain/input.js';
import type { ReadinessWait } from '../../functions/ports/release.js';
import { beginRelease } from '../../functions/release/begin.js';
import { checkReadiness, shiftTraffic } from '../../functions/release/shift.js';
import { type ReleaseFixture, releaseFixture } from '../helpers/release.js';
import { ALWAYS_ON_CALL, ATTESTED, NEW_IMAGES } from '../helpers/runbook.js';

jest.setTimeout(180_000);

const SERVICE: Partial<ServiceConfigInput> = { approval: false, onCall: ALWAYS_ON_CALL };
const fixtures: ReleaseFixture[] = [];
afterAll(async () => {
  for (const f of fixtures.splice(0)) await f.env.stop();
});

/** Counts the pod listings (one per health check of the new pods). */
function podReads() {
  const reads = { count: 0 };
  const middleware: Middleware = {
    pre: async (ctx: RequestContext) => {
      if (String(ctx.getHttpMethod()) === 'GET' && /\/pods(\?|$)/.test(ctx.getUrl())) reads.count++;
      return ctx;
    },
    post: async (r: ResponseContext) => r,
  };
  return { reads, middleware };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function shifted(prefix: string, api: string) {
  const f = await releaseFixture(prefix, 'replica-ratio', { service: SERVICE });
  fixtures.push(f);
  const plan = parseExecutionInput(
    { ...ATTESTED, service: 'shop', images: { ...NEW_IMAGES, api } },
    f.env.catalog,
    prefix,
  );
  await beginRelease(f.env.ports, { plan, executionArn: null });
  const shift = await shiftTraffic(f.env.ports, { plan, phase: 'canary', weight: 10 });
  return { f, plan, since: shift.shiftedAt };
}

describe('"Check <Phase> Pods Ready" waiting inside the task', () => {
  test('pods that never become Ready: it checks again and again for its budget, then answers "waiting"', async () => {
    const { f, plan, since } = await shifted('rw-unready', 'registry.local/shop/api:v2-unready');
    const once = podReads();
    const single = await checkReadiness(f.env.portsWith({ kubeMiddleware: [once.middleware] }), {
      plan,
      phase: 'canary',
      since,
    });
    expect(single.status).toBe('waiting');
    expect(once.reads.count).toBe(1);

    const many = podReads();
    const wait: ReadinessWait = { budgetMs: 1500, checkMs: 200, sleep };
    const t0 = Date.now();
    const waited = await checkReadiness(
      f.env.portsWith({ kubeMiddleware: [many.middleware], readinessWait: wait }),
      { plan, phase: 'canary', since },
    );
    const took = Date.now() - t0;
    expect(waited.status).toBe('waiting');
    expect(took).toBeGreaterThanOrEqual(1200);
    expect(many.reads.count).toBeGreaterThanOrEqual(4);
    expect(many.reads.count).toBeLessThanOrEqual(9);
  });

  test('crashing pods: it answers "failed" as soon as the crash shows, long before its budget', async () => {
    const { f, plan, since } = await shifted('rw-crash', 'registry.local/shop/api:v2-crash');
    const wait: ReadinessWait = { budgetMs: 60_000, checkMs: 200, sleep };
    const t0 = Date.now();
    const r = await checkReadiness(f.env.portsWith({ readinessWait: wait }), {
      plan,
      phase: 'canary',
      since,
    });
    expect(r.status).toBe('failed');
    expect(r.reason).toMatch(/CrashLoopBackOff/);
    expect(Date.now() - t0).toBeLessThan(45_000);
  });

  test('healthy pods: "ready" in one call, and the shift completed', async () => {
    const { f, plan, since } = await shifted('rw-ready', NEW_IMAGES.api);
    const wait: ReadinessWait = { budgetMs: 30_000, checkMs: 200, sleep };
    const r = await checkReadiness(f.env.portsWith({ readinessWait: wait }), {
      plan,
      phase: 'canary',
      since,
    });
    expect(r.status).toBe('ready');
    expect(r.ready).toBe(r.desired);
    const rec = await f.env.store.get('shop', plan.deploymentId);
    expect(rec?.events.some((e) => /canary: new pods ready; complete the shift/.test(e.message))).toBe(true);
  });
});

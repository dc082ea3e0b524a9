/**
 * The deployments table unreachable in the middle of a release, through the synthesized state
 * machine: a real HTTP hop in front of dynalite resets every connection while it is "down".
 * Guarantee: no Kubernetes mutation is sent while the table cannot be written (every cluster
 * change is written ahead, functions/release/write-ahead.ts); a short outage is absorbed by the
 * tasks' retries and the release succeeds; a long one fails the execution with the cluster as last
 * recorded, and the status-change cleanup, retried as Lambda retries a failed asynchronous
 * invocation, rolls it back once the table answers.
 */
import { afterAll, describe, expect, jest, test } from '@jest/globals';
import { CANARY_SUFFIX } from '../../functions/adapters/kubernetes/labels.js';
import type { ServiceConfigInput } from '../../functions/domain/config.js';
import { startLocalDynamo } from '../../local/dynalite.js';
import { mutationLog, TableProxy } from '../../local/faults.js';
import { adminApis, liveTemplate } from '../helpers/k8s.js';
import { type ReleaseFixture, releaseFixture } from '../helpers/release.js';
import { ALWAYS_ON_CALL, ATTESTED, NEW_IMAGES } from '../helpers/runbook.js';

jest.setTimeout(300_000);

const SERVICE: Partial<ServiceConfigInput> = { approval: false, onCall: ALWAYS_ON_CALL };
const cleanups: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A fixture whose table is behind a proxy and whose Kubernetes mutations are logged with times. */
async function outageFixture(prefix: string) {
  const dynamo = await startLocalDynamo();
  const proxy = await TableProxy.start(dynamo.endpoint);
  const client = proxy.client();
  const mutations: { at: number; what: string }[] = [];
  const f: ReleaseFixture = await releaseFixture(prefix, 'replica-ratio', {
    service: SERVICE,
    env: {
      dynamo: { endpoint: proxy.endpoint, client, stop: async () => undefined },
      kubeMiddleware: [mutationLog(mutations)],
    },
  });
  cleanups.push(async () => {
    client.destroy();
    await proxy.stop();
    await dynamo.stop();
  });
  return { f, proxy, mutations };
}

async function deploymentNames(namespace: string) {
  const { apps } = adminApis();
  return (await apps.listNamespacedDeployment({ namespace })).items.map((d) => d.metadata?.name);
}

describe('the deployments table unreachable during a release', () => {
  test('a short outage at "Shift 50% To Staging": no mutation while down, retries absorb it, the release succeeds', async () => {
    const { f, proxy, mutations } = await outageFixture('table-short');
    const window = { down: 0, up: 0 };
    const result = await f.env.run(
      { ...ATTESTED, service: 'shop', images: NEW_IMAGES },
      {
        executionName: 'table-short',
        // The task's retries: 0.5 s, 1 s, 2 s apart; the outage lasts 1.2 s.
        retryIntervalMs: 500,
        onState: (name) => {
          if (name !== 'Shift 50% To Staging' || window.down) return;
          proxy.down();
          window.down = Date.now();
          setTimeout(() => {
            proxy.up();
            window.up = Date.now();
          }, 1200);
        },
      },
    );
    expect(window.down).toBeGreaterThan(0);
    expect(proxy.refused).toBeGreaterThan(0);
    expect(mutations.filter((m) => m.at >= window.down && m.at <= window.up)).toEqual([]);
    expect(result.status).toBe('SUCCEEDED');
    const rec = result.record!;
    expect(rec.outcome).toBe('SUCCEEDED');
    expect(rec.phases.map((p) => p.name)).toEqual(['canary', 'staging', 'production']);
    // Every shift and the clean up were written ahead.
    const intents = rec.events.filter((e) => e.message.startsWith('intent: ')).map((e) => e.message);
    for (const want of [/canary: send 10%/, /staging: send 50%/, /production: send 100%/, /clean up:/]) {
      expect(intents.some((m) => want.test(m))).toBe(true);
    }
    expect(await deploymentNames(f.app.namespace)).not.toContain(`${f.app.name}${CANARY_SUFFIX}`);
  });

  test('a long outage: the execution fails with the cluster as recorded; the retried cleanup rolls it back when the table answers', async () => {
    const { f, proxy, mutations } = await outageFixture('table-long');
    const recorded = await liveTemplate(f.app.namespace, f.app.name);
    let downAt = 0;
    const result = await f.env.run(
      { ...ATTESTED, service: 'shop', images: NEW_IMAGES },
      {
        executionName: 'table-long',
        onState: (name) => {
          if (name !== 'Shift 50% To Staging' || downAt) return;
          proxy.down();
          downAt = Date.now();
        },
      },
    );
    // "Roll Back" could not claim the rollback either: the execution failed, nothing rolled back.
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('RollbackFailed');
    expect(mutations.filter((m) => m.at >= downAt)).toEqual([]);
    expect(f.env.undelivered).toHaveLength(1);
    // The cluster is where the record last said: the canary at 10%.
    expect(await deploymentNames(f.app.namespace)).toContain(`${f.app.name}${CANARY_SUFFIX}`);

    proxy.up();
    const before = await f.env.store.get('shop', 'table-long');
    expect(before?.outcome).toBe('RUNNING');
    expect(before?.events.at(-1)?.message).toMatch(/canary window .*: pass -> proceed/);
    const outcomes = await f.env.redeliver();
    expect(outcomes.map((o) => o.action)).toEqual(['rolled-back']);
    const rec = await f.env.store.get('shop', 'table-long');
    expect(rec?.outcome).toBe('ROLLED_BACK');
    expect(rec?.rollback?.trigger).toBe('execution-failed');
    expect(await liveTemplate(f.app.namespace, f.app.name)).toEqual(recorded);
    expect(await deploymentNames(f.app.namespace)).not.toContain(`${f.app.name}${CANARY_SUFFIX}`);
    expect(await f.env.store.active('shop')).toBeNull();
    expect(f.env.undelivered).toEqual([]);
  });
});

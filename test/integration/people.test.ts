/**
 * People are not fought after the phases either: a person's edit or scale of the original
 * Deployment made while "Clean Up" runs, or during the post-deployment watch, is detected, kept,
 * and the record says who changed what and what tps-deploy did.
 *
 * The edits during Clean Up are made by a Kubernetes client middleware on the release functions'
 * own requests: it runs the person's change (as kubectl would, with its own field manager) just
 * before the step's first request, or just before its write of the Deployment, so the edit lands
 * exactly between the step's read and its write.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, jest, test } from '@jest/globals';
import type * as k8s from '@kubernetes/client-node';
import type { Middleware, RequestContext, ResponseContext } from '@kubernetes/client-node';
import { STEPS } from '../../functions/release/registry.js';
import { alarmEvent } from '../../local/alarm-event.js';
import { clusterEnv } from '../helpers/cluster-env.js';
import { adminApis, deleteNamespace, OLD_IMAGES } from '../helpers/k8s.js';
import { type ReleaseFixture, releaseFixture } from '../helpers/release.js';
import { ALWAYS_ON_CALL, ATTESTED, NEW_IMAGES, recordWhen } from '../helpers/runbook.js';

jest.setTimeout(180_000);
const exec = promisify(execFile);

const fixtures: ReleaseFixture[] = [];
afterAll(async () => {
  for (const f of fixtures.splice(0)) {
    await f.env.stop();
    await deleteNamespace(f.app.namespace);
  }
});

/** Runs `person` once, before the first request of the functions that `when` picks, once armed. */
class PersonBefore {
  armed = false;
  done = false;
  constructor(
    private readonly when: (method: string, path: string) => boolean,
    private readonly person: () => Promise<void>,
  ) {}
  readonly middleware: Middleware = {
    pre: async (ctx: RequestContext) => {
      const path = new URL(ctx.getUrl()).pathname;
      if (this.armed && !this.done && this.when(String(ctx.getHttpMethod()), path)) {
        this.done = true;
        await this.person();
      }
      return ctx;
    },
    post: async (res: ResponseContext) => res,
  };
}

async function fixture(prefix: string, person?: PersonBefore): Promise<ReleaseFixture> {
  const f = await releaseFixture(prefix, 'replica-ratio', {
    service: { approval: false, onCall: ALWAYS_ON_CALL },
    ...(person ? { env: { kubeMiddleware: [person.middleware] } } : {}),
  });
  fixtures.push(f);
  return f;
}

function kubectl(f: ReleaseFixture, ...args: string[]): Promise<unknown> {
  const env = clusterEnv();
  return exec(env.kubectl, [`--kubeconfig=${env.kubeconfig}`, '-n', f.app.namespace, ...args]);
}

async function live(f: ReleaseFixture): Promise<k8s.V1Deployment> {
  return adminApis().apps.readNamespacedDeployment({ name: f.app.name, namespace: f.app.namespace });
}

const apiContainer = (d: k8s.V1Deployment) => d.spec?.template.spec?.containers.find((c) => c.name === 'api');
const deploymentPath = (f: ReleaseFixture) =>
  `/apis/apps/v1/namespaces/${f.app.namespace}/deployments/${f.app.name}`;

describe('a person during Clean Up', () => {
  test('an env edit between Clean Up’s read and its write of the Deployment is kept; the release stops and says so', async () => {
    let f!: ReleaseFixture;
    const person = new PersonBefore(
      (method, path) => method === 'PATCH' && path === deploymentPath(f),
      async () => {
        await kubectl(f, 'set', 'env', `deployment/${f.app.name}`, '-c', 'api', 'HOTFIX=during-cleanup');
      },
    );
    f = await fixture('ppl-clean', person);
    const run = await f.env.run(
      { ...ATTESTED, service: 'shop', images: NEW_IMAGES },
      {
        executionName: 'ppl-clean-1',
        speed: 100_000,
        onState: (name) => {
          if (name === 'Clean Up') person.armed = true;
        },
      },
    );
    expect(person.done).toBe(true);
    const dep = await live(f);
    // The person's change is there, as they made it (on the template they edited).
    expect(apiContainer(dep)?.env).toEqual(
      expect.arrayContaining([{ name: 'HOTFIX', value: 'during-cleanup' }]),
    );
    expect(run.status).toBe('FAILED');
    expect(run.cause).toMatch(/DriftDetectedError/);
    const rec = run.record!;
    expect(rec.outcome).toBe('ROLLED_BACK');
    expect(
      rec.events.some((e) => /clean up: drift: someone changed deployment .*(HOTFIX|env)/.test(e.message)),
    ).toBe(true);
    expect(rec.events.some((e) => /template written by kubectl/.test(e.message))).toBe(true);
  });

  test('a kubectl scale between Clean Up’s read and its write of the Deployment is kept; the release stops and says so', async () => {
    let f!: ReleaseFixture;
    const person = new PersonBefore(
      (method, path) => method === 'PATCH' && path === deploymentPath(f),
      async () => {
        await kubectl(f, 'scale', `deployment/${f.app.name}`, '--replicas=2');
      },
    );
    f = await fixture('ppl-clean-scale', person);
    const run = await f.env.run(
      { ...ATTESTED, service: 'shop', images: NEW_IMAGES },
      {
        executionName: 'ppl-clean-scale-1',
        speed: 100_000,
        onState: (name) => {
          if (name === 'Clean Up') person.armed = true;
        },
      },
    );
    expect(person.done).toBe(true);
    expect(run.status).toBe('FAILED');
    expect(run.cause).toMatch(/DriftDetectedError/);
    // Their count is kept, not overwritten with max(recorded, live) by the retried write.
    expect((await live(f)).spec?.replicas).toBe(2);
    const rec = run.record!;
    expect(rec.outcome).toBe('ROLLED_BACK');
    expect(rec.events.some((e) => /replicas: expected \d+, live 2 \(set by kubectl/.test(e.message))).toBe(
      true,
    );
  });

  test('a kubectl scale just before Clean Up is detected at its start; the count is kept', async () => {
    let f!: ReleaseFixture;
    const person = new PersonBefore(
      () => true,
      async () => {
        await kubectl(f, 'scale', `deployment/${f.app.name}`, '--replicas=6');
      },
    );
    f = await fixture('ppl-scale', person);
    const run = await f.env.run(
      { ...ATTESTED, service: 'shop', images: NEW_IMAGES },
      {
        executionName: 'ppl-scale-1',
        speed: 100_000,
        onState: (name) => {
          if (name === 'Clean Up') person.armed = true;
        },
      },
    );
    expect(person.done).toBe(true);
    expect(run.status).toBe('FAILED');
    expect(run.cause).toMatch(/DriftDetectedError/);
    const rec = run.record!;
    expect(
      rec.events.some((e) =>
        /clean up: drift: .*replicas: expected \d+, live 6 \(set by kubectl/.test(e.message),
      ),
    ).toBe(true);
    expect((await live(f)).spec?.replicas).toBe(6);
  });
});

describe('a person during the post-deployment watch', () => {
  test('an image edit and a scale during the watch are kept, and Stand Down records who changed what', async () => {
    const f = await fixture('ppl-watch');
    const running = f.env.run(
      { ...ATTESTED, service: 'shop', images: NEW_IMAGES },
      { executionName: 'ppl-watch-1', speed: 100_000, waitMs: { 'Post-Deployment Watch': 3_000 } },
    );
    await recordWhen(f, 'ppl-watch-1', 'the watch', (r) => !!r.watch);
    await kubectl(f, 'set', 'image', `deployment/${f.app.name}`, 'api=registry.local/shop/api:v2-hotfix');
    await kubectl(f, 'scale', `deployment/${f.app.name}`, '--replicas=5');
    const run = await running;
    expect(run.status).toBe('SUCCEEDED');
    const dep = await live(f);
    expect(apiContainer(dep)?.image).toBe('registry.local/shop/api:v2-hotfix');
    expect(dep.spec?.replicas).toBe(5);
    const note = run.record!.events.find((e) => /during the watch/.test(e.message));
    expect(note?.message).toMatch(
      /container api image: expected registry\.local\/shop\/api:v2, live registry\.local\/shop\/api:v2-hotfix/,
    );
    expect(note?.message).toMatch(/replicas: expected 4, live 5 \(set by kubectl/);
    expect(note?.message).toMatch(/kept; tps-deploy changed nothing/);
    expect(f.env.notifier.ofKind('stand-down')[0]?.message).toMatch(/changed during the watch/);
  });

  test('an alarm rollback after a person’s hotfix during the watch keeps the hotfix and says so', async () => {
    const f = await fixture('ppl-watch-alarm');
    const running = f.env.run(
      { ...ATTESTED, service: 'shop', images: NEW_IMAGES },
      { executionName: 'ppl-wa-1', speed: 100_000, waitMs: { 'Post-Deployment Watch': 60_000 } },
    );
    await recordWhen(f, 'ppl-wa-1', 'the watch', (r) => !!r.watch);
    await kubectl(f, 'set', 'image', `deployment/${f.app.name}`, 'api=registry.local/shop/api:v2-hotfix');
    const outcome = await STEPS.alarmRollback(
      f.env.ports,
      JSON.parse(JSON.stringify(alarmEvent('tps-test', 'shop', 'oomKills', f.env.clock.now()))),
    );
    expect(outcome).toMatchObject({ action: 'rolled-back', deploymentId: 'ppl-wa-1' });
    const run = await running;
    expect(run.status).toBe('ABORTED');
    const dep = await live(f);
    expect(apiContainer(dep)?.image).toBe('registry.local/shop/api:v2-hotfix');
    expect(apiContainer(dep)?.image).not.toBe(OLD_IMAGES.api);
    const rec = (await f.env.store.get('shop', 'ppl-wa-1'))!;
    expect(rec.outcome).toBe('ROLLED_BACK');
    expect(rec.events.some((e) => /left as the person changed it/.test(e.message))).toBe(true);
  });
});

describe('a person during a phase, then a rollback they did not cause', () => {
  test('an alarm rollback in the canary window after a person’s image edit keeps their template and removes the canary', async () => {
    const f = await fixture('ppl-phase-alarm');
    const running = f.env.run(
      { ...ATTESTED, service: 'shop', images: NEW_IMAGES },
      { executionName: 'ppl-pa-1', speed: 100_000, waitMs: { 'Canary Validation Window': 60_000 } },
    );
    await recordWhen(f, 'ppl-pa-1', 'the canary window', (r) => r.phases.some((p) => p.name === 'canary'));
    await kubectl(f, 'set', 'image', `deployment/${f.app.name}`, 'api=registry.local/shop/api:v1-hotfix');
    const outcome = await STEPS.alarmRollback(
      f.env.ports,
      JSON.parse(JSON.stringify(alarmEvent('tps-test', 'shop', 'errorRate', f.env.clock.now()))),
    );
    expect(outcome).toMatchObject({ action: 'rolled-back', deploymentId: 'ppl-pa-1' });
    const run = await running;
    expect(run.status).toBe('ABORTED');
    const dep = await live(f);
    // Their hotfix is kept, not overwritten with the recorded template.
    expect(apiContainer(dep)?.image).toBe('registry.local/shop/api:v1-hotfix');
    const canary = await adminApis()
      .apps.readNamespacedDeployment({ name: `${f.app.name}-tps-canary`, namespace: f.app.namespace })
      .then(
        () => 'present',
        (e: { code?: number }) => e.code,
      );
    expect(canary).toBe(404);
    const rec = (await f.env.store.get('shop', 'ppl-pa-1'))!;
    expect(rec.outcome).toBe('ROLLED_BACK');
    const note = rec.events.find((e) => /during the release: .*their change is kept/.test(e.message));
    expect(note?.message).toMatch(
      /rollback by alarm:\S+: someone changed deployment \S+ during the release: container api image: expected registry\.local\/shop\/api:v1, live registry\.local\/shop\/api:v1-hotfix/,
    );
  });
});

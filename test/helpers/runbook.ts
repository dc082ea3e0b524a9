/**
 * Fixtures of the runbook end-to-end tests (gates, approval, holds, tests, migrations, watch): a
 * fresh namespace with the app, a LocalEnvironment, and helpers to wait for the record to reach
 * a point while the execution runs.
 */
import type { TrafficProfileInput } from '../../functions/adapters/synthetic/profile.js';
import type { ServiceConfigInput } from '../../functions/domain/config.js';
import type { DeploymentRecord } from '../../functions/domain/record.js';
import { adminApis, deleteNamespace, liveTemplate } from './k8s.js';
import { type ReleaseFixture, releaseFixture } from './release.js';

/** Someone is always on call. */
export const ALWAYS_ON_CALL: ServiceConfigInput['onCall'] = {
  schedule: [
    { who: 'oncall', days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '00:00', end: '24:00' },
  ],
};

/** Attestations that pass the gate. */
export const ATTESTED = { attestations: { testsPassed: true, reviewers: ['alice', 'bob'] } } as const;

/** The release's new images. */
export const NEW_IMAGES = { api: 'registry.local/shop/api:v2', sidecar: 'registry.local/shop/proxy:1.1' };

const open: ReleaseFixture[] = [];

/** A replica-ratio fixture (4 replicas unless `app` says) whose service passes the gates by default (overridable). */
export async function runbookFixture(
  prefix: string,
  service: Partial<ServiceConfigInput> = {},
  profile?: TrafficProfileInput,
  app: { replicas?: number } = {},
): Promise<ReleaseFixture> {
  const f = await releaseFixture(prefix, 'replica-ratio', {
    service: { onCall: ALWAYS_ON_CALL, ...service },
    ...(profile ? { profile } : {}),
    ...app,
  });
  open.push(f);
  return f;
}

/** Stops every environment and deletes every namespace the fixtures created. */
export async function closeFixtures(): Promise<void> {
  for (const f of open.splice(0)) {
    await f.env.stop();
    await deleteNamespace(f.app.namespace);
  }
}

/** Polls the record until `ready` says so (or fails after `timeoutMs`). */
export async function recordWhen(
  f: ReleaseFixture,
  deploymentId: string,
  what: string,
  ready: (r: DeploymentRecord) => boolean,
  timeoutMs = 60_000,
): Promise<DeploymentRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await f.env.store.get('shop', deploymentId);
    if (r && ready(r)) return r;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; record: ${JSON.stringify(r?.events ?? null)}`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

/** What the namespace looks like: the app's template, replicas and objects tps-deploy left. */
export async function appState(f: ReleaseFixture) {
  const { apps } = adminApis();
  const deployments = (await apps.listNamespacedDeployment({ namespace: f.app.namespace })).items;
  const dep = deployments.find((d) => d.metadata?.name === f.app.name);
  return {
    template: await liveTemplate(f.app.namespace, f.app.name),
    replicas: dep?.spec?.replicas,
    deployments: deployments.map((d) => d.metadata?.name).sort(),
  };
}

/** Kinds of the notifications collected, in order. */
export function kinds(f: ReleaseFixture): string[] {
  return f.env.notifier.notifications.map((n) => n.kind);
}

/** Whether `sub` appears in `seq` in this order (not necessarily adjacent). */
export function inOrder(seq: readonly string[], sub: readonly string[]): boolean {
  let i = 0;
  for (const s of seq) if (s === sub[i]) i++;
  return i === sub.length;
}

/**
 * Releases NEW_IMAGES of service `shop` as execution `name` (fast), which must succeed; answers
 * the run. The first release of the safety tests: an earlier execution whose name, events or lock
 * a later one meets.
 */
export async function releasedAs(f: ReleaseFixture, name: string, over: { requestedBy?: string } = {}) {
  const run = await f.env.run(
    { ...ATTESTED, service: 'shop', images: NEW_IMAGES, ...over },
    { executionName: name, speed: 100_000 },
  );
  if (run.status !== 'SUCCEEDED')
    throw new Error(`the first release ${name} ended ${run.status}, not SUCCEEDED`);
  return run;
}

/**
 * The fault classes of issue #13 beyond the cuts, a representative subset of what
 * `npm run bench -- faults` runs in full (both routers, every step, three rounds), each run judged
 * by the full fingerprint (test/helpers/fingerprint.ts):
 * - token expiry: the Kubernetes credential refused (a real kube-apiserver 401: a revoked bound
 *   ServiceAccount token of the shipped Role) at each mutation of the ALB router's "Shift 10% To
 *   Canary": one renewal, the step completes in the same attempt, the end state of an
 *   uninterrupted shift (test/helpers/fault-matrix.ts);
 * - name reuse, late events and a persistent lock leak, with the replica-ratio router
 *   (test/helpers/fault-scenarios.ts).
 */
import { afterAll, expect, jest, test } from '@jest/globals';
import { CutMatrix, type FaultOutcome } from '../helpers/fault-matrix.js';
import { ScenarioMatrix } from '../helpers/fault-scenarios.js';
import { deleteNamespace } from '../helpers/k8s.js';
import { type ReleaseFixture, releaseFixture } from '../helpers/release.js';
import { ALWAYS_ON_CALL } from '../helpers/runbook.js';

jest.setTimeout(900_000);

const fixtures: ReleaseFixture[] = [];
const closers: (() => Promise<void>)[] = [];
const all: FaultOutcome[] = [];

afterAll(async () => {
  for (const close of closers.splice(0)) await close();
  for (const f of fixtures.splice(0)) {
    await f.env.stop();
    await deleteNamespace(f.app.namespace);
  }
  const by = (c: string) => all.filter((o) => o.fault === c).length;
  process.stdout.write(
    `faults-classes: ${all.length} runs (token expiry ${by('token-expiry')}, name reuse ${by('name-reuse')}, late events ${by('late-event')}, lock leak ${by('lock-leak')}), ${all.filter((o) => o.problems.length === 0).length} without problems\n`,
  );
});

/*
 * The two tests have their own fixtures and mostly wait for the cluster: they run side by side
 * (test.concurrent). The token cuts count mutations, not time, so their pods are Ready after
 * 200 ms instead of the local cluster's default 1 s.
 */
test.concurrent('a credential refused at each mutation of an ALB shift: one renewal, the uninterrupted end state', async () => {
  const f = await releaseFixture('tok-shift', 'alb', {
    service: { approval: false, onCall: ALWAYS_ON_CALL },
    podAnnotations: { 'local.tps-deploy.dev/ready-delay': '200ms' },
  });
  fixtures.push(f);
  const m = new CutMatrix(f);
  closers.push(() => m.close());
  const outcomes = await m.all('shift', ['token-expiry']);
  all.push(...outcomes);
  // Pin the stable Service, create the canary Deployment and Service, weight the Ingress.
  expect(outcomes.length).toBeGreaterThanOrEqual(4);
  expect(outcomes.every((o) => o.renewals === 1)).toBe(true);
  expect(outcomes.filter((o) => o.problems.length > 0)).toEqual([]);
});

test.concurrent('name reuse, late events and a lock leak: refused or ignored with nothing changed; the lock freed', async () => {
  const m = new ScenarioMatrix('replica-ratio', 'fc');
  closers.push(() => m.close());
  const outcomes = await m.all({ nameReuse: true, lateEvents: true, lockLeak: ['persistent'] });
  all.push(...outcomes);
  expect(outcomes.map((o) => `${o.fault}: ${o.variant}`)).toEqual([
    'name-reuse: a second execution with the name of an ended release',
    "name-reuse: the reused name's status-change event",
    "late-event: the previous release's alarm redelivered mid-canary",
    "late-event: the previous release's status-change cleanup mid-canary",
    'lock-leak: lock release fails persistently',
  ]);
  expect(outcomes.filter((o) => o.problems.length > 0)).toEqual([]);
});

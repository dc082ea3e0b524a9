/**
 * Test hooks and database migrations, end to end: real Kubernetes Jobs on the local control plane
 * (KWOK completes a Job's pod; an image tag ending `-fail` makes it fail), the synthesized state
 * machine on aws-local-stepfunctions, and the local stand-in for RDS snapshots.
 */

import { afterAll, afterEach, describe, expect, jest, test } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { RUNBOOK } from '../../functions/domain/defaults.js';
import { adminKubeConfig } from '../helpers/cluster-env.js';
import { JOBS_SERVICE_ACCOUNT } from '../helpers/k8s.js';
import {
  ATTESTED,
  appState,
  closeFixtures,
  inOrder,
  NEW_IMAGES,
  runbookFixture,
} from '../helpers/runbook.js';

jest.setTimeout(180_000);
afterEach(closeFixtures);
// The concurrent tests below run no afterEach: their fixtures go here.
afterAll(closeFixtures);

const DB = { kind: 'aurora-cluster', identifier: 'shop-db' } as const;
const migration = (
  when: 'before' | 'after',
  image = 'registry.local/shop/migrate:v2',
  database: boolean = true,
) => ({
  image,
  command: ['migrate', 'up'],
  rollbackCommand: ['migrate', 'down'],
  when,
  env: { DATABASE: 'shop' },
  ...(database ? { database: DB } : {}),
});

function batch() {
  return adminKubeConfig().makeApiClient(k8s.BatchV1Api);
}

describe('test hooks', () => {
  test('a failing smoke-test Job fails the canary, which rolls back; the result is in the record', async () => {
    const f = await runbookFixture('rb-tests', {
      approval: false,
      tests: {
        canary: { image: 'registry.local/shop/smoke:v1-fail', command: ['smoke'], env: { TARGET: 'shop' } },
      },
    });
    const before = await appState(f);
    const run = await f.env.run(
      { service: 'shop', images: NEW_IMAGES, ...ATTESTED },
      { executionName: 'tests-1' },
    );
    expect(run.status).toBe('FAILED');
    expect(run.error).toBe('ReleaseRolledBack');
    expect(run.cause).toMatch(
      /^ValidationFailed: test Job shop-tps-test-canary-\w+ failed in [\d.]+ s: failed \(BackoffLimitExceeded/,
    );
    expect(run.states).not.toContain('Shift 50% To Staging');
    const canary = run.record!.phases[0]!;
    expect(canary.verdict).toBe('fail');
    expect(canary.tests).toMatchObject({
      status: 'failed',
      passed: false,
      image: 'registry.local/shop/smoke:v1-fail',
    });
    expect(canary.tests!.durationSeconds).toBeGreaterThanOrEqual(0);
    expect(canary.tests!.logs).toMatch(/^kubectl -n rb-tests-\S+ logs job\/shop-tps-test-canary-/);
    expect(canary.decisions.at(-1)!.checks.find((c) => c.name === 'tests')).toMatchObject({
      verdict: 'fail',
    });
    expect(run.record!.rollback).toMatchObject({ phase: 'canary', trigger: 'state-machine' });
    expect(await appState(f)).toEqual(before);
    // The team is told why, with the numbers, and what was restored.
    const told = f.env.notifier.ofKind('rollback');
    expect(told).toHaveLength(1);
    expect(told[0]!.message).toMatch(
      /test Job shop-tps-test-canary-\w+ failed in [\d.]+ s.*canary errors [\d.]+% \(\d+\/\d+\).*Restored registry\.local\/shop\/api:v1 at 4 replicas\.$/s,
    );
    // The Job really ran in the namespace, with the configured command and the release's facts.
    const job = await batch().readNamespacedJob({ name: canary.tests!.name, namespace: f.app.namespace });
    const c = job.spec!.template.spec!.containers[0]!;
    expect(c.command).toEqual(['smoke']);
    expect(Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]))).toMatchObject({
      TARGET: 'shop',
      TPS_PHASE: 'canary',
      TPS_VERSION: 'v2',
      TPS_DEPLOYMENT_ID: 'tests-1',
    });
  });
});

// Each test has its own fixture and mostly waits for Jobs and pods: side by side.
describe('migrations', () => {
  test.concurrent('before the deploy: snapshot, migration Job, then the phases; the record has all three', async () => {
    const f = await runbookFixture('rb-mig-before', { approval: false, databases: [DB] });
    const run = await f.env.run(
      { service: 'shop', images: NEW_IMAGES, ...ATTESTED, migration: migration('before') },
      { executionName: 'mig-before' },
    );
    expect(run.cause).toBeNull();
    expect(run.status).toBe('SUCCEEDED');
    expect(
      inOrder(run.states, [
        'Record Rollback Plan',
        'Snapshot Database Before Deploy',
        'Check Snapshot Before Deploy',
        'Run Migration Before Deploy',
        'Check Migration Before Deploy',
        'Shift 10% To Canary',
        'Clean Up',
        'Start Watch',
      ]),
    ).toBe(true);
    expect(run.states).not.toContain('Run Migration After Deploy');
    const m = run.record!.migration!;
    expect(m).toMatchObject({ when: 'before', status: 'applied', schema: 'new', rollbackJob: null });
    expect(m.snapshot).toMatchObject({
      kind: 'aurora-cluster',
      identifier: 'shop-db',
      snapshotId: 'tps-shop-mig-before',
      status: 'available',
    });
    expect(m.job).toMatchObject({
      status: 'succeeded',
      passed: true,
      image: 'registry.local/shop/migrate:v2',
    });
    expect(f.env.snapshots.taken.map((s) => [s.db.identifier, s.snapshotId])).toEqual([
      ['shop-db', 'tps-shop-mig-before'],
    ]);
    const job = await batch().readNamespacedJob({ name: m.job!.name, namespace: f.app.namespace });
    expect(job.status?.succeeded).toBe(1);
    expect(job.spec!.template.spec!.containers[0]!.command).toEqual(['migrate', 'up']);
    // The namespace enforces the restricted Pod Security profile, and the Job's pod was admitted
    // there, running as the catalog's ServiceAccount with no token mounted.
    const core = adminKubeConfig().makeApiClient(k8s.CoreV1Api);
    const ns = await core.readNamespace({ name: f.app.namespace });
    expect(ns.metadata?.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
    const pods = await core.listNamespacedPod({
      namespace: f.app.namespace,
      labelSelector: `job-name=${m.job!.name}`,
    });
    expect(pods.items).toHaveLength(1);
    const pod = pods.items[0]!.spec!;
    expect(pod.serviceAccountName).toBe(JOBS_SERVICE_ACCOUNT);
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.containers[0]!.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(pod.containers[0]!.resources?.limits).toEqual(RUNBOOK.jobs.resources.limits);
  });

  test.concurrent('after the deploy: the migration runs once the new code serves all traffic, before the watch', async () => {
    const f = await runbookFixture('rb-mig-after', { approval: false });
    // The database URL is in a Secret (created by a person; tps-deploy's identity cannot read it):
    // the input names the Secret and key, and the Job's container reads it through valueFrom.
    const core = adminKubeConfig().makeApiClient(k8s.CoreV1Api);
    await core.createNamespacedSecret({
      namespace: f.app.namespace,
      body: { metadata: { name: 'shop-db' }, stringData: { url: 'postgres://app:pw@db:5432/shop' } },
    });
    const m = {
      ...migration('after', undefined, false),
      env: { DATABASE: 'shop', DATABASE_URL: { secretKeyRef: { name: 'shop-db', key: 'url' } } },
    };
    const run = await f.env.run(
      { service: 'shop', images: NEW_IMAGES, ...ATTESTED, migration: m },
      { executionName: 'mig-after' },
    );
    expect(run.cause).toBeNull();
    expect(run.status).toBe('SUCCEEDED');
    expect(
      inOrder(run.states, [
        'Validate Production',
        'Clean Up',
        'Run Migration After Deploy',
        'Check Migration After Deploy',
        'Start Watch',
      ]),
    ).toBe(true);
    expect(run.states).not.toContain('Run Migration Before Deploy');
    // No database named: no snapshot.
    expect(run.states).not.toContain('Snapshot Database After Deploy');
    expect(run.record!.migration).toMatchObject({
      when: 'after',
      status: 'applied',
      schema: 'new',
      snapshot: null,
    });
    expect(f.env.snapshots.taken).toEqual([]);
    // The Job as the cluster has it: the reference in the pod spec, the value nowhere in the run.
    const job = await batch().readNamespacedJob({
      name: run.record!.migration!.job!.name,
      namespace: f.app.namespace,
    });
    const env = job.spec!.template.spec!.containers[0]!.env ?? [];
    expect(env.find((e) => e.name === 'DATABASE_URL')).toEqual({
      name: 'DATABASE_URL',
      valueFrom: { secretKeyRef: { name: 'shop-db', key: 'url' } },
    });
    expect(env.find((e) => e.name === 'DATABASE')).toEqual({ name: 'DATABASE', value: 'shop' });
    expect(JSON.stringify(run.record)).not.toContain('postgres://');
  });

  test.concurrent('a credential in plaintext is refused at Validate Input, naming the field, before anything runs', async () => {
    const f = await runbookFixture('rb-mig-plain', { approval: false });
    const m = {
      ...migration('before', undefined, false),
      env: { DATABASE_URL: 'postgres://app:pw@db:5432/shop' },
    };
    const run = await f.env.run(
      { service: 'shop', images: NEW_IMAGES, ...ATTESTED, migration: m },
      { executionName: 'mig-plain' },
    );
    expect(run.status).toBe('FAILED');
    expect(run.error).toBe('InvalidInputError');
    expect(run.cause).toContain('migration.env.DATABASE_URL');
    expect(run.cause).not.toContain('postgres://');
    expect(run.states).toEqual(['Validate Input']);
    expect((await batch().listNamespacedJob({ namespace: f.app.namespace })).items).toEqual([]);
  });

  test.concurrent('an image outside the allow-list is refused at Validate Input: no record, nothing on the cluster', async () => {
    const f = await runbookFixture('rb-mig-image', { approval: false, databases: [DB] });
    const before = await appState(f);
    const run = await f.env.run(
      {
        service: 'shop',
        images: NEW_IMAGES,
        ...ATTESTED,
        migration: {
          ...migration('before', 'docker.io/attacker/miner:latest'),
          env: { KEY: { secretKeyRef: { name: 'payments-signing-key', key: 'pem' } } },
        },
      },
      { executionName: 'mig-image' },
    );
    expect(run.status).toBe('FAILED');
    expect(run.error).toBe('InvalidInputError');
    expect(run.cause).toContain(
      "migration.image: docker.io/attacker/miner:latest is not from a repository in the catalog's services.shop.jobs.allowedImages (registry.local/shop/**)",
    );
    expect(run.cause).toContain('migration.env.KEY: Secret "payments-signing-key" is not in');
    expect(run.states).toEqual(['Validate Input']);
    expect(await f.env.store.get('shop', 'mig-image')).toBeNull();
    expect(f.env.snapshots.taken).toEqual([]);
    expect((await batch().listNamespacedJob({ namespace: f.app.namespace })).items).toEqual([]);
    expect(await appState(f)).toEqual(before);
  });

  test.concurrent('a failed migration runs its rollback Job and keeps the old code', async () => {
    const f = await runbookFixture('rb-mig-fail', { approval: false, databases: [DB] });
    const before = await appState(f);
    const core = adminKubeConfig().makeApiClient(k8s.CoreV1Api);
    const running = f.env.run(
      { service: 'shop', images: NEW_IMAGES, ...ATTESTED, migration: migration('before') },
      { executionName: 'mig-fail' },
    );
    // The migration's pod is killed mid-run (deleted at once): with no retries, its Job fails.
    let killed = '';
    for (let i = 0; i < 2000 && !killed; i++) {
      const pods = await core.listNamespacedPod({
        namespace: f.app.namespace,
        labelSelector: 'tps-deploy.io/job=migrate',
      });
      const pod = pods.items.find((p) => !p.metadata?.deletionTimestamp);
      if (pod) {
        killed = pod.metadata!.name!;
        await core.deleteNamespacedPod({ name: killed, namespace: f.app.namespace, gracePeriodSeconds: 0 });
      } else {
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    expect(killed).not.toBe('');
    const run = await running;
    expect(run.status).toBe('FAILED');
    expect(run.error).toBe('ReleaseRolledBack');
    expect(run.cause).toMatch(
      /^MigrationFailed: migration Job shop-tps-migrate-\w+ failed \(.*\); rollback Job shop-tps-migrate-rollback-\w+ restored the old schema in [\d.]+ s; the old code is kept$/,
    );
    expect(
      inOrder(run.states, [
        'Check Migration Before Deploy',
        'Roll Back Migration Before Deploy',
        'Check Migration Rollback Before Deploy',
        'Migration Failed Before Deploy',
        'Roll Back',
        'Rolled Back',
      ]),
    ).toBe(true);
    expect(run.states).not.toContain('Shift 10% To Canary');
    const m = run.record!.migration!;
    expect(m).toMatchObject({ status: 'rolled-back', schema: 'old' });
    expect(m.job).toMatchObject({ status: 'failed', passed: false });
    expect(m.rollbackJob).toMatchObject({ status: 'succeeded', passed: true });
    expect(run.record!.outcome).toBe('ROLLED_BACK');
    // The old code is what runs: nothing of the release reached the cluster.
    expect(await appState(f)).toEqual(before);
    const rb = await batch().readNamespacedJob({ name: m.rollbackJob!.name, namespace: f.app.namespace });
    expect(rb.spec!.template.spec!.containers[0]!.command).toEqual(['migrate', 'down']);
    expect(f.env.notifier.ofKind('rollback')[0]!.message).toMatch(
      /MigrationFailed: .*restored the old schema/,
    );
  });

  test.concurrent('a migration and its rollback both failing stop the release and page: MAJOR INCIDENT', async () => {
    const f = await runbookFixture('rb-mig-major', { approval: false, databases: [DB] });
    const before = await appState(f);
    const run = await f.env.run(
      {
        service: 'shop',
        images: NEW_IMAGES,
        ...ATTESTED,
        migration: migration('before', 'registry.local/shop/migrate:v2-fail'),
      },
      { executionName: 'mig-major' },
    );
    expect(run.status).toBe('FAILED');
    expect(run.error).toBe('MajorIncident');
    expect(run.states.slice(-2)).toEqual(['Declare Major Incident Before Deploy', 'Major Incident']);
    expect(run.states).not.toContain('Roll Back');
    const rec = run.record!;
    expect(rec.outcome).toBe('FAILED');
    expect(rec.migration).toMatchObject({ status: 'rollback-failed', schema: 'unknown' });
    expect(rec.majorIncident!.reason).toMatch(/migration Job .* failed .*and its rollback Job .* failed too/);
    const page = f.env.notifier.ofKind('rollback');
    expect(page).toHaveLength(1);
    expect(page[0]!.subject).toMatch(/^MAJOR INCIDENT: shop v2/);
    expect(page[0]!.message).toContain('Snapshot: tps-shop-mig-major');
    expect(await appState(f)).toEqual(before);
    expect(await f.env.store.active('shop')).toBeNull();
  });
});

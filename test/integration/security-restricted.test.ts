/**
 * Security on the local control plane: each cluster task acts as its app's read or write identity
 * (groups tps-deploy-<appName>-read|write) bound by the shipped Roles
 * (infra/k8s/tps-deploy-role.yaml) and nothing more; a full release and a rollback work with them;
 * Secrets and other namespaces are Forbidden; and nothing a run logs or records carries a credential.
 * (test/integration/security-identities.test.ts compares the identities' rules with the Roles.)
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { stdoutLines } from '../../functions/adapters/powertools/output.js';
import { CLUSTER_ACCESS_KINDS } from '../../functions/contract/tasks.js';
import type { ServiceConfigInput } from '../../functions/domain/config.js';
import { kubernetesGroup } from '../../infra/names.js';
import { functionUser } from '../../local/cluster/identities.js';
import {
  adminKubeConfig,
  clusterEnv,
  createNamespace,
  restrictedKubeConfig,
  TEST_APP_NAME,
} from '../helpers/cluster-env.js';
import { adminApis, deleteNamespace, functionIdentities, liveTemplate, OLD_IMAGES } from '../helpers/k8s.js';
import { type ReleaseFixture, releaseFixture } from '../helpers/release.js';
import { ALWAYS_ON_CALL, ATTESTED, NEW_IMAGES } from '../helpers/runbook.js';

jest.setTimeout(240_000);

const SERVICE: Partial<ServiceConfigInput> = { approval: false, onCall: ALWAYS_ON_CALL };

/** HTTP status of a failed client-node call. */
async function statusOf(p: Promise<unknown>): Promise<number | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return (e as { code?: number }).code ?? -1;
  }
}

let f: ReleaseFixture;
let otherNs: string;
beforeAll(async () => {
  // The functions log to standard output, as in Lambda: the scan below reads their real lines.
  f = await releaseFixture('sec', 'replica-ratio', {
    service: SERVICE,
    env: { functionOutput: stdoutLines },
  });
  // A namespace tps-deploy was never given access to, with a Secret in each namespace.
  otherNs = await createNamespace('sec-other', { restricted: false });
  const { core } = adminApis();
  for (const namespace of [f.app.namespace, otherNs]) {
    await core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: 'db-password' }, stringData: { password: 'hunter2-do-not-leak' } },
    });
  }
});
afterAll(async () => {
  await f?.env.stop();
  if (f) await deleteNamespace(f.app.namespace);
  if (otherNs) await deleteNamespace(otherNs);
});

describe("the app's function identities", () => {
  test('the environment acts as tps-deploy-tps-test-read|write-functions (groups tps-deploy-tps-test-read|write), not as an administrator', async () => {
    // The kubeconfigs the release fixture hands to LocalEnvironment are the app's two identities.
    const ids = await functionIdentities();
    for (const access of CLUSTER_ACCESS_KINDS) {
      expect(ids[access]).not.toBe(clusterEnv().kubeconfig);
      const kc = new k8s.KubeConfig();
      kc.loadFromFile(ids[access]);
      const review = await kc.makeApiClient(k8s.AuthenticationV1Api).createSelfSubjectReview({
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
      });
      const user = review.status?.userInfo;
      expect(user?.username).toBe(functionUser(TEST_APP_NAME, access));
      expect(user?.groups).toContain(kubernetesGroup(TEST_APP_NAME, access));
      expect(user?.groups).not.toContain('system:masters');
    }
    // The admin kubeconfig is a different identity (sanity check of the comparison itself).
    const admin = await adminKubeConfig()
      .makeApiClient(k8s.AuthenticationV1Api)
      .createSelfSubjectReview({
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
      });
    expect(admin.status?.userInfo?.username).not.toMatch(/^tps-deploy-/);
  });

  test('the shipped write Role allows what a release needs and nothing on Secrets or other namespaces', async () => {
    const authz = restrictedKubeConfig().makeApiClient(k8s.AuthorizationV1Api);
    const can = async (namespace: string, group: string, resource: string, verb: string) =>
      (
        await authz.createSelfSubjectAccessReview({
          body: { spec: { resourceAttributes: { namespace, group, resource, verb } } },
        })
      ).status?.allowed === true;
    const ns = f.app.namespace;
    expect(await can(ns, 'apps', 'deployments', 'patch')).toBe(true);
    expect(await can(ns, '', 'services', 'patch')).toBe(true);
    expect(await can(ns, '', 'secrets', 'get')).toBe(false);
    expect(await can(ns, '', 'secrets', 'list')).toBe(false);
    expect(await can(ns, '', 'configmaps', 'get')).toBe(false);
    expect(await can(ns, 'rbac.authorization.k8s.io', 'roles', 'create')).toBe(false);
    expect(await can(otherNs, 'apps', 'deployments', 'get')).toBe(false);
    expect(await can('', '', 'namespaces', 'list')).toBe(false);

    // And the API server answers 403 to the real calls.
    const core = restrictedKubeConfig().makeApiClient(k8s.CoreV1Api);
    const apps = restrictedKubeConfig().makeApiClient(k8s.AppsV1Api);
    expect(await statusOf(core.readNamespacedSecret({ name: 'db-password', namespace: ns }))).toBe(403);
    expect(await statusOf(core.listNamespacedSecret({ namespace: ns }))).toBe(403);
    expect(await statusOf(core.readNamespacedSecret({ name: 'db-password', namespace: otherNs }))).toBe(403);
    expect(await statusOf(apps.listNamespacedDeployment({ namespace: otherNs }))).toBe(403);
    expect(
      await statusOf(
        apps.createNamespacedDeployment({
          namespace: otherNs,
          body: {
            metadata: { name: 'intruder' },
            spec: {
              selector: { matchLabels: { app: 'x' } },
              template: {
                metadata: { labels: { app: 'x' } },
                spec: { containers: [{ name: 'x', image: 'x:1' }] },
              },
            },
          },
        }),
      ),
    ).toBe(403);
    expect(await statusOf(core.listNamespace())).toBe(403);
    expect(await statusOf(apps.listNamespacedDeployment({ namespace: ns }))).toBe('ok');

    // The read identity looks, and is refused every change.
    const reader = new k8s.KubeConfig();
    reader.loadFromFile((await functionIdentities()).read);
    const readAuthz = reader.makeApiClient(k8s.AuthorizationV1Api);
    const readerCan = async (group: string, resource: string, verb: string) =>
      (
        await readAuthz.createSelfSubjectAccessReview({
          body: { spec: { resourceAttributes: { namespace: ns, group, resource, verb } } },
        })
      ).status?.allowed === true;
    expect(await readerCan('apps', 'deployments', 'get')).toBe(true);
    expect(await readerCan('apps', 'deployments', 'patch')).toBe(false);
    expect(await readerCan('', 'services', 'patch')).toBe(false);
    expect(await readerCan('batch', 'jobs', 'create')).toBe(false);
    expect(await readerCan('', 'secrets', 'get')).toBe(false);
    const readApps = reader.makeApiClient(k8s.AppsV1Api);
    expect(
      await statusOf(
        readApps.patchNamespacedDeployment(
          { name: f.app.name, namespace: ns, body: { spec: { replicas: 1 } } },
          k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
        ),
      ),
    ).toBe(403);
  });

  test('a full release and a rollback work with it, and nothing logged or recorded carries a credential', async () => {
    // Everything the process writes while the runs go: stdout (the functions' Powertools log lines
    // and metrics, as Lambda writes them), stderr and console.
    const captured: string[] = [];
    const origOut = process.stdout.write.bind(process.stdout);
    const origErr = process.stderr.write.bind(process.stderr);
    const consoleMethods = ['log', 'info', 'warn', 'error', 'debug'] as const;
    const origConsole = consoleMethods.map((m) => console[m]);
    process.stdout.write = ((chunk: unknown, ...rest: unknown[]) => {
      captured.push(String(chunk));
      return (origOut as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof process.stdout.write;
    process.stderr.write = ((chunk: unknown, ...rest: unknown[]) => {
      captured.push(String(chunk));
      return (origErr as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof process.stderr.write;
    for (const m of consoleMethods) {
      const orig = console[m];
      console[m] = (...args: unknown[]) => {
        captured.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
        orig(...args);
      };
    }
    let released: Awaited<ReturnType<typeof f.env.run>>;
    let rolledBack: Awaited<ReturnType<typeof f.env.run>>;
    try {
      released = await f.env.run({ ...ATTESTED, service: 'shop', images: NEW_IMAGES, requestedBy: 'sec' });
      rolledBack = await f.env.run({
        ...ATTESTED,
        service: 'shop',
        images: { ...NEW_IMAGES, api: 'registry.local/shop/api:v3-crash' },
      });
    } finally {
      process.stdout.write = origOut;
      process.stderr.write = origErr;
      consoleMethods.forEach((m, i) => {
        console[m] = origConsole[i]!;
      });
    }

    expect(released.status).toBe('SUCCEEDED');
    expect(released.record?.outcome).toBe('SUCCEEDED');
    expect(rolledBack.status).toBe('FAILED');
    expect(rolledBack.record?.outcome).toBe('ROLLED_BACK');
    // The rollback restored the released version (v2), exactly.
    const live = await liveTemplate(f.app.namespace, f.app.name);
    expect(JSON.stringify(live)).toContain(NEW_IMAGES.api);
    expect(JSON.stringify(live)).not.toContain('v3-crash');
    expect(JSON.stringify(live)).not.toContain(OLD_IMAGES.api);
    // The Powertools lines really were captured (the scan below is not vacuous).
    expect(captured.some((l) => l.includes('"message":"task done"'))).toBe(true);
    expect(captured.some((l) => l.includes('"_aws"'))).toBe(true);

    const history = await f.env.store.history('shop', 10);
    const haystack = [
      ...captured,
      JSON.stringify(history),
      JSON.stringify(f.env.notifier.notifications),
      JSON.stringify([released, rolledBack]),
    ].join('\n');
    expect(history.length).toBe(2);
    expect(f.env.notifier.notifications.length).toBeGreaterThan(3);

    // The credentials that exist here: the function identities' client keys (and their decoded
    // PEM), the admin's, plus the shapes of EKS tokens, AWS secret keys and any PEM block.
    const secrets: string[] = [];
    const ids = await functionIdentities();
    for (const path of [ids.read, ids.write, clusterEnv().kubeconfig]) {
      const kc = new k8s.KubeConfig();
      kc.loadFromFile(path);
      for (const u of kc.getUsers()) {
        for (const v of [u.keyData, u.token, u.password]) if (v) secrets.push(v);
        if (u.keyData) secrets.push(Buffer.from(u.keyData, 'base64').toString('utf8').split('\n')[1]!);
        if (u.keyFile) secrets.push(readFileSync(u.keyFile, 'utf8').split('\n')[1]!);
      }
    }
    expect(secrets.length).toBeGreaterThanOrEqual(3);
    for (const s of secrets) {
      expect(s.length).toBeGreaterThan(20);
      expect(haystack.includes(s)).toBe(false);
    }
    expect(haystack).not.toMatch(/k8s-aws-v1\./);
    expect(haystack).not.toMatch(/-----BEGIN/);
    // AWS access key ids and the secret key's name or value (the environment's, if any is set).
    expect(haystack).not.toMatch(/\b(?:AKIA|ASIA)[0-9A-Z]{16}\b|aws_secret_access_key|secretAccessKey/i);
    const envSecret = process.env.AWS_SECRET_ACCESS_KEY;
    if (envSecret && envSecret.length >= 16) expect(haystack.includes(envSecret)).toBe(false);
    expect(haystack).not.toContain('hunter2-do-not-leak');
    expect(haystack).not.toMatch(/Bearer\s+[A-Za-z0-9._-]{10,}/);
  });
});

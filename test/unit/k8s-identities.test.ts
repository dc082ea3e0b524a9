/**
 * The Kubernetes side of per-function access, without a cluster: every cluster task has an access
 * and no other task has one; the shipped manifest (infra/k8s/tps-deploy-role.yaml), filled with an
 * app name by the documented `sed` step, binds each Role to that app's group of its access only;
 * and requests read as RBAC reads them (the recording in security-identities.test.ts relies on it).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, test } from '@jest/globals';
import { loadAllYaml } from '@kubernetes/client-node';
import { CLUSTER_ACCESS, CLUSTER_TASKS, TASK_KEYS } from '../../functions/contract/tasks.js';
import { kubernetesGroup } from '../../infra/names.js';
import { canMintFunctionIdentities, mintFunctionIdentities } from '../../local/cluster/identities.js';
import {
  APP_NAME_PLACEHOLDER,
  fillAppName,
  restrictedRoleObjects,
  SHIPPED_ROLE_NAMES,
} from '../../local/cluster/restricted-role.js';
import { ROLE_MANIFEST } from '../helpers/k8s.js';
import { requestPermission } from '../helpers/kube-requests.js';

describe('CLUSTER_ACCESS', () => {
  test('covers exactly CLUSTER_TASKS, each read or write', () => {
    expect(Object.keys(CLUSTER_ACCESS).sort()).toEqual([...CLUSTER_TASKS].sort());
    for (const task of TASK_KEYS) {
      const access = CLUSTER_ACCESS[task];
      if (CLUSTER_TASKS.includes(task)) expect(['read', 'write']).toContain(access);
      else expect(access).toBeUndefined();
    }
  });
});

describe('kubernetesGroup', () => {
  test('names the app and the access', () => {
    expect(kubernetesGroup('payments', 'read')).toBe('tps-deploy-payments-read');
    expect(kubernetesGroup('payments', 'write')).toBe('tps-deploy-payments-write');
  });
});

describe('the shipped manifest', () => {
  const raw = readFileSync(ROLE_MANIFEST, 'utf8');

  test('the documented sed step and applyRestrictedRole fill the app name the same way', () => {
    const bySed = execFileSync('sed', [`s/${APP_NAME_PLACEHOLDER}/payments/g`, ROLE_MANIFEST], {
      encoding: 'utf8',
    });
    expect(bySed).toBe(fillAppName(raw, 'payments'));
    expect(bySed).not.toContain(APP_NAME_PLACEHOLDER);
  });

  test('binds the read Role to the app read group and the write Role to its write group, nothing else', () => {
    const objs = restrictedRoleObjects('shop-prod', raw, 'payments') as unknown as {
      kind: string;
      metadata: { name: string; namespace?: string };
      roleRef?: { kind: string; name: string };
      subjects?: { kind: string; name: string }[];
    }[];
    expect(objs.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'Role/tps-deploy-read',
      'Role/tps-deploy-write',
      'RoleBinding/tps-deploy-read',
      'RoleBinding/tps-deploy-write',
    ]);
    for (const o of objs) expect(o.metadata.namespace).toBe('shop-prod');
    for (const access of ['read', 'write'] as const) {
      const binding = objs.find(
        (o) => o.kind === 'RoleBinding' && o.metadata.name === SHIPPED_ROLE_NAMES[access],
      );
      expect(binding?.roleRef).toMatchObject({ kind: 'Role', name: SHIPPED_ROLE_NAMES[access] });
      expect(binding?.subjects).toEqual([
        { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: kubernetesGroup('payments', access) },
      ]);
    }
  });

  test('is refused without an app name, or with one that is not a catalog appName', () => {
    expect(() => restrictedRoleObjects('ns', raw)).toThrow(
      /placeholder TPS_APP_NAME: pass the catalog's appName/,
    );
    expect(() => fillAppName(raw, 'bad/name')).toThrow(/invalid appName "bad\/name"/);
    // Only the groups and comments carry the placeholder: the Role names are the same for every app.
    const docs = loadAllYaml(raw) as { metadata: { name: string } }[];
    for (const d of docs) expect(d.metadata.name).not.toContain(APP_NAME_PLACEHOLDER);
  });
});

describe('function identities off a tps-deploy cluster', () => {
  test('are not minted without the cluster CA key beside the admin kubeconfig, with an error saying so', async () => {
    const kubeconfig = '/nonexistent-tps-cluster/admin.kubeconfig';
    expect(canMintFunctionIdentities(kubeconfig)).toBe(false);
    await expect(mintFunctionIdentities(kubeconfig, 'payments')).rejects.toThrow(
      /no cluster CA key at \/nonexistent-tps-cluster\/certs\/ca.key: function identities can be minted only for a local cluster started by tps-deploy/,
    );
    await expect(mintFunctionIdentities(kubeconfig, 'bad name')).rejects.toThrow(
      /invalid appName "bad name"/,
    );
  });
});

describe('requestPermission (as kube-apiserver resolves a request)', () => {
  const base = 'https://127.0.0.1:6443';
  test.each([
    ['GET', '/apis/apps/v1/namespaces/ns/deployments/shop', 'apps|deployments|get'],
    ['GET', '/apis/apps/v1/namespaces/ns/deployments?labelSelector=a%3Db', 'apps|deployments|list'],
    ['GET', '/api/v1/namespaces/ns/pods?watch=true', '|pods|watch'],
    ['POST', '/apis/batch/v1/namespaces/ns/jobs', 'batch|jobs|create'],
    ['PATCH', '/api/v1/namespaces/ns/services/shop', '|services|patch'],
    ['PUT', '/apis/apps/v1/namespaces/ns/deployments/shop/scale', 'apps|deployments/scale|update'],
    ['DELETE', '/apis/apps/v1/namespaces/ns/deployments/shop-tps-canary', 'apps|deployments|delete'],
    ['DELETE', '/api/v1/namespaces/ns/pods', '|pods|deletecollection'],
    ['GET', '/api/v1/namespaces/ns/pods/p/log', '|pods/log|get'],
    ['GET', '/api/v1/namespaces', '|namespaces|list'],
  ])('%s %s -> %s', (method, path, expected) => {
    expect(requestPermission(method, `${base}${path}`)?.permission).toBe(expected);
  });

  test('names the namespace, none for cluster-scoped requests, and skips non-resource URLs', () => {
    expect(requestPermission('GET', `${base}/api/v1/namespaces/ns/pods`)?.namespace).toBe('ns');
    expect(requestPermission('GET', `${base}/api/v1/nodes`)?.namespace).toBeNull();
    expect(requestPermission('GET', `${base}/version`)).toBeNull();
  });
});

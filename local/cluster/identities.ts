/**
 * The Kubernetes identities of one app's functions on the local control plane, one per cluster
 * access (functions/contract/tasks.ts, CLUSTER_ACCESS): a client certificate signed by the cluster
 * CA with CN=tps-deploy-<appName>-<access>-functions and O=tps-deploy-<appName>-<access>, the group
 * (infra/names.ts, kubernetesGroup) that the shipped manifest (infra/k8s/tps-deploy-role.yaml)
 * binds to its read or write Role. On EKS the functions' IAM roles are put in the same groups by
 * access entries; here certificates carry them, so the API server's real RBAC decides every call.
 *
 * Identities are minted on demand (any app name) into `<state dir>/identities/`, next to the admin
 * kubeconfig, and reused: minting is idempotent and safe when several processes mint at once
 * (each writes a file of its own and renames it into place).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { CLUSTER_ACCESS_KINDS, type ClusterAccess } from '../../functions/contract/tasks.js';
import { kubernetesGroup } from '../../infra/names.js';
import { signClientCert } from './certs.js';
import { writeKubeconfig } from './kubeconfig.js';

/** The kubeconfig of each cluster access of one app's functions. */
export type FunctionKubeconfigs = Readonly<Record<ClusterAccess, string>>;

/** User name (certificate CN) of an app's functions of one access. */
export function functionUser(appName: string, access: ClusterAccess): string {
  return `${kubernetesGroup(appName, access)}-functions`;
}

/** Where the identities of `appName` live for the cluster of `adminKubeconfig` (minted or not). */
export function functionKubeconfigPaths(adminKubeconfig: string, appName: string): FunctionKubeconfigs {
  const dir = join(dirname(adminKubeconfig), 'identities');
  return {
    read: join(dir, `${appName}-read.kubeconfig`),
    write: join(dir, `${appName}-write.kubeconfig`),
  };
}

/** Whether `adminKubeconfig` is a tps-deploy local cluster's, with the CA key to mint identities. */
export function canMintFunctionIdentities(adminKubeconfig: string): boolean {
  return existsSync(join(dirname(adminKubeconfig), 'certs', 'ca.key'));
}

/**
 * The read and write identities of `appName` on the local cluster whose admin kubeconfig is
 * `adminKubeconfig` (its certs directory, with the CA key, is beside it), minted if missing.
 */
export async function mintFunctionIdentities(
  adminKubeconfig: string,
  appName: string,
): Promise<FunctionKubeconfigs> {
  if (!/^[A-Za-z][A-Za-z0-9-]{0,30}$/.test(appName)) {
    throw new Error(
      `invalid appName ${JSON.stringify(appName)}: use a letter, then up to 30 letters, digits or '-'`,
    );
  }
  const certsDir = join(dirname(adminKubeconfig), 'certs');
  if (!canMintFunctionIdentities(adminKubeconfig)) {
    throw new Error(
      `no cluster CA key at ${join(certsDir, 'ca.key')}: function identities can be minted only for a ` +
        'local cluster started by tps-deploy (npm run cluster -- up)',
    );
  }
  const kc = new KubeConfig();
  kc.loadFromFile(adminKubeconfig);
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error(`${adminKubeconfig} has no current cluster`);
  const paths = functionKubeconfigPaths(adminKubeconfig, appName);
  await mkdir(dirname(paths.read), { recursive: true, mode: 0o700 });
  for (const access of CLUSTER_ACCESS_KINDS) {
    const target = paths[access];
    if (existsSync(target)) continue;
    const stem = `fn-${appName}-${access}-${process.pid}-${randomBytes(4).toString('hex')}`;
    const user = functionUser(appName, access);
    const pair = await signClientCert(certsDir, {
      file: stem,
      commonName: user,
      organizations: [kubernetesGroup(appName, access)],
    });
    const tmp = `${target}.${stem}.tmp`;
    try {
      await writeKubeconfig(tmp, {
        server,
        caFile: join(certsDir, 'ca.crt'),
        certFile: pair.cert,
        keyFile: pair.key,
        contextName: `tps-${appName}-${access}`,
        user,
      });
      await rename(tmp, target);
    } finally {
      await Promise.all([
        rm(pair.cert, { force: true }),
        rm(pair.key, { force: true }),
        rm(tmp, { force: true }),
      ]);
    }
  }
  return paths;
}

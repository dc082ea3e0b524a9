/**
 * Pinned versions of the local control plane's programs and where they are cached. Changing a
 * version here makes `ensureBinaries()` rebuild that program (scripts/build-cluster-bins.sh keeps a
 * `<program>.version` stamp next to each binary).
 */
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

export const K8S_VERSION = 'v1.35.4';
export const ETCD_VERSION = 'v3.6.16';
export const KWOK_VERSION = 'v0.8.0';

export const PROGRAMS = [
  'etcd',
  'kwok',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubectl',
] as const;
export type Program = (typeof PROGRAMS)[number];

/** The version each program must be built at. */
export function pinnedVersion(program: Program): string {
  if (program === 'etcd') return ETCD_VERSION;
  if (program === 'kwok') return KWOK_VERSION;
  return K8S_VERSION;
}

/** `${TPS_CACHE_DIR:-$HOME/.cache/tps-deploy}/cluster` */
export function clusterCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.TPS_CACHE_DIR || join(env.HOME || homedir(), '.cache', 'tps-deploy');
  return join(base, 'cluster');
}

export function binDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(clusterCacheDir(env), 'bin');
}

export function binPath(program: Program, env: NodeJS.ProcessEnv = process.env): string {
  return join(binDir(env), program);
}

/** `${TMPDIR:-/tmp}/tps-deploy-clusters`: one sub-directory per cluster name. */
export function clustersRoot(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.TMPDIR || tmpdir(), 'tps-deploy-clusters');
}

/**
 * Jest global setup: one local control plane per test run (see docs/local-cluster.md).
 *
 * - TPS_KUBECONFIG already set: an externally started cluster is reused and never stopped.
 * - TPS_SKIP_CLUSTER=1, or a run narrowed to paths none of which is under test/integration/:
 *   no cluster; integration tests then fail with a clear message from test/helpers/cluster-env.ts.
 * - otherwise a cluster named `test-<pid>` is started; its coordinates go into process.env
 *   (inherited by the workers) and into the JSON file named by TPS_CLUSTER_ENV. The global
 *   teardown stops it; exit/signal handlers and a watchdog process stop it if the run is aborted.
 */
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { tsImport } from 'tsx/esm/api';
import type { ClusterEnv } from './helpers/cluster-env.js';

/**
 * Jest runs global setup/teardown outside its module system: Node itself resolves their imports
 * and cannot load the TypeScript sources. tsx's loader can, so the cluster module comes through it.
 */
export async function loadClusterModule(): Promise<typeof import('../local/cluster/index.js')> {
  return tsImport('../local/cluster/index.ts', import.meta.url);
}

export interface GlobalClusterHandle {
  name: string;
  managed: boolean;
  envFile: string;
  envFileOwned: boolean;
  cleanup: () => void;
}

declare global {
  var __TPS_CLUSTER__: GlobalClusterHandle | undefined;
}

/**
 * Puts the cluster's coordinates into process.env (Jest workers inherit it) and into a JSON file
 * whose path goes into TPS_CLUSTER_ENV (an existing TPS_CLUSTER_ENV path is honoured).
 */
function publish(env: ClusterEnv, defaultFile: string): { envFile: string; envFileOwned: boolean } {
  process.env.TPS_KUBECONFIG = env.kubeconfig;
  process.env.TPS_RESTRICTED_KUBECONFIG = env.restrictedKubeconfig;
  process.env.TPS_CLUSTER_NAME = env.clusterName;
  process.env.TPS_KUBECTL = env.kubectl;
  process.env.TPS_CLUSTER_MANAGED = env.managed ? '1' : '0';
  const envFileOwned = !process.env.TPS_CLUSTER_ENV;
  const envFile = process.env.TPS_CLUSTER_ENV || defaultFile;
  writeFileSync(envFile, `${JSON.stringify(env, null, 2)}\n`);
  process.env.TPS_CLUSTER_ENV = envFile;
  return { envFile, envFileOwned };
}

/** The parts of Jest's GlobalConfig this setup reads (structural, to avoid a @jest/types import). */
interface JestGlobalConfigLike {
  rootDir: string;
  testPathPatterns?: {
    isSet(): boolean;
    toExecutor(options: { rootDir: string }): { isMatch(absPath: string): boolean };
  };
}

/**
 * False only when the run was narrowed to paths (`jest test/unit/x.test.ts`) and none of them
 * matches a file under test/integration/: a unit-only run then does not start a cluster.
 */
export function runNeedsCluster(config: JestGlobalConfigLike | undefined): boolean {
  const patterns = config?.testPathPatterns;
  if (!config || !patterns?.isSet()) return true;
  const dir = join(config.rootDir, 'test', 'integration');
  let files: string[];
  try {
    files = readdirSync(dir, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.test.ts'))
      .map((f) => join(dir, f));
  } catch {
    return false;
  }
  try {
    const executor = patterns.toExecutor({ rootDir: config.rootDir });
    return files.some((f) => executor.isMatch(f));
  } catch {
    return true;
  }
}

export default async function globalSetup(globalConfig?: JestGlobalConfigLike): Promise<void> {
  // CDK's built-in CloudFormation validation runs at every synth (about 2 s, 5 s for the first in
  // a process) and, without the @aws-cdk/core:validateAgainstDefaultRules flag, only warns: no
  // test could fail on it. The tests synthesize hundreds of times, so the workers (which inherit
  // this) skip it; test/infra/cfn-lint.test.ts lints the templates with cfn-lint instead, and the
  // real `infra/app.ts` run of test/infra/app.test.ts (CDK_* variables removed) keeps the default.
  process.env.CDK_VALIDATION ??= 'false';
  if (process.env.TPS_SKIP_CLUSTER === '1' || !runNeedsCluster(globalConfig)) return;

  const { binPath, startCluster, stopClusterSync } = await loadClusterModule();
  if (process.env.TPS_KUBECONFIG) {
    // A cluster from `npm run cluster -- up` keeps restricted.kubeconfig next to admin.kubeconfig.
    const sibling = join(dirname(process.env.TPS_KUBECONFIG), 'restricted.kubeconfig');
    const restricted = process.env.TPS_RESTRICTED_KUBECONFIG || (existsSync(sibling) ? sibling : undefined);
    if (!restricted) {
      throw new Error('TPS_KUBECONFIG is set but TPS_RESTRICTED_KUBECONFIG is not (the restricted identity)');
    }
    const env: ClusterEnv = {
      kubeconfig: process.env.TPS_KUBECONFIG,
      restrictedKubeconfig: restricted,
      clusterName: process.env.TPS_CLUSTER_NAME || 'external',
      kubectl: process.env.TPS_KUBECTL || binPath('kubectl'),
      managed: false,
    };
    const file = publish(env, join(tmpdir(), `tps-deploy-cluster-env-${process.pid}.json`));
    const removeEnvFile = () => {
      if (file.envFileOwned) rmSync(file.envFile, { force: true });
    };
    process.once('exit', removeEnvFile);
    const cleanup = () => process.off('exit', removeEnvFile);
    globalThis.__TPS_CLUSTER__ = { name: env.clusterName, managed: false, ...file, cleanup };
    return;
  }

  const name = `test-${process.pid}`;
  // Registered before starting, so an interrupt during start-up also cleans up.
  const onExit = () => stopClusterSync(name);
  const onSignal = (signal: NodeJS.Signals) => {
    stopClusterSync(name);
    process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGHUP' ? 1 : 15));
  };
  process.once('exit', onExit);
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(s, onSignal);
  const cleanup = () => {
    process.off('exit', onExit);
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, onSignal);
  };

  const info = await startCluster({ name, ownerPid: process.pid });
  // Inside the state directory: removed with it by teardown, exit handler or watchdog.
  const file = publish(
    {
      kubeconfig: info.kubeconfig,
      restrictedKubeconfig: info.restrictedKubeconfig,
      clusterName: info.name,
      kubectl: info.kubectl,
      managed: true,
    },
    join(info.stateDir, 'cluster-env.json'),
  );
  globalThis.__TPS_CLUSTER__ = { name, managed: true, ...file, cleanup };
}

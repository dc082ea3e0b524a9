/** Jest global teardown: stops the cluster the global setup started (never an external one). */
import { rmSync } from 'node:fs';
import { tsImport } from 'tsx/esm/api';

export default async function globalTeardown(): Promise<void> {
  const handle = globalThis.__TPS_CLUSTER__;
  if (!handle) return;
  globalThis.__TPS_CLUSTER__ = undefined;
  try {
    if (handle.managed) {
      // Loaded through tsx for the same reason as in global-setup.ts.
      const cluster: typeof import('../local/cluster/index.js') = await tsImport(
        '../local/cluster/index.ts',
        import.meta.url,
      );
      await cluster.stopCluster(handle.name);
    }
  } finally {
    handle.cleanup();
    if (handle.envFileOwned) rmSync(handle.envFile, { force: true });
  }
}

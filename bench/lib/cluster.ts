/**
 * The benchmarks' local control plane: one cluster per `npm run bench`, named `bench-<pid>`, owned
 * by this process (its watchdog stops it even after a kill -9) and always stopped at the end.
 * `BENCH_REUSE_CLUSTER=<name>` uses (or starts) a cluster of that name and leaves it running, for
 * working on the benchmarks themselves.
 */
import { type ClusterInfo, startCluster, stopCluster } from '../../local/cluster/index.js';

let current: { name: string; owned: boolean; info: Promise<ClusterInfo> } | undefined;

/** The run's cluster, started on first use. */
export function benchCluster(): Promise<ClusterInfo> {
  if (!current) {
    const reuse = process.env.BENCH_REUSE_CLUSTER;
    const name = reuse ?? `bench-${process.pid}`;
    const log = (l: string) => process.stderr.write(`  [cluster ${name}] ${l}\n`);
    current = {
      name,
      owned: !reuse,
      info: reuse
        ? startCluster({ name, ifExists: 'reuse', log })
        : startCluster({ name, ownerPid: process.pid, log }),
    };
  }
  return current.info;
}

/** Stops the run's cluster if this run started it. */
export async function stopBenchCluster(): Promise<void> {
  if (!current) return;
  const { name, owned, info } = current;
  current = undefined;
  await info.catch(() => undefined);
  if (owned) await stopCluster(name);
}

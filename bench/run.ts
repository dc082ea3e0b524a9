/**
 * `npm run bench [-- <name> ...] [--quick]`: runs the benchmarks (all, or the named ones) and
 * writes bench/results/<name>.json for each. The cluster benchmarks share one local control plane,
 * `bench-<pid>`, started on first use and always stopped. `--quick` runs fewer repetitions (for
 * working on the benchmarks; the committed results come from a full run).
 *
 * Benchmarks are never timed tests: `npm test` does not run them. The machine is shared, so each
 * result records the load average, `nproc`, the CPU model and the date, and compares within a run.
 */
import { parseArgs } from 'node:util';
import { coldstartBenchmark } from './coldstart.js';
import { costBenchmark } from './cost.js';
import { faultsBenchmark } from './faults.js';
import { benchCluster, stopBenchCluster } from './lib/cluster.js';
import { load1 } from './lib/machine.js';
import { observabilityBenchmark } from './observability.js';
import { overheadBenchmark } from './overhead.js';
import { rollbackBenchmark } from './rollback.js';
import { scaleBenchmark } from './scale.js';
import { runVerdicts } from './verdicts.js';

/** Every benchmark, in the order a full run takes them. */
export const BENCHMARKS = {
  coldstart: (quick: boolean) => coldstartBenchmark({ loads: quick ? 3 : 20 }),
  observability: (quick: boolean) => observabilityBenchmark({ loads: quick ? 3 : 30 }),
  cost: (_quick: boolean) => costBenchmark(),
  overhead: (quick: boolean) => overheadBenchmark({ releases: quick ? 1 : 5 }),
  rollback: (quick: boolean) => rollbackBenchmark({ runs: quick ? 2 : 15 }),
  scale: (quick: boolean) => scaleBenchmark({ services: quick ? 6 : 50 }),
  verdicts: async (quick: boolean) => runVerdicts({ quick, cluster: await benchCluster() }),
  faults: (quick: boolean) => faultsBenchmark({ rounds: quick ? 1 : 3, quick }),
} as const satisfies Record<string, (quick: boolean) => Promise<string>>;

type Name = keyof typeof BENCHMARKS;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: { quick: { type: 'boolean', default: false } },
    allowPositionals: true,
  });
  const unknown = positionals.filter((p) => !Object.hasOwn(BENCHMARKS, p));
  if (unknown.length > 0) {
    throw new Error(
      `unknown benchmark ${unknown.join(', ')}; choose from ${Object.keys(BENCHMARKS).join(', ')}`,
    );
  }
  const names = (positionals.length > 0 ? positionals : Object.keys(BENCHMARKS)) as Name[];
  const stop = () => {
    void stopBenchCluster().finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const failed: string[] = [];
  try {
    for (const name of names) {
      const t0 = Date.now();
      process.stdout.write(`==> ${name} (load ${load1()})\n`);
      try {
        const path = await BENCHMARKS[name](values.quick ?? false);
        process.stdout.write(`    wrote ${path} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
      } catch (e) {
        failed.push(name);
        process.stderr.write(
          `    ${name} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
        );
      }
    }
  } finally {
    await stopBenchCluster();
  }
  if (failed.length > 0) {
    process.stderr.write(`benchmarks that failed: ${failed.join(', ')}\n`);
    process.exitCode = 1;
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});

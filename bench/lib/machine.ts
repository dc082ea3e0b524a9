/**
 * What machine a benchmark ran on, written into every result file: the runs share machines with
 * other work, so the numbers only mean something next to the load they were measured under.
 */
import { cpus, loadavg, totalmem } from 'node:os';

/** The machine and its load at one moment. */
export interface MachineInfo {
  readonly date: string;
  readonly nproc: number;
  readonly cpuModel: string;
  readonly memoryGb: number;
  readonly node: string;
  readonly platform: string;
  /** 1, 5 and 15 minute load averages. */
  readonly loadAverage: readonly [number, number, number];
}

/** The machine now. */
export function machineInfo(): MachineInfo {
  const [one, five, fifteen] = loadavg();
  return {
    date: new Date().toISOString(),
    nproc: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    loadAverage: [round2(one ?? 0), round2(five ?? 0), round2(fifteen ?? 0)],
  };
}

/** The 1-minute load average now. */
export function load1(): number {
  return round2(loadavg()[0] ?? 0);
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

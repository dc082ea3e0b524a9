import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type MachineInfo, machineInfo } from './machine.js';

/** Where result files go: bench/results/<name>.json. */
export const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));

/** A target and whether this run met it, with the reason when it did not. */
export interface TargetCheck {
  readonly target: string;
  readonly met: boolean;
  readonly detail: string;
}

/** Every result file starts with these fields. */
export interface ResultHeader {
  readonly benchmark: string;
  /** Machine and load when the benchmark started. */
  readonly machine: MachineInfo;
  /** Load average when it ended. */
  readonly loadAverageEnd: MachineInfo['loadAverage'];
  readonly durationSeconds: number;
  /** How the numbers were obtained, in words. */
  readonly method: readonly string[];
  readonly targets: readonly TargetCheck[];
}

/** Writes bench/results/<name>.json and returns its path. */
export function writeResult(
  name: string,
  started: { machine: MachineInfo; at: number },
  body: { method: readonly string[]; targets: readonly TargetCheck[] } & Record<string, unknown>,
): string {
  const { method, targets, ...rest } = body;
  const header: ResultHeader = {
    benchmark: name,
    machine: started.machine,
    loadAverageEnd: machineInfo().loadAverage,
    durationSeconds: Math.round((Date.now() - started.at) / 100) / 10,
    method,
    targets,
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${name}.json`);
  writeFileSync(path, `${JSON.stringify({ ...header, ...rest }, null, 2)}\n`);
  return path;
}

/** Marks the start of a benchmark: the machine now and the wall clock. */
export function startMark(): { machine: MachineInfo; at: number } {
  return { machine: machineInfo(), at: Date.now() };
}

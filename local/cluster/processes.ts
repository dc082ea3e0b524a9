/**
 * Detached child processes with logs in files, identified by pid + kernel start time so a pid
 * reused after a reboot is never mistaken for one of ours (and never signalled).
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

export interface ProcessRef {
  /** Also the process group id: every process is spawned as a group leader (detached). */
  pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks since boot); guards against pid reuse. */
  startTicks: number;
  /** Executable path, for humans. */
  command: string;
  /** Log file (stdout + stderr). */
  log: string;
}

interface ProcStat {
  state: string;
  startTicks: number;
}

function procStat(pid: number): ProcStat | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm (field 2) may contain spaces and parentheses: split after the last ')'.
    const rest = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0] ?? '?', startTicks: Number(rest[19]) };
  } catch {
    return undefined;
  }
}

/** True while the process exists, is not a zombie and is the same process we started. */
export function isAlive(ref: Pick<ProcessRef, 'pid' | 'startTicks'>): boolean {
  const st = procStat(ref.pid);
  if (!st) return false;
  if (st.state === 'Z' || st.state === 'X') return false;
  return st.startTicks === ref.startTicks;
}

/** Starts `command` in its own process group, stdout+stderr appended to `log`. */
export function spawnDetached(
  command: string,
  args: string[],
  opts: { log: string; cwd: string; env?: NodeJS.ProcessEnv },
): ProcessRef {
  const fd = openSync(opts.log, 'a');
  try {
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    // A spawn failure (ENOENT, EACCES) is reported asynchronously; the pid is then undefined.
    child.on('error', () => {});
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start ${command}`);
    const st = procStat(child.pid);
    return { pid: child.pid, startTicks: st?.startTicks ?? -1, command, log: opts.log };
  } finally {
    closeSync(fd);
  }
}

function signal(ref: ProcessRef, sig: NodeJS.Signals): void {
  if (!isAlive(ref)) return;
  try {
    process.kill(-ref.pid, sig); // the whole group (the program and anything it started)
  } catch {
    try {
      process.kill(ref.pid, sig);
    } catch {
      // already gone
    }
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** SIGTERM to every group, SIGKILL to whatever is still alive after `graceMs`. */
export async function stopProcesses(refs: ProcessRef[], graceMs = 5000): Promise<void> {
  for (const r of refs) signal(r, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (refs.some(isAlive) && Date.now() < deadline) await sleep(50);
  for (const r of refs) signal(r, 'SIGKILL');
  const killDeadline = Date.now() + 5000;
  while (refs.some(isAlive) && Date.now() < killDeadline) await sleep(20);
}

/**
 * Synchronous variant for `process.on('exit')` handlers, where no event loop turn is left:
 * SIGTERM, a short blocking wait, then SIGKILL.
 */
export function stopProcessesSync(refs: ProcessRef[], graceMs = 2000): void {
  for (const r of refs) signal(r, 'SIGTERM');
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + graceMs;
  while (refs.some(isAlive) && Date.now() < deadline) Atomics.wait(pause, 0, 0, 25);
  for (const r of refs) signal(r, 'SIGKILL');
}

/** `n` distinct free TCP ports on 127.0.0.1 (all held open at once, then released). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<import('node:net').Server>((resolve, reject) => {
          const s = createServer();
          s.unref();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const addr = s.address();
    if (addr === null || typeof addr === 'string') throw new Error('unexpected server address');
    return addr.port;
  });
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}

/** The last `lines` lines of a log file (for error messages). */
export function tailFile(path: string, lines = 25): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';

/** The kubectl the local cluster was built with (TPS_KUBECTL when set, as the runbook's path). */
export function kubectlPath(fallback: string): string {
  return process.env.TPS_KUBECTL ?? fallback;
}

/** Runs kubectl; resolves with its output and the performance.now() time it exited. */
export function runKubectl(
  kubectl: string,
  kubeconfig: string,
  args: readonly string[],
): Promise<{ stdout: string; exitedAt: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(kubectl, ['--kubeconfig', kubeconfig, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const exitedAt = performance.now();
      if (code === 0) resolve({ stdout, exitedAt });
      else reject(new Error(`kubectl ${args.join(' ')} exited ${code}: ${stderr.trim()}`));
    });
  });
}

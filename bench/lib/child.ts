/** Loading a function's bundle in a fresh Node process, as a Lambda cold start does. */
import { spawn } from 'node:child_process';

/** The environment every task function gets (infra/constructs/task-functions.ts), for a bench. */
const FUNCTION_ENV = {
  AWS_REGION: 'us-east-1',
  TPS_TABLE_NAME: 'tps-deploy-deployments',
  TPS_TOPIC_ARN: 'arn:aws:sns:us-east-1:123456789012:tps-deploy',
  TPS_TASK: 'bench',
  POWERTOOLS_SERVICE_NAME: 'tps-deploy',
} as const;

/**
 * Runs `script` (an ES module that imports `process.env.BENCH_BUNDLE` and writes one JSON line)
 * in a fresh Node process with the function's environment plus `env`; answers what it wrote.
 */
export function loadInChild<T>(script: string, file: string, env: Record<string, string> = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: { PATH: process.env.PATH ?? '', BENCH_BUNDLE: file, ...FUNCTION_ENV, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('close', (code) => {
      if (code !== 0)
        return reject(new Error(`loading ${file} failed (${code}): ${err.trim().slice(0, 500)}`));
      resolve(JSON.parse(out) as T);
    });
  });
}

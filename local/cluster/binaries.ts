/**
 * Makes sure the pinned control-plane programs exist in the cache, building them from the Go
 * module proxy with scripts/build-cluster-bins.sh when they do not. A fast no-op when all are
 * present at the pinned versions.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  binPath,
  clusterCacheDir,
  ETCD_VERSION,
  K8S_VERSION,
  KWOK_VERSION,
  PROGRAMS,
  type Program,
  pinnedVersion,
} from './versions.js';

export type BinaryPaths = Record<Program, string>;

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BUILD_SCRIPT = join(repoRoot, 'scripts', 'build-cluster-bins.sh');

function isPresent(program: Program, env: NodeJS.ProcessEnv): boolean {
  const path = binPath(program, env);
  try {
    accessSync(path, constants.X_OK);
    return readFileSync(`${path}.version`, 'utf8').trim() === pinnedVersion(program);
  } catch {
    return false;
  }
}

/** Programs missing from the cache or built at another version than the pinned one. */
export function missingBinaries(env: NodeJS.ProcessEnv = process.env): Program[] {
  return PROGRAMS.filter((p) => !isPresent(p, env));
}

export function binaryPaths(env: NodeJS.ProcessEnv = process.env): BinaryPaths {
  return Object.fromEntries(PROGRAMS.map((p) => [p, binPath(p, env)])) as BinaryPaths;
}

/**
 * Returns the paths of all programs, building the missing ones first. The build's progress
 * goes to this process's stderr. Concurrent callers serialize on a lock file (flock), so two
 * test runs never compile the same program twice.
 */
export async function ensureBinaries(env: NodeJS.ProcessEnv = process.env): Promise<BinaryPaths> {
  if (missingBinaries(env).length === 0) return binaryPaths(env);
  const cache = clusterCacheDir(env);
  mkdirSync(cache, { recursive: true });
  const args = [
    join(cache, '.build.lock'),
    'bash',
    BUILD_SCRIPT,
    cache,
    K8S_VERSION,
    ETCD_VERSION,
    KWOK_VERSION,
  ];
  process.stderr.write(
    `[cluster] building missing programs (${missingBinaries(env).join(', ')}) into ${cache}; ` +
      'the first build compiles Kubernetes from source and takes a while\n',
  );
  await new Promise<void>((resolvePromise, reject) => {
    const child = spawn('flock', args, { stdio: ['ignore', 2, 2], env });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolvePromise();
      else reject(new Error(`${BUILD_SCRIPT} failed (exit ${code ?? signal})`));
    });
  });
  const still = missingBinaries(env);
  if (still.length > 0)
    throw new Error(`after the build these programs are still missing: ${still.join(', ')}`);
  return binaryPaths(env);
}

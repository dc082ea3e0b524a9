/**
 * Makes sure the pinned control-plane programs exist in the cache, building them from the Go
 * module proxy with scripts/build-cluster-bins.sh when they do not. A fast no-op when all are
 * present at the pinned versions.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  assetPath,
  binPath,
  CORE_PROGRAMS,
  clusterCacheDir,
  ETCD_VERSION,
  K8S_VERSION,
  KWOK_VERSION,
  METRICS_ASSETS,
  METRICS_SERVER_VERSION,
  type MetricsAsset,
  PROGRAMS,
  type Program,
  pinnedVersion,
} from './versions.js';

export interface BinaryOptions {
  /** Also metrics-server and the upstream manifests the metrics wiring applies. @default false */
  readonly metrics?: boolean;
}

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

function wanted(opts: BinaryOptions): readonly Program[] {
  return opts.metrics ? PROGRAMS : CORE_PROGRAMS;
}

/**
 * Programs missing from the cache or built at another version than the pinned one. With
 * `metrics`, a missing upstream manifest counts as a missing `metrics-server`.
 */
export function missingBinaries(env: NodeJS.ProcessEnv = process.env, opts: BinaryOptions = {}): Program[] {
  const missing = wanted(opts).filter((p) => !isPresent(p, env));
  const assetsMissing = (Object.keys(METRICS_ASSETS) as MetricsAsset[]).some(
    (a) => !existsSync(assetPath(a, env)),
  );
  if (opts.metrics && assetsMissing && !missing.includes('metrics-server')) missing.push('metrics-server');
  return missing;
}

export function binaryPaths(env: NodeJS.ProcessEnv = process.env): BinaryPaths {
  return Object.fromEntries(PROGRAMS.map((p) => [p, binPath(p, env)])) as BinaryPaths;
}

/**
 * Returns the paths of all programs, building the missing ones first. The build's progress
 * goes to this process's stderr. Concurrent callers serialize on a lock file (flock), so two
 * test runs never compile the same program twice.
 */
export async function ensureBinaries(
  env: NodeJS.ProcessEnv = process.env,
  opts: BinaryOptions = {},
): Promise<BinaryPaths> {
  if (missingBinaries(env, opts).length === 0) return binaryPaths(env);
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
    ...(opts.metrics
      ? [
          METRICS_SERVER_VERSION,
          ...Object.values(METRICS_ASSETS).map(([mod, version, path]) => `${mod}@${version}:${path}`),
        ]
      : []),
  ];
  process.stderr.write(
    `[cluster] building missing programs (${missingBinaries(env, opts).join(', ')}) into ${cache}; ` +
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
  const still = missingBinaries(env, opts);
  if (still.length > 0)
    throw new Error(`after the build these programs are still missing: ${still.join(', ')}`);
  return binaryPaths(env);
}

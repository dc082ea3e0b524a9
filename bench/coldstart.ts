import { mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile, type Plugin } from 'esbuild';
import { CLUSTER_TASKS, TASK_KEYS, TASKS, type TaskKey } from '../functions/contract/tasks.js';
import { ESM_BANNER } from '../infra/constructs/task-functions.js';
import { loadInChild } from './lib/child.js';
import { startMark, type TargetCheck, writeResult } from './lib/results.js';
import { percentile, round, summarize } from './lib/stats.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const say = (s: string) => process.stdout.write(`  ${s}\n`);

/** The tasks whose functions bundle the Kubernetes client (one list, in statemachine/tasks.ts). */
const CLUSTER_TASK_SET: ReadonlySet<TaskKey> = new Set<TaskKey>(CLUSTER_TASKS);

/** A bundling option. */
interface Variant {
  readonly name: string;
  readonly description: string;
  readonly external: readonly string[];
  /**
   * Which functions get an inert stand-in for @kubernetes/client-node: none, the ones that never
   * reach the cluster (a real option), or all (a lower bound for a hand-written Kubernetes client).
   */
  readonly withoutClientNode: 'none' | 'non-cluster' | 'all';
}

const VARIANTS: readonly Variant[] = [
  {
    name: 'shipped',
    description:
      'as infra/constructs/task-functions.ts bundles today (bundleAwsSDK: true, externalModules: [])',
    external: [],
    withoutClientNode: 'none',
  },
  {
    name: 'sdk-external',
    description: "@aws-sdk/* left to the nodejs24.x runtime (NodejsFunction's default, bundleAwsSDK: false)",
    external: ['@aws-sdk/*'],
    withoutClientNode: 'none',
  },
  {
    name: 'split',
    description: 'SDK bundled; handlers that never reach the cluster built without @kubernetes/client-node',
    external: [],
    withoutClientNode: 'non-cluster',
  },
  {
    name: 'split+sdk-external',
    description: 'both',
    external: ['@aws-sdk/*'],
    withoutClientNode: 'non-cluster',
  },
  {
    name: 'no-client-node (lower bound)',
    description:
      'SDK external and no @kubernetes/client-node in any function: the floor a small hand-written Kubernetes REST client (a few KB) would approach; not runnable as is',
    external: ['@aws-sdk/*'],
    withoutClientNode: 'all',
  },
];

/**
 * Stands in for @kubernetes/client-node in a handler that never calls it: every export of the real
 * package becomes one inert proxy (callable, constructible, any property is itself), so
 * module-level uses such as `setHeaderOptions(..., PatchStrategy.JsonPatch)` still evaluate.
 */
async function noClientNode(): Promise<Plugin> {
  const names = Object.keys(await import('@kubernetes/client-node')).filter((n) =>
    /^[A-Za-z_$][\w$]*$/.test(n),
  );
  const contents = [
    "const f = new Proxy(function () {}, { get: (_t, k) => (k === 'then' ? undefined : f), apply: () => f, construct: () => f });",
    ...names.map((n) => `export const ${n} = f;`),
  ].join('\n');
  return {
    name: 'no-client-node',
    setup(b) {
      b.onResolve({ filter: /^@kubernetes\/client-node$/ }, () => ({
        path: 'client-node',
        namespace: 'stub',
      }));
      b.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({ contents, loader: 'js' }));
    },
  };
}

interface Bundle {
  readonly task: TaskKey;
  readonly variant: string;
  readonly file: string;
  readonly bytes: number;
  readonly mapBytes: number;
  readonly metafile: Metafile;
}

async function bundle(task: TaskKey, v: Variant, outDir: string): Promise<Bundle> {
  const file = join(outDir, v.name.replace(/[^\w+-]/g, '_'), task, 'index.mjs');
  const stub =
    v.withoutClientNode === 'all' || (v.withoutClientNode === 'non-cluster' && !CLUSTER_TASK_SET.has(task));
  const r = await build({
    entryPoints: [join(ROOT, TASKS[task].entry)],
    outfile: file,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    mainFields: ['module', 'main'],
    banner: { js: ESM_BANNER },
    minify: true,
    sourcemap: true,
    external: [...v.external],
    plugins: stub ? [await noClientNode()] : [],
    metafile: true,
    logLevel: 'error',
  });
  return {
    task,
    variant: v.name,
    file,
    bytes: statSync(file).size,
    mapBytes: statSync(`${file}.map`).size,
    metafile: r.metafile,
  };
}

const CHILD = [
  'const t0 = performance.now();',
  'const m = await import(process.env.BENCH_BUNDLE);',
  'const t1 = performance.now();',
  'if (typeof m.handler !== "function") throw new Error("no handler export");',
  'process.stdout.write(JSON.stringify({ initMs: t1 - t0 }));',
].join('\n');

/** Loads a bundle in a fresh Node process; the child's own measure of `await import()`, in ms. */
async function loadOnce(file: string, sourceMaps: boolean): Promise<number> {
  // What the functions run with (task-functions.ts sets it in every function's environment).
  const env: Record<string, string> = sourceMaps ? { NODE_OPTIONS: '--enable-source-maps' } : {};
  return (await loadInChild<{ initMs: number }>(CHILD, file, env)).initMs;
}

async function initTimes(file: string, loads: number, sourceMaps: boolean): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < loads; i++) out.push(await loadOnce(file, sourceMaps));
  return out;
}

/** Bytes in one output by package (`project` for this repository's own files). */
function bytesByPackage(meta: Metafile): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of Object.values(meta.outputs)) {
    for (const [path, info] of Object.entries(o.inputs)) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
      const key = m ? m[1]! : path.startsWith('stub:') ? 'client-node stub' : 'project';
      out[key] = (out[key] ?? 0) + info.bytesInOutput;
    }
  }
  return out;
}

/** Package groups that matter for the decision. */
function groups(byPkg: Record<string, number>): Record<string, number> {
  const g: Record<string, number> = {};
  for (const [pkg, bytes] of Object.entries(byPkg)) {
    const key = pkg.startsWith('@aws-sdk/')
      ? '@aws-sdk/*'
      : pkg.startsWith('@smithy/') ||
          pkg.startsWith('@aws-crypto/') ||
          pkg === 'tslib' ||
          pkg === 'fast-xml-parser' ||
          pkg === 'strnum' ||
          pkg === 'bowser' ||
          pkg === 'uuid'
        ? '@smithy/*, @aws-crypto/* and SDK helpers'
        : pkg === '@kubernetes/client-node' ||
            [
              'undici',
              'openid-client',
              'jose',
              'oauth4webapi',
              'js-yaml',
              'jsonpath-plus',
              'ws',
              'isomorphic-ws',
              'socks',
              'socks-proxy-agent',
              'hpagent',
              'form-data',
              'tar-fs',
              'tar-stream',
              'stream-buffers',
              'rfc4648',
              'smart-buffer',
              'ip-address',
              'agent-base',
              'debug',
              'ms',
              'streamx',
              'pump',
              'end-of-stream',
              'once',
              'wrappy',
              'b4a',
              'fast-fifo',
              'text-decoder',
              'bare-events',
              'queue-tick',
              'mime-types',
              'mime-db',
              'asynckit',
              'combined-stream',
              'delayed-stream',
              'es-set-tostringtag',
              '@jsep-plugin/assignment',
              '@jsep-plugin/regex',
              'jsep',
            ].includes(pkg)
          ? '@kubernetes/client-node and its dependencies'
          : pkg === 'project'
            ? 'project (functions/, statemachine/, tps.config.ts)'
            : 'other';
    g[key] = (g[key] ?? 0) + bytes;
  }
  return Object.fromEntries(Object.entries(g).sort((a, b) => b[1] - a[1]));
}

export async function coldstartBenchmark(opts: { loads?: number } = {}): Promise<string> {
  const loads = opts.loads ?? 20;
  const mark = startMark();
  const dir = mkdtempSync(join(tmpdir(), 'tps-bench-coldstart-'));
  // Externalized packages resolve from the temp dir as the runtime's would from /var/runtime.
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  try {
    const bundles: Bundle[] = [];
    for (const v of VARIANTS) {
      for (const task of TASK_KEYS) bundles.push(await bundle(task, v, dir));
      say(`bundled ${TASK_KEYS.length} functions (${v.name})`);
    }
    const shipped = bundles.filter((b) => b.variant === 'shipped');
    // Every function, as shipped: bytes and init.
    const functions: {
      name: string;
      bytes: number;
      mapBytes: number;
      initMs: number;
      initP95Ms: number;
      reachesCluster: boolean;
    }[] = [];
    for (const b of shipped) {
      const times = await initTimes(b.file, loads, true);
      functions.push({
        name: b.task,
        bytes: b.bytes,
        mapBytes: b.mapBytes,
        initMs: round(percentile(times, 50), 1),
        initP95Ms: round(percentile(times, 95), 1),
        reachesCluster: CLUSTER_TASK_SET.has(b.task),
      });
      say(
        `${b.task.padEnd(24)} ${(b.bytes / 1e6).toFixed(2)} MB  init p50 ${percentile(times, 50).toFixed(0)} ms`,
      );
    }
    // The options, on one function that reaches the cluster and one that does not.
    const probes: TaskKey[] = ['shiftTraffic', 'completeRelease'];
    const options = [];
    for (const v of VARIANTS) {
      const mine = bundles.filter((b) => b.variant === v.name);
      const probe: Record<
        string,
        {
          bytes: number;
          initMs: ReturnType<typeof summarize>;
          initWithoutSourceMapsMs: ReturnType<typeof summarize>;
        }
      > = {};
      for (const task of probes) {
        const b = mine.find((x) => x.task === task)!;
        const withMaps = await initTimes(b.file, loads, true);
        const withoutMaps = await initTimes(b.file, loads, false);
        probe[task] = {
          bytes: b.bytes,
          initMs: summarize(withMaps, 1),
          initWithoutSourceMapsMs: summarize(withoutMaps, 1),
        };
        say(
          `${v.name.padEnd(20)} ${task.padEnd(16)} ${(b.bytes / 1e6).toFixed(2)} MB  init p50 ${percentile(withMaps, 50).toFixed(0)} ms (without --enable-source-maps ${percentile(withoutMaps, 50).toFixed(0)} ms)`,
        );
      }
      const sizes = mine.map((b) => b.bytes);
      options.push({
        name: v.name,
        description: v.description,
        bytes: {
          clusterFunctions: summarize(
            mine.filter((b) => CLUSTER_TASK_SET.has(b.task)).map((b) => b.bytes),
            0,
          ),
          otherFunctions: summarize(
            mine.filter((b) => !CLUSTER_TASK_SET.has(b.task)).map((b) => b.bytes),
            0,
          ),
          total: sizes.reduce((s, x) => s + x, 0),
        },
        probes: probe,
        composition: groups(bytesByPackage(mine.find((b) => b.task === 'shiftTraffic')!.metafile)),
      });
    }
    const shippedComposition = bytesByPackage(shipped.find((b) => b.task === 'shiftTraffic')!.metafile);
    const topPackages = Object.entries(shippedComposition)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([pkg, bytes]) => ({ package: pkg, bytes }));
    const maxBytes = Math.max(...functions.map((f) => f.bytes));
    const maxInit = Math.max(...functions.map((f) => f.initMs));
    const best = options.find((o) => o.name === 'split+sdk-external')!;
    const targets: TargetCheck[] = [
      {
        target: 'bundle under 1 MB where the Kubernetes client allows',
        met: maxBytes < 1_000_000,
        detail: `shipped: largest ${(maxBytes / 1e6).toFixed(2)} MB; with split+sdk-external: cluster functions ${(best.bytes.clusterFunctions.max / 1e6).toFixed(2)} MB, others ${(best.bytes.otherFunctions.max / 1e6).toFixed(2)} MB`,
      },
      {
        target: 'module init under 150 ms (p50)',
        met: maxInit < 150,
        detail: `shipped: slowest function p50 ${maxInit} ms (with --enable-source-maps, as deployed)`,
      },
    ];
    return writeResult('coldstart', mark, {
      method: [
        `Every task of statemachine/tasks.ts bundled with esbuild as infra/constructs/task-functions.ts bundles it: ESM, the createRequire banner (ESM_BANNER imported from there), minify, source map, target node24, mainFields module/main, the AWS SDK bundled, platform node; bytes = the .mjs file (the .map beside it is not loaded unless an error's stack is mapped).`,
        `Each bundle loaded ${loads} times, each in a fresh Node ${process.version} process (this machine, x86-64, not Lambda's arm64): the child takes performance.now() around \`await import(bundle)\` and reports it. The environment is the function's: NODE_OPTIONS=--enable-source-maps (task-functions.ts sets it), AWS_REGION and the TPS_ variables. Process start-up and the Lambda runtime's own bootstrap are not included. p50 and p95 by nearest rank.`,
        `Options, measured on shiftTraffic (reaches the cluster) and completeRelease (does not), with and without --enable-source-maps: ${VARIANTS.map((v) => `${v.name}: ${v.description}`).join('; ')}. For sdk-external, @aws-sdk/* is loaded from node_modules (a symlink beside the bundles), as the runtime loads its own copy; the runtime's SDK version is whatever it carries.`,
        'Bytes by package from the esbuild metafile (bytesInOutput).',
      ],
      targets,
      functions,
      options,
      shippedComposition: { shiftTraffic: groups(shippedComposition), topPackages },
      clusterTasks: [...CLUSTER_TASKS],
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

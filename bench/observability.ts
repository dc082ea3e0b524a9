import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { TASKS, type TaskKey } from '../functions/contract/tasks.js';
import { ESM_BANNER } from '../infra/constructs/task-functions.js';
import { loadInChild } from './lib/child.js';
import { RESULTS_DIR, startMark, type TargetCheck, writeResult } from './lib/results.js';
import { percentile, ratio, round, summarize } from './lib/stats.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const say = (s: string) => process.stdout.write(`  ${s}\n`);
const TRACER = '@aws-lambda-powertools/tracer';
/** The cold-start budget of the functions (p50 module init). */
const BUDGET_MS = 150;
/** Lambda's own variables, so the tracer sets itself up as it would in Lambda. */
const LAMBDA_ENV = {
  AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
  AWS_LAMBDA_FUNCTION_NAME: 'tps-deploy-bench',
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
  AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
  _X_AMZN_TRACE_ID: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
};

interface Variant {
  readonly name: 'none' | 'logger' | 'logger+metrics' | 'logger+metrics+tracer';
  readonly stub: readonly string[];
  readonly tracer: boolean;
}

const VARIANTS: readonly Variant[] = [
  {
    name: 'none',
    stub: ['@aws-lambda-powertools/logger', '@aws-lambda-powertools/metrics'],
    tracer: false,
  },
  { name: 'logger', stub: ['@aws-lambda-powertools/metrics'], tracer: false },
  { name: 'logger+metrics', stub: [], tracer: false },
  { name: 'logger+metrics+tracer', stub: [], tracer: true },
];
const PROBES: readonly TaskKey[] = ['completeRelease', 'shiftTraffic'];

/** Inert stand-ins for packages (callable, constructible, extendable; any property is itself). */
async function stubs(packages: readonly string[]): Promise<Plugin> {
  const contents = new Map<string, string>();
  for (const pkg of packages) {
    const names = Object.keys(await import(pkg)).filter((n) => /^[A-Za-z_$][\w$]*$/.test(n));
    contents.set(
      pkg,
      [
        "const f = new Proxy(function () {}, { get: (_t, k) => (k === 'then' ? undefined : k === 'prototype' ? {} : f), apply: () => f, construct: () => f });",
        ...names.map((n) => `export const ${n} = f;`),
      ].join('\n'),
    );
  }
  const filter = new RegExp(`^(${packages.map((p) => p.replace(/[/.]/g, '\\$&')).join('|')})$`);
  return {
    name: 'powertools-stubs',
    setup(b) {
      b.onResolve({ filter }, (a) => ({ path: a.path, namespace: 'stub' }));
      b.onLoad({ filter: /.*/, namespace: 'stub' }, (a) => ({
        contents: contents.get(a.path)!,
        loader: 'js',
      }));
    },
  };
}

async function bundle(task: TaskKey, v: Variant, dir: string): Promise<{ file: string; bytes: number }> {
  const file = join(dir, v.name.replace(/\W/g, '_'), task, 'index.mjs');
  const entry = join(ROOT, TASKS[task].entry);
  await build({
    ...(v.tracer
      ? {
          stdin: {
            contents: [
              `import { Tracer } from '${TRACER}';`,
              `export { handler } from ${JSON.stringify(entry)};`,
              "export const tracer = new Tracer({ serviceName: 'tps-deploy' });",
            ].join('\n'),
            resolveDir: ROOT,
            sourcefile: 'traced-entry.ts',
            loader: 'ts',
          },
        }
      : { entryPoints: [entry] }),
    outfile: file,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    mainFields: ['module', 'main'],
    banner: { js: ESM_BANNER },
    minify: true,
    sourcemap: true,
    plugins: v.stub.length > 0 ? [await stubs(v.stub)] : [],
    logLevel: 'error',
  });
  return { file, bytes: statSync(file).size };
}

/** The child: wall and CPU time of `await import(bundle)`, as bench/coldstart.ts times it. */
const CHILD = [
  'const t0 = performance.now();',
  'const c0 = process.cpuUsage();',
  'const m = await import(process.env.BENCH_BUNDLE);',
  'const c = process.cpuUsage(c0);',
  'const t1 = performance.now();',
  'if (typeof m.handler !== "function") throw new Error("no handler export");',
  'process.stdout.write(JSON.stringify({ initMs: t1 - t0, cpuMs: (c.user + c.system) / 1000 }));',
].join('\n');

interface Load {
  readonly initMs: number;
  /** CPU time of the import: what the machine's other load disturbs least. */
  readonly cpuMs: number;
}

/** Loads a bundle in a fresh Node process with the function's environment and Lambda's variables. */
function loadOnce(file: string): Promise<Load> {
  return loadInChild<Load>(CHILD, file, { ...LAMBDA_ENV });
}

/** Init p50 of the probes as deployed (no source maps) from the last `coldstart` run, by task. */
function coldstartReference(): Partial<Record<TaskKey, number>> | null {
  try {
    const r = JSON.parse(readFileSync(join(RESULTS_DIR, 'coldstart.json'), 'utf8')) as {
      options: { name: string; probes: Record<string, { initWithoutSourceMapsMs: { p50: number } }> }[];
    };
    const shipped = r.options.find((o) => o.name === 'shipped');
    if (!shipped) return null;
    return Object.fromEntries(
      Object.entries(shipped.probes).map(([t, p]) => [t, p.initWithoutSourceMapsMs.p50]),
    );
  } catch {
    return null;
  }
}

function tracerInstalled(): boolean {
  try {
    createRequire(join(ROOT, 'package.json')).resolve(TRACER);
    return true;
  } catch {
    return false;
  }
}

export async function observabilityBenchmark(opts: { loads?: number } = {}): Promise<string> {
  const loads = opts.loads ?? 20;
  const mark = startMark();
  const withTracer = tracerInstalled();
  const variants = VARIANTS.filter((v) => withTracer || !v.tracer);
  const dir = mkdtempSync(join(tmpdir(), 'tps-bench-observability-'));
  try {
    const bundles = new Map<string, { file: string; bytes: number }>();
    for (const v of variants) {
      for (const task of PROBES) bundles.set(`${v.name}/${task}`, await bundle(task, v, dir));
      say(`bundled ${PROBES.join(', ')} (${v.name})`);
    }
    const times = new Map<string, number[]>([...bundles.keys()].map((k) => [k, []]));
    const cpu = new Map<string, number[]>([...bundles.keys()].map((k) => [k, []]));
    for (let i = 0; i < loads; i++) {
      for (const task of PROBES) {
        for (const v of variants) {
          const key = `${v.name}/${task}`;
          const load = await loadOnce(bundles.get(key)!.file);
          times.get(key)!.push(load.initMs);
          cpu.get(key)!.push(load.cpuMs);
        }
      }
    }
    const p50 = (key: string) => percentile(times.get(key)!, 50);
    const cpu50 = (key: string) => percentile(cpu.get(key)!, 50);
    const functions = PROBES.map((task) => {
      const base = `none/${task}`;
      const shipped = `logger+metrics/${task}`;
      return {
        task,
        variants: variants.map((v) => {
          const key = `${v.name}/${task}`;
          const b = bundles.get(key)!;
          say(
            `${task.padEnd(16)} ${v.name.padEnd(22)} ${(b.bytes / 1e6).toFixed(3)} MB  init p50 ${p50(key).toFixed(0)} ms  cpu p50 ${cpu50(key).toFixed(0)} ms`,
          );
          return {
            variant: v.name,
            bytes: b.bytes,
            bytesOverNone: b.bytes - bundles.get(base)!.bytes,
            initMs: summarize(times.get(key)!, 1),
            initCpuMs: summarize(cpu.get(key)!, 1),
            initRatioToNone: ratio(p50(key), p50(base)),
            initRatioToShipped: ratio(p50(key), p50(shipped)),
            cpuRatioToNone: ratio(cpu50(key), cpu50(base)),
            cpuRatioToShipped: ratio(cpu50(key), cpu50(shipped)),
          };
        }),
      };
    });
    // This machine is shared: absolute times move with its load, ratios within one run much less.
    // The budget is judged on the last cold-start run's figure (as deployed: no source maps) times
    // this run's ratio.
    const reference = coldstartReference();
    const targets: TargetCheck[] = PROBES.map((task) => {
      const shipped = `logger+metrics/${task}`;
      const traced = `logger+metrics+tracer/${task}`;
      const base = reference?.[task];
      if (!withTracer || base === undefined) {
        return {
          target: `${task}: init p50 under ${BUDGET_MS} ms with the tracer`,
          met: false,
          detail: !withTracer
            ? `not measured: ${TRACER} is not installed (npm install --no-save ${TRACER})`
            : 'no bench/results/coldstart.json to scale from: run `npm run bench -- coldstart` first',
        };
      }
      const wall = ratio(p50(traced), p50(shipped)) ?? 1;
      const projected = round(base * wall, 1);
      return {
        target: `${task}: init p50 under ${BUDGET_MS} ms with the tracer`,
        met: projected < BUDGET_MS,
        detail: `coldstart.json p50 ${base} ms (shipped, without source maps) x this run's tracer/shipped ratio ${wall} (CPU ${ratio(cpu50(traced), cpu50(shipped))}) = ${projected} ms`,
      };
    });
    return writeResult('observability', mark, {
      method: [
        `completeRelease (never reaches the cluster) and shiftTraffic (does) bundled as infra/constructs/task-functions.ts bundles them (ESM, the createRequire banner, minify, source map, node24, the AWS SDK bundled), in the variants: ${variants.map((v) => v.name).join(', ')}. Stubbed packages are inert proxies (every export callable, constructible and extendable), so module-level code still runs.`,
        `The tracer variant's entry imports the handler and ${TRACER}, and constructs a Tracer at module scope (as a traced function would; wrapping the SDK clients happens when the ports are built, at the first invocation, not at init).`,
        `Each bundle loaded ${loads} times in a fresh Node ${process.version} process (this machine, not Lambda's arm64), the loads alternating between variants; the child takes performance.now() (wall) and process.cpuUsage() (user + system CPU, less disturbed by the shared machine's other load) around \`await import(bundle)\`. Without --enable-source-maps (the functions run without it). Environment: the function's TPS_ variables plus Lambda's own (AWS_EXECUTION_ENV, AWS_LAMBDA_FUNCTION_NAME, _X_AMZN_TRACE_ID, AWS_LAMBDA_INITIALIZATION_TYPE). Ratios are of p50s within this run.`,
        'The Metrics instance is created when the ports are built (first invocation), so its construction is not in init; its import is.',
      ],
      targets,
      tracerMeasured: withTracer,
      budgetMs: BUDGET_MS,
      coldstartReferenceMs: reference,
      functions,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

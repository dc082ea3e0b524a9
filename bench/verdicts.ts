/**
 * Verdict benchmark: does the canary analysis tell good releases from bad ones when the whole
 * pipeline runs? Every scenario is one release through the real pipeline (LocalEnvironment: the
 * synthesized state machine on aws-local-stepfunctions, the real step code, the local control
 * plane as the restricted identity, dynalite, synthetic traffic on a virtual clock), and the
 * result is what the pipeline did: promoted or rolled back, in which phase, and when.
 *
 * - Good releases (must all be promoted): `healthy` and `noisy-healthy` with many seeds, and
 *   variants with a -30% traffic dip for 5 minutes inside the canary or the staging window.
 * - Bad releases (must all be rolled back): error rate +0.3% (`error-creep`) and +2%
 *   (`error-spike`), p99 1.5x (`latency-mild`, above the SLO) and 4x (`latency-regression`),
 *   throughput -40% (`throughput-drop`), a crash loop (`-crash` image), OOM kills (`-oom` image), a
 *   degradation late in staging (`late-degradation`) and an error spike 30 minutes into the
 *   post-deployment watch (`watch-spike`); and the subtle ones (+0.3% errors, p99 1.5x, -40%
 *   throughput) again on noisy-healthy's noise.
 *
 * The watch is a Wait state: in AWS the CloudWatch alarms roll a release back during it (and the
 * error-rate alarm can beat a validation window's verdict). Locally the environment's CloudWatch
 * does the same (local/cloudwatch/): it evaluates every alarm of the synthesized template once a
 * virtual minute against the same synthetic traffic, with CloudWatch's semantics, and delivers each
 * state change as the "CloudWatch Alarm State Change" event through the synthesized rule to the
 * alarm function. Every release is evaluated, good ones included (a false alarm would be a false
 * rollback). The benchmark has no evaluator of its own.
 *
 * Run: `npx tsx bench/verdicts.ts [--quick] [--lanes 3] [--speed 20000]`; writes
 * bench/results/verdicts.json; exits 1 when a target is missed. `runVerdicts()` is the same for
 * bench/run.ts (pass `cluster` to use its cluster; otherwise one is started and stopped).
 */

import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { discardLines } from '../functions/adapters/powertools/output.js';
import {
  PROFILE_DEFINITIONS,
  type ProfileName,
  parseProfile,
  type Segment,
  type TrafficProfile,
  type TrafficProfileInput,
  valueAt,
} from '../functions/adapters/synthetic/index.js';
import { alarmName } from '../functions/domain/alarms.js';
import type { CatalogInput } from '../functions/domain/config.js';
import { type PhaseName, RUNBOOK } from '../functions/domain/defaults.js';
import type { DeploymentRecord } from '../functions/domain/record.js';
import {
  type ClusterInfo,
  mintFunctionIdentities,
  startCluster,
  stopCluster,
} from '../local/cluster/index.js';
import { albIngress } from '../local/demo-app.js';
import { type LocalDynamo, startLocalDynamo } from '../local/dynalite.js';
import { LocalEnvironment } from '../local/environment.js';
import { startMark, type TargetCheck, writeResult } from './lib/results.js';
import * as workloads from './lib/workloads.js';

/** The benchmark's appName: alarm names are `<appName>-<service>-<signal>`. */
const APP_NAME = 'tps-verdicts';
const NAMESPACE = 'verdicts';
/** Pods per Deployment: small, to keep a 2-core machine light. */
const REPLICAS = 2;

const { canary } = RUNBOOK.phases;

/** What a scenario should end in. */
type Expected = 'promote' | 'rollback';
/** Where a bad release should be caught. */
type ExpectedPhase = PhaseName | 'watch' | null;

/** One release to run. */
export interface Scenario {
  /** Unique id, also the execution name and deployment id. */
  readonly id: string;
  /** Scenario kind, e.g. `error-spike` or `noisy-healthy+dip-canary`. */
  readonly kind: string;
  /** The shipped profile it is built from. */
  readonly profileName: ProfileName;
  readonly seed: number;
  readonly profile: TrafficProfile;
  /** Tag suffix of the new image: the local cluster's failure modes. */
  readonly imageSuffix: '' | '-crash' | '-oom';
  readonly expected: Expected;
  readonly expectedPhase: ExpectedPhase;
  /** Seconds after the release start when the fault begins (0: from the start). */
  readonly onsetSeconds: number;
}

/** What the pipeline did with one scenario. */
export interface ScenarioRow {
  readonly scenario: string;
  readonly kind: string;
  readonly profile: ProfileName;
  readonly seed: number;
  readonly image: string;
  readonly expected: Expected;
  readonly expectedPhase: ExpectedPhase;
  /** `promoted` (SUCCEEDED), `rolled-back` (ROLLED_BACK), or what else happened. */
  readonly outcome: 'promoted' | 'rolled-back' | 'failed' | 'error';
  /** Phase of the rollback (`watch` for the alarm during the watch); null when promoted. */
  readonly phase: string | null;
  /** `state-machine` or `alarm:<name>`; null when promoted. */
  readonly trigger: string | null;
  /**
   * Virtual seconds to the rollback decision, from the release start, or from the fault's onset
   * for late faults (see `detectFrom`). Null when not rolled back.
   */
  readonly secondsToDetect: number | null;
  readonly detectFrom: 'release-start' | 'fault-onset' | null;
  /** Virtual seconds from the release start to the rollback decision. */
  readonly secondsFromStart: number | null;
  /** Validation windows judged (first looks and extensions). */
  readonly windows: number;
  /** Validation windows extended because the first look was inconclusive. */
  readonly extensions: number;
  /** Highest per-minute service error rate the error-rate alarm evaluated in the watch (null: no watch). */
  readonly watchMaxErrorRate: number | null;
  readonly service: string;
  readonly lane: number;
  readonly realSeconds: number;
  readonly reason: string;
}

/** Options of {@link runVerdicts}. */
export interface VerdictsOptions {
  /** 20 scenarios instead of 72 (for working on the benchmark). @default false */
  readonly quick?: boolean;
  /** A running local cluster to use; otherwise `verdicts-<pid>` is started and always stopped. */
  readonly cluster?: Pick<ClusterInfo, 'kubeconfig' | 'restrictedKubeconfig'>;
  /** Releases run at once, each in its own LocalEnvironment (own virtual clock). @default 3 */
  readonly lanes?: number;
  /** Services per lane (one namespace, `lanes x servicesPerLane` Deployments). @default 3 */
  readonly servicesPerLane?: number;
  /** Virtual seconds per real second in windows. @default 20 000 */
  readonly speed?: number;
  /** Real milliseconds of a readiness poll. @default 100 */
  readonly pollMs?: number;
  /** Progress lines. @default stdout */
  readonly log?: (line: string) => void;
}

// ---- scenarios -----------------------------------------------------------------------------

/** A shipped profile with its seed replaced (and whatever else `change` changes). */
function profileOf(
  name: ProfileName,
  seed: number,
  change: (p: TrafficProfileInput) => TrafficProfileInput = (p) => p,
): TrafficProfile {
  const def = PROFILE_DEFINITIONS[name] as TrafficProfileInput;
  return parseProfile(change({ ...def, seed }), `traffic profile ${name} (seed ${seed})`);
}

/**
 * A constant request rate `rps` (from a day before the release, so the pre-deployment baseline
 * sees it) with a dip to `factor` x from `from` to `to` seconds after the release start.
 */
function rpsWithDip(rps: number, from: number, to: number, factor: number): Segment<number>[] {
  return [
    { from: -86_400, value: rps },
    { from, value: rps * factor },
    { from: to, value: rps },
  ];
}

/** A -30% traffic dip for 5 minutes inside the canary window (which runs about 0-600 s). */
const DIP_CANARY = { from: 180, to: 480, factor: 0.7 } as const;
/** A -30% traffic dip for 5 minutes inside the staging window (about 600-1500 s). */
const DIP_STAGING = {
  from: canary.windowSeconds + 300,
  to: canary.windowSeconds + 600,
  factor: 0.7,
} as const;

/**
 * Seconds after the release start when a profile's new version first differs from its stable
 * version (error rate or latency): 0 for faults present from the start.
 */
function faultOnset(profile: TrafficProfile): number {
  const { stable, canary: next } = profile.versions;
  const stableRate = valueAt(stable.errorRate, 0).value;
  const stableP99 = valueAt(stable.latency, 0).p99Ms;
  const starts = [
    ...next.errorRate.filter((s) => s.value !== stableRate).map((s) => s.from),
    ...next.latency.filter((s) => s.p99Ms !== stableP99).map((s) => s.from),
  ];
  return starts.length === 0 ? 0 : Math.max(0, Math.min(...starts));
}

/** The scenario list: good releases first, then bad ones, seeds fixed so runs repeat. */
export function scenarios(quick = false): Scenario[] {
  const out: Scenario[] = [];
  const good = (kind: string, name: ProfileName, seed: number, profile: TrafficProfile) =>
    out.push({
      id: `${kind.replace('+', '-')}-s${seed}`,
      kind,
      profileName: name,
      seed,
      profile: { ...profile, name: kind },
      imageSuffix: '',
      expected: 'promote',
      expectedPhase: null,
      onsetSeconds: 0,
    });
  const seeds = (first: number, n: number) => Array.from({ length: n }, (_, i) => first + i);
  const plain = quick ? 2 : 12;
  const dips = quick ? 1 : 3;
  for (const seed of seeds(101, plain)) good('healthy', 'healthy', seed, profileOf('healthy', seed));
  for (const seed of seeds(201, plain))
    good('noisy-healthy', 'noisy-healthy', seed, profileOf('noisy-healthy', seed));
  const dipped = (name: ProfileName, where: 'canary' | 'staging', seed: number) => {
    const d = where === 'canary' ? DIP_CANARY : DIP_STAGING;
    // The dip replaces the profile's traffic shape (noisy-healthy's own shorter dips), so the
    // window sees one -30% dip for 5 minutes on top of the profile's noise.
    const profile = profileOf(name, seed, (p) => ({ ...p, rps: rpsWithDip(200, d.from, d.to, d.factor) }));
    good(`${name}+dip-${where}`, name, seed, profile);
  };
  for (const name of ['healthy', 'noisy-healthy'] as const) {
    for (const where of ['canary', 'staging'] as const) {
      const base = 301 + (name === 'healthy' ? 0 : 20) + (where === 'canary' ? 0 : 10);
      for (const seed of seeds(base, dips)) dipped(name, where, seed);
    }
  }

  const bad: {
    kind: string;
    name: ProfileName;
    suffix?: '-crash' | '-oom';
    /** The fault on noisy-healthy's noise (rps ±15%, errors ±60%, latency ±12% per minute). */
    noisy?: true;
    phase: ExpectedPhase;
  }[] = [
    { kind: 'error-creep', name: 'error-creep', phase: 'canary' },
    { kind: 'error-spike', name: 'error-spike', phase: 'canary' },
    { kind: 'latency-mild', name: 'latency-mild', phase: 'canary' },
    { kind: 'latency-regression', name: 'latency-regression', phase: 'canary' },
    { kind: 'throughput-drop', name: 'throughput-drop', phase: 'canary' },
    { kind: 'crash', name: 'crash', suffix: '-crash', phase: 'canary' },
    { kind: 'oom', name: 'healthy', suffix: '-oom', phase: 'canary' },
    { kind: 'late-degradation', name: 'late-degradation', phase: 'staging' },
    { kind: 'watch-spike', name: 'watch-spike', phase: 'watch' },
    // The subtle faults again on noisy traffic: the shipped bad profiles have light noise.
    { kind: 'error-creep+noisy', name: 'error-creep', noisy: true, phase: 'canary' },
    { kind: 'latency-mild+noisy', name: 'latency-mild', noisy: true, phase: 'canary' },
    { kind: 'throughput-drop+noisy', name: 'throughput-drop', noisy: true, phase: 'canary' },
  ];
  const perBad = quick ? 1 : 3;
  bad.forEach((b, i) => {
    for (const seed of seeds(1001 + i * 100, perBad)) {
      const profile = profileOf(b.name, seed, (p) =>
        b.noisy ? { ...p, noise: PROFILE_DEFINITIONS['noisy-healthy'].noise } : p,
      );
      out.push({
        id: `${b.kind.replace('+', '-')}-s${seed}`,
        kind: b.kind,
        profileName: b.name,
        seed,
        profile: { ...profile, name: b.kind },
        imageSuffix: b.suffix ?? '',
        expected: 'rollback',
        expectedPhase: b.phase,
        onsetSeconds: faultOnset(profile),
      });
    }
  });
  return out;
}

// ---- the watch, as the local CloudWatch evaluated it ---------------------------------------

/**
 * The highest per-minute value of the service's error-rate alarm metric during the watch, as the
 * local CloudWatch evaluates it (its own datapoints, one evaluation per minute of the watch up to
 * its end or the rollback); null when the release did not reach the watch.
 */
function watchMaxErrorRate(env: LocalEnvironment, service: string, record: DeploymentRecord): number | null {
  const alarm = env.cloudwatch.describe(alarmName(APP_NAME, service, 'errorRate'));
  if (!record.watch || !alarm) return null;
  const from = Date.parse(record.watch.startedAt);
  const to = Math.min(
    Date.parse(record.watch.until),
    record.rollback ? Date.parse(record.rollback.startedAt) : Infinity,
  );
  let max = 0;
  for (let t = Math.ceil(from / 60_000) * 60_000 + 60_000; t <= to; t += 60_000) {
    const [newest] = env.cloudwatch.datapoints(alarm.definition, new Date(t));
    if (newest?.value !== null && newest?.value !== undefined) max = Math.max(max, newest.value);
  }
  return max;
}

/** When the alarm that rolled the release back went to ALARM (its reasonData's queryDate). */
function alarmTime(record: DeploymentRecord): Date | null {
  const data = record.rollback?.alarm?.reasonData;
  if (!data) return null;
  const queryDate = (JSON.parse(data) as { queryDate?: string }).queryDate;
  return queryDate ? new Date(queryDate.replace('+0000', 'Z')) : null;
}

// ---- running ---------------------------------------------------------------------------------

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const pct = (x: number) => `${(x * 100).toFixed(3)}%`;

/** Creates the Ingress the ALB router writes its forward action into (one per service). */
async function createIngress(kubeconfig: string, namespace: string, name: string): Promise<void> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  const networking = kc.makeApiClient(k8s.NetworkingV1Api);
  await networking.createNamespacedIngress({
    namespace,
    body: albIngress(name),
  });
}

/** The lock of `service` is free (a watch rollback may still be finishing). */
async function waitUnlocked(env: LocalEnvironment, service: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if ((await env.store.active(service)) === null) return;
    await sleep(100);
  }
  throw new Error(`${service} is still locked after 60 s`);
}

/** Virtual time of the rollback decision: the alarm, else the end of the phase that failed. */
function decisionTime(record: DeploymentRecord): Date | null {
  if (!record.rollback) return null;
  const alarmed = record.rollback.trigger.startsWith('alarm:') ? alarmTime(record) : null;
  if (alarmed) return alarmed;
  const ended = record.phases.at(-1)?.endedAt ?? record.rollback.startedAt;
  return new Date(ended);
}

function promotedReason(record: DeploymentRecord, watchMax: number | null): string {
  const phases = record.phases
    .map(
      (p) =>
        `${p.name} ${p.verdict}${p.decisions.length > 1 ? ` after ${p.decisions.length - 1} extension` : ''}`,
    )
    .join(', ');
  const watch = watchMax !== null ? `; watch: no alarm (highest minute error rate ${pct(watchMax)})` : '';
  return `promoted: ${phases}${watch}`;
}

async function runScenario(
  env: LocalEnvironment,
  lane: number,
  service: string,
  sc: Scenario,
  release: number,
  opts: Required<Pick<VerdictsOptions, 'speed' | 'pollMs'>>,
): Promise<ScenarioRow> {
  const image = `${workloads.imageOf(service, `v1.${release}.0`)}${sc.imageSuffix}`;
  const t0 = Date.now();
  const base = {
    scenario: sc.id,
    kind: sc.kind,
    profile: sc.profileName,
    seed: sc.seed,
    image,
    expected: sc.expected,
    expectedPhase: sc.expectedPhase,
    service,
    lane,
  };
  try {
    await waitUnlocked(env, service);
    env.setProfile(service, sc.profile);
    const run = await env.run(workloads.releaseInput(service, image, sc.id), {
      speed: opts.speed,
      pollMs: opts.pollMs,
      executionName: sc.id,
    });
    await waitUnlocked(env, service);
    const record = await env.store.get(service, sc.id);
    if (!record) throw new Error(`no record (execution ${run.status} ${run.error}: ${run.cause})`);
    const windows = record.phases.reduce((n, p) => n + p.decisions.length, 0);
    const extensions = record.phases.reduce((n, p) => n + Math.max(0, p.decisions.length - 1), 0);
    const realSeconds = Math.round((Date.now() - t0) / 100) / 10;
    const watchMax = watchMaxErrorRate(env, service, record);
    if (record.outcome === 'SUCCEEDED') {
      return {
        ...base,
        outcome: 'promoted',
        phase: null,
        trigger: null,
        secondsToDetect: null,
        detectFrom: null,
        secondsFromStart: null,
        windows,
        extensions,
        watchMaxErrorRate: watchMax,
        realSeconds,
        reason: promotedReason(record, watchMax),
      };
    }
    if (record.outcome === 'ROLLED_BACK' && record.rollback) {
      const at = decisionTime(record);
      const fromStart = at ? Math.round((at.getTime() - Date.parse(record.startedAt)) / 1000) : null;
      const late = sc.onsetSeconds > 0;
      return {
        ...base,
        outcome: 'rolled-back',
        phase: record.rollback.phase,
        trigger: record.rollback.trigger,
        secondsToDetect: fromStart === null ? null : fromStart - (late ? sc.onsetSeconds : 0),
        detectFrom: late ? 'fault-onset' : 'release-start',
        secondsFromStart: fromStart,
        windows,
        extensions,
        watchMaxErrorRate: watchMax,
        realSeconds,
        reason: record.rollback.reason.slice(0, 400),
      };
    }
    return {
      ...base,
      outcome: 'failed',
      phase: record.phases.at(-1)?.name ?? null,
      trigger: null,
      secondsToDetect: null,
      detectFrom: null,
      secondsFromStart: null,
      windows,
      extensions,
      watchMaxErrorRate: watchMax,
      realSeconds,
      reason: `record ${record.outcome}; execution ${run.status} ${run.error ?? ''}: ${(run.cause ?? '').slice(0, 300)}`,
    };
  } catch (e) {
    return {
      ...base,
      outcome: 'error',
      phase: null,
      trigger: null,
      secondsToDetect: null,
      detectFrom: null,
      secondsFromStart: null,
      windows: 0,
      extensions: 0,
      watchMaxErrorRate: null,
      realSeconds: Math.round((Date.now() - t0) / 100) / 10,
      reason: e instanceof Error ? e.message.slice(0, 400) : String(e),
    };
  }
}

/** Median (mean of the middle two for an even count); null for no samples. */
function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Runs the verdict benchmark and writes bench/results/verdicts.json; returns its path. Targets:
 * every bad release rolled back, no good release rolled back (`targets` in the file says which
 * were met).
 */
export async function runVerdicts(opts: VerdictsOptions = {}): Promise<string> {
  const log = opts.log ?? ((l: string) => process.stdout.write(`  ${l}\n`));
  const lanes = opts.lanes ?? 3;
  const perLane = opts.servicesPerLane ?? 3;
  const run = {
    speed: opts.speed ?? 20_000,
    pollMs: opts.pollMs ?? 100,
  };
  const list = scenarios(opts.quick ?? false);
  const mark = startMark();
  const ownCluster = opts.cluster ? null : `verdicts-${process.pid}`;
  let dynamo: LocalDynamo | undefined;
  const envs: LocalEnvironment[] = [];
  let kubeconfig: string | undefined;
  const rows: ScenarioRow[] = [];
  try {
    const cluster =
      opts.cluster ??
      (await startCluster({
        name: ownCluster as string,
        ownerPid: process.pid,
        log: (l) => log(`[cluster] ${l}`),
      }));
    kubeconfig = cluster.kubeconfig;
    const names = Array.from({ length: lanes }, (_, l) =>
      Array.from({ length: perLane }, (_, i) => `svc-${l + 1}${String.fromCharCode(97 + i)}`),
    );
    log(`namespace ${NAMESPACE}: ${lanes * perLane} Deployments of ${REPLICAS} pods, ALB router`);
    await workloads.freshNamespace(kubeconfig, NAMESPACE, APP_NAME);
    for (const name of names.flat()) {
      await workloads.createWorkload(
        kubeconfig,
        NAMESPACE,
        name,
        workloads.imageOf(name, 'v1.0.0'),
        REPLICAS,
      );
      await createIngress(kubeconfig, NAMESPACE, name);
    }
    await workloads.waitAllReady(kubeconfig, NAMESPACE, names.flat());
    const catalog: CatalogInput = {
      appName: APP_NAME,
      services: Object.fromEntries(
        names.flat().map((name) => [
          name,
          workloads.benchService(NAMESPACE, name, {
            router: {
              type: 'alb',
              ingress: name,
              actionName: `${name}-action`,
              stableService: name,
              servicePort: 80,
            },
          }),
        ]),
      ),
    };
    dynamo = await startLocalDynamo();
    for (let l = 0; l < lanes; l++) {
      // One environment (own virtual clock) per lane: a Wait of one execution must not move the
      // clock another execution's windows are measured on.
      envs.push(
        await LocalEnvironment.start({
          catalog,
          kubeconfigs: await mintFunctionIdentities(cluster.kubeconfig, APP_NAME),
          kubeRetry: { baseDelayMs: 50, maxDelayMs: 500 },
          dynamo,
          tableName: 'tps-verdicts',
          functionOutput: discardLines,
        }),
      );
    }
    log(`${list.length} scenarios in ${lanes} lanes (speed ${run.speed}, readiness poll ${run.pollMs} ms)`);
    const queue = [...list];
    let releases = 0;
    await Promise.all(
      envs.map(async (env, l) => {
        const services = names[l] as string[];
        for (let i = 0; ; i++) {
          const sc = queue.shift();
          if (!sc) return;
          const service = services[i % services.length] as string;
          const row = await runScenario(env, l + 1, service, sc, ++releases, run);
          rows.push(row);
          const ok = (row.expected === 'promote') === (row.outcome === 'promoted');
          log(
            `${ok ? 'ok  ' : 'MISS'} ${sc.id.padEnd(34)} ${row.outcome.padEnd(11)} ${(row.phase ?? '').padEnd(10)} ${row.secondsToDetect === null ? '' : `${row.secondsToDetect} s`.padEnd(7)} (${row.realSeconds} s real, lane ${l + 1}) ${ok ? '' : row.reason.slice(0, 160)}`,
          );
        }
      }),
    );
  } finally {
    for (const env of envs) await env.stop();
    await dynamo?.stop();
    if (kubeconfig) await workloads.deleteNamespace(kubeconfig, NAMESPACE);
    if (ownCluster) await stopCluster(ownCluster);
  }

  const order = new Map(list.map((s, i) => [s.id, i]));
  rows.sort((a, b) => (order.get(a.scenario) ?? 0) - (order.get(b.scenario) ?? 0));
  const good = rows.filter((r) => r.expected === 'promote');
  const bad = rows.filter((r) => r.expected === 'rollback');
  const falseRollbacks = good.filter((r) => r.outcome !== 'promoted');
  const caught = bad.filter((r) => r.outcome === 'rolled-back');
  const inPhase = caught.filter((r) => r.phase === r.expectedPhase);
  const detect = caught.map((r) => r.secondsToDetect).filter((x): x is number => x !== null);
  const kinds = [...new Set(rows.map((r) => r.kind))];
  const byKind = Object.fromEntries(
    kinds.map((k) => {
      const rs = rows.filter((r) => r.kind === k);
      const det = rs.map((r) => r.secondsToDetect).filter((x): x is number => x !== null);
      return [
        k,
        {
          expected: rs[0]?.expected,
          runs: rs.length,
          promoted: rs.filter((r) => r.outcome === 'promoted').length,
          rolledBack: rs.filter((r) => r.outcome === 'rolled-back').length,
          phases: [...new Set(rs.map((r) => r.phase).filter((p) => p !== null))],
          extensions: rs.reduce((n, r) => n + r.extensions, 0),
          medianSecondsToDetect: median(det),
          detectFrom: rs.find((r) => r.detectFrom)?.detectFrom ?? null,
        },
      ];
    }),
  );
  const errors = rows.filter((r) => r.outcome === 'error' || r.outcome === 'failed');
  const targets: TargetCheck[] = [
    {
      target: 'every bad release rolled back',
      met: caught.length === bad.length,
      detail: `${caught.length}/${bad.length} caught${
        bad.length > caught.length
          ? `; missed ${bad
              .filter((r) => r.outcome !== 'rolled-back')
              .map((r) => r.scenario)
              .join(', ')}`
          : ''
      }`,
    },
    {
      target: 'no good release rolled back',
      met: falseRollbacks.length === 0,
      detail: `${falseRollbacks.length}/${good.length} rolled back${falseRollbacks.length ? `: ${falseRollbacks.map((r) => r.scenario).join(', ')}` : ''}`,
    },
    {
      target: 'every scenario ran to an outcome (no harness errors)',
      met: errors.length === 0,
      detail: errors.length ? errors.map((r) => `${r.scenario}: ${r.reason}`).join('; ') : 'all ran',
    },
  ];
  return writeResult('verdicts', mark, {
    method: [
      `${list.length} releases through the real pipeline: LocalEnvironment (the synthesized state machine on aws-local-stepfunctions, the real step code, the local control plane as the restricted identity, dynalite, synthetic traffic on a virtual clock).`,
      `One namespace (${NAMESPACE}) with ${lanes * perLane} Deployments of ${REPLICAS} pods, ALB router (exact 10%/50%/100% weights with 2 pods), no approval, someone always on call, attested inputs. ${lanes} releases at a time, each lane its own LocalEnvironment and virtual clock over one dynalite; a lane releases its services in turn, so a service gets several releases.`,
      `Windows at the runbook's defaults (canary 10% 600 s, staging 50% 900 s, production 100% 300 s, one extension for canary and staging, watch ${RUNBOOK.watchSeconds} s), compressed ${run.speed}x; readiness polls every ${run.pollMs} ms real (5 s virtual each).`,
      'Each scenario is a shipped profile with its seed replaced; dip variants replace the request rate with 200 rps and a -30% dip for 5 minutes inside the canary (180-480 s) or staging (900-1200 s) window.',
      'Alarms: the environment\'s local CloudWatch evaluates every alarm of the synthesized template (error rate, p99 with the threshold the release sets, metrics missing, OOM kills, the dead-letter queue) once a virtual minute during every release, with CloudWatch\'s semantics (period, M of N, evaluation range, missing-data treatment) on the same synthetic traffic, and sends each state change as a "CloudWatch Alarm State Change" event through the synthesized rule to the alarm function: in the watch and during the validation windows alike.',
      'secondsToDetect: virtual seconds to the rollback decision (the end of the failing phase: the verdict or the failed readiness check; for an alarm, the evaluation that put it in ALARM), from the release start, or from the fault onset for faults that begin later (late-degradation, watch-spike): detectFrom says which.',
    ],
    targets,
    good: good.length,
    falseRollbacks: falseRollbacks.length,
    bad: bad.length,
    caught: caught.length,
    caughtInExpectedPhase: inPhase.length,
    detectionRate: bad.length ? caught.length / bad.length : null,
    falseRollbackRate: good.length ? falseRollbacks.length / good.length : null,
    medianSecondsToDetect: median(detect),
    medianSecondsToDetectFromStart: median(
      caught.map((r) => r.secondsFromStart).filter((x): x is number => x !== null),
    ),
    windowsJudged: rows.reduce((n, r) => n + r.windows, 0),
    extendedWindows: rows.reduce((n, r) => n + r.extensions, 0),
    highestGoodWatchErrorRate: Math.max(0, ...good.map((r) => r.watchMaxErrorRate ?? 0)),
    settings: { lanes, servicesPerLane: perLane, replicas: REPLICAS, ...run, quick: opts.quick ?? false },
    byKind,
    scenarios: rows,
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      lanes: { type: 'string' },
      speed: { type: 'string' },
    },
  });
  const path = await runVerdicts({
    quick: values.quick ?? false,
    ...(values.lanes ? { lanes: Number(values.lanes) } : {}),
    ...(values.speed ? { speed: Number(values.speed) } : {}),
  });
  const { readFileSync } = await import('node:fs');
  const r = JSON.parse(readFileSync(path, 'utf8')) as {
    good: number;
    falseRollbacks: number;
    bad: number;
    caught: number;
    medianSecondsToDetect: number | null;
    targets: TargetCheck[];
  };
  process.stdout.write(
    `good ${r.good}, false rollbacks ${r.falseRollbacks}; bad ${r.bad}, caught ${r.caught}; median ${r.medianSecondsToDetect} s to detect\nwrote ${path}\n`,
  );
  for (const t of r.targets) process.stdout.write(`  ${t.met ? 'met ' : 'MISS'} ${t.target}: ${t.detail}\n`);
  if (r.targets.some((t) => !t.met)) process.exitCode = 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e: unknown) => {
    process.stderr.write(`verdicts failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  });
}

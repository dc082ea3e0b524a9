/**
 * Verdict sweep: how often does the window judgment get each shipped traffic profile wrong?
 *
 * For every shipped profile and seeds 1..N (default 1000) it replays the runbook's default
 * timeline through the synthetic metrics source (baseline -900..0 s; canary 0-600 s at 10%,
 * staging 600-1500 s at 50%, production 1500-1800 s at 100%; a watch window 3600-3900 s at
 * 100%), judges every window with `judgeWindow`, and counts pass / inconclusive / fail per phase,
 * which checks caused the fails and inconclusives, and what an inconclusive window became after
 * its extension. The targets (see docs/traffic-profiles.md, "How often the judgment is wrong"):
 * the healthy profiles never fail and are rarely (< 1%) inconclusive; every bad profile fails in
 * at least 99.9% of seeds in the phase where the problem first appears.
 *
 * Run: `npx tsx bench/verdict-sweep.ts [--seeds 1000] [--out bench/results/verdict-sweep.json]
 * [--profile <name>]... [--set <threshold>=<number>]...` (`--set failAlpha=0.001` explores a
 * threshold). Prints the tables, writes the JSON, and exits 1 when a target is missed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import {
  PROFILE_NAMES,
  PROFILE_SLO_P99_MS,
  PROFILES,
  type ProfileName,
  SyntheticMetricsSource,
  type TrafficProfile,
} from '../functions/adapters/synthetic/index.js';
import { judgeWindow } from '../functions/domain/analysis.js';
import type { ResolvedValidation } from '../functions/domain/config.js';
import { type PhaseName, RUNBOOK } from '../functions/domain/defaults.js';
import type { Verdict, WindowDecision } from '../functions/domain/record.js';
import type { MetricsQuery } from '../functions/ports/metrics.js';

/** A window of the sweep: a runbook phase, or the post-deployment watch. */
type SweepPhase = PhaseName | 'watch';

interface SweepWindow {
  readonly phase: SweepPhase;
  /** The phase `judgeWindow` is told (the watch is judged as production). */
  readonly judgedAs: PhaseName;
  readonly from: number;
  readonly to: number;
  readonly weight: number;
  readonly extensions: number;
  readonly extendedWindowSeconds: number;
}

const { canary, staging, production } = RUNBOOK.phases;
const STAGING_START = canary.windowSeconds;
const PRODUCTION_START = STAGING_START + staging.windowSeconds;
const RELEASE_END = PRODUCTION_START + production.windowSeconds;
const WATCH_START = RELEASE_END + 1800;

/** The runbook's default timeline, as the profiles' expected verdicts are written against it. */
const WINDOWS: readonly SweepWindow[] = [
  { phase: 'canary', judgedAs: 'canary', from: 0, to: STAGING_START, weight: canary.weight, ...ext(canary) },
  {
    phase: 'staging',
    judgedAs: 'staging',
    from: STAGING_START,
    to: PRODUCTION_START,
    weight: staging.weight,
    ...ext(staging),
  },
  {
    phase: 'production',
    judgedAs: 'production',
    from: PRODUCTION_START,
    to: RELEASE_END,
    weight: production.weight,
    ...ext(production),
  },
  {
    phase: 'watch',
    judgedAs: 'production',
    from: WATCH_START,
    to: WATCH_START + production.windowSeconds,
    weight: 100,
    extensions: 0,
    extendedWindowSeconds: 0,
  },
];

function ext(p: { extensions: number; extendedWindowSeconds: number }) {
  return { extensions: p.extensions, extendedWindowSeconds: p.extendedWindowSeconds };
}

/**
 * Where each profile is expected to fail first: `null` for a healthy profile (it must never
 * fail). A bad profile must fail in that phase; phases before it must pass like a healthy one.
 */
const EXPECTED_FIRST_FAIL: Readonly<Record<ProfileName, SweepPhase | null>> = {
  healthy: null,
  'noisy-healthy': null,
  crash: null,
  'error-spike': 'canary',
  'error-creep': 'canary',
  'latency-regression': 'canary',
  'latency-mild': 'canary',
  'throughput-drop': 'canary',
  'throughput-step': 'canary',
  'canary-traffic-loss': 'canary',
  'late-degradation': 'staging',
  'watch-spike': 'watch',
};

/** Targets: no false fail at all; inconclusive below 1%; a bad phase fails in >= 99.9% of seeds. */
const TARGETS = { maxFalseFails: 0, maxInconclusiveShare: 0.01, minDetectionShare: 0.999 } as const;

const DEFAULT_THRESHOLDS: ResolvedValidation = { ...RUNBOOK.validation, sloP99Ms: PROFILE_SLO_P99_MS };
const START = new Date('2026-11-02T10:00:00.000Z');
const at = (s: number) => new Date(START.getTime() + s * 1000);

function query(from: number, to: number, same = false): MetricsQuery {
  return {
    service: 'sweep',
    start: at(from),
    end: at(to),
    canaryVersion: same ? 'v1' : 'v2',
    stableVersion: 'v1',
  };
}

interface Tally {
  pass: number;
  inconclusive: number;
  fail: number;
}

interface PhaseResult {
  /** Verdicts of the first window. */
  readonly first: Tally;
  /** Final verdicts after the extensions an inconclusive window gets (inconclusive left = fail). */
  readonly final: Tally;
  /** Per check: how many first windows it failed or left inconclusive. */
  readonly checks: Record<string, { fail: number; inconclusive: number }>;
  /** Up to five seeds per (first, final) verdict pair that was not the expected verdict. */
  readonly surprises: { seed: number; verdict: Verdict; final: Verdict; summary: string }[];
}

const tally = (): Tally => ({ pass: 0, inconclusive: 0, fail: 0 });

/**
 * Judges a window, and if it is inconclusive and may be extended, the extended window too:
 * same start, end pushed out by `extendedWindowSeconds`, with the phase's weight held through the
 * extension (the state machine waits before shifting more traffic).
 */
async function judgeWithExtensions(
  profile: TrafficProfile,
  w: SweepWindow,
  baseline: { rps: number | null; p99Ms: number | null },
  thresholds: ResolvedValidation,
): Promise<{ first: WindowDecision; final: Verdict }> {
  let end = w.to;
  let first: WindowDecision | null = null;
  for (let attempt = 0; ; attempt++) {
    const holdUntil = end;
    const source = new SyntheticMetricsSource({
      profile,
      deploymentStart: START,
      // The weights the runbook timeline sets, with this phase's weight held until `end`.
      weightAt: (d) => {
        const t = (d.getTime() - START.getTime()) / 1000;
        return t >= w.from && t < holdUntil ? w.weight : null;
      },
    });
    const judged = judgeWindow({
      phase: w.judgedAs,
      attempt,
      start: at(w.from),
      end: at(end),
      metrics: await source.window(query(w.from, end)),
      thresholds,
      baseline,
      traffic: { targetWeight: w.weight, actualWeight: w.weight },
      maxExtensions: w.extensions,
    });
    first ??= judged;
    if (!judged.canExtend) {
      return { first, final: judged.verdict === 'inconclusive' ? 'fail' : judged.verdict };
    }
    end += w.extendedWindowSeconds;
  }
}

function expectedVerdict(name: ProfileName, phase: SweepPhase): 'pass' | 'fail' | 'any' {
  const firstFail = EXPECTED_FIRST_FAIL[name];
  if (firstFail === null) return 'pass';
  const order: SweepPhase[] = ['canary', 'staging', 'production', 'watch'];
  const i = order.indexOf(phase);
  const j = order.indexOf(firstFail);
  if (i < j) return 'pass';
  if (i === j) return 'fail';
  return 'any'; // the pipeline never gets here with this profile
}

async function sweepProfile(
  name: ProfileName,
  seeds: number,
  thresholds: ResolvedValidation,
): Promise<Record<SweepPhase, PhaseResult>> {
  const result = Object.fromEntries(
    WINDOWS.map((w) => [w.phase, { first: tally(), final: tally(), checks: {}, surprises: [] }]),
  ) as unknown as Record<SweepPhase, PhaseResult>;
  for (let seed = 1; seed <= seeds; seed++) {
    const profile: TrafficProfile = { ...PROFILES[name], seed };
    const plain = new SyntheticMetricsSource({ profile, deploymentStart: START });
    const b = await plain.window(query(-900, 0, true));
    const baseline = { rps: b.stable?.rps ?? null, p99Ms: b.stable?.p99Ms ?? null };
    for (const w of WINDOWS) {
      const r = result[w.phase];
      const { first, final } = await judgeWithExtensions(profile, w, baseline, thresholds);
      r.first[first.verdict]++;
      r.final[final]++;
      for (const c of first.checks) {
        if (c.verdict === 'pass') continue;
        r.checks[c.name] ??= { fail: 0, inconclusive: 0 };
        (r.checks[c.name] as { fail: number; inconclusive: number })[c.verdict]++;
      }
      const expected = expectedVerdict(name, w.phase);
      const seen = r.surprises.filter((x) => x.verdict === first.verdict && x.final === final).length;
      if (expected !== 'any' && (first.verdict !== expected || final !== expected) && seen < 5) {
        r.surprises.push({ seed, verdict: first.verdict, final, summary: first.summary });
      }
    }
  }
  return result;
}

interface Miss {
  readonly profile: ProfileName;
  readonly phase: SweepPhase;
  readonly problem: string;
}

/**
 * The targets a profile missed. A healthy phase: no fail in the first window, none after the
 * extensions, and fewer than 1% inconclusive first windows (each costs an extension). A bad
 * profile's phase: failed, extension included, in at least 99.9% of seeds.
 */
function misses(name: ProfileName, phases: Record<SweepPhase, PhaseResult>, seeds: number): Miss[] {
  const out: Miss[] = [];
  const miss = (phase: SweepPhase, problem: string) => out.push({ profile: name, phase, problem });
  for (const w of WINDOWS) {
    const r = phases[w.phase];
    const expected = expectedVerdict(name, w.phase);
    if (expected === 'pass') {
      if (r.first.fail > TARGETS.maxFalseFails)
        miss(w.phase, `${r.first.fail} false fails in the first window`);
      if (r.final.fail > r.first.fail)
        miss(w.phase, `${r.final.fail - r.first.fail} more fails after extension`);
      if (r.first.inconclusive / seeds >= TARGETS.maxInconclusiveShare)
        miss(
          w.phase,
          `${r.first.inconclusive} inconclusive (target < ${TARGETS.maxInconclusiveShare * 100}%)`,
        );
    } else if (expected === 'fail' && r.final.fail / seeds < TARGETS.minDetectionShare) {
      miss(w.phase, `fails only ${r.final.fail}/${seeds} (target >= ${TARGETS.minDetectionShare * 100}%)`);
    }
  }
  return out;
}

/** `--set failAlpha=0.0001` overrides one numeric validation threshold, to explore. */
function withOverrides(base: ResolvedValidation, sets: readonly string[]): ResolvedValidation {
  const out: Record<string, unknown> = { ...base };
  for (const s of sets) {
    const [key, raw] = s.split('=');
    const value = Number(raw);
    if (!key || !(key in base) || typeof out[key] !== 'number' || !Number.isFinite(value)) {
      throw new RangeError(
        `--set ${s}: expected <numeric threshold>=<number>, one of ${Object.keys(base).join(', ')}`,
      );
    }
    out[key] = value;
  }
  return out as ResolvedValidation;
}

function profileName(x: string): ProfileName {
  if (!(PROFILE_NAMES as string[]).includes(x)) {
    throw new RangeError(`--profile ${x}: not a shipped profile (${PROFILE_NAMES.join(', ')})`);
  }
  return x as ProfileName;
}

function cell(t: Tally): string {
  return `${t.fail}/${t.inconclusive}/${t.pass}`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seeds: { type: 'string', default: '1000' },
      out: { type: 'string', default: 'bench/results/verdict-sweep.json' },
      profile: { type: 'string', multiple: true },
      set: { type: 'string', multiple: true },
    },
  });
  const thresholds = withOverrides(DEFAULT_THRESHOLDS, values.set ?? []);
  const names = values.profile?.length ? values.profile.map(profileName) : PROFILE_NAMES;
  const seeds = Number(values.seeds);
  if (!Number.isInteger(seeds) || seeds < 1)
    throw new RangeError(`--seeds must be a positive integer, got ${values.seeds}`);
  const profiles: Record<string, Record<SweepPhase, PhaseResult>> = {};
  const allMisses: Miss[] = [];
  for (const name of names) {
    profiles[name] = await sweepProfile(name, seeds, thresholds);
    allMisses.push(...misses(name, profiles[name], seeds));
  }

  const table = (title: string, pick: (r: PhaseResult) => Tally) => {
    const header = ['profile', ...WINDOWS.map((w) => w.phase)];
    const rows = names.map((name) => [
      name,
      ...WINDOWS.map((w) => {
        const expected = expectedVerdict(name, w.phase);
        const r = (profiles[name] as Record<SweepPhase, PhaseResult>)[w.phase];
        return `${cell(pick(r))}${expected === 'any' ? '' : ` (${expected})`}`;
      }),
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
    const line = (cols: string[]) => cols.map((c, i) => c.padEnd(widths[i] as number)).join('  ');
    console.log(title);
    console.log(line(header));
    for (const r of rows) console.log(line(r));
  };
  console.log(`Verdict sweep over seeds 1..${seeds}; cells are fail/inconclusive/pass (expected verdict).\n`);
  table('First window of each phase:', (r) => r.first);
  console.log('');
  table('Phase verdict after its extensions (an inconclusive last look fails safe):', (r) => r.final);
  console.log('\nChecks behind the fails and inconclusives (first window, fail/inconclusive):');
  for (const name of names) {
    for (const w of WINDOWS) {
      const r = (profiles[name] as Record<SweepPhase, PhaseResult>)[w.phase];
      const checks = Object.entries(r.checks)
        .map(([c, n]) => `${c} ${n.fail}/${n.inconclusive}`)
        .join(', ');
      if (checks && expectedVerdict(name, w.phase) !== 'any') console.log(`  ${name} ${w.phase}: ${checks}`);
    }
  }
  console.log(
    allMisses.length === 0
      ? '\nAll targets met.'
      : `\nTargets missed:\n${allMisses.map((m) => `  ${m.profile} ${m.phase}: ${m.problem}`).join('\n')}`,
  );

  const json = {
    seeds: { from: 1, to: seeds },
    timeline: WINDOWS,
    thresholds,
    targets: TARGETS,
    expectedFirstFail: EXPECTED_FIRST_FAIL,
    profiles,
    misses: allMisses,
  };
  mkdirSync(dirname(values.out), { recursive: true });
  writeFileSync(values.out, `${JSON.stringify(json, null, 2)}\n`);
  console.log(`Wrote ${values.out}`);
  if (allMisses.length > 0) process.exitCode = 1;
}

await main();

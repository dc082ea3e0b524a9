/**
 * The shipped traffic profiles, one per scenario the pipeline must handle, and `loadProfile`.
 * Times are seconds since the deployment started; with the runbook's defaults the canary window
 * is 0-600 s, staging 600-1500 s, production 1500-1800 s and the watch 1800-5400 s.
 */
import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { RUNBOOK } from '../../domain/defaults.js';
import { ConfigError } from '../../domain/errors.js';
import { parseProfile, type TrafficProfile, type TrafficProfileInput } from './profile.js';

/**
 * The p99 SLO (ms) the shipped profiles are written against: set `slo.p99Ms` to this in the
 * service config that uses them. Stable runs at p99 220 ms, comfortably under it.
 */
export const PROFILE_SLO_P99_MS = 300;

const { canary, staging, production } = RUNBOOK.phases;
/** End of the release with the runbook's defaults (no readiness wait, no extension). */
const RELEASE_END_SECONDS = canary.windowSeconds + staging.windowSeconds + production.windowSeconds;
/** Last third of the staging window. */
const LATE_STAGING_SECONDS = canary.windowSeconds + Math.round((staging.windowSeconds * 2) / 3);
/** 60% into the canary window: a step from here leaves the window's average inside the band. */
const CANARY_STEP_SECONDS = Math.round(canary.windowSeconds * 0.6);
/** The canary window's last 3 minutes. */
const CANARY_LATE_SECONDS = canary.windowSeconds - 180;
/** Thirty minutes after the release would have finished: inside the post-deployment watch. */
const WATCH_SPIKE_SECONDS = RELEASE_END_SECONDS + 1800;

const STABLE = {
  errorRate: 0.0002,
  latency: { p50Ms: 60, p99Ms: 220 },
  resources: { cpu: 0.45, memory: 0.55, disk: 0.35 },
} as const;

const QUIET_NOISE = { rps: 0.03, errorRate: 0.2, latency: 0.03, resources: 0.01 } as const;

function healthyLike(name: string, seed: number, description: string): TrafficProfileInput {
  return {
    name,
    description,
    seed,
    rps: 200,
    noise: QUIET_NOISE,
    versions: { stable: STABLE, canary: STABLE },
  };
}

/** The shipped profiles as written (see docs/traffic-profiles.md). */
export const PROFILE_DEFINITIONS = {
  healthy: healthyLike(
    'healthy',
    1,
    'Canary behaves exactly like stable: 200 rps, 0.02% errors, p50 60 ms / p99 220 ms, light noise. Every window passes.',
  ),
  'noisy-healthy': {
    name: 'noisy-healthy',
    description:
      'Healthy, with realistic noise (rps ±15%, error rate ±60%, latency ±12% per minute) and two traffic dips (-40% for 2 minutes in the canary window, -35% for 1 minute in staging). Every window should still pass.',
    seed: 7,
    rps: [
      { from: -86_400, value: 200 },
      { from: 300, value: 120 },
      { from: 420, value: 200 },
      { from: 900, value: 130 },
      { from: 960, value: 200 },
    ],
    noise: { rps: 0.15, errorRate: 0.6, latency: 0.12, resources: 0.04 },
    versions: {
      stable: { ...STABLE, errorRate: 0.0003 },
      canary: { ...STABLE, errorRate: 0.0003 },
    },
  },
  'error-spike': {
    ...healthyLike(
      'error-spike',
      2,
      'The canary fails 2% of its requests from the start. The canary window fails.',
    ),
    versions: { stable: STABLE, canary: { ...STABLE, errorRate: 0.02 } },
  },
  'error-creep': {
    ...healthyLike(
      'error-creep',
      3,
      "The canary's error rate creeps up by 0.06% every 2 minutes to stable + 0.3% (0.32%) and stays there. The canary window fails on the error rate.",
    ),
    versions: {
      stable: STABLE,
      canary: {
        ...STABLE,
        errorRate: [0, 1, 2, 3, 4].map((i) => ({
          from: i * 120,
          value: STABLE.errorRate + 0.0006 * (i + 1),
        })),
      },
    },
  },
  'latency-regression': {
    ...healthyLike(
      'latency-regression',
      4,
      'Canary p99 is 4x stable (880 ms, p50 120 ms). The canary window fails on latency.',
    ),
    versions: { stable: STABLE, canary: { ...STABLE, latency: { p50Ms: 120, p99Ms: 880 } } },
  },
  'latency-mild': {
    ...healthyLike(
      'latency-mild',
      5,
      `Canary p99 is 1.5x stable (330 ms, above the ${PROFILE_SLO_P99_MS} ms SLO; p50 70 ms). The canary window fails on latency.`,
    ),
    versions: { stable: STABLE, canary: { ...STABLE, latency: { p50Ms: 70, p99Ms: 330 } } },
  },
  'throughput-drop': {
    ...healthyLike(
      'throughput-drop',
      6,
      'Total traffic drops 40% (200 -> 120 rps) when the deployment starts. The canary window fails on throughput against the baseline.',
    ),
    rps: [
      { from: -86_400, value: 200 },
      { from: 0, value: 120 },
    ],
  },
  'throughput-step': {
    ...healthyLike(
      'throughput-step',
      11,
      `Total traffic (both versions) drops 45% (200 -> 110 rps) ${CANARY_STEP_SECONDS} s into the canary window and stays there. The window's average is 0.82x the baseline, inside the band; its last periods are 0.55x, so the canary window is extended (throughput-recent) and the extended window fails.`,
    ),
    rps: [
      { from: -86_400, value: 200 },
      { from: CANARY_STEP_SECONDS, value: 110 },
    ],
  },
  'canary-traffic-loss': {
    ...healthyLike(
      'canary-traffic-loss',
      12,
      `From ${CANARY_LATE_SECONDS} s (the canary window's last 3 minutes) the canary counts only 20% of the requests routed to it; stable's traffic is untouched, so the total moves by 8%. The canary window fails on canary-traffic; later windows fail on throughput (at 50% the total is 0.6x).`,
    ),
    versions: {
      stable: STABLE,
      canary: {
        ...STABLE,
        served: [
          { from: 0, value: 1 },
          { from: CANARY_LATE_SECONDS, value: 0.2 },
        ],
      },
    },
  },
  'late-degradation': {
    ...healthyLike(
      'late-degradation',
      8,
      `Healthy until ${LATE_STAGING_SECONDS} s (the last third of the staging window), then the canary fails 3% of requests and its p99 doubles. The canary window passes; the staging window fails.`,
    ),
    versions: {
      stable: STABLE,
      canary: {
        ...STABLE,
        errorRate: [
          { from: 0, value: STABLE.errorRate },
          { from: LATE_STAGING_SECONDS, value: 0.03 },
        ],
        latency: [
          { from: 0, ...STABLE.latency },
          { from: LATE_STAGING_SECONDS, p50Ms: 90, p99Ms: 440 },
        ],
      },
    },
  },
  'watch-spike': {
    ...healthyLike(
      'watch-spike',
      9,
      `Healthy through every validation window; ${WATCH_SPIKE_SECONDS} s after the start (30 minutes after the release would have finished, inside the post-deployment watch) the new version fails 5% of requests for 10 minutes. The error-rate alarm rolls it back in the watch.`,
    ),
    versions: {
      stable: STABLE,
      canary: {
        ...STABLE,
        errorRate: [
          { from: 0, value: STABLE.errorRate },
          { from: WATCH_SPIKE_SECONDS, value: 0.05 },
          { from: WATCH_SPIKE_SECONDS + 600, value: STABLE.errorRate },
        ],
      },
    },
  },
  crash: healthyLike(
    'crash',
    10,
    'Metrics exactly as healthy: the crash is in the image tag (the new pods crash-loop), so the pipeline must catch it from pod health, not from traffic.',
  ),
} as const satisfies Record<string, TrafficProfileInput>;

/** Names of the shipped profiles. */
export type ProfileName = keyof typeof PROFILE_DEFINITIONS;
export const PROFILE_NAMES = Object.keys(PROFILE_DEFINITIONS) as ProfileName[];

/** The shipped profiles, parsed. */
export const PROFILES: Readonly<Record<ProfileName, TrafficProfile>> = Object.fromEntries(
  PROFILE_NAMES.map((n) => [n, parseProfile(PROFILE_DEFINITIONS[n], `traffic profile ${n}`)]),
) as Record<ProfileName, TrafficProfile>;

function isProfileName(x: string): x is ProfileName {
  return Object.hasOwn(PROFILE_DEFINITIONS, x);
}

/**
 * A shipped profile by name, or a profile JSON file by path (anything with a `/` or ending in
 * `.json`). A file profile without a `name` takes its file name. Throws {@link ConfigError}
 * for an unknown name, an unreadable file, bad JSON, or a profile that does not parse (naming
 * every bad field).
 */
export function loadProfile(nameOrPath: string): TrafficProfile {
  if (isProfileName(nameOrPath)) return PROFILES[nameOrPath];
  if (!nameOrPath.includes('/') && !nameOrPath.endsWith('.json')) {
    throw new ConfigError(
      `unknown traffic profile "${nameOrPath}": use one of ${PROFILE_NAMES.join(', ')}, or a path to a profile JSON file`,
      [{ path: 'metrics.profile', message: `unknown profile "${nameOrPath}"` }],
    );
  }
  let text: string;
  try {
    text = readFileSync(nameOrPath, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read traffic profile ${nameOrPath}: ${(error as Error).message}`, [
      { path: 'metrics.profile', message: 'file not readable' },
    ]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`traffic profile ${nameOrPath} is not JSON: ${(error as Error).message}`, [
      { path: '(root)', message: 'not JSON' },
    ]);
  }
  const named =
    json !== null && typeof json === 'object' && !Array.isArray(json) && !('name' in json)
      ? { name: basename(nameOrPath, extname(nameOrPath)), ...json }
      : json;
  return parseProfile(named, `traffic profile ${nameOrPath}`);
}

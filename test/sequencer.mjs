/**
 * Runs the longest suites first. A fresh clone has no Jest timing cache, so Jest would order the
 * suites by file size and could leave a ten-minute suite (faults-cuts) to run alone at the end on
 * one of the two workers. Longest first (durations from the last fresh-clone run, in
 * docs/benchmarks.md) keeps both workers busy to the end. Order only: every suite still runs.
 */
import Sequencer from '@jest/test-sequencer';

/** Slowest first, from a fresh-clone `npm test` (2026-12-05): about 600, 365, 195, 180, 160 s... */
const SLOW_FIRST = [
  'integration/faults-cuts',
  'integration/hpa-release',
  'integration/release',
  'integration/faults-classes',
  'infra/cfn-lint',
  'infra/package',
  'integration/faults-control-plane',
  'integration/safety-lock',
  'integration/people',
  'integration/security-identities',
  'integration/runbook-hold-watch',
  'integration/faults-races',
  'integration/cli-local',
];

const rank = (path) => {
  const i = SLOW_FIRST.findIndex((name) => path.endsWith(`/test/${name}.test.ts`));
  return i === -1 ? SLOW_FIRST.length : i;
};

export default class SlowestFirst extends (Sequencer.default ?? Sequencer) {
  sort(tests) {
    return [...tests].sort((a, b) => rank(a.path) - rank(b.path) || a.path.localeCompare(b.path));
  }
}

/**
 * Runs the longest suites first. A fresh clone has no Jest timing cache, so Jest would order the
 * suites by file size and could leave a long suite (faults-cuts) to run alone at the end on one of
 * the two workers. Longest first keeps both workers busy to the end. Order only: every suite still
 * runs; suites not listed follow in path order (the unit suites, a few seconds each, come last).
 */
import Sequencer from '@jest/test-sequencer';

/**
 * Slowest first: seconds from the fresh-clone `npm test` of 2026-12-05 (commit cae0f28), scaled
 * by what each suite measured alone before and after it ran its independent tests side by side.
 */
const SLOW_FIRST = [
  'integration/faults-cuts', // ~230 (454 before its matrices ran side by side)
  'integration/hpa-release', // ~150 (414)
  'infra/package', // ~130 (npm pack + install + synth of a fresh app)
  'integration/alarm-rollback', // 137
  'integration/alarm-evaluation', // new
  'integration/cli-local-watch', // new
  'integration/doctor', // new
  'integration/codepipeline-release', // new
  'integration/separation-of-duties', // 124
  'integration/security-identities', // 123
  'integration/readiness-wait', // 122
  'integration/stopped-execution', // 121
  'integration/security-restricted', // 118
  'integration/release', // ~115 (181)
  'integration/cli-local', // 105
  'integration/report-html', // 101
  'integration/safety-identity', // 101
  'integration/safety-stale-gates', // 101
  'integration/faults-control-plane', // 98
  'integration/observability', // 98
  'integration/safety-late', // 97
  'integration/routers', // 95
  'infra/network', // 88
  'integration/safety-lock', // 87
  'integration/sample-catalog', // 86
  'integration/faults-table', // 83
  'integration/faults-classes', // ~77 (99)
  'infra/task-permissions', // 76
  'unit/cli-start', // 75
  'infra/state-machine', // 74
  'integration/faults-drift', // 73
  'integration/hpa', // 72
  'integration/runbook-gates', // ~71 (149)
  'integration/people', // 70
  'integration/gitops', // 69
  'infra/runbook-permissions', // 68
  'infra/release-stack', // 68
  'integration/runbook-hold-watch', // 63
  'infra/props-validation', // 63
  'infra/app', // 62
  'integration/runbook-jobs', // ~60 (130)
  'infra/iam-least-privilege', // 53
  'integration/faults-races', // 51
  'infra/nag', // 49
  'infra/codepipeline', // 42
  'integration/pdb', // 40
  'infra/error-names', // 38
  'integration/cluster', // 37
  'integration/pod-version', // 36
  'infra/cfn-lint', // 23
  'integration/k8s-reauth', // 22
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

/**
 * The runbook's numbers, in one place. The CDK code, the functions, the CLI and the docs all read
 * this module; a service's config may override any of them.
 */
export const RUNBOOK = {
  /** Traffic phases in order. Weights are percent of traffic to the new version. */
  phases: {
    canary: { weight: 10, windowSeconds: 600, extensions: 1, extendedWindowSeconds: 600 },
    staging: { weight: 50, windowSeconds: 900, extensions: 1, extendedWindowSeconds: 1200 },
    production: { weight: 100, windowSeconds: 300, extensions: 0, extendedWindowSeconds: 300 },
  },
  /** Emergency hotfix path: staging skipped, short canary, longer watch. */
  hotfix: { canaryWeight: 10, canaryWindowSeconds: 300, watchSeconds: 7200 },
  /**
   * The pre-deployment baseline (throughput and p99 of the running version) is measured over this
   * many seconds before the first shift; the p99 alarm is armed at a multiple of it.
   */
  baselineSeconds: 900,
  /** Post-deployment watch with the alarms armed. */
  watchSeconds: 3600,
  /** How long new pods may take to become Ready before the phase fails. */
  readinessTimeoutSeconds: 300,
  /** Seconds between readiness checks. */
  readinessPollSeconds: 5,
  /**
   * How long one "Check <Phase> Pods Ready" waits for the new pods inside its Lambda (checking
   * every {@link readinessCheckSeconds}) before answering "waiting": slow pods then cost a few
   * loop iterations instead of one Wait/Check/Choice per 5 s (bench/results/cost.json).
   */
  readinessWaitSeconds: 25,
  /** Seconds between the pod checks of that wait. */
  readinessCheckSeconds: 2,
  /** Validation thresholds applied in every window. */
  validation: {
    /** Error rate must stay below 0.1 %. */
    maxErrorRate: 0.001,
    /** CPU, memory and disk utilisation must stay below 80 %. */
    maxResourceUtilization: 0.8,
    /** Throughput must stay within this band of the pre-deployment baseline (ratio). */
    throughputBand: { min: 0.7, max: 1.5 },
    /** Fewer requests than this per version in a window is inconclusive, never a pass. */
    minRequestsPerVersion: 200,
    /** Significance level of the canary-versus-stable comparisons. */
    alpha: 0.01,
    /** Canary p99 may exceed stable p99 by this ratio before it is a regression. */
    p99RatioTolerance: 1.2,
    /**
     * Family-wise significance a regression needs to fail a window, split evenly (Bonferroni)
     * across the window's significance-tested checks. Evidence at `alpha` but not at this level is
     * inconclusive: the window is extended, and fails safe if it stays so.
     */
    failAlpha: 0.0001,
    /** A canary error rate must exceed stable's by at least this much (absolute, 0.05 %) to matter. */
    minErrorRateIncrease: 0.0005,
    /** ...and by at least this factor of stable's rate. */
    minErrorRateRatio: 1.5,
    /**
     * A step (in the total throughput against `throughputBand`, or in the canary's share of the
     * requests) is sustained when this many whole metrics periods at the end of a window all show
     * it (functions/domain/analysis/steps.ts); two such periods already extend a window.
     */
    stepPeriods: 3,
    /**
     * The canary's requests relative to stable's in the same period may fall this fraction below
     * that ratio earlier in the window before the periods count as a canary-only drop (0.3: the
     * canary lost 30% of its traffic while stable kept its own).
     */
    maxCanaryTrafficDrop: 0.3,
  },
  /** Alarm triggers that roll back without anyone awake. */
  rollbackTriggers: {
    errorRate: 0.01,
    errorRateForSeconds: 120,
    p99BaselineMultiplier: 3,
    p99ForSeconds: 120,
    circuitBreakerOpenSeconds: 120,
  },
  /**
   * Retries of a task that failed with a transient error (KubernetesTransientError,
   * AwsTransientError, StoreUnavailableError): exponential backoff with full jitter, then the
   * task's Catch (usually "Roll Back"). 2, 4, 8 s (capped at 30 s) before the 2nd, 3rd, 4th try.
   */
  retry: { intervalSeconds: 2, maxAttempts: 4, backoffRate: 2, maxDelaySeconds: 30 },
  /**
   * Slack on top of the longest path through a release (functions/domain/budget.ts) before the
   * execution times out: task timeouts, retries and readiness loops that the sum does not count.
   */
  executionTimeoutMarginSeconds: 7200,
  /** Approval by the team lead times out after this (counts as rejected). */
  approvalTimeoutSeconds: 3600,
  /** A hold (keep canary, investigate longer) fails safe after this. */
  holdTimeoutSeconds: 3600,
  /** Pre-deployment gates, checked all together before any cluster change. */
  gates: {
    /** Distinct reviewers a release needs (a hotfix may have fewer with a risk acknowledgement). */
    minReviewers: 2,
    /** The "metrics present" gate asks for requests over this many seconds before the release. */
    metricsLookbackSeconds: 900,
    /** How long the on-call HTTP endpoint may take to answer. */
    onCallTimeoutSeconds: 5,
    /**
     * The "traffic share" gate: how many percentage points the share a replica-ratio canary can
     * really get (whole pods behind one Service) may be off a phase's weight. 10: a 10% canary
     * may take up to 20% (4 replicas); 1 replica gives 50% and is refused.
     */
    shareTolerance: 10,
  },
  /** Test hooks: a Kubernetes Job per phase, started when the window starts. */
  tests: {
    /** A test Job still running after this fails the phase (its activeDeadlineSeconds too). */
    timeoutSeconds: 900,
    /** Seconds between checks once the window is over and the Job has not finished. */
    pollSeconds: 10,
  },
  /** Database migrations: a snapshot first, then a Kubernetes Job (and its rollback Job). */
  migration: {
    /** A migration (or rollback) Job running longer than this has failed. */
    timeoutSeconds: 1800,
    /** Seconds between checks of a running migration Job. */
    pollSeconds: 15,
    /** Seconds between checks of a snapshot being created. */
    snapshotPollSeconds: 30,
    /** A snapshot not available after this has failed (the migration does not run). */
    snapshotTimeoutSeconds: 3600,
  },
  /**
   * Test and migration Jobs (functions/domain/job-policy.ts): what a Job's container gets when the
   * catalog's `jobs.resources` leaves a figure out, and the size of its writable `/tmp` (the root
   * file system is read-only).
   */
  jobs: {
    resources: {
      requests: { cpu: '100m', memory: '128Mi' },
      limits: { cpu: '1', memory: '512Mi' },
    },
    tmpSizeLimit: '64Mi',
  },
} as const;

/** The phases that shift traffic, in runbook order. */
export const PHASE_NAMES = ['canary', 'staging', 'production'] as const;
export type PhaseName = (typeof PHASE_NAMES)[number];

import { z } from 'zod';
import { RUNBOOK } from './defaults.js';
import { dutiesSchema } from './duties.js';
import { ConfigError, type FieldIssue } from './errors.js';
import { imageRef } from './image.js';
import { allowedImageEntry } from './image-allow-list.js';
import { jobEnvSchema } from './job-env.js';
import { catalogJobIssues, jobsSchema } from './job-policy.js';
import {
  albActionNameProblem,
  DNS1035_LABEL,
  defaultCanaryServiceProblem,
  deploymentNameProblem,
  K8S_NAME_LIMITS,
} from './k8s-names.js';
import { parseCron, parseIsoInterval, WEEKDAYS } from './schedule.js';

/** Kubernetes object name (RFC 1123 subdomain, as Deployments and Services require). */
export const k8sName = z
  .string()
  .min(1)
  .max(253)
  .regex(
    /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
    'must be a lowercase RFC 1123 name',
  );
/** Kubernetes DNS label (namespaces, container names). */
export const k8sLabel = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a lowercase RFC 1123 label');
/** A Service name: a DNS-1035 label (starts with a letter, at most 63 characters). */
export const k8sServiceName = z
  .string()
  .min(1)
  .max(K8S_NAME_LIMITS.label, `must be a DNS-1035 label of at most ${K8S_NAME_LIMITS.label} characters`)
  .regex(
    DNS1035_LABEL,
    "must be a DNS-1035 label (lowercase letters, digits and '-', starting with a letter), as Service names are",
  );

/** Adds `problem(value)` as an issue of the field when it is not null. */
function nameFits(problem: (value: string) => string | null) {
  return (value: string, ctx: z.RefinementCtx) => {
    const message = problem(value);
    if (message !== null) ctx.addIssue({ code: 'custom', message });
  };
}

const seconds = z.number().int().min(0).max(86_400);
const ratio = z.number().min(0).max(1);

const phaseSchema = z
  .object({
    /** Percent of traffic to the new version. */
    weight: z.number().int().min(1).max(100),
    /** Validation window (a Wait state) before the phase is judged. */
    windowSeconds: seconds,
    /** How many times an inconclusive verdict extends the window before failing safe. */
    extensions: z.number().int().min(0).max(5),
    extendedWindowSeconds: seconds,
  })
  .strict();

const dimensions = z.record(z.string().min(1), z.string().min(1));

const metricRef = z
  .object({
    namespace: z.string().min(1),
    name: z.string().min(1),
    dimensions: dimensions.default({}),
    stat: z.string().min(1).default('Average'),
  })
  .strict();

const cloudWatchMetrics = z
  .object({
    source: z.literal('cloudwatch'),
    /** CloudWatch namespace of the service's own metrics. */
    namespace: z.string().min(1),
    /** Count of requests (Sum). */
    requests: z.string().min(1),
    /** Count of failed requests (Sum). */
    errors: z.string().min(1),
    /** Latency in milliseconds (p50/p99 are read as extended statistics). */
    latency: z.string().min(1),
    /** Dimensions that select the service. */
    dimensions: dimensions.default({}),
    /** The dimension whose value tells versions apart; its value is the image tag. */
    versionDimension: z.string().min(1),
    /** Metric whose value is 1 while the service's circuit breaker is open (optional). */
    circuitBreaker: metricRef.optional(),
    /** Queue depth for the dashboard (optional). */
    queueDepth: metricRef.optional(),
    /** Worker utilization for the dashboard (optional). */
    workerUtilization: metricRef.optional(),
    /** Container Insights cluster name for CPU/memory/disk and OOM kills (defaults to the EKS cluster). */
    containerInsightsCluster: z.string().min(1).optional(),
  })
  .strict();

const syntheticMetrics = z
  .object({
    source: z.literal('synthetic'),
    /** Name of a shipped traffic profile or a path to a profile JSON. */
    profile: z.string().min(1).default('healthy'),
  })
  .strict();

const replicaRatioRouter = z
  .object({
    type: z.literal('replica-ratio'),
    /** The Service that fronts the Deployment. */
    service: k8sServiceName,
    /**
     * Percentage points the share whole pods can give may be off a phase's weight before the
     * "traffic share" gate objects. @default RUNBOOK.gates.shareTolerance (10)
     */
    shareTolerance: z.number().min(0).max(100).optional(),
    /**
     * A share further off than `shareTolerance` passes the gate with a warning instead of refusing
     * the release. @default false
     */
    acceptShareDeviation: z.boolean().optional(),
  })
  .strict();

const albRouter = z
  .object({
    type: z.literal('alb'),
    /** Ingress handled by the AWS Load Balancer Controller. */
    ingress: k8sName,
    /** Name of the forward action (`alb.ingress.kubernetes.io/actions.<actionName>`). */
    actionName: k8sName.superRefine(nameFits(albActionNameProblem)),
    /** The stable Service (exists before the release). */
    stableService: k8sServiceName,
    /**
     * The canary Service tps-deploy creates for the release (default `<stable>-tps-canary`). Never
     * the stable Service: the canary Service is deleted after every release.
     */
    canaryService: k8sServiceName.optional(),
    /** Service port used in the forward action. */
    servicePort: z.union([z.number().int().min(1).max(65535), z.string().min(1)]),
  })
  .strict()
  .superRefine((router, ctx) => {
    if (router.canaryService === router.stableService) {
      ctx.addIssue({
        code: 'custom',
        path: ['canaryService'],
        message: `must differ from router.stableService ("${router.stableService}"): tps-deploy creates the canary Service for a release and deletes it after`,
      });
    }
    const tooLong =
      router.canaryService === undefined ? defaultCanaryServiceProblem(router.stableService) : null;
    if (tooLong !== null) ctx.addIssue({ code: 'custom', path: ['stableService'], message: tooLong });
  });

const hhmm = z.string().regex(/^(([01]\d|2[0-3]):[0-5]\d|24:00)$/, 'must be HH:MM (UTC), 00:00 to 24:00');

const onCallSchema = z.union([
  z
    .object({
      /** Weekly shifts in UTC; a shift whose end is not after its start runs overnight. */
      schedule: z
        .array(
          z
            .object({
              who: z.string().min(1),
              days: z.array(z.enum(WEEKDAYS)).min(1),
              start: hhmm,
              end: hhmm,
            })
            .strict(),
        )
        .min(1),
    })
    .strict(),
  z
    .object({
      /** GET returns JSON `{ "onCall": ["name", ...] }` (or a single name); empty means nobody. */
      url: z.url({ protocol: /^https?$/ }),
      timeoutSeconds: z.number().int().min(1).max(30).optional(),
    })
    .strict(),
]);

const freezeWindowSchema = z.union([
  z
    .object({
      name: z.string().min(1),
      /** ISO 8601 interval in UTC: `2026-12-20T00:00:00Z/2027-01-04T00:00:00Z`. */
      interval: z
        .string()
        .refine(
          (s) => parseIsoInterval(s) !== null,
          'must be <start>/<end>, ISO 8601 UTC (Z), end after start',
        ),
      /** A hotfix may start inside this freeze (recorded with a follow-up). @default true */
      allowHotfix: z.boolean().optional(),
    })
    .strict(),
  z
    .object({
      name: z.string().min(1),
      /** Five-field UTC cron of each freeze's start, e.g. `0 17 * * FRI`. */
      cron: z.string().superRefine((s, ctx) => {
        try {
          parseCron(s);
        } catch (e) {
          ctx.addIssue({ code: 'custom', message: (e as Error).message });
        }
      }),
      /** How long each freeze lasts from its start, e.g. 3840 (Friday 17:00 to Monday 09:00). */
      durationMinutes: z.number().int().min(1).max(44_640),
      allowHotfix: z.boolean().optional(),
    })
    .strict(),
]);

const jobSpecSchema = z
  .object({
    /** The test image, with a tag or digest, from a repository in `jobs.allowedImages`. */
    image: imageRef,
    /** Command (entrypoint override); the image's own when omitted. */
    command: z.array(z.string().min(1)).min(1).optional(),
    /**
     * The Job's environment: plaintext, or `{ secretKeyRef: { name, key } }` for a key of a
     * Kubernetes Secret in the service's namespace listed in `jobs.secrets`. Plaintext that looks
     * like a credential is refused (functions/domain/job-env.ts): the catalog is in the repository
     * and the bundle.
     */
    env: jobEnvSchema.optional(),
    /** @default RUNBOOK.tests.timeoutSeconds */
    timeoutSeconds: z.number().int().min(1).max(86_400).optional(),
  })
  .strict();

const databaseRefSchema = z
  .object({ kind: z.enum(['rds-instance', 'aurora-cluster']), identifier: z.string().min(1).max(63) })
  .strict();

const serviceSchema = z
  .object({
    /** What this service is, for people reading the catalog. */
    description: z.string().optional(),
    cluster: z
      .object({ name: z.string().min(1).max(100), region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/) })
      .strict(),
    namespace: k8sLabel,
    /** The Deployment a release changes; its canary is `<deployment>-tps-canary`. */
    deployment: k8sName.superRefine(nameFits(deploymentNameProblem)),
    /** Containers whose image a release changes; the first is the default for `image`. */
    containers: z.array(k8sLabel).min(1),
    /**
     * The repositories a release's images may come from, matched as `jobs.allowedImages` is
     * (whole path segments, registry host included; `/*` one level, `/**` any depth below):
     * Validate Input refuses any other image, naming each, before anything changes.
     * @default any image (no check)
     */
    allowedImages: z.array(allowedImageEntry).min(1).optional(),
    router: z.discriminatedUnion('type', [replicaRatioRouter, albRouter]),
    /**
     * The GitOps controller that applies this service from Git, told to stand off the objects a
     * release changes while it runs: 'flux' sets `kustomize.toolkit.fluxcd.io/reconcile: disabled`
     * on them from the first shift until Clean Up or Roll Back (docs/deploying.md, "Flux").
     * Argo CD needs no annotation: see docs/examples/argocd-application.yaml.
     */
    gitops: z.enum(['flux']).optional(),
    slo: z.object({ p99Ms: z.number().positive() }).strict(),
    metrics: z.discriminatedUnion('source', [cloudWatchMetrics, syntheticMetrics]),
    /**
     * A sandbox: a service nobody depends on (a local demo, a test fixture, a playground), whose
     * releases may be judged on synthetic traffic. The CDK app refuses `metrics.source: 'synthetic'`
     * on any other service, so a real release is never judged on made-up traffic.
     * @default false
     */
    sandbox: z.boolean().optional(),
    phases: z
      .object({
        canary: phaseSchema.partial().strict().optional(),
        staging: phaseSchema.partial().strict().optional(),
        production: phaseSchema.partial().strict().optional(),
      })
      .strict()
      .default({}),
    validation: z
      .object({
        maxErrorRate: ratio.optional(),
        maxResourceUtilization: ratio.optional(),
        throughputBand: z
          .object({ min: z.number().min(0), max: z.number().positive() })
          .strict()
          .optional(),
        minRequestsPerVersion: z.number().int().min(1).optional(),
        alpha: z.number().gt(0).lt(1).optional(),
        p99RatioTolerance: z.number().min(1).optional(),
        failAlpha: z.number().gt(0).lt(1).optional(),
        minErrorRateIncrease: ratio.optional(),
        minErrorRateRatio: z.number().min(1).optional(),
        stepPeriods: z.number().int().min(1).max(60).optional(),
        maxCanaryTrafficDrop: z.number().gt(0).lt(1).optional(),
      })
      .strict()
      .default({}),
    readinessTimeoutSeconds: seconds.optional(),
    /** How far back the pre-deployment baseline looks. @default RUNBOOK.baselineSeconds */
    baselineSeconds: seconds.min(60).optional(),
    watchSeconds: seconds.optional(),
    hotfix: z
      .object({
        canaryWeight: z.number().int().min(1).max(100),
        canaryWindowSeconds: seconds,
        watchSeconds: seconds,
      })
      .partial()
      .strict()
      .default({}),
    /**
     * The team lead approves each release ("Request Approval" waits for it) unless this is false.
     * @default true (both modes: a hotfix skips staging, not the lead)
     */
    approval: z.boolean().optional(),
    /** An unanswered approval request counts as rejected after this. @default RUNBOOK.approvalTimeoutSeconds */
    approvalTimeoutSeconds: seconds.min(1).optional(),
    /** A hold nobody promotes or aborts rolls back after this. @default RUNBOOK.holdTimeoutSeconds */
    holdTimeoutSeconds: seconds.min(1).optional(),
    /** A window that stays inconclusive holds for a person instead of failing safe. @default false */
    holdOnInconclusive: z.boolean().optional(),
    /** Who is on call: a weekly UTC schedule or an HTTP endpoint. Without it the on-call gate fails. */
    onCall: onCallSchema.optional(),
    /** Change freezes: no standard release starts inside one. @default none */
    freezeWindows: z.array(freezeWindowSchema).optional(),
    /**
     * What the service's test and migration Jobs run as and may run (functions/domain/job-policy.ts).
     * Without it the service runs no Jobs: `tests` is refused, and so is an input's `migration`.
     */
    jobs: jobsSchema.optional(),
    /** A test Job per phase (needs `jobs`), started with the validation window; a failing Job fails the phase. */
    tests: z
      .object({
        canary: jobSpecSchema.optional(),
        staging: jobSpecSchema.optional(),
        production: jobSpecSchema.optional(),
      })
      .strict()
      .optional(),
    /** Overrides of the gates' numbers (RUNBOOK.gates). */
    gates: z
      .object({
        minReviewers: z.number().int().min(1).max(10).optional(),
        metricsLookbackSeconds: seconds.min(60).optional(),
      })
      .strict()
      .optional(),
    /**
     * Databases a migration may snapshot (the functions may snapshot only these; a migration naming
     * another fails the gates).
     */
    databases: z.array(databaseRefSchema).optional(),
    /** Separation of duties: who answers its releases, where attestations come from (domain/duties.ts). */
    duties: dutiesSchema.optional(),
  })
  .strict();

/** A service as written in the catalog (optional fields may be omitted). */
export type ServiceConfigInput = z.input<typeof serviceSchema>;
/** A service after parsing. */
export type ServiceConfig = z.output<typeof serviceSchema>;

/** The catalog's schema (docs/onboarding.md, "The catalog, field by field", documents every field of it). */
export const catalogSchema = z
  .object({
    /** Prefix of every AWS resource name. */
    appName: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9-]{0,30}$/)
      .default('tps-deploy'),
    services: z
      .record(k8sLabel, serviceSchema)
      .refine((s) => Object.keys(s).length > 0, 'at least one service'),
  })
  .strict();

export type CatalogInput = z.input<typeof catalogSchema>;
export type Catalog = z.output<typeof catalogSchema>;

/** Turns zod issues into field issues with dotted paths. */
export function toFieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
}

/**
 * Parses and checks the service catalog. Throws {@link ConfigError} naming every bad field.
 * Used by the CDK app at synth time and by the functions at run time.
 */
export function parseCatalog(input: unknown): Catalog {
  const parsed = catalogSchema.safeParse(input);
  const jobIssues = catalogJobIssues(input);
  if (!parsed.success || jobIssues.length > 0) {
    const issues = [...(parsed.success ? [] : toFieldIssues(parsed.error)), ...jobIssues];
    throw new ConfigError(
      `invalid service catalog: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
      issues,
    );
  }
  const issues: FieldIssue[] = [];
  for (const [name, svc] of Object.entries(parsed.data.services)) {
    const weights = PHASE_ORDER.map((p) => resolvePhase(svc, p).weight);
    for (let i = 1; i < weights.length; i++) {
      if ((weights[i] ?? 0) <= (weights[i - 1] ?? 0)) {
        issues.push({
          path: `services.${name}.phases`,
          message: `weights must increase (got ${weights.join(', ')})`,
        });
        break;
      }
    }
    if (weights[weights.length - 1] !== 100) {
      issues.push({
        path: `services.${name}.phases.production.weight`,
        message: 'production must take 100% of traffic',
      });
    }
  }
  if (issues.length > 0) {
    throw new ConfigError(
      `invalid service catalog: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
      issues,
    );
  }
  return parsed.data;
}

/** Typed helper for `tps.config.ts`: returns its argument, so editors check the catalog. */
export function defineCatalog(catalog: CatalogInput): CatalogInput {
  return catalog;
}

const PHASE_ORDER = ['canary', 'staging', 'production'] as const;

/** A phase with the runbook defaults filled in. */
export interface ResolvedPhase {
  readonly weight: number;
  readonly windowSeconds: number;
  readonly extensions: number;
  readonly extendedWindowSeconds: number;
}

/** The phase settings of a service, runbook defaults overridden by its config. */
export function resolvePhase(svc: ServiceConfig, phase: (typeof PHASE_ORDER)[number]): ResolvedPhase {
  return { ...RUNBOOK.phases[phase], ...(svc.phases[phase] ?? {}) };
}

/** Validation thresholds of a service, runbook defaults overridden by its config. */
export function resolveValidation(svc: ServiceConfig) {
  return { ...RUNBOOK.validation, ...svc.validation, sloP99Ms: svc.slo.p99Ms };
}
export type ResolvedValidation = ReturnType<typeof resolveValidation>;

/** A test Job of a phase as configured. */
export type TestJobConfig = z.output<typeof jobSpecSchema>;
/** A database a migration may snapshot. */
export type DatabaseConfig = z.output<typeof databaseRefSchema>;
/** A change-freeze window as configured. */
export type FreezeWindowConfig = z.output<typeof freezeWindowSchema>;
/** The on-call source as configured. */
export type OnCallConfig = z.output<typeof onCallSchema>;

/**
 * What a service's test and migration Jobs may be: the catalog's `jobs` block.
 *
 * Invariant: a Job tps-deploy creates is never a way in. It runs as the ServiceAccount the
 * catalog names (never one from the execution input), with no API token mounted unless the
 * catalog asks for one, an image from the catalog's allow-list (functions/domain/image-allow-list.ts),
 * credentials only as references to the Kubernetes Secrets the catalog lists, and the resources
 * set; the Kubernetes adapter adds the restricted Pod Security profile to every Job
 * (functions/adapters/kubernetes/jobs.ts). So:
 * - a service without a `jobs` block runs no Jobs: the catalog refuses its `tests`, Validate Input
 *   refuses a `migration` (fail closed: no allow-list allows nothing);
 * - a test image outside the allow-list, or a Secret the block does not list, is a catalog error
 *   naming the field; a migration's is an input error naming the field, before anything changes.
 */
import { z } from 'zod';
import { RUNBOOK } from './defaults.js';
import type { FieldIssue } from './errors.js';
import { allowedImageEntry, imageAllowed } from './image-allow-list.js';
import { credentialIssues, secretKeyRefSchema } from './job-env.js';

/** A ServiceAccount's or Secret's name: a DNS-1123 subdomain. */
const objectName = z
  .string()
  .min(1)
  .max(253)
  .regex(
    /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
    'must be a lowercase RFC 1123 subdomain',
  );

/** Units of the quantities accepted here, as multipliers. */
const UNITS: Readonly<Record<string, number>> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};
const QUANTITY_RE = /^(\d+(?:\.\d+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/;

/** The value of a Kubernetes quantity in base units (pure), or null when it is not one accepted here. */
export function quantityValue(q: string): number | null {
  const m = QUANTITY_RE.exec(q);
  return m ? Number(m[1]) * (UNITS[m[2] ?? ''] ?? 1) : null;
}

const cpu = z
  .string()
  .regex(
    /^(\d+(\.\d+)?|\d+m)$/,
    "must be CPU as Kubernetes writes it: cores ('1', '0.5') or millicores ('250m')",
  );
const memory = z
  .string()
  .regex(/^\d+(Ki|Mi|Gi|Ti|k|M|G|T)?$/, "must be memory as Kubernetes writes it, e.g. '256Mi', '1Gi'");
const quantities = z.object({ cpu: cpu.optional(), memory: memory.optional() }).strict();

/** A UID or GID other than root's. */
const id = z.number().int().min(1).max(2_147_483_647);

/** The catalog's `jobs` block of a service. */
export const jobsSchema = z
  .object({
    /**
     * The ServiceAccount every test and migration Job of the service runs as. Create it in the
     * service's namespace with no RoleBinding unless the Jobs need one.
     */
    serviceAccountName: objectName,
    /**
     * Mount the ServiceAccount's API token into the Jobs' pods. Only for Jobs that call the
     * Kubernetes API (or exchange it for AWS credentials through IRSA). @default false
     */
    automountServiceAccountToken: z.boolean().default(false),
    /** Repositories the test and migration images must come from (functions/domain/image-allow-list.ts). */
    allowedImages: z.array(allowedImageEntry).min(1),
    /** Kubernetes Secrets in the namespace that the Jobs' env may reference (`secretKeyRef`). @default [] */
    secrets: z.array(objectName).default([]),
    /** Requests and limits of the Jobs' container; a figure left out is RUNBOOK.jobs.resources'. */
    resources: z
      .object({ requests: quantities.optional(), limits: quantities.optional() })
      .strict()
      .optional(),
    /** UID (and GID) to run as, for an image whose USER is root or a name (runAsNonRoot cannot check a name). */
    runAsUser: id.optional(),
    runAsGroup: id.optional(),
  })
  .strict()
  .superRefine((jobs, ctx) => {
    const r = resolveResources(jobs.resources);
    for (const k of ['cpu', 'memory'] as const) {
      const request = quantityValue(r.requests[k]);
      const limit = quantityValue(r.limits[k]);
      if (request !== null && limit !== null && request > limit) {
        ctx.addIssue({
          code: 'custom',
          path: ['resources', 'requests', k],
          message: `${r.requests[k]} is more than the limit ${r.limits[k]} (Kubernetes refuses a request above its limit)`,
        });
      }
    }
  });

/** The `jobs` block as written. */
export type JobsConfigInput = z.input<typeof jobsSchema>;
/** The `jobs` block after parsing. */
export type JobsConfig = z.output<typeof jobsSchema>;

/** Requests and limits of a Job's container. */
export interface JobResources {
  readonly requests: { readonly cpu: string; readonly memory: string };
  readonly limits: { readonly cpu: string; readonly memory: string };
}

/** The catalog's resources over RUNBOOK.jobs.resources, figure by figure (pure). */
export function resolveResources(r: JobsConfig['resources']): JobResources {
  const d = RUNBOOK.jobs.resources;
  return {
    requests: { ...d.requests, ...(r?.requests ?? {}) },
    limits: { ...d.limits, ...(r?.limits ?? {}) },
  };
}

/** What every Job of the service runs with, besides its image, command and env. */
export interface JobPodPolicy {
  readonly serviceAccountName: string;
  readonly automountServiceAccountToken: boolean;
  readonly resources: JobResources;
  readonly runAsUser?: number;
  readonly runAsGroup?: number;
}

/** The pod policy of a service's Jobs (pure). */
export function jobPodPolicy(jobs: JobsConfig): JobPodPolicy {
  return {
    serviceAccountName: jobs.serviceAccountName,
    automountServiceAccountToken: jobs.automountServiceAccountToken,
    resources: resolveResources(jobs.resources),
    ...(jobs.runAsUser !== undefined ? { runAsUser: jobs.runAsUser } : {}),
    ...(jobs.runAsGroup !== undefined ? { runAsGroup: jobs.runAsGroup } : {}),
  };
}

const obj = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/**
 * Issues of one Job's image and env against the service's `jobs` block (pure). `spec` may be
 * anything (the raw input or catalog): only a string image and well-formed Secret references are
 * looked at, so these issues are named along with the schema's.
 */
export function jobSpecIssues(jobs: JobsConfig, spec: unknown, path: string, where: string): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const { image, env } = obj(spec);
  if (typeof image === 'string' && !imageAllowed(image, jobs.allowedImages)) {
    issues.push({
      path: `${path}.image`,
      message: `${image} is not from a repository in ${where}.allowedImages (${jobs.allowedImages.join(', ')})`,
    });
  }
  for (const [name, value] of Object.entries(obj(env))) {
    const ref = secretKeyRefSchema.safeParse(value);
    if (ref.success && !jobs.secrets.includes(ref.data.secretKeyRef.name)) {
      issues.push({
        path: `${path}.env.${name}`,
        message: `Secret "${ref.data.secretKeyRef.name}" is not in ${where}.secrets (${jobs.secrets.join(', ') || 'none listed'}): list the Secrets the Jobs may read`,
      });
    }
  }
  return issues;
}

/**
 * The catalog's Job issues, looked for in the raw catalog so they are named along with every other
 * bad field: plaintext credentials in the test Jobs' env, `tests` without a `jobs` block, and test
 * images or Secrets the block does not allow.
 */
export function catalogJobIssues(input: unknown): FieldIssue[] {
  const issues: FieldIssue[] = [];
  for (const [name, svc] of Object.entries(obj(obj(input).services))) {
    const at = `services.${name}`;
    const tests = Object.entries(obj(obj(svc).tests));
    for (const [phase, spec] of tests) {
      issues.push(...credentialIssues(obj(spec).env, `${at}.tests.${phase}.env`));
    }
    if (tests.length === 0) continue;
    if (obj(svc).jobs === undefined) {
      issues.push({
        path: `${at}.jobs`,
        message:
          'required with tests: the ServiceAccount the test Jobs run as (serviceAccountName) and the repositories their images may come from (allowedImages)',
      });
      continue;
    }
    const jobs = jobsSchema.safeParse(obj(svc).jobs);
    if (!jobs.success) continue; // the schema names what is wrong with the block itself
    for (const [phase, spec] of tests) {
      issues.push(...jobSpecIssues(jobs.data, spec, `${at}.tests.${phase}`, `${at}.jobs`));
    }
  }
  return issues;
}

/** The execution input's migration against the service's `jobs` block (pure; `migration` is raw). */
export function migrationJobIssues(
  service: string,
  jobs: JobsConfig | undefined,
  migration: unknown,
): FieldIssue[] {
  if (migration === null || typeof migration !== 'object') return [];
  if (!jobs) {
    return [
      {
        path: 'migration',
        message: `service ${service} declares no jobs block (its ServiceAccount and allowed images) in the catalog, so it runs no migration Jobs`,
      },
    ];
  }
  return jobSpecIssues(jobs, migration, 'migration', `the catalog's services.${service}.jobs`);
}

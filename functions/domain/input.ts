import { z } from 'zod';
import { type Catalog, type ResolvedPhase, resolvePhase, type ServiceConfig } from './config.js';
import { RUNBOOK } from './defaults.js';
import { type FieldIssue, InvalidInputError } from './errors.js';
import { imageRef, imageVersion } from './image.js';
import { imageAllowed } from './image-allow-list.js';
import { credentialIssues, jobEnvSchema } from './job-env.js';
import { migrationJobIssues } from './job-policy.js';

export { imageRef, imageVersion } from './image.js';

const migrationSchema = z
  .object({
    /** From a repository in the catalog's `jobs.allowedImages` of the service (checked with it). */
    image: imageRef,
    command: z.array(z.string().min(1)).min(1),
    rollbackCommand: z.array(z.string().min(1)).min(1),
    when: z.enum(['before', 'after']).default('before'),
    /** RDS DB instance or Aurora cluster to snapshot before the migration. */
    database: z
      .object({ kind: z.enum(['rds-instance', 'aurora-cluster']), identifier: z.string().min(1).max(63) })
      .strict()
      .optional(),
    /**
     * The Job's environment: plaintext, or `{ secretKeyRef: { name, key } }` for a key of a
     * Kubernetes Secret in the service's namespace that the catalog's `jobs.secrets` lists.
     * Plaintext that looks like a credential is refused (functions/domain/job-env.ts): this input
     * is kept in the execution history. What the Job runs as (its ServiceAccount, security
     * context, resources) is the catalog's alone: the schema refuses any other field.
     */
    env: jobEnvSchema.default({}),
  })
  .strict();

/**
 * Where an attestation came from: a CodePipeline action's execution, a CodeBuild report, or a
 * person. Recorded with the release; `duties.requireTestsFrom` in the catalog can demand that
 * `testsPassed` comes from a named pipeline action.
 */
export const provenanceSchema = z.discriminatedUnion('source', [
  z
    .object({
      source: z.literal('codepipeline-action'),
      /** The action's name in the pipeline (what `duties.requireTestsFrom` names). */
      actionName: z.string().min(1).max(100),
      /** CodePipeline's action execution id (`#{<namespace>.ActionExecutionId}` style variables). */
      actionExecutionId: z.string().min(1).max(200),
      pipelineExecutionId: z.string().min(1).max(200).optional(),
    })
    .strict(),
  z
    .object({
      source: z.literal('codebuild-report'),
      reportArn: z
        .string()
        .regex(/^arn:aws[a-z-]*:codebuild:[a-z0-9-]+:\d{12}:report\/.+$/, 'must be a CodeBuild report ARN'),
    })
    .strict(),
  z.object({ source: z.literal('person'), principal: z.string().min(1).max(2048) }).strict(),
]);
export type Provenance = z.output<typeof provenanceSchema>;

const attestationsSchema = z
  .object({
    testsPassed: z.boolean().optional(),
    reviewers: z.array(z.string().min(1)).optional(),
    /** Where each attestation came from. */
    provenance: z
      .object({ testsPassed: provenanceSchema.optional(), reviewers: provenanceSchema.optional() })
      .strict()
      .optional(),
    /** Hotfix only: acknowledges the risk of shipping without the required reviews. */
    riskAcknowledgement: z.string().min(10).optional(),
    /** Where the evidence lives (CI run URL, pull request). */
    evidence: z.record(z.string(), z.string()).optional(),
  })
  .strict();

const inputSchema = z
  .object({
    service: z.string().min(1),
    image: imageRef.optional(),
    images: z.record(z.string(), imageRef).optional(),
    mode: z.enum(['standard', 'hotfix']).default('standard'),
    requestedBy: z.string().min(1).max(200).optional(),
    changeRef: z.string().min(1).max(200).optional(),
    attestations: attestationsSchema.optional(),
    migration: migrationSchema.optional(),
  })
  .strict();

export type ExecutionInputRaw = z.input<typeof inputSchema>;
export type ExecutionInput = z.output<typeof inputSchema>;

/** The validated release: which service, which images, which phases with which numbers. */
export interface ReleasePlan {
  readonly deploymentId: string;
  readonly service: string;
  readonly namespace: string;
  readonly deployment: string;
  readonly mode: 'standard' | 'hotfix';
  /** New image per container. */
  readonly images: Readonly<Record<string, string>>;
  /** Version label of the new release (tag of the first container's image). */
  readonly version: string;
  readonly requestedBy: string;
  readonly changeRef: string | null;
  readonly phases: {
    readonly canary: ResolvedPhase;
    readonly staging: ResolvedPhase & { readonly skip: boolean };
    readonly production: ResolvedPhase;
  };
  readonly readinessTimeoutSeconds: number;
  readonly readinessPollSeconds: number;
  readonly watchSeconds: number;
  readonly input: ExecutionInput;
}

/**
 * Validates an execution input against the catalog and resolves the release plan.
 * Throws {@link InvalidInputError} naming every bad field; performs no I/O.
 */
export function parseExecutionInput(raw: unknown, catalog: Catalog, deploymentId: string): ReleasePlan {
  const parsed = inputSchema.safeParse(raw);
  const issues: FieldIssue[] = [];
  if (!parsed.success) {
    for (const i of parsed.error.issues) {
      if (i.code === 'unrecognized_keys') {
        for (const k of i.keys) issues.push({ path: [...i.path, k].join('.'), message: 'unknown field' });
      } else {
        issues.push({ path: i.path.map(String).join('.'), message: i.message });
      }
    }
  }
  const data = parsed.success ? parsed.data : undefined;
  const rawObj = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const serviceName = typeof rawObj.service === 'string' ? rawObj.service : undefined;
  const svc: ServiceConfig | undefined =
    serviceName !== undefined && Object.hasOwn(catalog.services, serviceName)
      ? catalog.services[serviceName]
      : undefined;
  if (serviceName !== undefined && serviceName.length > 0 && !svc) {
    issues.push({
      path: 'service',
      message: `unknown service "${serviceName}"; the catalog has ${Object.keys(catalog.services).join(', ')}`,
    });
  }
  if (rawObj.image === undefined && rawObj.images === undefined) {
    issues.push({ path: 'image', message: 'give image (or images per container)' });
  }
  if (rawObj.image !== undefined && rawObj.images !== undefined) {
    issues.push({ path: 'images', message: 'give either image or images, not both' });
  }
  if (svc && rawObj.images !== null && typeof rawObj.images === 'object') {
    for (const c of Object.keys(rawObj.images)) {
      if (!svc.containers.includes(c)) {
        issues.push({
          path: `images.${c}`,
          message: `not a container of ${serviceName} (${svc.containers.join(', ')})`,
        });
      }
    }
  }
  if (svc?.allowedImages) issues.push(...releaseImageIssues(rawObj, svc.allowedImages));
  // Looked at in the raw input, so a credential is named even when other fields are wrong too.
  const rawMigration = rawObj.migration as { env?: unknown } | null | undefined;
  if (rawMigration !== null && typeof rawMigration === 'object') {
    issues.push(...credentialIssues(rawMigration.env, 'migration.env'));
    if (svc) issues.push(...migrationJobIssues(serviceName!, svc.jobs, rawMigration));
  }
  if (data?.migration && data.migration.when === 'after' && data.mode === 'hotfix') {
    // allowed; recorded. (kept explicit: hotfix with migration after is a legitimate emergency path)
  }
  // Looked at in the raw input, so it is named even when other fields are wrong too.
  if (svc?.duties?.requireTestsFrom)
    issues.push(...testsProvenanceIssues(rawObj, svc.duties.requireTestsFrom));
  if (issues.length > 0 || !data || !svc) {
    throw new InvalidInputError(dedupe(issues));
  }
  const images: Record<string, string> = data.image
    ? { [svc.containers[0]!]: data.image }
    : { ...data.images };
  const first = Object.values(images)[0]!;
  const hotfix = data.mode === 'hotfix';
  const canary = resolvePhase(svc, 'canary');
  const hotfixCfg = { ...RUNBOOK.hotfix, ...svc.hotfix };
  return {
    deploymentId,
    service: data.service,
    namespace: svc.namespace,
    deployment: svc.deployment,
    mode: data.mode,
    images,
    version: imageVersion(first),
    requestedBy: data.requestedBy ?? 'unknown',
    changeRef: data.changeRef ?? null,
    phases: {
      canary: hotfix
        ? { ...canary, weight: hotfixCfg.canaryWeight, windowSeconds: hotfixCfg.canaryWindowSeconds }
        : canary,
      staging: { ...resolvePhase(svc, 'staging'), skip: hotfix },
      production: resolvePhase(svc, 'production'),
    },
    readinessTimeoutSeconds: svc.readinessTimeoutSeconds ?? RUNBOOK.readinessTimeoutSeconds,
    readinessPollSeconds: RUNBOOK.readinessPollSeconds,
    watchSeconds: hotfix ? hotfixCfg.watchSeconds : (svc.watchSeconds ?? RUNBOOK.watchSeconds),
    input: data,
  };
}

/** Every image the release would run must come from the service's `allowedImages`. */
function releaseImageIssues(raw: Record<string, unknown>, allowed: readonly string[]): FieldIssue[] {
  const given: [string, unknown][] =
    raw.images !== null && typeof raw.images === 'object'
      ? Object.entries(raw.images as Record<string, unknown>).map(([c, i]) => [`images.${c}`, i])
      : [['image', raw.image]];
  return given
    .filter((e): e is [string, string] => typeof e[1] === 'string' && !imageAllowed(e[1], allowed))
    .map(([path, image]) => ({
      path,
      message: `${image} is not from a repository in the service's allowedImages (${allowed.join(', ')})`,
    }));
}

/**
 * `testsPassed` must come from the pipeline action the catalog names (`duties.requireTestsFrom`),
 * with the pipeline execution the "tests provenance" gate looks it up in.
 */
function testsProvenanceIssues(
  raw: Record<string, unknown>,
  required: { readonly pipeline: string; readonly action: string },
): FieldIssue[] {
  const att = raw.attestations as { provenance?: { testsPassed?: unknown } } | null | undefined;
  const parsed = provenanceSchema.safeParse(att?.provenance?.testsPassed);
  const p = parsed.success ? parsed.data : undefined;
  const path = 'attestations.provenance.testsPassed';
  if (p?.source === 'codepipeline-action' && p.actionName === required.action) {
    return p.pipelineExecutionId
      ? []
      : [
          {
            path: `${path}.pipelineExecutionId`,
            message: `required: the execution of pipeline "${required.pipeline}" that ran "${required.action}" (the gate asks CodePipeline for it)`,
          },
        ];
  }
  const got = !p
    ? 'none given'
    : p.source === 'codepipeline-action'
      ? `action "${p.actionName}"`
      : `a ${p.source}`;
  return [
    {
      path,
      message: `must come from the action "${required.action}" of pipeline "${required.pipeline}" (catalog duties.requireTestsFrom), not from a person; got ${got}`,
    },
  ];
}

function dedupe(issues: FieldIssue[]): FieldIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = `${i.path}|${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

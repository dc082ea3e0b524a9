/**
 * The environment of a release's Jobs: a migration's `env` (execution input) and a test Job's
 * `env` (catalog). A variable is a plaintext value or a reference to a key of a Kubernetes Secret
 * in the service's namespace (`{ secretKeyRef: { name, key } }`, the container's
 * `env[].valueFrom.secretKeyRef`): the kubelet reads the Secret when it starts the pod, so the
 * value never passes through tps-deploy.
 *
 * Invariant: no credential in plaintext. The execution input is kept in the execution history and
 * written to the state machine's logs (with execution data), and the catalog is in the repository
 * and the functions' bundle; so a plaintext variable whose name or value looks like a credential
 * is refused (InvalidInputError at "Validate Input", ConfigError for the catalog), naming each
 * field and never repeating the value. Secrets Manager is not read by tps-deploy: sync a secret into
 * a Kubernetes Secret (External Secrets Operator, the Secrets Store CSI driver's sync) and reference
 * that, or pass its ARN (a name, not a secret) for a container that reads it with its own role.
 */
import { z } from 'zod';
import type { FieldIssue } from './errors.js';

/** A Secret's name: a DNS-1123 subdomain. */
const secretName = z
  .string()
  .min(1)
  .max(253)
  .regex(
    /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
    'must be a Secret name (a lowercase RFC 1123 subdomain)',
  );

/** A key of a Secret's data: letters, digits, '-', '_' and '.'. */
const secretKey = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[-._a-zA-Z0-9]+$/, "must be a Secret key (letters, digits, '-', '_', '.')");

/** A reference to one key of a Kubernetes Secret in the service's namespace. */
export const secretKeyRefSchema = z
  .object({ secretKeyRef: z.object({ name: secretName, key: secretKey }).strict() })
  .strict();

/** One variable: plaintext, or a reference to a Secret's key. */
export const jobEnvValueSchema = z.union([z.string(), secretKeyRefSchema], {
  error: 'must be a string or { secretKeyRef: { name, key } } (a key of a Kubernetes Secret)',
});

/** A Job's environment: variable names as a shell spells them. */
export const jobEnvSchema = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), jobEnvValueSchema);

/** One variable of a Job's environment. */
export type JobEnvValue = z.output<typeof jobEnvValueSchema>;
/** A Job's environment. */
export type JobEnv = Readonly<Record<string, JobEnvValue>>;

/** Parts of a variable's name that mark a credential (case-insensitive), in the order reported. */
const CREDENTIAL_NAMES = [
  'PASSWORD',
  'PASSWD',
  'SECRET',
  'TOKEN',
  'API_KEY',
  'APIKEY',
  'PRIVATE_KEY',
  'CREDENTIAL',
] as const;

/** A Secrets Manager secret's ARN: it names a secret, it is not one. */
const SECRETS_MANAGER_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[^\s]+$/;

/** Values that are credentials whatever their variable is called. */
const CREDENTIAL_VALUES: readonly { readonly what: string; readonly pattern: RegExp }[] = [
  // scheme://user:password@host (a user alone, e.g. a token as the user, counts too)
  { what: 'a URL with a user and password', pattern: /[a-z][a-z0-9+.-]*:\/\/[^/?#@\s]+@/i },
  { what: 'an AWS access key id', pattern: /\b(AKIA|ASIA)[A-Z0-9]{16}\b/ },
  { what: 'a PEM private key', pattern: /-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY-----/ },
];

/**
 * Why a plaintext variable looks like a credential, or null. Pure; the message names the variable
 * by its field path (given by the caller) and never contains the value.
 */
export function plaintextCredential(name: string, value: string): string | null {
  for (const v of CREDENTIAL_VALUES) {
    if (v.pattern.test(value)) return `its value is ${v.what}`;
  }
  if (SECRETS_MANAGER_ARN.test(value)) return null;
  const upper = name.toUpperCase();
  const part = CREDENTIAL_NAMES.find((p) => upper.includes(p));
  return part ? `its name looks like a credential (${part})` : null;
}

/**
 * Issues of every plaintext variable of `env` that looks like a credential, at `<path>.<NAME>`.
 * `env` may be anything (the raw input): only plaintext string values are looked at.
 */
export function credentialIssues(env: unknown, path: string): FieldIssue[] {
  if (env === null || typeof env !== 'object' || Array.isArray(env)) return [];
  const issues: FieldIssue[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (typeof value !== 'string') continue;
    const why = plaintextCredential(name, value);
    if (why === null) continue;
    issues.push({
      path: `${path}.${name}`,
      message: `refused as plaintext: ${why}. Plaintext values are kept in the execution history and the logs; put it in a Kubernetes Secret in the service's namespace and reference it as { secretKeyRef: { name, key } }`,
    });
  }
  return issues;
}

/**
 * Error names are an API: the state machine's Retry and Catch match the Lambda error type, which
 * is the thrown error's `name`. Every class sets `name` from {@link ERROR_NAMES}, and the state
 * machine definition refers to the same constants.
 */
export const ERROR_NAMES = {
  invalidInput: 'InvalidInputError',
  deploymentInProgress: 'DeploymentInProgressError',
  kubernetesTransient: 'KubernetesTransientError',
  awsTransient: 'AwsTransientError',
  storeUnavailable: 'StoreUnavailableError',
  drift: 'DriftDetectedError',
  notFound: 'TargetNotFoundError',
  rollbackFailed: 'RollbackFailedError',
  gateFailed: 'GateFailedError',
  config: 'ConfigError',
  notConfigured: 'NotConfiguredError',
  releaseEnded: 'ReleaseEndedError',
} as const;

export type ErrorName = (typeof ERROR_NAMES)[keyof typeof ERROR_NAMES];

/** Errors worth retrying with backoff: the state machine retries these, then rolls back. */
export const TRANSIENT_ERRORS: readonly ErrorName[] = [
  ERROR_NAMES.kubernetesTransient,
  ERROR_NAMES.awsTransient,
  ERROR_NAMES.storeUnavailable,
];

/** Root of every error tps-deploy throws on purpose. */
export class TpsError extends Error {
  constructor(name: ErrorName, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = name;
  }
}

/** One problem with one field of an input or config. */
export interface FieldIssue {
  /** Dotted path of the field, e.g. `images.api` or `attestations.reviewers`. */
  readonly path: string;
  readonly message: string;
}

/** The input (or config) is malformed. The message names every bad field. */
export class InvalidInputError extends TpsError {
  constructor(
    readonly issues: readonly FieldIssue[],
    what = 'input',
  ) {
    super(
      ERROR_NAMES.invalidInput,
      `invalid ${what}: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`,
    );
  }
}

/** The service config is malformed or inconsistent. */
export class ConfigError extends TpsError {
  constructor(
    message: string,
    readonly issues: readonly FieldIssue[] = [],
  ) {
    super(ERROR_NAMES.config, message);
  }
}

/** Another deployment of the same service holds the lock. Nothing was changed. */
export class DeploymentInProgressError extends TpsError {
  constructor(
    readonly service: string,
    readonly holder: string,
  ) {
    super(ERROR_NAMES.deploymentInProgress, `service ${service} is being deployed by ${holder}; refused`);
  }
}

/** A retryable failure talking to the Kubernetes API (409, 429, 5xx, timeouts, resets). */
export class KubernetesTransientError extends TpsError {
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(ERROR_NAMES.kubernetesTransient, message, options);
  }
}

/** A retryable failure from an AWS API (throttling, 5xx, timeouts). */
export class AwsTransientError extends TpsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ERROR_NAMES.awsTransient, message, options);
  }
}

/** The deployments table could not be reached; no cluster change may happen without a record. */
export class StoreUnavailableError extends TpsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ERROR_NAMES.storeUnavailable, message, options);
  }
}

/** Someone changed the Deployment while a release was running. */
export class DriftDetectedError extends TpsError {
  constructor(
    message: string,
    readonly changes: readonly string[],
  ) {
    super(ERROR_NAMES.drift, message);
  }
}

/** The Deployment, Service or Ingress named by the config does not exist. */
export class TargetNotFoundError extends TpsError {
  constructor(message: string) {
    super(ERROR_NAMES.notFound, message);
  }
}

/** Rolling back did not reach the recorded state. */
export class RollbackFailedError extends TpsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ERROR_NAMES.rollbackFailed, message, options);
  }
}

/**
 * The release was rolled back (or ended) by someone else (an alarm, a stopped execution, a person)
 * before or while a step changed the cluster. The step changed nothing, or undid its change; the
 * state machine's Catch goes to "Roll Back", which finds the rollback claimed and records nothing.
 */
export class ReleaseEndedError extends TpsError {
  constructor(message: string) {
    super(ERROR_NAMES.releaseEnded, message);
  }
}

/**
 * A capability this runtime was not given (functions/adapters/unconfigured.ts): an RDS snapshot
 * service, an on-call directory, task-token answers, a Job runner. Not retried: configure it.
 */
export class NotConfiguredError extends TpsError {
  constructor(message: string) {
    super(ERROR_NAMES.notConfigured, message);
  }
}

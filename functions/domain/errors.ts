/**
 * Error names are an API. Step Functions' Retry and Catch match the Lambda error type, which is the
 * thrown error's `name`; Fail states end executions with an error name that CodePipeline and the
 * CLI read; a person's answer fails a task token with one; the Step Functions API answers with
 * others. This file is the one place each of those names is spelled: every error class sets
 * `name` from {@link ERROR_NAMES}, and the state machine definition, the steps, the CLI and the
 * local executor import it (the CLI imports it, never the CDK definition). Checked by
 * `test/infra/error-names.test.ts` (every name the synthesized state machines spell is here),
 * `test/unit/error-classes.test.ts` (every error class is a TpsError named from here) and
 * `test/unit/cli-import-graph.test.ts` (the CLI never loads statemachine/ or aws-cdk-lib).
 */

/**
 * Thrown by tps-deploy's own code: each is the `name` of a {@link TpsError} subclass. A task
 * function's thrown name is its Lambda error type, which "Retry" and "Catch" match.
 */
export const THROWN_ERROR_NAMES = {
  /**
   * {@link InvalidInputError}: the execution input, an alarm or stop event, or a task's payload is
   * malformed. "Validate Input" has no Catch: the execution fails with it, nothing written. Later
   * tasks: caught by `States.ALL`. The CLI's `start` and `local` turn it into a usage error.
   */
  invalidInput: 'InvalidInputError',
  /**
   * {@link DeploymentInProgressError}: the store's lock in "Check Gates". Not caught: the
   * execution fails fast with it and changes nothing.
   */
  deploymentInProgress: 'DeploymentInProgressError',
  /**
   * {@link DeploymentIdInUseError}: the execution's name is the id of a record another execution
   * made (Step Functions lets a Standard execution name be reused 90 days after the old one).
   * Not caught: the execution fails at "Check Gates" and nothing anywhere changes.
   */
  deploymentIdInUse: 'DeploymentIdInUseError',
  /**
   * {@link KubernetesTransientError} (and the steps' CleanupIncompleteError): a retryable
   * Kubernetes API failure. Retried by every task ({@link TRANSIENT_ERRORS}); "Check Gates" and
   * "Record Rollback Plan" then catch it into "Mark Release Failed".
   */
  kubernetesTransient: 'KubernetesTransientError',
  /**
   * {@link KubernetesRequestError}: a Kubernetes API answer not worth retrying (403, 422, ...).
   * Caught by `States.ALL` (roll back after the record exists).
   */
  kubernetesRequest: 'KubernetesRequestError',
  /**
   * {@link AwsTransientError}: throttling, 5xx, timeouts from an AWS API. Retried by every task;
   * "Check Gates" then catches it into "Mark Release Failed".
   */
  awsTransient: 'AwsTransientError',
  /**
   * {@link StoreUnavailableError} (and the store's RecordConflictError): the deployments table
   * cannot be read or written. Retried by every task; "Check Gates" and "Record Rollback Plan"
   * then catch it into "Mark Release Failed". The rollback and `requestHold` re-read on it.
   */
  storeUnavailable: 'StoreUnavailableError',
  /**
   * {@link DriftDetectedError}: someone changed the Deployment during the release. Caught by
   * `States.ALL`; "Roll Back" reads it in `$.failure.Error` and keeps the person's template.
   */
  drift: 'DriftDetectedError',
  /**
   * {@link TargetNotFoundError}: the service, Deployment, Service, Ingress or EKS cluster does not
   * exist. "Check Gates" and "Record Rollback Plan" catch it into "Mark Release Failed".
   */
  notFound: 'TargetNotFoundError',
  /**
   * {@link UnmanagedObjectError}: an object of a name tps-deploy creates (the canary Deployment,
   * the canary Service) exists and tps-deploy did not create it. Not retried (it will not go away
   * by itself): the shift fails before traffic moves, caught by `States.ALL` into "Roll Back",
   * which leaves the object alone and says so.
   */
  unmanagedObject: 'UnmanagedObjectError',
  /**
   * {@link ConfigError}: the catalog or a runtime setting is malformed. "Check Gates" and "Record
   * Rollback Plan" catch it into "Mark Release Failed"; the CLI turns it into a usage error.
   */
  config: 'ConfigError',
  /**
   * {@link NotConfiguredError}: a capability this runtime was not given. Caught by `States.ALL`;
   * the gates report it as the reason a gate could not be checked.
   */
  notConfigured: 'NotConfiguredError',
  /**
   * {@link ReleaseEndedError}: the write-ahead fence found the release ended or its rollback
   * claimed. Caught by `States.ALL` into "Roll Back", which finds the claim and records nothing.
   */
  releaseEnded: 'ReleaseEndedError',
  /**
   * {@link OnCallLookupError}: the on-call endpoint did not say who is on call. The on-call gate
   * fails with it as its reason; no task throws it.
   */
  onCallLookup: 'OnCallLookupError',
  /**
   * AnswerNotDeliveredError (functions/release/approval.ts): a person's approve, reject, promote
   * or abort found nothing waiting. Raised to the CLI, which exits with a failure.
   */
  answerNotDelivered: 'AnswerNotDeliveredError',
  /**
   * AnswerRefusedError (functions/release/answer.ts): the answer endpoint refused a verified
   * caller (not among the service's approvers, promoters or aborters; the requester approving
   * their own release; the wrong answer for what the release waits for). Nothing was sent or
   * written; the endpoint answers 403.
   */
  answerRefused: 'AnswerRefusedError',
  /**
   * HoldRefusedError (functions/release/hold.ts): a hold asked for a release that does not exist
   * or has ended. Raised to the CLI's `hold`.
   */
  holdRefused: 'HoldRefusedError',
  /** CliError (cli/io.ts): the CLI prints its message and exits with its exit code. */
  cli: 'CliError',
  /**
   * ClusterAlreadyRunningError (local/cluster/cluster.ts): a local control plane of that name
   * runs already. The CLI's `cluster start` reports it.
   */
  clusterAlreadyRunning: 'ClusterAlreadyRunningError',
} as const;

/**
 * The errors the state machine's Fail states end an execution with. CodePipeline fails its action
 * with them, and the CLI (`start --follow`, `local`) maps them to exit codes.
 */
export const FINAL_ERROR_NAMES = {
  /** "Rolled Back": the release was rolled back (cause: the rollback's reason). CLI exit 3. */
  releaseRolledBack: 'ReleaseRolledBack',
  /** "Rollback Failed": "Roll Back" itself failed; a person is paged. CLI exit 5. */
  rollbackFailed: 'RollbackFailed',
  /** "Release Failed": the release failed before any cluster change (lock released). CLI exit 1. */
  releaseFailed: 'ReleaseFailed',
  /** "Gates Failed": a pre-deployment gate refused the release (cause: every failing gate). */
  gateFailed: 'GateFailedError',
  /** "Release Rejected": the approval was rejected or timed out. CLI exit 4 (rejected). */
  releaseRejected: 'ReleaseRejected',
  /** "Major Incident": the migration and its rollback Job both failed; people are paged. */
  majorIncident: 'MajorIncident',
} as const;

/**
 * Failures the state machine rolls back with. No function throws them: a Pass state (or the
 * hold-decision step) writes one into `$.failure.Error`, and "Roll Back" records
 * `<name>: <cause>` as the rollback's reason.
 */
export const FAILURE_NAMES = {
  /** "<Phase> Failed Validation": the window's verdict was fail. */
  validationFailed: 'ValidationFailed',
  /** "<Phase> Inconclusive": the window stayed inconclusive after its extension (fail safe). */
  validationInconclusive: 'ValidationInconclusive',
  /** "<Phase> Pods Failed": the pods did not become ready. */
  podsNotReady: 'PodsNotReady',
  /** "Migration Failed ...": the migration failed and its rollback Job restored the old schema. */
  migrationFailed: 'MigrationFailed',
  /** "Snapshot Failed ...": the database snapshot failed, so the migration did not run. */
  snapshotFailed: 'SnapshotFailed',
  /** "<Phase> Hold Timed Out": nobody promoted or aborted a hold within the hold timeout. */
  holdTimedOut: 'HoldTimedOut',
  /** "<Phase> Hold Aborted": a person aborted a hold (or its wait ended with another error). */
  holdAborted: 'HoldAborted',
} as const;

/** Errors a person's answer fails a waiting task token with (SendTaskFailure). */
export const TASK_TOKEN_ERROR_NAMES = {
  /**
   * Sent by the CLI's `reject`/`abort` and `answerPending`: rejects an approval (caught by
   * "Request Approval" into "Mark Release Rejected": REJECTED) or aborts a hold (caught by
   * "Hold At <Phase>" into "<Phase> Hold Aborted": rolled back).
   */
  approvalRejected: 'ApprovalRejected',
} as const;

/** Step Functions' own error names, as the state machine's Catch matches them. */
export const STATES_ERROR_NAMES = {
  /** Matches every error: the Catch of every task that rolls back or fails the release. */
  statesAll: 'States.ALL',
  /**
   * A task's timeout passed. "Hold At <Phase>" catches it into "<Phase> Hold Timed Out";
   * "Mark Release Rejected" reads it as an unanswered approval. The local executor raises it.
   */
  statesTimeout: 'States.Timeout',
} as const;

/**
 * Lambda service errors: the invoke failed, not the function. The CDK's LambdaInvoke adds a Retry
 * of these to every task (`retryOnServiceExceptions`, default true: 6 attempts from 2 s). They are
 * spelled by aws-cdk-lib, not by tps-deploy, and listed so that the check of the synthesized state
 * machine (`test/infra/error-names.test.ts`) covers every name it matches.
 */
export const LAMBDA_SERVICE_ERROR_NAMES = {
  lambdaClientExecutionTimeout: 'Lambda.ClientExecutionTimeoutException',
  lambdaService: 'Lambda.ServiceException',
  lambdaAws: 'Lambda.AWSLambdaException',
  lambdaSdkClient: 'Lambda.SdkClientException',
} as const;

/**
 * Errors the Step Functions API answers with that tps-deploy recognises. The local executor
 * (local/runner.ts) raises the same names for its task tokens.
 */
export const SFN_API_ERROR_NAMES = {
  /** SendTaskSuccess/Failure: the waiting state timed out already. */
  taskTimedOut: 'TaskTimedOut',
  /** SendTaskSuccess/Failure: no state waits for the token (answered already, or never issued). */
  taskDoesNotExist: 'TaskDoesNotExist',
  /** SendTaskSuccess/Failure: the token is not a task token. */
  invalidToken: 'InvalidToken',
  /** StopExecution: no such execution (the alarm function and the CLI then go on). */
  executionDoesNotExist: 'ExecutionDoesNotExist',
} as const;

/**
 * The catalogue: every error name tps-deploy spells, grouped above. Import names from here;
 * `test/infra/error-names.test.ts` checks that no two groups share a key or a name.
 */
export const ERROR_NAMES = {
  ...THROWN_ERROR_NAMES,
  ...FINAL_ERROR_NAMES,
  ...FAILURE_NAMES,
  ...TASK_TOKEN_ERROR_NAMES,
  ...STATES_ERROR_NAMES,
  ...LAMBDA_SERVICE_ERROR_NAMES,
  ...SFN_API_ERROR_NAMES,
} as const;

/** Any name of the catalogue. */
export type ErrorName = (typeof ERROR_NAMES)[keyof typeof ERROR_NAMES];

/** Errors worth retrying with backoff: the state machine retries these, then rolls back. */
export const TRANSIENT_ERRORS: readonly ErrorName[] = [
  ERROR_NAMES.kubernetesTransient,
  ERROR_NAMES.awsTransient,
  ERROR_NAMES.storeUnavailable,
];

/**
 * Root of every error tps-deploy throws on purpose. Each subclass passes its name from
 * {@link ERROR_NAMES} (and the error it wraps as `cause`).
 */
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

/**
 * The deployment id (the execution name) belongs to a record of another execution: an old
 * release whose name Step Functions let a new execution reuse. Refused before anything is read
 * from or written to the cluster, the table or the old record.
 */
export class DeploymentIdInUseError extends TpsError {
  constructor(
    readonly service: string,
    readonly deploymentId: string,
    readonly owner: {
      readonly executionArn: string | null;
      readonly startedAt: string | null;
      readonly outcome: string;
    },
  ) {
    super(
      ERROR_NAMES.deploymentIdInUse,
      `deployment id ${deploymentId} of ${service} belongs to another execution (${owner?.executionArn ?? 'unknown'} started ${owner?.startedAt ?? 'at an unknown time'}, ${owner?.outcome ?? 'unknown outcome'}); refused without changing anything: start the release under a new execution name`,
    );
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

/**
 * An object of a name tps-deploy creates exists, and tps-deploy did not create it: tps-deploy
 * never deletes or overwrites it. `object` is `<kind> <namespace>/<name>`; the Kubernetes adapter
 * writes the message (which label is missing, what to do).
 */
export class UnmanagedObjectError extends TpsError {
  constructor(
    readonly object: string,
    message: string,
  ) {
    super(ERROR_NAMES.unmanagedObject, message);
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

/**
 * The on-call endpoint did not say who is on call: no answer in time, another status than 200,
 * not JSON, or no list of names. The on-call gate fails with it as its reason. Not retried.
 */
export class OnCallLookupError extends TpsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ERROR_NAMES.onCallLookup, message, options);
  }
}

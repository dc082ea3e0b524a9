/** The release executions: Step Functions in AWS, the local executor locally. */
import type { ExecutionState } from '../domain/lock.js';

export interface Executions {
  /** Stops a running execution (rollback by alarm or by a person); one already ended needs nothing. */
  stop(executionArn: string, cause: string): Promise<void>;
  /** Where an execution is (DescribeExecution); UNKNOWN when it cannot be told. */
  status(executionArn: string): Promise<ExecutionState>;
}

/** Starts a release execution of a service (the answer endpoint's verified start). */
export interface ReleaseStarter {
  /** StartExecution of the service's state machine with this name and input; the execution ARN. */
  start(service: string, name: string, input: Readonly<Record<string, unknown>>): Promise<string>;
}

/** A person's rollback, asked for through the answer endpoint and run by the rollback function. */
export interface PersonRollbackRequest {
  readonly service: string;
  readonly deploymentId: string;
  /** The verified ARN of who asked. */
  readonly principal: string;
  readonly reason: string | null;
  /** `abort`: a running release whose execution ended without rolling back; `rollback`: take one back. */
  readonly kind: 'abort' | 'rollback';
}

/** Hands a person's rollback to the function that may change the cluster (asynchronously). */
export interface RollbackRequests {
  /** Invokes the rollback function with the request (Lambda `InvocationType: Event`). */
  request(request: PersonRollbackRequest): Promise<void>;
}

/**
 * The answer endpoint's runtime: a Lambda function URL with AuthType AWS_IAM. Lambda checks the
 * request's SigV4 signature before the function runs and puts the verified caller in
 * `requestContext.authorizer.iam` (userArn, accountId, callerId, ...: the function URL request
 * payload, format 2.0). The body is `{ service, deploymentId, action, reason? }`; the step
 * (functions/release/answer.ts) decides and answers. HTTP statuses: 200 answered, 202 a yes
 * recorded that waits for another person (the requester is not verified), 400 bad body,
 * 401 no verified caller, 403 refused, 405 not a POST, 409 nothing waits, 500 anything else.
 * Log lines carry the caller's ARN and the outcome, never the task token or the request body.
 */

import type { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDbDeploymentStore } from '../adapters/aws/dynamodb-store.js';
import { isConditionalCheckFailed } from '../adapters/aws/errors.js';
import { LambdaRollbackRequests } from '../adapters/aws/lambda-rollback-requests.js';
import { SfnExecutions } from '../adapters/aws/sfn-executions.js';
import { SfnReleaseStarter } from '../adapters/aws/sfn-release-starter.js';
import { SfnTaskTokens } from '../adapters/aws/task-tokens.js';
import { createFunctionLogger, RELEASE_SERVICE_KEY } from '../adapters/powertools/function-logger.js';
import type { VerifiedCaller } from '../domain/duties.js';
import { ConfigError, ERROR_NAMES, type FieldIssue, InvalidInputError } from '../domain/errors.js';
import { parseExecutionInput } from '../domain/input.js';
import type { LambdaContext } from '../invoke.js';
import { systemClock } from '../ports/clock.js';
import type { Executions, ReleaseStarter, RollbackRequests } from '../ports/executions.js';
import type { ReleasePorts } from '../ports/release.js';
import {
  AnswerRefusedError,
  answerAsVerified,
  parseAnswerRequest,
  startAsVerified,
} from '../release/answer.js';
import { isSteerBody, parseSteerRequest, steerAsVerified } from '../release/steer.js';
import { runtimeCatalog } from './catalog-file.js';

/**
 * The ports the endpoint needs: the catalog, the table, SendTaskSuccess/Failure, a clock, and
 * StartExecution for a verified start (without it, `start` is answered 501).
 */
export type AnswerPorts = Pick<ReleasePorts, 'catalog' | 'store' | 'taskTokens' | 'clock'> & {
  readonly releases?: ReleaseStarter;
  /** StopExecution/DescribeExecution and the rollback function, for hold, withdraw, stop, rollback and unlock (functions/release/steer.ts); without them those are answered 501. */
  readonly executions?: Executions;
  readonly rollbackRequests?: RollbackRequests;
};

/** The parts of a function URL request (payload format 2.0) the endpoint reads. */
export interface FunctionUrlRequest {
  readonly body?: string | null;
  readonly isBase64Encoded?: boolean;
  readonly requestContext?: {
    readonly http?: { readonly method?: string };
    readonly authorizer?: {
      readonly iam?: {
        readonly userArn?: string | null;
        readonly accountId?: string | null;
        readonly callerId?: string | null;
      } | null;
    } | null;
  };
}

/** What Lambda turns into the HTTP response. */
export interface FunctionUrlResponse {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** The caller AWS verified, or null when the request carries none (not AWS_IAM auth). */
export function verifiedCallerOf(event: FunctionUrlRequest): VerifiedCaller | null {
  const iam = event.requestContext?.authorizer?.iam;
  if (!iam || typeof iam.userArn !== 'string' || !iam.userArn.startsWith('arn:')) return null;
  return {
    arn: iam.userArn,
    accountId: typeof iam.accountId === 'string' ? iam.accountId : null,
    callerId: typeof iam.callerId === 'string' ? iam.callerId : null,
  };
}

/** The environment variable with the release state machines' ARNs by service (JSON; set by infra/constructs/answer-endpoint.ts). */
export const STATE_MACHINES_ENV = 'TPS_STATE_MACHINE_ARNS';

function respond(statusCode: number, body: Record<string, unknown>): FunctionUrlResponse {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

function parseBody(event: FunctionUrlRequest): unknown {
  const raw = event.body ?? '';
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  return JSON.parse(text) as unknown;
}

/** One request: who, what, the step, and the HTTP answer. */
export async function handleAnswer(
  ports: AnswerPorts,
  event: FunctionUrlRequest,
  logger: Logger,
): Promise<FunctionUrlResponse> {
  const caller = verifiedCallerOf(event);
  if (!caller) {
    logger.warn('answer refused', { status: 401, reason: 'no verified caller in the request context' });
    return respond(401, { error: 'no verified caller: the function URL must use AuthType AWS_IAM' });
  }
  const method = event.requestContext?.http?.method ?? '';
  if (method !== 'POST') return respond(405, { error: `POST only (got ${method || 'no method'})` });
  let body: unknown;
  try {
    body = parseBody(event);
  } catch {
    return respond(400, { error: 'the body must be JSON: { service, deploymentId, action, reason? }' });
  }
  const keys = { principal: caller.arn };
  const b = body as { action?: unknown; input?: unknown; name?: unknown } | null;
  if (b && typeof b === 'object' && b.action === 'start') return start(ports, caller, b, logger);
  if (isSteerBody(body)) return steer(ports, caller, body, logger);
  try {
    const request = parseAnswerRequest(body, ports.catalog);
    const where = {
      ...keys,
      [RELEASE_SERVICE_KEY]: request.service,
      deploymentId: request.deploymentId,
      action: request.action,
    };
    try {
      const result = await answerAsVerified(ports, caller, request);
      if (!result.delivered) {
        logger.info('answer recorded, waiting for another person', { ...where, ...result.approvals });
        return respond(202, { ...result });
      }
      logger.info('answer delivered', where);
      return respond(200, { ...result });
    } catch (e) {
      if (e instanceof AnswerRefusedError) {
        logger.warn('answer refused', { ...where, status: 403, reason: e.message });
        return respond(403, { error: e.message });
      }
      if ((e as { name?: string }).name === ERROR_NAMES.answerNotDelivered) {
        logger.warn('answer not delivered', { ...where, status: 409, reason: (e as Error).message });
        return respond(409, { error: (e as Error).message });
      }
      throw e;
    }
  } catch (e) {
    if (e instanceof InvalidInputError) {
      return respond(400, { error: e.message, issues: e.issues });
    }
    logger.error('answer failed', {
      ...keys,
      errorName: (e as Error).name,
      errorMessage: (e as Error).message,
    });
    return respond(500, { error: `answering failed: ${(e as Error).name}` });
  }
}

/** A verified start: `{ action: 'start', input, name? }`. */
async function start(
  ports: AnswerPorts,
  caller: VerifiedCaller,
  body: { input?: unknown; name?: unknown },
  logger: Logger,
): Promise<FunctionUrlResponse> {
  if (!ports.releases) return respond(501, { error: 'this endpoint cannot start releases' });
  const isObject = body.input !== null && typeof body.input === 'object' && !Array.isArray(body.input);
  const input = isObject ? (body.input as Record<string, unknown>) : {};
  // The envelope's own bad fields, named with the input's: nothing is written or started.
  const envelope: FieldIssue[] = [];
  for (const k of Object.keys(body)) {
    if (!['action', 'input', 'name'].includes(k)) envelope.push({ path: k, message: 'unknown field' });
  }
  if (!isObject) envelope.push({ path: 'input', message: 'required: the execution input, an object' });
  if (body.name !== undefined && typeof body.name !== 'string') {
    envelope.push({ path: 'name', message: 'an execution name: 1-80 of A-Z a-z 0-9 - _' });
  }
  if (envelope.length > 0) {
    let issues = envelope;
    try {
      if (isObject) parseExecutionInput(input, ports.catalog, 'validation');
    } catch (e) {
      if (e instanceof InvalidInputError) issues = [...envelope, ...e.issues];
    }
    const error = new InvalidInputError(issues);
    return respond(400, { error: error.message, issues: error.issues });
  }
  try {
    const result = await startAsVerified({ ...ports, releases: ports.releases }, caller, {
      input,
      ...(typeof body.name === 'string' ? { name: body.name } : {}),
    });
    logger.info('release started', {
      principal: caller.arn,
      [RELEASE_SERVICE_KEY]: result.service,
      deploymentId: result.deploymentId,
      action: 'start',
    });
    return respond(200, { action: 'start', ...result });
  } catch (e) {
    if (e instanceof InvalidInputError) return respond(400, { error: e.message, issues: e.issues });
    if (e instanceof AnswerRefusedError) {
      logger.warn('start refused', { principal: caller.arn, status: 403, reason: e.message });
      return respond(403, { error: e.message });
    }
    if (isConditionalCheckFailed(e) || (e as { name?: string }).name === 'ExecutionAlreadyExists') {
      return respond(409, { error: `a release named ${String(body.name)} was started already` });
    }
    logger.error('start failed', {
      principal: caller.arn,
      errorName: (e as Error).name,
      errorMessage: (e as Error).message,
    });
    return respond(500, { error: `starting failed: ${(e as Error).name}` });
  }
}

/** hold, withdraw, stop, rollback, unlock (functions/release/steer.ts): statuses as for an answer. */
async function steer(
  ports: AnswerPorts,
  caller: VerifiedCaller,
  body: unknown,
  logger: Logger,
): Promise<FunctionUrlResponse> {
  const { executions, rollbackRequests } = ports;
  if (!executions || !rollbackRequests) return respond(501, { error: 'this endpoint cannot steer releases' });
  try {
    const request = parseSteerRequest(body, ports.catalog);
    const where = {
      principal: caller.arn,
      [RELEASE_SERVICE_KEY]: request.service,
      deploymentId: request.deploymentId ?? null,
      action: request.action,
    };
    try {
      const result = await steerAsVerified({ ...ports, executions, rollbackRequests }, caller, request);
      logger.info('steer done', { ...where, effect: result.effect });
      return respond(200, { ...result });
    } catch (e) {
      if (e instanceof AnswerRefusedError) {
        logger.warn('steer refused', { ...where, status: 403, reason: e.message });
        return respond(403, { error: e.message });
      }
      if ((e as { name?: string }).name === ERROR_NAMES.answerNotDelivered) {
        logger.warn('steer not done', { ...where, status: 409, reason: (e as Error).message });
        return respond(409, { error: (e as Error).message });
      }
      throw e;
    }
  } catch (e) {
    if (e instanceof InvalidInputError) return respond(400, { error: e.message, issues: e.issues });
    logger.error('steer failed', {
      principal: caller.arn,
      errorName: (e as Error).name,
      errorMessage: (e as Error).message,
    });
    return respond(500, { error: `steering failed: ${(e as Error).name}` });
  }
}

/** The environment variable with the rollback function's name (set by infra/constructs/answer-endpoint.ts). */
export const ROLLBACK_FUNCTION_ENV = 'TPS_ROLLBACK_FUNCTION';

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new ConfigError(`environment variable ${name} is not set`);
  return v;
}

/** The AWS ports of the endpoint's container (the catalog: `catalog.json` next to the handler, functions/handlers/catalog-file.ts). */
export function awsAnswerPorts(): AnswerPorts {
  const sfn = new SFNClient({});
  return {
    catalog: runtimeCatalog(),
    store: new DynamoDbDeploymentStore({ client: new DynamoDBClient({}), tableName: env('TPS_TABLE_NAME') }),
    taskTokens: new SfnTaskTokens({ client: sfn }),
    clock: systemClock,
    releases: new SfnReleaseStarter({
      client: sfn,
      stateMachineArns: JSON.parse(env(STATE_MACHINES_ENV)) as Record<string, string>,
    }),
    executions: new SfnExecutions({ client: sfn }),
    rollbackRequests: new LambdaRollbackRequests({
      client: new LambdaClient({}),
      functionName: env(ROLLBACK_FUNCTION_ENV),
    }),
  };
}

/** The Lambda entry over `ports` (built once per container). */
export function answerHandler(ports: () => AnswerPorts, logger: Logger = createFunctionLogger()) {
  let cached: AnswerPorts | undefined;
  return (event: FunctionUrlRequest, context: LambdaContext): Promise<FunctionUrlResponse> => {
    logger.addContext(context as never);
    cached ??= ports();
    return handleAnswer(cached, event, logger);
  };
}

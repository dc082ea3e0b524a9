/**
 * Kubernetes API clients from a KubeConfig, and the one place that decides which API failures are
 * retried. Every call of the adapters goes through {@link KubeCall.run}: 409 conflicts, 429
 * throttling (honouring Retry-After), 5xx answers and network errors or timeouts are retried with
 * exponential backoff and full jitter, then surface as {@link KubernetesTransientError}, which the
 * state machine's Retry matches by name. Everything else (400, 401, 403, 404, 422) is not retried
 * here. A 401 reaching KubeCall was already answered once by a renewed credential
 * (credential.ts, for clients built on a {@link RenewableKubeConfig}), so it is final.
 */

import {
  ApiException,
  AppsV1Api,
  AutoscalingV2Api,
  BatchV1Api,
  CoreV1Api,
  createConfiguration,
  DiscoveryV1Api,
  KubeConfig,
  type Middleware,
  NetworkingV1Api,
  PatchStrategy,
  PolicyV1Api,
  ServerConfiguration,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { ConfigError, ERROR_NAMES, KubernetesTransientError, TpsError } from '../../domain/errors.js';
import { type RenewableKubeConfig, RenewingCredential } from './credential.js';
import { FIELD_MANAGER } from './field-owners.js';

/** How calls are retried and bounded. */
export interface RetryPolicy {
  /** Attempts in total, the first included. @default 5 */
  readonly maxAttempts: number;
  /** First backoff ceiling; doubles per attempt. @default 200 */
  readonly baseDelayMs: number;
  /** Largest backoff ceiling (and largest Retry-After honoured). @default 5000 */
  readonly maxDelayMs: number;
  /** Each HTTP request is aborted after this long and counts as a network error. @default 15000 */
  readonly requestTimeoutMs: number;
}

/**
 * Five attempts over about 3 s in the worst case: short enough for the 60 s shiftTraffic Lambda,
 * and the state machine's own Retry (2 s, x2, 4 attempts) backs this up.
 */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 5,
  baseDelayMs: 200,
  maxDelayMs: 5000,
  requestTimeoutMs: 15_000,
};

/** Injectable time and randomness, so tests of the retry loop need no real waiting. */
export interface RetryRuntime {
  readonly sleep: (ms: number) => Promise<void>;
  /** Uniform in [0, 1). */
  readonly random: () => number;
}

const realRuntime: RetryRuntime = {
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: Math.random,
};

/** The parts of a failed API call that decide what to do with it. */
export interface KubeFailure {
  /** HTTP status, or null for network errors and timeouts. */
  readonly status: number | null;
  /** `reason` of the Kubernetes Status body (`Conflict`, `AlreadyExists`, `NotFound`, ...). */
  readonly reason: string | null;
  readonly message: string;
  /** Seconds from a Retry-After header, if any. */
  readonly retryAfterSeconds: number | null;
  readonly kind: 'conflict' | 'throttled' | 'server' | 'network' | 'not-found' | 'unauthorized' | 'other';
}

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

function networkCode(err: unknown, depth = 0): string | null {
  if (depth > 4 || err === null || typeof err !== 'object') return null;
  const e = err as { name?: unknown; code?: unknown; cause?: unknown; message?: unknown };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return String(e.name);
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return e.code;
  // undici's fetch wraps socket errors in `TypeError: fetch failed` with the reason as cause.
  if (e.name === 'TypeError' && e.message === 'fetch failed')
    return networkCode(e.cause, depth + 1) ?? 'fetch failed';
  return networkCode(e.cause, depth + 1);
}

function parseStatusBody(body: unknown): { reason: string | null; message: string | null } {
  let value = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch {
      return { reason: null, message: body.trim().slice(0, 500) || null };
    }
  }
  if (value !== null && typeof value === 'object') {
    const v = value as { reason?: unknown; message?: unknown };
    return {
      reason: typeof v.reason === 'string' ? v.reason : null,
      message: typeof v.message === 'string' ? v.message : null,
    };
  }
  return { reason: null, message: null };
}

function retryAfter(headers: Record<string, string> | undefined): number | null {
  const raw = headers?.['retry-after'] ?? headers?.['Retry-After'];
  if (raw === undefined) return null;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? null : Math.max(0, (date - Date.now()) / 1000);
}

/** Classifies any error thrown by a client-node call. */
export function classifyFailure(err: unknown): KubeFailure {
  if (err instanceof ApiException) {
    const status = err.code;
    const { reason, message } = parseStatusBody(err.body);
    const kind: KubeFailure['kind'] =
      status === 409
        ? 'conflict'
        : status === 429
          ? 'throttled'
          : status >= 500
            ? 'server'
            : status === 404
              ? 'not-found'
              : status === 401
                ? 'unauthorized'
                : 'other';
    return {
      status,
      // client-node drops the body of a 401 (its OpenAPI spec declares one without a schema).
      reason: reason ?? (kind === 'unauthorized' ? 'Unauthorized' : null),
      message:
        kind === 'unauthorized'
          ? `the API server rejected the credential${message && message !== reason ? `: ${message}` : ''}`
          : (message ?? `HTTP ${status}`),
      retryAfterSeconds: retryAfter(err.headers),
      kind,
    };
  }
  const code = networkCode(err);
  const message = err instanceof Error ? err.message : String(err);
  if (code !== null) {
    return {
      status: null,
      reason: code,
      message: `${message} (${code})`,
      retryAfterSeconds: null,
      kind: 'network',
    };
  }
  return { status: null, reason: null, message, retryAfterSeconds: null, kind: 'other' };
}

/** True when `err` is a 404 from the API server. */
export function isNotFound(err: unknown): boolean {
  return err instanceof ApiException && err.code === 404;
}

/**
 * The answer of `request`, or null when the API server answers 404: for reads where absence is an
 * answer (an optional object) and deletes where it means the work is already done.
 */
export async function nullIfNotFound<T>(request: () => Promise<T>): Promise<T | null> {
  try {
    return await request();
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

/** Request options of a JSON patch (RFC 6902): ordered ops, a `remove` that fails if absent. */
export const JSON_PATCH = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);

/** Request options of a JSON merge patch (RFC 7386): maps merged, `null` deletes a key. */
export const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** True when `err` is a 409 AlreadyExists (a create lost a race or repeats an earlier attempt). */
export function isAlreadyExists(err: unknown): boolean {
  return err instanceof ApiException && err.code === 409 && classifyFailure(err).reason === 'AlreadyExists';
}

/**
 * Backoff before attempt `attempt + 1` (attempt counts from 0): full jitter, i.e. uniform in
 * [0, min(max, base * 2^attempt)); a Retry-After header raises the floor to its value (capped at
 * `maxDelayMs`).
 */
export function backoffDelayMs(
  attempt: number,
  policy: RetryPolicy,
  random: () => number,
  retryAfterSeconds: number | null = null,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  const jittered = random() * ceiling;
  if (retryAfterSeconds === null) return Math.floor(jittered);
  return Math.floor(Math.min(policy.maxDelayMs, Math.max(retryAfterSeconds * 1000, jittered)));
}

/** An API error that is not retried, with the call's description in the message. */
export class KubernetesRequestError extends TpsError {
  constructor(
    readonly what: string,
    readonly failure: KubeFailure,
    options?: { cause?: unknown },
  ) {
    super(
      ERROR_NAMES.kubernetesRequest,
      `${what}: ${failure.status ?? ''} ${failure.reason ?? ''} ${failure.message}`.replace(/\s+/g, ' '),
      options,
    );
  }
}

/**
 * Runs API calls with the retry policy. `fn` must be a complete read-modify-write step: on a 409
 * conflict it runs again from the start, so it re-reads the object and re-applies its change.
 */
export class KubeCall {
  constructor(
    readonly policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    private readonly runtime: RetryRuntime = realRuntime,
  ) {}

  /**
   * Runs `fn`, retrying transient failures. A 404 is rethrown as it is (callers map a missing
   * target to TargetNotFoundError or treat it as already deleted); other client errors (400, 401,
   * 403, 422) become {@link KubernetesRequestError}; transient failures that outlast the attempts
   * become {@link KubernetesTransientError}.
   */
  async run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    let last: KubeFailure | null = null;
    let lastErr: unknown;
    for (let attempt = 0; attempt < this.policy.maxAttempts; attempt++) {
      try {
        return await fn();
      } catch (err) {
        // Errors we raise on purpose (TpsError subclasses, e.g. TargetNotFoundError) pass through.
        if (!(err instanceof ApiException) && classifyFailure(err).kind !== 'network') throw err;
        const failure = classifyFailure(err);
        if (failure.kind === 'not-found') throw err;
        if (failure.kind === 'other' || failure.kind === 'unauthorized')
          throw new KubernetesRequestError(what, failure, { cause: err });
        // AlreadyExists is a 409 too; the step re-reads and finds the object, like any conflict.
        last = failure;
        lastErr = err;
        if (attempt + 1 < this.policy.maxAttempts) {
          await this.runtime.sleep(
            backoffDelayMs(attempt, this.policy, this.runtime.random, failure.retryAfterSeconds),
          );
        }
      }
    }
    const f = last as KubeFailure;
    throw new KubernetesTransientError(
      `${what} failed ${this.policy.maxAttempts} times; last: ${f.status ?? f.kind} ${f.reason ?? ''} ${f.message}`.replace(
        /\s+/g,
        ' ',
      ),
      f.status ?? undefined,
      { cause: lastErr },
    );
  }
}

/** The typed API clients the adapters use, with one retry policy. */
export interface KubeClients {
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly discovery: DiscoveryV1Api;
  readonly networking: NetworkingV1Api;
  readonly batch: BatchV1Api;
  /** HorizontalPodAutoscalers: read the stable one, create and delete the canary's copy. */
  readonly autoscaling: AutoscalingV2Api;
  /** PodDisruptionBudgets: read, to keep them through every step that removes pods. */
  readonly policy: PolicyV1Api;
  readonly call: KubeCall;
}

/** Reads a kubeconfig file (the local control plane's admin or restricted kubeconfig). */
export function kubeConfigFromFile(path: string, context?: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  if (context) kc.setCurrentContext(context);
  return kc;
}

/** Aborts every request after `ms`, so a hung connection becomes a retryable network error. */
function timeoutMiddleware(ms: number): Middleware {
  return {
    pre: async (ctx) => {
      ctx.setSignal(AbortSignal.timeout(ms));
      return ctx;
    },
    post: async (res) => res,
  };
}

/**
 * Builds the API clients for the current context of `kc` (from a file locally; built from
 * DescribeCluster and a token for EKS by the caller). Each request carries a timeout. Given a
 * {@link RenewableKubeConfig}, a request the API server answers 401 is sent once more with a
 * renewed credential (credential.ts).
 */
/**
 * Every write carries tps-deploy's field manager, so the API server's managedFields tell its
 * writes from an autoscaler's and a person's (functions/adapters/kubernetes/field-owners.ts).
 */
const fieldManagerMiddleware: Middleware = {
  pre: async (context) => {
    const method = context.getHttpMethod();
    if (method === 'POST' || method === 'PUT' || method === 'PATCH')
      context.setQueryParam('fieldManager', FIELD_MANAGER);
    return context;
  },
  post: async (response) => response,
};

export function createKubeClients(
  kc: KubeConfig | RenewableKubeConfig,
  policy: Partial<RetryPolicy> = {},
  runtime: RetryRuntime = realRuntime,
  /** Run before the request timeout on every request (local fault injection, request counting). */
  middleware: readonly Middleware[] = [],
): KubeClients {
  const credential = new RenewingCredential(kc);
  const cluster = credential.kubeConfig.getCurrentCluster();
  if (!cluster) throw new ConfigError('the kubeconfig has no current cluster');
  const full: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...policy };
  const httpApi = credential.httpLibrary(full.requestTimeoutMs);
  const config = () =>
    createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: credential },
      httpApi,
      promiseMiddleware: [fieldManagerMiddleware, ...middleware, timeoutMiddleware(full.requestTimeoutMs)],
    });
  return {
    core: new CoreV1Api(config()),
    apps: new AppsV1Api(config()),
    discovery: new DiscoveryV1Api(config()),
    networking: new NetworkingV1Api(config()),
    batch: new BatchV1Api(config()),
    autoscaling: new AutoscalingV2Api(config()),
    policy: new PolicyV1Api(config()),
    call: new KubeCall(full, runtime),
  };
}

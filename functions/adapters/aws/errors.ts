/**
 * Which AWS SDK failures are worth retrying. The SDK has already retried these with its own
 * backoff by the time an adapter sees them; the adapters turn them into the transient error names
 * the state machine retries (AwsTransientError, StoreUnavailableError). Everything else (bad
 * request, access denied, missing resource) is a bug or a configuration problem and is not.
 */

/** Error names AWS services use for throttling and server-side trouble. */
const TRANSIENT_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'ProvisionedThroughputExceededException',
  'LimitExceededException',
  'InternalServerError',
  'InternalServerErrorException',
  'InternalFailure',
  'InternalServiceFault',
  'InternalError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'ServerException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
]);

/** Socket-level failures (Node error codes): the request may not have reached AWS at all. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

interface SdkErrorShape {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly $retryable?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

/** True for throttling, 5xx, timeouts and network failures: the same call may succeed later. */
export function isTransientAwsError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as SdkErrorShape;
  if (typeof e.name === 'string' && TRANSIENT_NAMES.has(e.name)) return true;
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return true;
  if (e.$retryable !== undefined) return true;
  const status = e.$metadata?.httpStatusCode;
  if (typeof status === 'number' && (status >= 500 || status === 429)) return true;
  // The SDK's retry middleware rewraps some socket errors as a bare Error whose only trace of the
  // code is its message ("AWS SDK error wrapper for Error: connect ECONNREFUSED ...").
  const message = error instanceof Error ? error.message : '';
  return NETWORK_CODE_IN_MESSAGE.test(message);
}

/**
 * Codes in a message, the SDK's wrapper of a transient error ("AWS SDK error wrapper for
 * TimeoutError: socket hang up" when the server resets a kept-alive connection) and Node's own
 * words for a reset socket.
 */
const NETWORK_CODE_IN_MESSAGE = new RegExp(
  `\\b(${[...NETWORK_CODES].join('|')})\\b|^AWS SDK error wrapper for (${[...TRANSIENT_NAMES].join('|')})\\b|\\bsocket hang up\\b`,
);

/** `Name: message` of any thrown value, for error messages and measurement errors. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const suffix = typeof code === 'string' && !error.message.includes(code) ? ` (${code})` : '';
    return `${error.name}: ${error.message}${suffix}`;
  }
  return String(error);
}

/** True when the error is DynamoDB's answer to a failed ConditionExpression. */
export function isConditionalCheckFailed(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { name?: unknown }).name === 'ConditionalCheckFailedException'
  );
}

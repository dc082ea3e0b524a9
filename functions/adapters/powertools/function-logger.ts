/**
 * The task functions' Powertools Logger: JSON lines with the Lambda context, where `service` is the
 * release's service (`api`), not the app. Powertools reserves `service` for the logger's own
 * serviceName (POWERTOOLS_SERVICE_NAME, the app) and drops it from appended keys, so the release's
 * service travels under {@link RELEASE_SERVICE_KEY} and {@link ReleaseLogFormatter} (Powertools'
 * "bring your own formatter") writes it as `service`, with the app beside it as `app`.
 */
import { LogFormatter, Logger, LogItem } from '@aws-lambda-powertools/logger';
import type {
  ConstructorOptions,
  LogAttributes,
  UnformattedAttributes,
} from '@aws-lambda-powertools/logger/types';
import { type LineSink, stdoutLines } from './output.js';

/** The log attribute that carries the release's service to the formatter. */
export const RELEASE_SERVICE_KEY = 'releaseService';

/**
 * Powertools' standard keys (level, message, timestamp, service, cold_start, function_name,
 * function_request_id, function_arn, function_memory_size, xray_trace_id, sampling_rate) with
 * `service` the release's service and `app` the logger's serviceName; then every other attribute.
 */
export class ReleaseLogFormatter extends LogFormatter {
  override formatAttributes(attributes: UnformattedAttributes, additional: LogAttributes): LogItem {
    const { [RELEASE_SERVICE_KEY]: releaseService, ...rest } = additional;
    const ctx = attributes.lambdaContext;
    return new LogItem({
      attributes: {
        level: attributes.logLevel,
        message: attributes.message,
        timestamp: this.formatTimestamp(attributes.timestamp),
        service: typeof releaseService === 'string' ? releaseService : attributes.serviceName,
        app: attributes.serviceName,
        cold_start: ctx?.coldStart,
        function_name: ctx?.functionName,
        function_request_id: ctx?.awsRequestId,
        function_arn: ctx?.invokedFunctionArn,
        function_memory_size: ctx?.memoryLimitInMB,
        xray_trace_id: attributes.xRayTraceId,
        sampling_rate: attributes.sampleRateValue,
      },
    }).addAttributes(rest);
  }
}

/** A Logger whose lines go to a {@link LineSink} (Powertools prints on its own stdout Console). */
class SinkLogger extends Logger {
  // Assigned after super(): a line Powertools prints while constructing goes to stdout.
  private readonly sink: LineSink | undefined;

  constructor(options: ConstructorOptions, sink: LineSink) {
    super(options);
    this.sink = sink;
  }

  protected override printLog(_logLevel: number, log: LogItem): void {
    log.prepareForPrint();
    (this.sink ?? stdoutLines)(JSON.stringify(log.getAttributes(), this.getJsonReplacer()));
  }

  protected override createLogger(options?: ConstructorOptions): Logger {
    return new SinkLogger(options ?? {}, this.sink ?? stdoutLines);
  }
}

/** Options of {@link createFunctionLogger}. */
export interface FunctionLoggerOptions {
  /** The app (catalog appName), logged as `app`. @default POWERTOOLS_SERVICE_NAME */
  readonly appName?: string;
  /** @default standard output (Lambda) */
  readonly sink?: LineSink;
}

/** The Logger of the task functions, in Lambda and in the local runner alike. */
export function createFunctionLogger(opts: FunctionLoggerOptions = {}): Logger {
  return new SinkLogger(
    { ...(opts.appName ? { serviceName: opts.appName } : {}), logFormatter: new ReleaseLogFormatter() },
    opts.sink ?? stdoutLines,
  );
}

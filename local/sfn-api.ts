/**
 * The part of the Step Functions API the CLI calls, served on 127.0.0.1 for the local environment's
 * executions, so `tps-deploy --local watch | list | status | start` run their real code path with
 * the real SDK client, pointed here. The AWS JSON 1.0 protocol, as the SDK speaks it: POST /, the
 * operation in `X-Amz-Target: AWSStepFunctions.<Operation>`, JSON bodies with timestamps in epoch
 * seconds, errors as HTTP 400 with `__type` and `message`.
 *
 * Served: DescribeExecution, GetExecutionHistory, ListExecutions, DescribeStateMachine,
 * DescribeStateMachineForExecution, ListStateMachines, StartExecution, StopExecution. Anything
 * else is refused (UnknownOperationException) naming what is served. Shapes and error names are
 * those of the Step Functions API reference; a request with bad fields is refused
 * (ValidationException) naming every one of them, and changes nothing.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ExecutionHistories, ExecutionHistory, ExecutionStatus } from './execution-history.js';
import { LOCAL_EXECUTION_ROLE_ARN } from './execution-history.js';

/** A state machine the local environment runs. */
export interface LocalStateMachine {
  readonly arn: string;
  /** `<appName>-<service>`. */
  readonly name: string;
  readonly service: string;
  /** The ASL the local executor runs, as JSON. */
  readonly definition: string;
  readonly creationDate: Date;
}

/** What the API serves from: the environment's state machines and executions. */
export interface SfnApiBackend {
  readonly stateMachines: readonly LocalStateMachine[];
  readonly histories: ExecutionHistories;
  /** Starts an execution; its history is registered when this returns. */
  start(machine: LocalStateMachine, name: string, input: Record<string, unknown>): void;
  /** Stops a running execution; false when it is not running. */
  stop(executionArn: string, error: string | null, cause: string | null): boolean;
}

/** A running local Step Functions API. */
export interface LocalSfnApi {
  /** `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  /** Requests answered so far. */
  readonly requests: number;
  /** When the last request arrived (ms since the epoch), null before the first. */
  readonly lastRequestAt: number | null;
  close(): Promise<void>;
}

/** The operations served (`X-Amz-Target: AWSStepFunctions.<name>`). */
export const SERVED_OPERATIONS = [
  'DescribeExecution',
  'DescribeStateMachine',
  'DescribeStateMachineForExecution',
  'GetExecutionHistory',
  'ListExecutions',
  'ListStateMachines',
  'StartExecution',
  'StopExecution',
] as const;

const TARGET_PREFIX = 'AWSStepFunctions.';
const JSON_CONTENT_TYPE = 'application/x-amz-json-1.0';
/** Default and largest page of the paginated operations (API reference: 100 and 1000). */
const PAGE = { default: 100, max: 1000 } as const;
const STATUSES: readonly ExecutionStatus[] = ['RUNNING', 'SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED_OUT'];
/** Characters an execution name may not contain (StartExecution `name`, API reference). */
const BAD_NAME_CHARS = /[\s<>{}[\]?*"#%\\^|~`$&,;:/]|\p{Cc}/u;

/** An error of the API: its name is the `__type` the SDK turns into the exception's name. */
export class SfnApiError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

type Body = Record<string, unknown>;

/** Reads the request's fields, collecting every problem before refusing. */
class Fields {
  private readonly problems: string[] = [];
  constructor(private readonly body: Body) {}

  string(key: string, required: true): string;
  string(key: string, required?: false): string | undefined;
  string(key: string, required = false): string | undefined {
    const v = this.body[key];
    if (v === undefined || v === null) {
      if (required) this.problems.push(`${key}: required, got nothing`);
      return undefined;
    }
    if (typeof v !== 'string') {
      this.problems.push(`${key}: must be a string, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  }

  boolean(key: string): boolean {
    const v = this.body[key];
    if (v === undefined || v === null) return false;
    if (typeof v !== 'boolean') {
      this.problems.push(`${key}: must be true or false, got ${JSON.stringify(v)}`);
      return false;
    }
    return v;
  }

  /** A page size: 0 or absent means the default. */
  pageSize(key: string): number {
    const v = this.body[key];
    if (v === undefined || v === null || v === 0) return PAGE.default;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > PAGE.max) {
      this.problems.push(`${key}: must be an integer from 0 to ${PAGE.max}, got ${JSON.stringify(v)}`);
      return PAGE.default;
    }
    return v;
  }

  oneOf<T extends string>(key: string, values: readonly T[]): T | undefined {
    const v = this.string(key);
    if (v !== undefined && !(values as readonly string[]).includes(v)) {
      this.problems.push(`${key}: must be one of ${values.join(', ')}, got "${v}"`);
      return undefined;
    }
    return v as T | undefined;
  }

  /** Throws a ValidationException naming every bad field, if any. */
  check(): void {
    if (this.problems.length === 0) return;
    const n = this.problems.length;
    throw new SfnApiError(
      'ValidationException',
      `${n} validation error${n === 1 ? '' : 's'} detected: ${this.problems.join('; ')}`,
    );
  }
}

/** Checks an ARN's shape: `arn:<partition>:states:<region>:<account>:<kind>:<name>[:<execution>]`. */
function requireArn(arn: string, kind: 'execution' | 'stateMachine', field: string): void {
  const parts = arn.split(':');
  const size = kind === 'execution' ? 8 : 7;
  if (parts.length !== size || parts[0] !== 'arn' || parts[2] !== 'states' || parts[5] !== kind) {
    throw new SfnApiError('InvalidArn', `Invalid Arn: '${arn}' is not a ${kind} ARN (${field})`);
  }
}

/** Opaque page tokens: what they continue and from where. */
function encodeToken(scope: string, next: number): string {
  return Buffer.from(JSON.stringify({ scope, next })).toString('base64url');
}

function decodeToken(token: string | undefined, scope: string): number | null {
  if (token === undefined) return null;
  try {
    const t = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
      scope?: unknown;
      next?: unknown;
    };
    if (t.scope === scope && typeof t.next === 'number' && Number.isInteger(t.next) && t.next >= 0)
      return t.next;
  } catch {
    // refused below
  }
  throw new SfnApiError('InvalidToken', `Invalid Token: '${token}' does not continue this request`);
}

/** Answers one operation; pure over the backend, so tests can call it without HTTP. */
export function handleSfnRequest(backend: SfnApiBackend, operation: string, body: Body): Body {
  const f = new Fields(body);
  const execution = (field = 'executionArn'): ExecutionHistory => {
    const arn = f.string(field, true);
    f.check();
    requireArn(arn, 'execution', field);
    const h = backend.histories.get(arn);
    if (!h) throw new SfnApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    return h;
  };
  const machine = (arn: string): LocalStateMachine => {
    requireArn(arn, 'stateMachine', 'stateMachineArn');
    const m = backend.stateMachines.find((s) => s.arn === arn);
    if (!m) throw new SfnApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    return m;
  };
  switch (operation) {
    case 'DescribeExecution': {
      const d = execution().describe();
      return {
        executionArn: d.executionArn,
        stateMachineArn: d.stateMachineArn,
        name: d.name,
        status: d.status,
        startDate: d.startDate,
        ...(d.stopDate ? { stopDate: d.stopDate } : {}),
        input: d.input,
        inputDetails: { included: true },
        ...(d.output !== null ? { output: d.output, outputDetails: { included: true } } : {}),
        ...(d.error !== null ? { error: d.error } : {}),
        ...(d.cause !== null ? { cause: d.cause } : {}),
      };
    }
    case 'GetExecutionHistory': {
      const maxResults = f.pageSize('maxResults');
      const reverse = f.boolean('reverseOrder');
      const token = f.string('nextToken');
      const withData = body.includeExecutionData !== false;
      f.boolean('includeExecutionData');
      const h = execution();
      const events = h.events;
      const scope = `${h.executionArn}|${reverse ? 'desc' : 'asc'}`;
      // `next` is the id to start from: the newest event at the first reverse page.
      const start = decodeToken(token, scope) ?? (reverse ? events.length : 1);
      const page = reverse
        ? events.slice(Math.max(0, start - maxResults), start).reverse()
        : events.slice(start - 1, start - 1 + maxResults);
      const last = page.at(-1)?.id ?? 0;
      const more = reverse ? last > 1 : last < events.length;
      return {
        events: withData ? page : page.map(withoutData),
        ...(page.length > 0 && more ? { nextToken: encodeToken(scope, reverse ? last - 1 : last + 1) } : {}),
      };
    }
    case 'ListExecutions': {
      const arn = f.string('stateMachineArn', true);
      const statusFilter = f.oneOf('statusFilter', STATUSES);
      const maxResults = f.pageSize('maxResults');
      const token = f.string('nextToken');
      f.check();
      const m = machine(arn);
      const all = backend.histories
        .list(m.arn)
        .filter((h) => !statusFilter || h.status === statusFilter)
        .map((h) => h.describe());
      const scope = `${m.arn}|${statusFilter ?? ''}`;
      const from = decodeToken(token, scope) ?? 0;
      const page = all.slice(from, from + maxResults);
      return {
        executions: page.map((d) => ({
          executionArn: d.executionArn,
          stateMachineArn: d.stateMachineArn,
          name: d.name,
          status: d.status,
          startDate: d.startDate,
          ...(d.stopDate ? { stopDate: d.stopDate } : {}),
        })),
        ...(from + maxResults < all.length ? { nextToken: encodeToken(scope, from + maxResults) } : {}),
      };
    }
    case 'ListStateMachines': {
      const maxResults = f.pageSize('maxResults');
      const token = f.string('nextToken');
      f.check();
      const from = decodeToken(token, 'stateMachines') ?? 0;
      const page = backend.stateMachines.slice(from, from + maxResults);
      return {
        stateMachines: page.map((m) => ({
          stateMachineArn: m.arn,
          name: m.name,
          type: 'STANDARD',
          creationDate: m.creationDate,
        })),
        ...(from + maxResults < backend.stateMachines.length
          ? { nextToken: encodeToken('stateMachines', from + maxResults) }
          : {}),
      };
    }
    case 'DescribeStateMachine': {
      const arn = f.string('stateMachineArn', true);
      f.check();
      const m = machine(arn);
      return {
        stateMachineArn: m.arn,
        name: m.name,
        status: 'ACTIVE',
        definition: m.definition,
        roleArn: LOCAL_EXECUTION_ROLE_ARN,
        type: 'STANDARD',
        creationDate: m.creationDate,
      };
    }
    case 'DescribeStateMachineForExecution': {
      const h = execution();
      const m = machine(h.stateMachineArn);
      return {
        stateMachineArn: m.arn,
        name: m.name,
        definition: m.definition,
        roleArn: LOCAL_EXECUTION_ROLE_ARN,
        updateDate: m.creationDate,
      };
    }
    case 'StartExecution': {
      const arn = f.string('stateMachineArn', true);
      const name = f.string('name');
      const inputText = f.string('input');
      f.check();
      const m = machine(arn);
      const executionName = name ?? `local-${Date.now()}-${Math.random().toString(36).slice(2, 10)}`;
      if (executionName.length < 1 || executionName.length > 80 || BAD_NAME_CHARS.test(executionName)) {
        throw new SfnApiError(
          'InvalidName',
          `Invalid Name: '${executionName}' (1 to 80 characters, no white space, brackets, wildcards, special or control characters)`,
        );
      }
      let input: unknown = {};
      if (inputText !== undefined) {
        try {
          input = JSON.parse(inputText);
        } catch (error) {
          throw new SfnApiError(
            'InvalidExecutionInput',
            `Invalid State Machine Execution Input: ${(error as Error).message}`,
          );
        }
      }
      if (input === null || typeof input !== 'object' || Array.isArray(input)) {
        throw new SfnApiError(
          'InvalidExecutionInput',
          'Invalid State Machine Execution Input: must be a JSON object',
        );
      }
      const executionArn = `${m.arn.replace(':stateMachine:', ':execution:')}:${executionName}`;
      if (backend.histories.has(executionArn)) {
        throw new SfnApiError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
      }
      backend.start(m, executionName, input as Record<string, unknown>);
      const started = backend.histories.get(executionArn);
      if (!started) throw new Error(`the local environment did not start ${executionArn}`);
      return { executionArn, startDate: started.startDate };
    }
    case 'StopExecution': {
      const error = f.string('error');
      const cause = f.string('cause');
      const h = execution();
      backend.stop(h.executionArn, error ?? null, cause ?? null);
      return { stopDate: h.describe().stopDate ?? new Date() };
    }
    default:
      throw new SfnApiError(
        'UnknownOperationException',
        `the local Step Functions API serves ${SERVED_OPERATIONS.join(', ')}; not ${operation || '(no X-Amz-Target)'}`,
      );
  }
}

/** An event without its inputs and outputs (`includeExecutionData: false`). */
function withoutData(ev: ExecutionHistory['events'][number]): ExecutionHistory['events'][number] {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(ev)) {
    if (v && typeof v === 'object' && !(v instanceof Date) && k.endsWith('EventDetails')) {
      const {
        input: _i,
        output: _o,
        inputDetails: _id,
        outputDetails: _od,
        ...rest
      } = v as Record<string, unknown>;
      out[k] = rest;
    } else {
      out[k] = v;
    }
  }
  return out as unknown as ExecutionHistory['events'][number];
}

/** JSON with Dates as epoch seconds, as the AWS JSON protocol writes timestamps. */
function encode(body: unknown): string {
  return JSON.stringify(body, function (this: Record<string, unknown>, key, value) {
    const raw = this[key];
    return raw instanceof Date ? raw.getTime() / 1000 : value;
  });
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown, errorType?: string): void {
  const text = encode(body);
  res.writeHead(status, {
    'content-type': JSON_CONTENT_TYPE,
    'content-length': Buffer.byteLength(text),
    ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
  });
  res.end(text);
}

/** Starts the API on a free loopback port (or `port`). */
export async function serveSfnApi(
  backend: SfnApiBackend,
  opts: { port?: number } = {},
): Promise<LocalSfnApi> {
  let requests = 0;
  let lastRequestAt: number | null = null;
  const server = createServer(async (req, res) => {
    requests += 1;
    lastRequestAt = Date.now();
    try {
      if (req.method !== 'POST')
        throw new SfnApiError('UnknownOperationException', `use POST /, not ${req.method}`);
      const target = String(req.headers['x-amz-target'] ?? '');
      const operation = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
      const text = await readBody(req);
      let body: unknown;
      try {
        body = text.trim() === '' ? {} : JSON.parse(text);
      } catch (error) {
        throw new SfnApiError('SerializationException', `the body is not JSON: ${(error as Error).message}`);
      }
      if (body === null || typeof body !== 'object' || Array.isArray(body)) {
        throw new SfnApiError('SerializationException', 'the body must be a JSON object');
      }
      send(res, 200, handleSfnRequest(backend, operation, body as Body));
    } catch (error) {
      if (error instanceof SfnApiError) {
        send(res, 400, { __type: `com.amazonaws.sfn#${error.name}`, message: error.message }, error.name);
      } else {
        const message = (error as Error)?.message ?? String(error);
        send(res, 500, { __type: 'com.amazonaws.sfn#InternalFailure', message }, 'InternalFailure');
      }
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    get lastRequestAt() {
      return lastRequestAt;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
